"""TensorBoard projector files: look at each column's vectors in 3-D.

The projector reads ``projector_config.pbtxt`` in a log directory: one
``embeddings`` entry per tensor, with a TSV of vectors and a TSV of labels.
No TensorBoard is needed to write them (numpy only); point ``tensorboard
--logdir`` at the folder to look.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._files import atomic_folder


def _cell(value) -> str:
    """A label as one TSV cell: tabs and line breaks would split it."""
    return re.sub(r"[\t\r\n]", " ", str(value))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folder_names(columns) -> list[str]:
    """A folder name per column: the column's name, its characters outside
    letters, digits, ``-``, ``_`` and ``.`` replaced by ``_``, and a number
    appended where two names would then clash (or differ only in case, which
    some file systems ignore)."""
    names, seen = [], {"projector_config.pbtxt"}
    for column in columns:
        name = re.sub(r"[^\w.-]", "_", str(column)).strip(".") or "column"
        candidate, k = name, 2
        while candidate.lower() in seen:
            candidate, k = f"{name}_{k}", k + 1
        seen.add(candidate.lower())
        names.append(candidate)
    return names


def export_projector(model, directory, *, overwrite: bool = False) -> Path:
    """Write TensorBoard projector files of every embedded column.

    For each embedded column, a folder named after it (``city/``; characters
    a file name cannot hold become ``_``) with ``tensors.tsv`` (one vector
    per row) and ``metadata.tsv`` (a header, then each row's category
    and its count in fit; the reserved rows ``<unknown>`` and ``<missing>``
    have no count), and one ``projector_config.pbtxt`` that names each tensor
    after its column. The folder is written beside
    ``directory`` and moved into place when complete.

    Parameters
    ----------
    model : EntityEmbedder, EntityEmbeddingRegressor or EntityEmbeddingClassifier
        A fitted estimator.
    directory : str or Path
        Folder to create (``tensorboard --logdir DIRECTORY`` then shows it).
    overwrite : bool, default=False
        Replace a folder that an earlier export wrote.

    Returns
    -------
    Path
        The folder written.

    Examples
    --------
    >>> from entembed import export_projector
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> import pathlib, tempfile
    >>> folder = export_projector(embedder, pathlib.Path(tempfile.mkdtemp()) / "p")
    >>> sorted(p.name for p in folder.iterdir())
    ['.entembed', 'c0', 'projector_config.pbtxt']
    """
    check_is_fitted(model)
    entries = []
    with atomic_folder(directory, overwrite=overwrite) as folder:
        embeddings = model.embeddings_
        for j, (sub, (column, frame)) in enumerate(
            zip(_folder_names(embeddings), embeddings.items(), strict=True)
        ):
            (folder / sub).mkdir()
            np.savetxt(
                folder / sub / "tensors.tsv",
                frame.to_numpy(np.float32),
                delimiter="\t",
                fmt="%.7g",
            )
            # Fit does not keep the rows of the reserved codes: left blank.
            counts = ["", "", *model.vocabulary_.category_counts_[j].tolist()]
            with open(folder / sub / "metadata.tsv", "w", encoding="utf-8") as f:
                f.write("category\tcount\n")
                for category, count in zip(frame.index, counts, strict=True):
                    f.write(f"{_cell(category)}\t{count}\n")
            entries.append(
                "embeddings {\n"
                f"  tensor_name: {_quoted(str(column))}\n"
                f'  tensor_path: "{sub}/tensors.tsv"\n'
                f'  metadata_path: "{sub}/metadata.tsv"\n'
                "}\n"
            )
        (folder / "projector_config.pbtxt").write_text("".join(entries))
    return Path(directory)
