"""The layering: no import cycle between entembed's modules, each module imports
on its own, and what serves a fitted model imports neither torch nor Lightning
(test_embedder checks the same of a loaded model in a fresh process)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import entembed

PACKAGE = Path(entembed.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
# Serving and the facade: numpy, pandas and scikit-learn only. Training is
# reached from fit through a function-level import of _training.
TORCH_FREE = {
    "_base",
    "_cli",
    "_cli_parser",
    "_columns",
    "_compare",
    "_cross_fit",
    "_dask",
    "_dataframe",
    "_embedder",
    "_embedder_fit",
    "_embedding_dims",
    "_files",
    "_fitted_tables",
    "_id_columns",
    "_numpy_network",
    "_parameter_docs",
    "_persistence",
    "_plots",
    "_predictors",
    "_projector",
    "_streamed_cross_fit",
    "_streamed_fit",
    "_streaming",
    "_string_features",
    "_table_files",
    "_target",
    "_training_config",
    "_transfer",
    "_vocabulary",
    "_warnings",
    "datasets",
    "onnx",
}


def _imports(module: str, *, top_level_only: bool) -> set[str]:
    """Modules (ours as ``.stem``, others by top package) that ``module`` imports.

    Imports under ``if TYPE_CHECKING:`` never run and are left out.
    """
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()

    def visit(node, top):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.add("." + node.module.split(".")[0] if node.module else "")
                if not node.module:
                    found.update("." + alias.name for alias in node.names)
            elif node.module:
                found.add(node.module.split(".")[0])
        body_is_lazy = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if top_level_only and body_is_lazy:
            return
        for child in ast.iter_child_nodes(node):
            visit(child, top)

    visit(tree, True)
    return found - {""}


def _ours(imported: set[str]) -> set[str]:
    """entembed's modules among ``imported`` (``onnx`` is ours and a package)."""
    return {name[1:] for name in imported if name[1:] in MODULES}


def test_modules_import_each_other_without_a_cycle():
    graph = {m: _ours(_imports(m, top_level_only=False)) for m in MODULES}
    state: dict[str, str] = {}

    def visit(module, path):
        if state.get(module) == "done":
            return
        if state.get(module) == "open":
            cycle = [*path[path.index(module) :], module]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        state[module] = "open"
        for other in sorted(graph[module]):
            visit(other, [*path, module])
        state[module] = "done"

    for module in MODULES:
        visit(module, [])


def test_serving_modules_import_no_torch_at_load_time():
    for module in sorted(TORCH_FREE):
        imported = _imports(module, top_level_only=True)
        assert not imported & {"torch", "lightning"}, module
        ours = _ours(imported)
        assert ours <= TORCH_FREE, f"{module} imports {ours - TORCH_FREE}"


@pytest.mark.slow
def test_each_module_imports_on_its_own_in_a_fresh_process():
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    for key in [k for k in sys.modules if k.split('.')[0] == 'entembed']:\n"
        "        del sys.modules[key]\n"
        "    importlib.import_module('entembed.' + name)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
