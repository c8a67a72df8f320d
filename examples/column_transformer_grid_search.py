"""
EntityEmbedder inside a ColumnTransformer, its width tuned by GridSearchCV
==========================================================================

The embedder takes the categorical columns; numeric columns are scaled beside
it; a linear model sits on top. The grid search clones the embedder for every
candidate, as with any scikit-learn transformer (n_jobs=2 fits in parallel).
"""

from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from entembed import EntityEmbedder
from entembed.datasets import make_synthetic

X, y, _ = make_synthetic(6_000, (30, 80), random_state=0)
X["size"] = (y + 3).clip(0) ** 0.5  # a numeric column, scaled separately

model = Pipeline(
    [
        (
            "features",
            ColumnTransformer(
                [
                    (
                        "embed",
                        EntityEmbedder(max_epochs=8, random_state=0),
                        ["c0", "c1"],
                    ),
                    ("scale", StandardScaler(), ["size"]),
                ]
            ),
        ),
        ("ridge", Ridge()),
    ]
)
search = GridSearchCV(
    model,
    {"features__embed__embedding_dims": [2, 8], "ridge__alpha": [0.1, 10.0]},
    cv=3,
    n_jobs=2,
)
search.fit(X, y)
print("best parameters:", search.best_params_)
print(f"best cross-validated R^2: {search.best_score_:.3f}")
