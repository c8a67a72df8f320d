"""
Transform a Spark DataFrame with a fitted embedder, via mapInPandas
===================================================================

The fitted embedder is numpy arrays: it pickles to every executor and transforms
there without torch. Without pyspark installed this example says so and stops.
"""

import importlib.util

from entembed import EntityEmbedder
from entembed.datasets import make_synthetic

if importlib.util.find_spec("pyspark") is None:
    print("pyspark is not installed: skipping the Spark example.")
else:
    from pyspark.sql import SparkSession

    X, y, _ = make_synthetic(5_000, (20, 50), random_state=0)
    embedder = EntityEmbedder(max_epochs=5, random_state=0).fit(X, y)
    names = embedder.get_feature_names_out().tolist()
    schema = ", ".join(f"{name} float" for name in names)

    def embed(batches):  # runs on the executors, one pandas batch at a time
        import pandas as pd

        for batch in batches:
            yield pd.DataFrame(embedder.transform(batch), columns=names)

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    features = spark.createDataFrame(X).mapInPandas(embed, schema=schema)
    print(features.limit(3).toPandas())
    spark.stop()
