"""Configuration of the byte transformer, and parameter counting (no torch)."""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import Validated, check_model_size, fail, spec


@dataclass
class TransformerConfig(Validated):
    """Widths of :class:`~.model.ByteTransformer`; ``block_size`` is the longest window the module reads."""

    d_model: int = spec(96, lo=1, hi=1 << 14, doc="width of the residual stream")
    n_layer: int = spec(4, lo=1, hi=256, doc="transformer blocks")
    n_head: int = spec(4, lo=1, hi=256, doc="attention heads (d_model must be a multiple)")
    block_size: int = spec(256, lo=2, hi=1 << 16, doc="positions (learned position embeddings)")
    dropout: float = spec(0.0, lo=0.0, hi=1.0, hi_open=True, doc="dropout on attention and MLP outputs")

    def check(self) -> None:
        if self.d_model % self.n_head:
            raise fail("TransformerConfig", f"d_model ({self.d_model}) must be a multiple of n_head "
                                            f"({self.n_head})")
        check_model_size("TransformerConfig", state_values(self))


def count_parameters(cfg: TransformerConfig) -> int:
    """Parameters of :class:`~.model.ByteTransformer` with ``cfg`` (the head is tied to the byte embedding)."""
    d = cfg.d_model
    per_block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    return 256 * d + cfg.block_size * d + cfg.n_layer * per_block + 2 * d


def state_values(cfg: TransformerConfig) -> int:
    """Values in the module's state dict: the parameters, and the tied head once more (saved under both
    names)."""
    return count_parameters(cfg) + 256 * cfg.d_model


def matched_config(n_params: int, n_layer: int = 4, n_head: int = 4, block_size: int = 256) -> TransformerConfig:
    """The config whose parameter count is closest to ``n_params`` (``d_model`` a multiple of ``n_head``)."""
    best: tuple[int, TransformerConfig] | None = None
    for d in range(n_head, 1025, n_head):
        cfg = TransformerConfig(d_model=d, n_layer=n_layer, n_head=n_head, block_size=block_size)
        n = count_parameters(cfg)
        if best is None or abs(n - n_params) < abs(best[0] - n_params):
            best = (n, cfg)
    assert best is not None
    return best[1]
