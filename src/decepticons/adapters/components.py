"""Components of an adapter: registered model kinds declared by name and options.

A component is the mapping ``{"kind": NAME, "config": {OPTION: VALUE, ...}}`` (``config`` optional): ``NAME``
is a registry name (``ngram``, ``coder``, ``frozen-readout``, ...) and ``config`` the keyword options of that
model's class. The adapters' config dataclasses hold components in this form (JSON, so a model file stores
them by value) and build them with :func:`build_component`.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..predictor import CausalPredictor, require_causal
from ..registry import model_class

COMPONENT_KEYS = ("kind", "config")


def check_component(owner: str, name: str, value: Any) -> dict[str, Any]:
    """``value`` as a component ``{"kind": str, "config": dict}`` (``config`` defaults to ``{}``), else an
    :class:`InputError` naming ``owner.name``, the value and the allowed form."""
    form = "allowed: a mapping {\"kind\": MODEL_NAME, \"config\": {OPTION: VALUE}}"
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str) or not value["kind"]:
        raise InputError(f"{owner}.{name} = {value!r:.80} is not a component; {form}")
    unknown = sorted(set(value) - set(COMPONENT_KEYS))
    if unknown:
        raise InputError(f"{owner}.{name} has unknown key(s) {', '.join(map(str, unknown))}; {form}")
    config = value.get("config", {})
    if not isinstance(config, dict):
        raise InputError(f"{owner}.{name}.config = {config!r:.80} must be a mapping of options; {form}")
    return {"kind": value["kind"], "config": dict(config)}


def build_component(component: dict[str, Any], seed: int = 0, what: str = "an adapter component") -> CausalPredictor:
    """A fresh, unfitted model of the component's kind with its options; a non-causal kind is refused."""
    cls = model_class(component["kind"])
    try:
        model = cls(**component.get("config", {}), seed=seed)
    except TypeError as e:  # an option this model does not take
        raise InputError(f"bad options for {what} of kind {component['kind']!r}: {e}") from None
    require_causal(model, what)
    return model
