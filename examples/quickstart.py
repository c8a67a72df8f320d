"""
Quick start
===========

Entity embeddings as a Pipeline step in front of gradient boosting.

A synthetic sales table: 500 stores, each with a hidden 2-D "location"; sales
depend on the location, the weekday, the promotion and the price. The embedder
learns one vector per store (and weekday, promotion) from the target and hands
gradient boosting those vectors with the numeric price beside them
(``remainder="passthrough"``, the default). The other encoders get the price
the same way, through a ColumnTransformer; the last row shows what dropping
it costs.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

from entembed import EntityEmbedder

rng = np.random.default_rng(0)
n_rows, n_stores = 40_000, 500
location = rng.normal(size=(n_stores, 2))
store = rng.integers(0, n_stores, n_rows)
weekday = rng.integers(0, 7, n_rows)
X = pd.DataFrame(
    {
        "store": np.char.add("store_", store.astype(str)),
        "weekday": np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])[weekday],
        "promo": rng.random(n_rows) < 0.3,
        "price": rng.uniform(5, 15, n_rows).round(2),
    }
)
y = (
    np.sin(2 * location[store, 0])
    + location[store, 1] ** 2
    + 0.3 * (weekday >= 5)
    + 0.5 * X["promo"]
    - 0.1 * X["price"]
    + rng.normal(0, 0.2, n_rows)
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

categorical = ["store", "weekday", "promo"]
scores = {}
for name, encoder in [
    (
        "ordinal codes",
        make_column_transformer(
            (
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            ),
            remainder="passthrough",
        ),
    ),
    (
        "target encoding",
        make_column_transformer(
            (TargetEncoder(), categorical), remainder="passthrough"
        ),
    ),
    ("entity embeddings", EntityEmbedder(random_state=0)),
    ("embeddings alone", EntityEmbedder(remainder="drop", random_state=0)),
]:
    model = make_pipeline(encoder, HistGradientBoostingRegressor(random_state=0))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    scores[name] = model.score(X_test, y_test)
    print(
        f"{name:>17}: test R^2 = {scores[name]:.3f} "
        f"({time.perf_counter() - start:.1f} s to fit)"
    )

fig, ax = plt.subplots(figsize=(7, 2.6))
ax.barh(list(scores), list(scores.values()), color="#2c7fb8")
ax.set_xlim(0, 1)
ax.invert_yaxis()
ax.set_xlabel("test R² of gradient boosting")
ax.set_title("Encodings of store, weekday, promo; the price passed on")
fig.tight_layout()

embedder = model[0].set_params(remainder="passthrough").fit(X_train, y_train)
print("\nlearned widths:", embedder.embedding_dims_)
names = embedder.get_feature_names_out().tolist()
print("features:", names[:2], "...", names[-1])
print(
    "stores most like store_0:",
    embedder.most_similar("store", "store_0", k=3).round(2).to_dict(),
)
