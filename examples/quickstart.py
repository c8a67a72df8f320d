"""Quick start: categories to integer codes with reserved unknown/missing codes."""

import pandas as pd

from entembed import CategoryVocabulary

train = pd.DataFrame(
    {"city": ["Oslo", "Lima", "Oslo", None, "Lima", "Oslo"], "plan": list("abbaba")}
)
vocabulary = CategoryVocabulary().fit(train)
print("categories:", [c.tolist() for c in vocabulary.categories_])
print("cardinalities (reserved codes included):", vocabulary.cardinalities_.tolist())

new = pd.DataFrame({"plan": ["a", "c"], "city": ["Rome", None]})  # order may differ
print("codes for unseen 'Rome' / missing / unseen 'c':")
print(vocabulary.transform(new))
