"""Sphinx configuration of the kzspatial documentation.

Build with warnings as errors (``tests/test_docs.py`` does the same)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The notebooks are rendered as committed, without outputs (``nb_execution_mode = "off"``):
the test suite executes them with nbmake (``python -m pytest --nbmake notebooks``).
"""

from importlib import metadata

project = "kzspatial"
author = "kzspatial developers"
copyright = "kzspatial developers"  # noqa: A001 (the name Sphinx reads)
try:
    release = metadata.version("kzspatial")
except metadata.PackageNotFoundError:  # a source tree that is not installed
    release = "0+unknown"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinxcontrib.bibtex",
]

exclude_patterns = ["_build", "notebooks/README.md", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# API reference: one page per top-level name and per public module (autosummary), the
# members of a module being its __all__.
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # the class template lists the members itself
numpydoc_class_members_toctree = False

# Notebooks: rendered, not executed (the test suite runs them).
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]

bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

html_theme = "pydata_sphinx_theme"
html_title = f"kzspatial {release}"
html_theme_options = {"navigation_with_keys": False}
