"""One way to validate configuration dataclasses.

Every config class of the package (coder, substrates, memories, mixer, causal bank, trainer, mythos) declares
the allowed values of each field next to the field itself, with :func:`spec`, and validates in
``__post_init__`` by calling :func:`validate` (or inherits :class:`Validated`, which does both and adds
``from_dict`` / ``to_dict``). A bad value raises :class:`~decepticons.errors.InputError` naming the class,
the field, the value and the allowed range::

    @dataclass
    class EchoStateConfig(Validated):
        size: int = spec(128, lo=1, hi=1 << 14)
        leak: float = spec(0.5, lo=0.0, hi=1.0, lo_open=True)
        kind: str = spec("tanh", choices=("tanh", "relu"))
        lr: float | None = spec(None, lo=0.0, optional=True)

    EchoStateConfig(size=0)   # InputError: EchoStateConfig.size = 0 is out of range; allowed: 1 <= size <= 16384

Rules: an ``int`` field takes integers (not booleans, not floats with a fraction); a ``float`` field takes
any finite real number (``NaN`` and infinities are always refused) and stores a ``float``; a ``bool`` field
takes ``True``/``False`` only; ``choices`` restricts a field to listed values; ``optional=True`` also admits
``None``; ``items`` validates each element of a tuple/list field (stored as a tuple). Cross-field rules go
in the class's ``check()`` method, which :func:`validate` calls after the per-field checks.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from .errors import InputError

_MISSING = dataclasses.MISSING


@dataclass(frozen=True)
class Spec:
    """The allowed values of one field (see the module docstring)."""

    kind: str | None = None            # "int", "float", "bool", "str", "tuple", "dict"; None: from the annotation
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[Any, ...] | None = None
    optional: bool = False
    items: Spec | None = None          # element rule of a tuple field
    min_len: int = 0
    max_len: int | None = None

    def describe(self, name: str) -> str:
        """Human-readable range, e.g. ``0 < leak <= 1`` or ``one of 'a', 'b'``."""
        if self.choices is not None:
            out = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.lo is not None and self.hi is None:
            out = f"{name} {'>' if self.lo_open else '>='} {_num(self.lo)}"
        elif self.lo is not None or self.hi is not None:
            left = "" if self.lo is None else f"{_num(self.lo)} {'<' if self.lo_open else '<='} "
            right = "" if self.hi is None else f" {'<' if self.hi_open else '<='} {_num(self.hi)}"
            out = f"{left}{name}{right}"
        else:
            out = {"int": "an integer", "float": "a finite number", "bool": "true or false",
                   "str": "a string", "tuple": "a list", "dict": "a mapping"}.get(self.kind or "", "any value")
        return out + (" (or null)" if self.optional else "")


def _num(v: float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def spec(default: Any = _MISSING, *, default_factory: Any = _MISSING, doc: str = "", **rule: Any) -> Any:
    """A dataclass ``field`` carrying its :class:`Spec` (keyword arguments) and an optional ``doc`` line."""
    meta = {"spec": Spec(**rule), "doc": doc}
    if default_factory is not _MISSING:
        return field(default_factory=default_factory, metadata=meta)
    if isinstance(default, (list, dict, set)):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata=meta)
    return field(default=default, metadata=meta)


def _kind_of(annotation: Any) -> tuple[str | None, bool]:
    """``(kind, optional)`` from a resolved type annotation (``int``, ``float | None``, ``tuple[int, ...]``)."""
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    optional = type(None) in args
    if args:
        rest = [a for a in args if a is not type(None)]
        annotation = rest[0] if len(rest) == 1 else None
    base = typing.get_origin(annotation) or annotation
    for kind, types_ in (("bool", (bool,)), ("int", (int,)), ("float", (float,)), ("str", (str,)),
                         ("tuple", (tuple, list)), ("dict", (dict,))):
        if base in types_:
            return kind, optional
    return None, optional


def check_value(owner: str, name: str, value: Any, rule: Spec, kind: str | None = None) -> Any:
    """Validate one value against ``rule``; returns it normalised (``float`` for float fields, ``tuple`` for
    sequences). Raises :class:`InputError` naming ``owner.name``, the value and the allowed range."""
    if rule.kind is None and kind is not None:
        rule = dataclasses.replace(rule, kind=kind)
    kind = rule.kind
    where = f"{owner}.{name}" if owner else name

    def fail(extra: str = "") -> InputError:
        return InputError(f"{where} = {value!r} is not allowed{extra}; allowed: {rule.describe(name)}")

    if value is None:
        if rule.optional:
            return None
        raise fail()
    if rule.choices is not None:
        if value not in rule.choices or isinstance(value, bool) != any(isinstance(c, bool) for c in rule.choices):
            raise fail()
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail()
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) \
                    and float(value).is_integer():
                value = math.trunc(value)
            else:
                raise fail(" (must be an integer)")
        value = int(value)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise fail(" (must be a number)")
        value = float(value)
        if not math.isfinite(value):
            raise fail(" (must be finite)")
    elif kind == "str":
        if not isinstance(value, str):
            raise fail(" (must be a string)")
        return value
    elif kind == "tuple":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise fail(" (must be a list)")
        if len(value) < rule.min_len or (rule.max_len is not None and len(value) > rule.max_len):
            hi = "" if rule.max_len is None else f" and at most {rule.max_len}"
            raise InputError(f"{where} must have at least {rule.min_len}{hi} entries, got {len(value)}")
        if rule.items is not None:
            value = tuple(check_value(owner, f"{name}[{i}]", v, rule.items) for i, v in enumerate(value))
        return tuple(value)
    elif kind == "dict":
        if not isinstance(value, dict):
            raise fail(" (must be a mapping)")
        return value
    if kind in ("int", "float") or (isinstance(value, numbers.Real) and not isinstance(value, bool)):
        v = float(value)
        if rule.lo is not None and (v <= rule.lo if rule.lo_open else v < rule.lo):
            raise fail()
        if rule.hi is not None and (v >= rule.hi if rule.hi_open else v > rule.hi):
            raise fail()
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        try:
            _HINTS[cls] = get_type_hints(cls)
        except Exception:  # pragma: no cover - unresolvable annotation: fall back to the raw strings
            _HINTS[cls] = {f.name: f.type for f in dataclasses.fields(cls)}
    return _HINTS[cls]


def validate(obj: Any) -> None:
    """Check every field of the dataclass instance ``obj`` that carries a :class:`Spec`, normalising values
    in place, then call ``obj.check()`` when the class defines it (cross-field rules)."""
    cls = type(obj)
    hints = _hints(cls)
    for f in dataclasses.fields(obj):
        rule = f.metadata.get("spec")
        if rule is None:
            continue
        kind, _ = _kind_of(hints.get(f.name, f.type))
        value = check_value(cls.__name__, f.name, getattr(obj, f.name), rule, kind)
        object.__setattr__(obj, f.name, value)
    check = getattr(obj, "check", None)
    if callable(check):
        check()


def field_docs(cls: type) -> list[dict[str, Any]]:
    """One record per field: name, default, allowed range and doc line (for ``--help`` and the docs)."""
    out = []
    for f in dataclasses.fields(cls):
        rule = f.metadata.get("spec")
        if f.default is not _MISSING:
            default = f.default
        elif f.default_factory is not _MISSING:
            default = f.default_factory()
        else:
            default = None
        if rule is not None and rule.kind is None:
            rule = dataclasses.replace(rule, kind=_kind_of(_hints(cls).get(f.name, f.type))[0])
        out.append({"name": f.name, "default": default,
                    "allowed": rule.describe(f.name) if rule else "", "doc": f.metadata.get("doc", "")})
    return out


class Validated:
    """Mixin for config dataclasses: validates on construction; ``from_dict`` refuses unknown keys."""

    def __post_init__(self) -> None:
        validate(self)

    def check(self) -> None:
        """Cross-field rules (override); raise :class:`InputError`."""

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        """Build from a mapping, refusing unknown keys with the list of known ones."""
        if not isinstance(values, dict):
            raise InputError(f"{cls.__name__} options must be a mapping, got {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"unknown {cls.__name__} option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(names))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        d = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def fail(owner: str, message: str) -> InputError:
    """An :class:`InputError` for a cross-field rule, prefixed with the class name."""
    return InputError(f"{owner}: {message}")


#: largest model a configuration may describe, in stored values (parameters and buffers, plus the
#: temporaries of building it): 2**31, 8 GiB of float32. Checked before anything is allocated.
MAX_MODEL_VALUES = 1 << 31


def check_model_size(owner: str, values: int, what: str = "values") -> None:
    """Refuse (:class:`InputError`) a configuration whose estimated size exceeds :data:`MAX_MODEL_VALUES`."""
    if values > MAX_MODEL_VALUES:
        raise InputError(f"{owner}: the configuration describes a model of {values:,} {what}, more than the "
                         f"{MAX_MODEL_VALUES:,} allowed; reduce its widths")
