"""Options of :class:`~decepticons.cm.predictor.CMPredictor` (``--config key=value``), validated with
:mod:`decepticons.validation`, and the named presets (``preset=fast|default|max``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..validation import Spec, Validated, check_model_size, fail, spec

#: context kinds a model may use (``contexts``), in the kernel's numbering (:mod:`.contexts`)
CONTEXT_KINDS = ("o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7", "word", "word2", "sparse", "sparse2",
                 "column", "indent", "o9", "o12", "word3", "indirect")
DEFAULT_CONTEXTS = ("o1", "o2", "o3", "o4", "o5", "o6", "o7", "word", "word2", "sparse", "column", "indent",
                    "indirect")

#: presets: named points of the bits/byte against KB/s line (docs/benchmarks.md, section ``cm``)
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"contexts": ("o1", "o2", "o3", "o4", "o6", "word", "column"), "mixers": 2, "table_bits": 22},
    "default": {},
    "max": {"contexts": DEFAULT_CONTEXTS + ("o9", "sparse2", "word3"), "mixers": 3, "table_bits": 24},
}


@dataclass
class CMConfig(Validated):
    """Options of the bit-level context-mixing model."""

    contexts: tuple[str, ...] = spec(DEFAULT_CONTEXTS, items=Spec(kind="str"),
                                     doc="context models, from: " + ", ".join(CONTEXT_KINDS))
    table_bits: int = spec(23, lo=6, hi=24, doc="log2 of the slots of the context table all contexts share "
                            "(64 bytes a slot: 512 MB at 23; Shakespeare primed with its 4.7 MB train, "
                            "bits/byte 1.8889 at 22, 1.8682 at 23, 1.8594 at 24)")
    limit: int = spec(30, lo=1, hi=255, doc="count limit of the adaptive bit probabilities (rate 1/(n+1.5))")
    mixers: int = spec(3, lo=1, hi=3, doc="first-layer mixers (weight sets by partial byte, match state, "
                       "previous byte), mixed by a second layer")
    lr: float = spec(0.002, lo=0.0, hi=1.0, doc="first-layer mixer learning rate")
    lr2: float = spec(0.002, lo=0.0, hi=1.0, doc="second-layer mixer learning rate")
    apm_rate: float = spec(0.02, lo=0.0, hi=1.0, doc="adaptive probability maps' rate (0: no APM stage)")
    match_min: int = spec(6, lo=0, hi=32, doc="minimum match length of the match model (0: off)")
    match_bits: int = spec(20, lo=8, hi=26, doc="log2 of the match model's hash table entries")
    confidence: bool = spec(True, doc="a second input per context: an adaptive map from the entry's "
                            "nonstationary bit history (n0, n1) to a probability, shared by the context's entries")
    runs: bool = spec(True, doc="a third input per context: the last byte seen in it, as a bit prediction "
                      "trusted by how often it repeated (a learned map by run length)")
    online: bool = spec(True, doc="keep learning on the scored bytes (adaptive)")
    preset: str | None = spec(None, optional=True, doc="named preset applied under the explicit options: "
                              + ", ".join(PRESETS))

    OWNER: ClassVar[str] = "CMConfig"

    def check(self) -> None:
        super().check()
        bad = [c for c in self.contexts if c not in CONTEXT_KINDS]
        if bad:
            raise fail(self.OWNER, f"contexts {bad} unknown; allowed: {', '.join(CONTEXT_KINDS)}")
        if len(set(self.contexts)) != len(self.contexts):
            raise fail(self.OWNER, f"contexts {list(self.contexts)} name a context twice")
        if not 1 <= len(self.contexts) <= 24:
            raise fail(self.OWNER, f"contexts must name 1..24 context models, got {len(self.contexts)}")
        if self.preset is not None and self.preset not in PRESETS:
            raise fail(self.OWNER, f"preset {self.preset!r} unknown; allowed: {', '.join(PRESETS)}")
        check_model_size(self.OWNER, 16 << self.table_bits, "table entries")

    @classmethod
    def build(cls, options: dict[str, Any]) -> CMConfig:
        """The configuration from keyword options: a ``preset``'s values, overridden by the explicit ones."""
        preset = options.get("preset")
        if preset is not None and preset not in PRESETS:
            raise fail(cls.OWNER, f"preset {preset!r} unknown; allowed: {', '.join(PRESETS)}")
        base = dict(PRESETS.get(preset, {})) if preset else {}
        return cls.from_dict({**base, **options})
