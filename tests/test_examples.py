"""Every example runs end to end (on its own small data), or is skipped with
the reason it cannot run here."""

import importlib.util
import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# What an example needs that this machine may not have, and how to tell.
NEEDS = {
    "gpu": ("a CUDA device", _cuda),
    "spark_map_in_pandas": (
        "pyspark",
        lambda: importlib.util.find_spec("pyspark") is not None,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, capsys):
    if path.stem in NEEDS:
        what, available = NEEDS[path.stem]
        if not available():
            pytest.skip(f"examples/{path.name} needs {what}, which is not here")
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip() and "skipping" not in out
