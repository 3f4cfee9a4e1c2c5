"""Kernels: per-byte loops written once in plain Python, run interpreted (reference) or numba-compiled (fast).

A kernel is a module-level function over numpy arrays, scalars and named tuples of them, registered with
:func:`kernel` (names are unique across modules). Kernels call each other by their plain names, imported
under those names (``from .tables import find_slot``), so the interpreter runs them as ordinary Python:
that is the *reference* path.

:func:`get_kernels` gives a namespace of every registered kernel, by name::

    k = get_kernels(use_numba)      # k.ngram_run, k.mixer_run, k.quantize_probs, ...; k.fast: compiled?

With numba installed and wanted, each kernel is cloned (same code object) with a copy of its module's
globals, and in every copy the registered names are rebound to the ``njit(cache=True)`` dispatchers
before anything is compiled (numba compiles lazily, on the first call). Compiled kernels thus call each
other compiled, across modules, and both paths execute identical arithmetic in identical order. The
on-disk cache key of every clone carries a digest of the source of its module and of every kernel module it
can call, so editing one module never reuses stale machine code that inlined an older version of it.

Writing kernels: bind the fields of a named-tuple argument to local names in the first statements and use
only those (a field read inside an expression or a loop costs a reference-count round trip per read in
compiled code), and inside a loop call helpers with the arrays they need rather than a whole named tuple
(which stays live, and is copied field by field, at every call).

:func:`specialise` returns a kernel bound to the argument types of one call, skipping numba's per-call
type dispatch (used by the one-call-per-byte stream paths, whose arguments keep their types).
"""

from __future__ import annotations

import hashlib
import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY: dict[str, Callable[..., Any]] = {}


def kernel(fn: F) -> F:
    """Register ``fn`` (a module-level function) as a kernel; returns it unchanged."""
    name = fn.__name__
    old = _REGISTRY.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
        raise RuntimeError(f"two kernels are named {name!r}: {old.__module__} and {fn.__module__}")
    _REGISTRY[name] = fn
    return fn


class CompiledKernel(Protocol):
    """A numba dispatcher (what :func:`get_kernels` holds when the kernels are compiled)."""

    def compile(self, sig: tuple[Any, ...]) -> Callable[..., Any]:
        """The machine-code entry point for one tuple of numba argument types (compiled now if needed)."""
        ...


class Kernels:
    """A namespace of kernels (attribute access by name); ``fast`` tells whether they are compiled."""

    def __init__(self, fast: bool) -> None:
        self.fast = fast

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"no kernel named {name!r} is registered (is the module defining it imported?)")


REFERENCE = Kernels(fast=False)
_FAST: Kernels | None = None
_WARNED = False  # the missing-numba warning is given once per process
_JITTED: dict[str, Any] = {}
_MODULE_GLOBALS: dict[str, dict[str, Any]] = {}
_SOURCES: dict[str, bytes] = {}


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _source_digest(module: str) -> str:
    """Digest of the source of ``module`` and of every kernel module its kernels can reach (the modules of
    the registered kernels its globals name, transitively): the same whatever else is imported."""
    deps: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in deps:
            continue
        deps.add(m)
        g = vars(sys.modules[m])
        todo += [f.__module__ for name, f in _REGISTRY.items() if g.get(name) is f]
    h = hashlib.sha256()
    for m in sorted(deps):
        if m not in _SOURCES:
            path = vars(sys.modules[m]).get("__file__")
            _SOURCES[m] = Path(path).read_bytes() if path else b""
        h.update(m.encode() + b"\0" + _SOURCES[m])
    return h.hexdigest()[:10]


def _compile_new() -> None:
    """Clone and ``njit`` every kernel registered since the last call, then rebind names in all clones."""
    from numba import njit

    for name in [name for name in _REGISTRY if name not in _JITTED]:
        f = _REGISTRY[name]
        tag = _source_digest(f.__module__)
        g = _MODULE_GLOBALS.setdefault(f.__module__, dict(f.__globals__))
        clone = types.FunctionType(f.__code__, g, name, f.__defaults__, f.__closure__)
        clone.__kwdefaults__ = f.__kwdefaults__
        clone.__module__ = f.__module__
        clone.__qualname__ = f"{f.__qualname__}__{tag}"  # cache entries follow the kernel sources
        clone.__doc__ = f.__doc__
        _JITTED[name] = njit(cache=True)(clone)
    for g in _MODULE_GLOBALS.values():
        for name, jf in _JITTED.items():
            if g.get(name) is _REGISTRY[name]:
                g[name] = jf


def get_kernels(use_numba: bool = True) -> Kernels:
    """The compiled kernels when numba is importable and wanted, else the reference ones."""
    global _FAST, _WARNED
    if use_numba and not numba_available() and not _WARNED:
        _WARNED = True
        warnings.warn("numba is not installed: the count memories and the mixer run their interpreted reference "
                      "kernels (same predictions, about 80x slower); pip install numba", RuntimeWarning, stacklevel=2)
    if not use_numba or not numba_available():
        if len(REFERENCE.__dict__) != len(_REGISTRY) + 1:  # + 1: ``fast``
            REFERENCE.__dict__.update(_REGISTRY)
        return REFERENCE
    if _FAST is None:
        _FAST = Kernels(fast=True)
    if len(_JITTED) != len(_REGISTRY):
        _compile_new()
        _FAST.__dict__.update(_JITTED)
    return _FAST


def specialise(fn: Callable[..., Any], *args: Any) -> Callable[..., Any]:
    """``fn`` bound to the numba types of ``args`` (compiled now if needed), so calls with arguments of the
    same types skip the per-call type dispatch; a reference (interpreted) kernel is returned unchanged."""
    if isinstance(fn, types.FunctionType):
        return fn
    from numba import typeof

    return cast(CompiledKernel, fn).compile(tuple(typeof(a) for a in args))
