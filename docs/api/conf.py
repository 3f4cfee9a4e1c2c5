"""Sphinx configuration of the API reference (``docs/api``).

Build it from the repository root with the ``docs`` extra installed::

    python -m sphinx -b html -W --keep-going docs/api docs/api/_build/html

Everything is read from the docstrings of the installed (or ``src/``) packages; no network is used.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import importlib  # noqa: E402

from decepticons.version import __version__  # noqa: E402

# Packages that load their names lazily (a module ``__getattr__``) are resolved here, so that autodoc sees
# the names of their ``__all__`` as ``from package import name`` does.
LAZY_PACKAGES = ["decepticons.coder", "decepticons.readouts", "decepticons.runtime", "decepticons.views"]
for _name in LAZY_PACKAGES:
    _package = importlib.import_module(_name)
    for _attr in _package.__all__:
        setattr(_package, _attr, getattr(_package, _attr))

project = "decepticons"
author = "decepticons contributors"
copyright = "decepticons contributors, MIT licence"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Warnings are errors in the test build (tests/test_docs_site.py: -W --keep-going): reStructuredText errors in a
# docstring, failed imports, duplicate or ambiguous targets. Nitpicky mode (every unresolved cross-reference,
# type hints included) is off: with no intersphinx inventories offline, every numpy, torch and standard
# library type in a signature would be one, and references to undocumented internal modules render as code.
# A short name that is documented once elsewhere is linked by _resolve_unique below.
nitpicky = False

# autodoc: members in each package's ``__all__``, in source order, type hints in the signature
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"

# the Markdown pages (docs/*.md) are included as they are
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = f"decepticons {__version__}"
html_static_path: list[str] = []


def _import_path(path: str) -> Any:
    """The object at a dotted path (``package.module.Name``), or None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _resolve_unique(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Link a Python name that Sphinx did not resolve to where that object is documented:

    * a short name (``:class:`InputError``` written in another module than the one that defines it) when
      exactly one documented object has that name;
    * a full path under which the object is not documented (``decepticons.memory.config.CountConfig``, a base
      class shown by ``show-inheritance``) when one documented object of the same name *is* that object
      (``decepticons.memory.CountConfig``).

    A name that matches none, or several different objects, stays unresolved, as Sphinx leaves it."""
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    domain = env.get_domain("py")
    target = node["reftarget"].lstrip("~.")
    short = target.rpartition(".")[2]
    matches = domain.find_obj(env, node.get("py:module"), node.get("py:class"), short, node["reftype"], 1)
    if "." in target:
        wanted = _import_path(target)
        if wanted is None or not target.startswith(("decepticons.", "plato_mythos.")):
            return None
        matches = [(name, obj) for name, obj in matches if _import_path(name) is wanted]
    elif node.get("refspecific"):
        return None
    if len(matches) != 1:
        return None
    name, obj = matches[0]
    return make_refnode(app.builder, node.get("refdoc"), obj.docname, obj.node_id, contnode, name)


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_unique)
