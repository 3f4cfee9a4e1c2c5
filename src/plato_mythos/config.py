"""Configuration of the recurrent-depth transformer.

The first block of fields (and their defaults) is the public surface of the plato-mythos 0.1.0 package,
kept so existing calls stay valid; the fields after it are additions with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: halting thresholds of the priority tiers (P0 waits longest)
TIER_THRESHOLDS: dict[str, float] = {"P0": 0.99, "P1": 0.8, "P2": 0.5}


@dataclass
class PlatoMythosConfig:
    """Hyper-parameters of :class:`plato_mythos.model.PlatoMythos`.

    Layout: ``prelude_layers`` dense transformer layers -> a recurrent block of ``num_layers`` layers whose
    feed-forward is the rooms-as-experts MoE, looped up to ``max_loop_depth`` times -> ``coda_layers`` dense
    layers -> output head. Every attention layer is multi-head latent attention with a ``d_kv_latent``
    latent per token plus a ``rope_dim`` decoupled rotary key (``num_kv_heads`` is accepted for
    compatibility; latent attention shares one latent across all heads).
    """

    vocab_size: int = 32000
    d_model: int = 1024
    num_heads: int = 16
    num_kv_heads: int | None = None
    num_layers: int = 4
    max_loop_depth: int = 8
    d_kv_latent: int = 256
    num_rooms: int = 8
    experts_per_room: int = 2
    top_k_experts: int = 2
    deadband_threshold: float = 1e-3
    deadband_max_steps: int = 12
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    room_tags: dict[int, tuple[str, tuple[float, float]]] | None = None
    prelude_layers: int = 2
    coda_layers: int = 2
    tie_weights: bool = False
    dropout: float = 0.0
    dtype: str = "float32"
    device: str = "cpu"

    # ------------------------------------------------------------------ additions
    #: longest sequence (positions of the rotary embedding; the predictor's context)
    max_seq_len: int = 2048
    #: per-head dimension of the decoupled rotary query/key
    rope_dim: int = 16
    #: per-head dimension of the position-free query/key part (default ``head_dim``); with
    #: ``qk_nope_dim + rope_dim == head_dim`` queries, keys and values share one width and attention
    #: takes the fused (flash) kernel
    qk_nope_dim: int | None = None
    rope_theta: float = 10000.0
    #: always-on experts beside the routed ones
    num_shared_experts: int = 1
    #: hidden width of one expert (default ``d_model // 4``: fine-grained experts)
    expert_dim: int | None = None
    #: hidden width of the dense SwiGLU feed-forward of prelude and coda (default ``2 * d_model``)
    ffn_dim: int | None = None
    #: embed tile metadata (domain, confidence) and bias routing by it; off for the byte-level model
    tile_metadata: bool = True
    #: weight of the switch-style load-balancing loss ``E * sum_e f_e * P_e``
    moe_aux_weight: float = 0.01
    #: step of the bias balancer ``b_e += rate * sign(mean load - load_e)`` (0: off)
    moe_bias_rate: float = 1e-3
    #: adaptive per-token depth at inference (training always runs the sampled depth)
    act: bool = True
    #: hidden width of the halting head
    halt_hidden: int = 64
    #: price of one more loop in nats: a position halts once the gain it expects from the remaining loops
    #: (the divergence of its prediction from the full-depth one) is below ``ponder_cost`` per remaining
    #: loop (so it expects to lose at most ``ponder_cost * (max_loop_depth - 1)`` nats)
    ponder_cost: float = 0.002
    #: temperature (nats) of the halting probability ``sigmoid((ponder_cost * loops left - gain) / T)``
    halt_temperature: float = 0.002
    #: weight of the halting head's loss (squared error of the expected divergence) in ``extra_loss``
    act_loss_weight: float = 0.1
    #: batch rows whose per-loop predictions label the halting head in a full-depth training step
    act_label_rows: int = 4
    #: sample the loop count per training step (random-depth training); False: always max_loop_depth loops
    #: (the last ``bptt_depth`` of them with gradient)
    curriculum: bool = True
    #: depth budget at the start of training; it rises linearly to max_loop_depth
    curriculum_start_depth: int = 2
    #: fraction of training over which the budget rises
    curriculum_warmup: float = 0.5
    #: probability that a step runs the full budget (otherwise uniform in 1..budget)
    curriculum_full_prob: float = 0.5
    #: training forwards that make up a run when no progress is set by ``set_training_progress``
    curriculum_steps: int = 2000
    #: loops that receive gradient (the earlier ones run without graph); default max_loop_depth
    bptt_depth: int | None = None
    norm_eps: float = 1e-6
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.num_kv_heads is None:
            self.num_kv_heads = self.num_heads
        if self.room_tags is None:
            self.room_tags = {i: (f"room_{i}", (0.0, 1.0)) for i in range(self.num_rooms)}
        else:  # JSON round trips turn int keys into strings and tuples into lists
            self.room_tags = {int(k): (str(v[0]), (float(v[1][0]), float(v[1][1])))
                              for k, v in dict(self.room_tags).items()}
        if self.expert_dim is None:
            self.expert_dim = max(8, self.d_model // 4)
        if self.ffn_dim is None:
            self.ffn_dim = 2 * self.d_model
        if self.qk_nope_dim is None:
            self.qk_nope_dim = self.d_model // self.num_heads if self.num_heads > 0 else 1
        if self.bptt_depth is None:
            self.bptt_depth = self.max_loop_depth
        checks = [
            (self.vocab_size >= 1, f"vocab_size must be >= 1, got {self.vocab_size}"),
            (self.d_model >= 1 and self.num_heads >= 1, "d_model and num_heads must be >= 1"),
            (self.d_model % self.num_heads == 0,
             f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})"),
            (self.num_heads % self.num_kv_heads == 0,
             f"num_heads ({self.num_heads}) must be divisible by num_kv_heads ({self.num_kv_heads})"),
            (self.max_loop_depth >= 1, f"max_loop_depth must be >= 1, got {self.max_loop_depth}"),
            (self.num_layers >= 1, f"num_layers must be >= 1, got {self.num_layers}"),
            (self.prelude_layers >= 0 and self.coda_layers >= 0, "prelude_layers/coda_layers must be >= 0"),
            (self.qk_nope_dim >= 1, f"qk_nope_dim must be >= 1, got {self.qk_nope_dim}"),
            (self.d_kv_latent >= 1, f"d_kv_latent must be >= 1, got {self.d_kv_latent}"),
            (self.rope_dim >= 2 and self.rope_dim % 2 == 0, f"rope_dim must be even and >= 2, got {self.rope_dim}"),
            (self.num_rooms >= 1 and self.experts_per_room >= 1, "num_rooms and experts_per_room must be >= 1"),
            (self.top_k_experts >= 1, f"top_k_experts must be >= 1, got {self.top_k_experts}"),
            (self.lora_r >= 1, f"lora_r must be >= 1, got {self.lora_r}"),
            (self.max_seq_len >= 1, f"max_seq_len must be >= 1, got {self.max_seq_len}"),
            (1 <= self.bptt_depth, f"bptt_depth must be >= 1, got {self.bptt_depth}"),
            (1 <= self.curriculum_start_depth <= self.max_loop_depth,
             "curriculum_start_depth must lie in 1..max_loop_depth"),
            (self.halt_temperature > 0, f"halt_temperature must be > 0, got {self.halt_temperature}"),
            (0.0 <= self.dropout < 1.0 and 0.0 <= self.lora_dropout < 1.0, "dropout must lie in [0, 1)"),
            (self.dtype in ("float32", "float64", "bfloat16", "float16"), f"unknown dtype {self.dtype!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        if self.top_k_experts > self.total_experts:
            raise ValueError(f"top_k_experts ({self.top_k_experts}) exceeds the number of experts "
                             f"({self.total_experts} = num_rooms {self.num_rooms} x experts_per_room "
                             f"{self.experts_per_room})")

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
        for i, (tag, _) in self.room_tags.items():
            if tag == s:
                return int(i) % self.num_domains
        return zlib.crc32(s.encode("utf-8")) % self.num_domains

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)
