"""Transform across a cluster: a fitted estimator applied to every partition of
a Dask DataFrame (needs ``dask[dataframe]``).

A fitted estimator holds numpy arrays only, so it ships to workers cheaply and
transforms there without torch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._files import atomic_folder


def transform_dask(estimator, data):
    """Lazily transform a Dask DataFrame, partition by partition.

    Parameters
    ----------
    estimator : fitted EntityEmbedder
        Anything with ``transform`` and ``get_feature_names_out``.
    data : dask.dataframe.DataFrame
        Rows to transform; each partition goes through ``estimator.transform``.

    Returns
    -------
    dask.dataframe.DataFrame
        float32 features named by ``get_feature_names_out()``, with the input's
        index and partitions. A partition that fails raises, at compute time,
        an error naming the partition.

    Examples
    --------
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> import dask.dataframe as dd
    >>> from entembed import transform_dask
    >>> features = transform_dask(embedder, dd.from_pandas(X, npartitions=2))
    >>> features.npartitions, features.compute().shape
    (2, (120, 4))
    """
    check_is_fitted(estimator)
    names = [str(name) for name in estimator.get_feature_names_out()]
    meta = pd.DataFrame({name: pd.Series(dtype=np.float32) for name in names})

    def transform_partition(partition: pd.DataFrame, partition_info=None):
        number = "?" if partition_info is None else partition_info["number"]
        try:
            features = np.asarray(estimator.transform(partition), dtype=np.float32)
        except Exception as exc:
            raise ValueError(
                f"transform failed on partition {number} ({len(partition)} rows): {exc}"
            ) from exc
        return pd.DataFrame(features, columns=names, index=partition.index)

    return data.map_partitions(transform_partition, meta=meta)


def write_features(estimator, data, path, *, overwrite: bool = False) -> Path:
    """Transform a Dask DataFrame and write the features as a Parquet dataset.

    The dataset is written to a temporary sibling folder and renamed into place
    only when every partition succeeded: a failed or interrupted run leaves
    nothing that looks complete, and an existing dataset stays as it was.

    Parameters
    ----------
    estimator : fitted EntityEmbedder
        Anything with ``transform`` and ``get_feature_names_out``.
    data : dask.dataframe.DataFrame
        Rows to transform.
    path : str or Path
        The Parquet dataset (a local folder) to write. Remote URLs are refused:
        write locally and copy.
    overwrite : bool, default=False
        Replace an existing dataset at ``path``. Only a folder that
        ``write_features`` wrote (it holds a marker file) is ever replaced;
        any other file or folder there is refused.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from entembed import write_features
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "features"
    >>> written = write_features(embedder, dd.from_pandas(X, npartitions=2), folder)
    >>> import pandas as pd
    >>> len(pd.read_parquet(written))
    120
    """
    with atomic_folder(path, overwrite=overwrite) as temporary:
        # Dask writes into the existing (empty) folder it is given.
        _compute_all(
            transform_dask(estimator, data).to_parquet(temporary, compute=False)
        )
    return Path(path)


def _compute_all(collection) -> None:
    """Compute ``collection``; where it fails, return only once no task runs.

    Dask's default threaded scheduler raises a task's error at once, while its
    other threads may still be writing partitions: the temporary folder would
    be removed under them and they could leave a file in it. On that
    scheduler the computation gets a pool of its own, which is shut down,
    waiting for its running tasks, before the error propagates. Other
    schedulers (processes, a distributed client) compute as configured.
    """
    import dask
    import dask.threaded
    from dask.base import get_scheduler

    if get_scheduler(collections=[collection]) is not dask.threaded.get:
        collection.compute()
        return
    workers = dask.config.get("num_workers", None) or dask.threaded.CPU_COUNT
    pool = ThreadPoolExecutor(workers)
    try:
        collection.compute(pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
