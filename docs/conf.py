"""Sphinx configuration of entembed's manual (``make docs``).

The site is built offline: no extension fetches anything. The benchmark pages
and the changelog are the repository's own files, copied into the build's
source tree when the build starts, so the site shows what was committed.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import entembed

ROOT = Path(__file__).resolve().parent.parent
# The torch modules document their Shape, as rtdl's do; numpydoc renders the
# section and warns that it does not know it.
warnings.filterwarnings("ignore", message="Unknown section Shape")

project = "entembed"
author = "the entembed developers"
copyright = "the entembed developers"
release = version = entembed.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
]
smartquotes = False  # "--target" stays two hyphens, as typed
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "compare_baseball.md", "sg_execution_times.rst"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autosummary_generate = True
# entembed's own members only: not scikit-learn's metadata-routing setters nor
# the Lightning hooks that inherit Lightning's docstrings.
autodoc_inherit_docstrings = False
autodoc_default_options = {
    "members": True,
    "undoc-members": False,
    "inherited-members": False,
    "exclude-members": "set_fit_request,set_transform_request,set_score_request,"
    "set_predict_request,set_predict_proba_request,set_partial_fit_request,"
    "set_output,set_params,get_params,get_metadata_routing",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

html_theme = "pydata_sphinx_theme"
html_title = f"entembed {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
templates_path = ["_templates"]

# Examples whose run the gallery shows, with their plots; the others (a GPU,
# Spark, the slower transfer measurement on real flights) are listed, not run.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/(quickstart|similar_categories|onehot_equivalence|"
    r"column_transformer_grid_search|lightning_trainer)\.py",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "write_computation_times": False,
}


def _copy_repository_pages(app) -> None:
    """The committed benchmark pages (with their charts) and the changelog,
    into the source tree, where the manual's pages link to them."""
    source = Path(app.srcdir)
    pages = source / "benchmarks"
    shutil.rmtree(pages, ignore_errors=True)
    pages.mkdir()
    for path in sorted((ROOT / "benchmarks" / "results").iterdir()):
        if path.suffix in (".md", ".png"):
            shutil.copy2(path, pages / path.name)


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document entembed's own members: not what a class inherits from
    scikit-learn or Lightning (their docs describe those)."""
    module = getattr(getattr(obj, "fget", obj), "__module__", None) or ""
    if what == "class" and module and not module.startswith("entembed"):
        return True
    return skip


def setup(app) -> None:
    app.connect("builder-inited", _copy_repository_pages)
    app.connect("autodoc-skip-member", _skip_foreign_members)
