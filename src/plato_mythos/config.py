"""Configuration of the recurrent-depth transformer.

The first block of fields (and their defaults) is the public surface of the plato-mythos 0.1.0 package,
kept so existing calls stay valid; the fields after it are additions with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decepticons.validation import Validated, check_model_size, fail, spec

#: most expert networks (routed and shared, over the recurrent block's layers) a configuration may have
MAX_EXPERT_MODULES = 1 << 16

#: halting thresholds of the priority tiers (P0 waits longest)
TIER_THRESHOLDS: dict[str, float] = {"P0": 0.99, "P1": 0.8, "P2": 0.5}


@dataclass
class PlatoMythosConfig(Validated):
    """Hyper-parameters of :class:`plato_mythos.model.PlatoMythos`, validated on construction (an
    :class:`~decepticons.errors.InputError` names the field, the value and the allowed range).

    Layout: ``prelude_layers`` dense transformer layers -> a recurrent block of ``num_layers`` layers whose
    feed-forward is the rooms-as-experts MoE, looped up to ``max_loop_depth`` times -> ``coda_layers`` dense
    layers -> output head. Every attention layer is multi-head latent attention with a ``d_kv_latent``
    latent per token plus a ``rope_dim`` decoupled rotary key (``num_kv_heads`` is accepted for
    compatibility; latent attention shares one latent across all heads). Fields left ``None`` take a
    default derived from the others (see each field's doc).
    """

    vocab_size: int = spec(32000, lo=1, hi=1 << 24, doc="token ids 0 .. vocab_size - 1")
    d_model: int = spec(1024, lo=1, hi=1 << 16, doc="model width (a multiple of num_heads)")
    num_heads: int = spec(16, lo=1, hi=1 << 12, doc="attention heads")
    num_kv_heads: int | None = spec(None, lo=1, hi=1 << 12, optional=True, doc="compatibility only (default num_heads)")
    num_layers: int = spec(4, lo=1, hi=256, doc="layers of the recurrent block")
    max_loop_depth: int = spec(8, lo=1, hi=256, doc="loops of the recurrent block (one shell each)")
    d_kv_latent: int = spec(256, lo=1, hi=1 << 16, doc="width of the per-token key/value latent")
    num_rooms: int = spec(8, lo=1, hi=4096, doc="rooms (groups of routed experts; one per tagged domain)")
    experts_per_room: int = spec(2, lo=1, hi=4096, doc="routed experts per room")
    top_k_experts: int = spec(2, lo=1, hi=4096, doc="routed experts per token (at most num_rooms * experts_per_room)")
    deadband_threshold: float = spec(1e-3, lo=0.0, doc="a position halts once its relative state change "
                                     "per loop is below this")
    deadband_max_steps: int = spec(12, lo=1, hi=1 << 16, doc="step limit of the whole-state halting controller")
    lora_r: int = spec(8, lo=1, hi=1 << 14, doc="rank of each shell's adapter")
    lora_alpha: float = spec(16.0, lo=0.0, doc="shell adapter scale alpha (the update is alpha / r * B A)")
    lora_dropout: float = spec(0.0, lo=0.0, hi=1.0, hi_open=True, doc="dropout on the shell adapters' input")
    room_tags: dict[int, tuple[str, tuple[float, float]]] | None = spec(
        None, optional=True, doc="room id -> (name, (low, high) confidence range); default room_0 .. for every room")
    prelude_layers: int = spec(2, lo=0, hi=256, doc="dense layers before the loop")
    coda_layers: int = spec(2, lo=0, hi=256, doc="dense layers after the loop")
    tie_weights: bool = spec(False, doc="share the output head with the token embedding")
    dropout: float = spec(0.0, lo=0.0, hi=1.0, hi_open=True, doc="dropout on attention and feed-forward outputs")
    dtype: str = spec("float32", choices=("float32", "float64", "bfloat16", "float16"), doc="parameter dtype")
    device: str = spec("cpu", doc="torch device of the parameters")

    # ------------------------------------------------------------------ additions
    max_seq_len: int = spec(2048, lo=1, hi=1 << 24, doc="longest sequence (rotary positions; the predictor's context)")
    rope_dim: int = spec(16, lo=2, hi=1 << 12, doc="per-head width of the decoupled rotary query/key (even)")
    qk_nope_dim: int | None = spec(
        None, lo=1, hi=1 << 12, optional=True,
        doc="per-head width of the position-free query/key part (default head_dim); "
        "qk_nope_dim + rope_dim == head_dim lets attention take the fused kernel")
    rope_theta: float = spec(10000.0, lo=0.0, lo_open=True, doc="rotary base")
    num_shared_experts: int = spec(1, lo=0, hi=256, doc="always-on experts beside the routed ones")
    expert_dim: int | None = spec(None, lo=1, hi=1 << 20, optional=True,
                                  doc="hidden width of one expert (default max(8, d_model // 4))")
    ffn_dim: int | None = spec(None, lo=1, hi=1 << 20, optional=True,
                               doc="hidden width of the dense feed-forward of prelude and coda (default 2 * d_model)")
    tile_metadata: bool = spec(True, doc="embed tile metadata (domain, confidence) and bias routing by it; "
                               "off for the byte-level model")
    moe_aux_weight: float = spec(0.01, lo=0.0, doc="weight of the load-balancing loss E * sum_e f_e * P_e")
    moe_bias_rate: float = spec(1e-3, lo=0.0, doc="balancer step: b_e += rate * sign(mean load - load_e) "
                                "after every optimizer step (0: off)")
    act: bool = spec(True, doc="per-position halting at inference (training runs the sampled depth)")
    halt_hidden: int = spec(64, lo=1, hi=1 << 16, doc="hidden width of the halting head")
    ponder_cost: float = spec(0.002, lo=0.0, doc="price of one more loop in nats: a position halts once the "
                              "gain it expects from the remaining loops is below ponder_cost per remaining loop")
    halt_temperature: float = spec(0.002, lo=0.0, lo_open=True, doc="temperature (nats) of the halting "
                                   "probability sigmoid((ponder_cost * loops left - gain) / T)")
    act_loss_weight: float = spec(0.1, lo=0.0, doc="weight of the halting head's loss in extra_loss")
    act_label_rows: int = spec(4, lo=0, hi=1 << 20, doc="batch rows whose per-loop predictions label the halting head "
                               "in a full-depth training step")
    curriculum: bool = spec(True, doc="sample the loop count per training step; false: always max_loop_depth "
                            "loops (the last bptt_depth of them with gradient)")
    curriculum_start_depth: int = spec(2, lo=1, hi=256, doc="depth budget at the start of training "
                                       "(at most max_loop_depth); it rises linearly to max_loop_depth")
    curriculum_warmup: float = spec(0.5, lo=0.0, hi=1.0, doc="fraction of training over which the budget rises")
    curriculum_full_prob: float = spec(0.5, lo=0.0, hi=1.0, doc="probability that a step runs the full budget "
                                       "(otherwise uniform in 1..budget)")
    curriculum_steps: int = spec(2000, lo=1, hi=1 << 40, doc="optimizer steps that make up a run when no "
                                 "progress is set by set_training_progress")
    bptt_depth: int | None = spec(None, lo=1, hi=256, optional=True, doc="loops that receive gradient (the "
                                  "earlier ones run without graph); default max_loop_depth")
    norm_eps: float = spec(1e-6, lo=0.0, lo_open=True, doc="epsilon of every RMS norm")
    init_std: float = spec(0.02, lo=0.0, doc="standard deviation of the initial weights")

    def check(self) -> None:
        """Fill the defaults that derive from other fields, then the cross-field rules."""
        if self.num_kv_heads is None:
            self.num_kv_heads = self.num_heads
        self.room_tags = self._room_tags()
        if self.expert_dim is None:
            self.expert_dim = max(8, self.d_model // 4)
        if self.ffn_dim is None:
            self.ffn_dim = 2 * self.d_model
        if self.bptt_depth is None:
            self.bptt_depth = self.max_loop_depth
        name = type(self).__name__
        if self.d_model % self.num_heads:
            raise fail(name, f"d_model = {self.d_model} is not allowed with num_heads = {self.num_heads}; "
                             f"allowed: a multiple of num_heads")
        if self.qk_nope_dim is None:
            self.qk_nope_dim = self.d_model // self.num_heads
        if self.num_heads % self.num_kv_heads:
            raise fail(name, f"num_kv_heads = {self.num_kv_heads} is not allowed with num_heads = "
                             f"{self.num_heads}; allowed: a divisor of num_heads")
        if self.rope_dim % 2:
            raise fail(name, f"rope_dim = {self.rope_dim} is not allowed; allowed: an even number >= 2")
        if self.top_k_experts > self.total_experts:
            raise fail(name, f"top_k_experts = {self.top_k_experts} is not allowed; allowed: 1 <= top_k_experts "
                             f"<= {self.total_experts} (num_rooms {self.num_rooms} x experts_per_room "
                             f"{self.experts_per_room})")
        experts = self.num_layers * (self.total_experts + self.num_shared_experts)
        if experts > MAX_EXPERT_MODULES:
            raise fail(name, f"num_layers x (num_rooms x experts_per_room + num_shared_experts) = {experts:,} "
                             f"expert networks is not allowed; allowed: at most {MAX_EXPERT_MODULES:,}")
        check_model_size(name, 2 * self.max_seq_len * self.rope_dim, "rotary-table values")
        if self.curriculum_start_depth > self.max_loop_depth:
            raise fail(name, f"curriculum_start_depth = {self.curriculum_start_depth} is not allowed; "
                             f"allowed: 1 <= curriculum_start_depth <= max_loop_depth ({self.max_loop_depth})")

    def _room_tags(self) -> dict[int, tuple[str, tuple[float, float]]]:
        """``room_tags`` with int keys and tuple values (JSON round trips turn them into strings and lists)."""
        if self.room_tags is None:
            return {i: (f"room_{i}", (0.0, 1.0)) for i in range(self.num_rooms)}
        try:
            return {int(k): (str(v[0]), (float(v[1][0]), float(v[1][1]))) for k, v in dict(self.room_tags).items()}
        except (TypeError, ValueError, IndexError, KeyError):
            raise fail(type(self).__name__, f"room_tags = {self.room_tags!r} is not allowed; allowed: a mapping "
                                            "room id -> [name, [low, high]]") from None

    @property
    def head_dim(self) -> int:
        """Per-head width of queries, keys and values (``d_model // num_heads``)."""
        return self.d_model // self.num_heads

    @property
    def total_experts(self) -> int:
        """Routed experts: ``num_rooms * experts_per_room``."""
        return self.num_rooms * self.experts_per_room

    @property
    def num_domains(self) -> int:
        """Domain ids ``0 .. num_domains - 1`` (one per tagged room)."""
        assert self.room_tags is not None  # filled in by check()
        return max(len(self.room_tags), 1)

    def domain_index(self, name: Any) -> int:
        """Domain id of a room name or id: tagged names map to their room; other names map through a
        stable CRC-32 (the same in every process), integers are taken as ids."""
        import zlib

        if isinstance(name, (int,)) and not isinstance(name, bool):
            if not 0 <= name < self.num_domains:
                raise IndexError(f"domain id {name} outside 0..{self.num_domains - 1}")
            return int(name)
        s = str(name)
        assert self.room_tags is not None  # filled in by check()
        for i, (tag, _) in self.room_tags.items():
            if tag == s:
                return int(i) % self.num_domains
        return zlib.crc32(s.encode("utf-8")) % self.num_domains

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)
