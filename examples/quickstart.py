"""Quick start: entity embeddings as a Pipeline step in front of gradient boosting.

A synthetic sales table: 500 stores, each with a hidden 2-D "location"; sales
depend on the location, the weekday and the promotion. The embedder learns one
vector per store from the target; gradient boosting then uses those vectors.
"""

import time

import numpy as np
import pandas as pd
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
    }
)
y = (
    np.sin(2 * location[store, 0])
    + location[store, 1] ** 2
    + 0.3 * (weekday >= 5)
    + 0.5 * X["promo"]
    + rng.normal(0, 0.2, n_rows)
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

for name, encoder in [
    (
        "ordinal codes",
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
    ),
    ("target encoding", TargetEncoder()),
    ("entity embeddings", EntityEmbedder(max_epochs=8, random_state=0)),
]:
    model = make_pipeline(encoder, HistGradientBoostingRegressor(random_state=0))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(
        f"{name:>17}: test R^2 = {model.score(X_test, y_test):.3f} "
        f"({time.perf_counter() - start:.1f} s to fit)"
    )

embedder = model[0]
print("\nlearned widths:", embedder.embedding_dims_)
print("features:", embedder.get_feature_names_out()[:4].tolist(), "...")
print(
    "stores most like store_0:",
    embedder.most_similar("store", "store_0", k=3).round(2).to_dict(),
)
