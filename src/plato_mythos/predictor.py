"""``mythos``: the byte-level PlatoMythos as a kernel predictor (registered through the
``decepticons.models`` entry-point group; the kernel never imports this package).

Contract. Row ``t`` of ``log_probs(data)`` is ``log p(data[t] | data[:t])``. The module sees at most
``context_length = max_seq_len`` positions, so longer inputs are scored in overlapping windows: window 0
covers rows ``0 .. W - 1`` (fed ``[BOS] + data[:W - 1]``), and window ``k >= 1`` scores rows
``r_k .. r_k + S - 1`` with ``r_k = W + (k - 1) S`` from the ``W - S`` bytes before them plus the row's
own history (stride ``S = W / 2``): every row beyond the first window conditions on at least ``W - S``
bytes. :class:`MythosStream` reproduces exactly this with the latent KV cache: one cached step per byte,
and a re-prefill of the last ``W - S + 1`` inputs whenever a new window starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch

from decepticons.codecs import BytesLike, as_byte_array
from decepticons.errors import InputError
from decepticons.predictor import LN2, Stream, log_probs_from_chunks, shift_right
from decepticons.training.predictor import TorchPredictor

from .config import PlatoMythosConfig
from .model import MythosCache, PlatoMythos
from .tiles_as_kv import TilesAsKV

#: the byte-level default, sized for a 10-minute budget on two CPU cores (docs/benchmarks.md, section
#: ``mythos-depth``): width 128 (4 heads of 16 + 16 rotary), one expert of 256 per room and one room (the
#: recurrent feed-forward is dense), 8 loops with gradient through the last 4 of each step's sampled depth
BYTE_DEFAULTS: dict[str, Any] = dict(
    vocab_size=256, d_model=128, num_heads=4, num_layers=1, max_loop_depth=8, d_kv_latent=32, rope_dim=16,
    qk_nope_dim=16, num_rooms=1, experts_per_room=1, top_k_experts=1, num_shared_experts=0, expert_dim=256,
    ffn_dim=256, prelude_layers=1, coda_layers=1, lora_r=4, lora_alpha=16.0, max_seq_len=256,
    tile_metadata=False, deadband_max_steps=16, curriculum_warmup=0.3, curriculum_steps=1000, bptt_depth=4,
    act_label_rows=1,
)


class MythosPredictor(TorchPredictor):
    """Byte-level recurrent-depth transformer implementing the predictor contract."""

    name: ClassVar[str] = "mythos"
    config_cls: ClassVar[type] = PlatoMythosConfig
    #: the stream re-fills its cache from the last ``max_seq_len - stride`` bytes when the window is full
    slides_window: bool = True

    def __init__(self, config: Any = None, *, seed: int = 0, device: str | None = None, **overrides: Any):
        if config is None:
            config = PlatoMythosConfig(**{**BYTE_DEFAULTS, **overrides})
        elif isinstance(config, dict):
            config = PlatoMythosConfig(**{**BYTE_DEFAULTS, **config, **overrides})
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        if config.vocab_size != 256:
            raise InputError(f"the byte-level predictor needs vocab_size=256, got {config.vocab_size}")
        self.stride = max(1, config.max_seq_len // 2)
        #: loops and ACT used by ``log_probs`` and ``stream`` (None: max_loop_depth / config.act)
        self.eval_loops: int | None = None
        self.eval_act: bool | None = None
        #: when a list, ``iter_log_probs`` appends the loop depth of every scored row to it
        self.depth_trace: list[np.ndarray] | None = None
        super().__init__(config, seed=seed, device=device)
        self.module: PlatoMythos

    @classmethod
    def build_module(cls, config: PlatoMythosConfig) -> PlatoMythos:
        return PlatoMythos(dataclasses.replace(config, device="cpu"))

    @classmethod
    def state_values(cls, config: PlatoMythosConfig) -> int:
        """Counted on a copy built on torch's meta device (shapes only, nothing allocated)."""
        with torch.device("meta"):
            module = PlatoMythos(dataclasses.replace(config, device="meta"))
        return sum(t.numel() for t in module.state_dict().values())

    @classmethod
    def config_from_dict(cls, config: dict[str, Any]) -> PlatoMythosConfig:
        return PlatoMythosConfig(**{**BYTE_DEFAULTS, **config})

    @property
    def context_length(self) -> int:  # type: ignore[override]
        return int(self.config.max_seq_len)

    # ------------------------------------------------------------------ batched scoring
    def _windows(self, n: int) -> list[tuple[int, int, int]]:
        """``(input_start, first_row, end_row)``: inputs ``x[input_start - 1 : ...]`` (``-1`` = BOS) produce
        rows ``input_start .. end_row - 1``; rows ``first_row .. end_row - 1`` are kept."""
        W, S = self.context_length, self.stride
        out = [(0, 0, min(n, W))]
        r = W
        while r < n:
            out.append((r - (W - S), r, min(n, r + S)))
            r += S
        return out

    def _window_inputs(self, x: np.ndarray, a: int, end: int) -> np.ndarray:
        if a == 0:
            return shift_right(x[:end], self.bos_token)
        return x[a - 1:end - 1].astype(np.int64)

    @torch.no_grad()
    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16, batch: int = 16) -> Iterator[np.ndarray]:
        x = as_byte_array(data)
        if len(x) == 0:
            return
        was = self.module.training
        self.module.eval()
        try:
            wins = self._windows(len(x))
            i = 0
            while i < len(wins):
                a, r, end = wins[i]
                group = [wins[i]]
                if end - a == self.context_length:
                    while (i + len(group) < len(wins) and len(group) < batch
                           and wins[i + len(group)][2] - wins[i + len(group)][0] == self.context_length):
                        group.append(wins[i + len(group)])
                ids = np.stack([self._window_inputs(x, a, end) for a, _, end in group])
                logits = self.module(torch.from_numpy(ids).to(self.device), n_loops=self.eval_loops,
                                     act=self.eval_act).double()
                lp = torch.log_softmax(logits, dim=-1).cpu().numpy()
                assert self.module.last_depth is not None  # recorded by the forward
                depth = self.module.last_depth.cpu().numpy()
                for (a, r, end), row, d in zip(group, lp, depth):
                    if self.depth_trace is not None:
                        self.depth_trace.append(d[r - a:end - a].copy())
                    yield row[r - a:end - a]
                i += len(group)
        finally:
            self.module.train(was)

    def log_probs(self, data: BytesLike) -> np.ndarray:
        return log_probs_from_chunks(self, data)

    def calibrate_halting(self, data: BytesLike, max_relative_gap: float = 0.0075,
                          costs: tuple[float, ...] = (0.004, 0.003, 0.002, 0.0015, 0.001, 0.0005),
                          progress: bool | None = False) -> dict[str, Any]:
        """Choose the ponder cost on held-in ``data`` (never on the split you report): the largest cost in
        ``costs`` whose ACT bits/byte stay within ``max_relative_gap`` of running every byte at full depth.

        Sets ``config.ponder_cost`` (saved with the model) and the halting controller's cost, and returns
        ``{"full": bpb, "chosen": cost or None, "table": [{"cost", "bpb", "gap", "mean_depth"}, ...]}``.
        When no cost qualifies, the smallest one (the most depth) is set and ``chosen`` is None.
        """
        x = as_byte_array(data)
        if len(x) == 0:
            raise InputError("calibrate_halting needs a non-empty held-in sample")
        if not costs or any(c <= 0 for c in costs):
            raise InputError(f"costs must be positive, got {costs!r}")
        saved = (self.eval_loops, self.eval_act, self.depth_trace)
        try:
            self.eval_loops, self.eval_act, self.depth_trace = None, False, None
            full = float(-self.target_log_probs(x, progress=progress).mean() / LN2)
            table, chosen = [], None
            for cost in sorted(costs, reverse=True):
                self.module.act.ponder_cost = float(cost)
                self.eval_act, self.depth_trace = True, []
                bpb = float(-self.target_log_probs(x, progress=progress).mean() / LN2)
                depth = float(np.concatenate(self.depth_trace).mean())
                gap = bpb / full - 1.0
                table.append({"cost": float(cost), "bpb": bpb, "gap": gap, "mean_depth": depth})
                if gap <= max_relative_gap:
                    chosen = float(cost)
                    break
        finally:
            self.eval_loops, self.eval_act, self.depth_trace = saved
        final = chosen if chosen is not None else float(min(costs))
        self.module.act.ponder_cost = final
        self.config = dataclasses.replace(self.config, ponder_cost=final)
        self.module.config = dataclasses.replace(self.module.config, ponder_cost=final)
        return {"full": full, "chosen": chosen, "table": table}

    def stream(self) -> MythosStream:
        return MythosStream(self)

    def describe(self) -> dict[str, Any]:
        per_layer = TilesAsKV.cache_bytes_per_token(self.config)
        return {**super().describe(), "kv_cache_bytes_per_token_per_layer": per_layer}


class MythosStream(Stream):
    """Cached incremental prediction, equal to :meth:`MythosPredictor.log_probs` (same windows)."""

    def __init__(self, predictor: MythosPredictor) -> None:
        self.p = predictor
        self.module = predictor.module
        self.history = bytearray()
        self._lp: np.ndarray | None = None
        self._prefill(np.array([predictor.bos_token], dtype=np.int64))

    @torch.no_grad()
    def _run(self, ids: np.ndarray) -> None:
        was = self.module.training
        self.module.eval()
        try:
            logits = self.module.step(torch.from_numpy(ids)[None].to(self.p.device), self.cache, act=self.p.eval_act)
        finally:
            self.module.train(was)
        self._lp = torch.log_softmax(logits[0, -1].double(), dim=-1).cpu().numpy()

    def _prefill(self, ids: np.ndarray) -> None:
        self.cache = MythosCache(self.module, 1, self.p.context_length,
                                 self.p.eval_loops or self.module.config.max_loop_depth)
        self._run(ids)

    def log_probs(self) -> np.ndarray:
        assert self._lp is not None  # set by the prefill in __init__
        return self._lp.copy()

    def push(self, byte: int) -> None:
        b = byte  # checked by Stream (check_byte)
        self.history.append(b)
        r = len(self.history)
        W, S = self.p.context_length, self.p.stride
        if r >= W and (r - W) % S == 0:
            x = np.frombuffer(bytes(self.history[r - (W - S) - 1:r]), dtype=np.uint8).astype(np.int64)
            self._prefill(x)
        else:
            self._run(np.array([b], dtype=np.int64))
