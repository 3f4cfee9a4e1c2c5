"""PlatoMythos: prelude -> recurrent block looped with stable input injection -> coda -> output head.

Shapes: ``ids (B, t)`` long -> ``e = prelude(TileEmbedding(ids, metadata)) (B, t, D)``;
``h_0 = e``, ``h_i+1 = RecurrentBlock(h_i, e, i)`` for ``i < n`` loops; logits ``= W_out rmsnorm(coda(h_n))``
``(B, t, vocab_size)``. Every attention is causal latent attention, so logits at ``t`` depend on ids ``<= t``
only. The stages are public and :meth:`PlatoMythos.forward` composes them::

    chunk = model.new_chunk(ids, meta)               # rotary angles, routing bias, confidences (, cache)
    e = model.prelude(model.embed_tiles(ids, meta), chunk)
    for state in model.iterate(e, chunk, n):         # a LoopState after every loop
        ...
    logits = model.logits(model.coda(state.h, chunk))

Depth. In training the loop count ``n`` of each step comes from the :class:`CurriculumScheduler` (random
depth, truncated backpropagation through the earliest loops; with ``curriculum=False`` every step runs
``max_loop_depth`` loops). In evaluation ``n = max_loop_depth`` (or the ``n_loops`` argument) and, with ACT
on, each position halts on its own (:class:`DeadbandACT`): a halted position keeps its state, and later
loops read its latents from the loop where it stopped. The cached decoder (:meth:`PlatoMythos.generate`,
:class:`MythosCache`) follows the same rule, so cached and uncached computations agree.

State. A forward changes no parameter or buffer; it only records what it saw (:meth:`extra_loss`,
``last_depth``, ``last_loops``, ``last_expert_loads``), overwriting the previous record.
:meth:`after_optimizer_step`, called once after every optimizer step, moves the expert-balancing bias by the
recorded loads and advances the step counter that seeds the curriculum's depth draw.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from decepticons.errors import InputError

from .config import PlatoMythosConfig
from .curriculum_loop import CurriculumScheduler, RecurrentBlock
from .deadband_act import DeadbandACT
from .inputs import TileMetadata, check_ids, read_metadata
from .norms import RMSNorm
from .rooms_as_experts import RoomsAsExperts
from .rotary import Rotary
from .tiles_as_kv import LatentSlot, TileEmbedding
from .transformer_layer import MythosLayer


class MythosCache:
    """Latent KV cache of a whole model: one :class:`LatentSlot` per prelude layer, per (loop, layer) of
    the recurrent block and per coda layer."""

    def __init__(self, model: PlatoMythos, batch: int, capacity: int, n_loops: int) -> None:
        c = model.config
        p = next(model.parameters())

        def slot() -> LatentSlot:
            return LatentSlot(batch, capacity, c.d_kv_latent, c.rope_dim, p.dtype, p.device)

        self.prelude = [slot() for _ in range(c.prelude_layers)]
        self.loops = [[slot() for _ in range(c.num_layers)] for _ in range(n_loops)]
        self.coda = [slot() for _ in range(c.coda_layers)]
        self.n_loops, self.capacity, self.length = n_loops, capacity, 0

    def slots(self) -> list[LatentSlot]:
        return self.prelude + [s for row in self.loops for s in row] + self.coda

    def nbytes(self) -> int:
        """Bytes held for the positions cached so far."""
        return sum(s.nbytes_per_token() for s in self.slots()) * self.length


@dataclass
class Chunk:
    """The positions one pass computes (``cache.length .. cache.length + t - 1``, or ``0 .. t - 1`` without a
    cache) and what every stage needs for them besides the hidden state."""

    cos: torch.Tensor                  # ``(t, rope_dim / 2)`` rotary angles of the positions
    sin: torch.Tensor
    room_bias: torch.Tensor | None     # ``(B, t, num_rooms)`` routing bias from the rooms metadata
    confidence: torch.Tensor | None    # ``(B, t)`` routing confidence (halting tiers); None: all P1
    cache: MythosCache | None = None

    def slots(self, stage: str) -> list[LatentSlot] | None:
        """The cache slots of the ``"prelude"`` or ``"coda"`` layers (None without a cache)."""
        if self.cache is None:
            return None
        return self.cache.prelude if stage == "prelude" else self.cache.coda


@dataclass
class LoopState:
    """What :meth:`PlatoMythos.iterate` yields after loop ``loop`` (1-based)."""

    loop: int
    h: torch.Tensor                    # ``(B, t, D)`` state after the loop (halted positions keep theirs)
    depth: torch.Tensor                # ``(B, t)`` long: the loop after which a position halted, else ``n``
    aux_losses: list[torch.Tensor]     # MoE balance losses of this loop (training loops with gradient only)
    expert_loads: list[torch.Tensor]   # routed slots per expert ``(E,)`` of each MoE layer in this loop


class LayerStack(nn.ModuleList):
    """Dense layers run in order (the prelude or the coda): ``(x (B, t, D), chunk) -> (B, t, D)``; with a
    cache every layer appends its latents to its slot."""

    def __init__(self, config: PlatoMythosConfig, n: int, stage: str) -> None:
        super().__init__(MythosLayer(config, moe=False) for _ in range(n))
        self.stage = stage

    def forward(self, x: torch.Tensor, chunk: Chunk) -> torch.Tensor:
        slots = chunk.slots(self.stage)
        for j, layer in enumerate(self):
            x, _ = layer(x, chunk.cos, chunk.sin, slot=None if slots is None else slots[j])
        return x


class PlatoMythos(nn.Module):
    """The recurrent-depth transformer. ``model(tiles)`` / ``model(tiles_dict, rooms)`` (see module doc)."""

    #: random depth and routed experts leave some parameters without gradient in a step (DDP must know)
    ddp_find_unused_parameters = True

    train_steps: torch.Tensor     # () long buffer: optimizer steps taken
    train_progress: torch.Tensor  # () float buffer: fraction of training done (-1: count train_steps)

    def __init__(self, config: PlatoMythosConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = PlatoMythosConfig(**overrides)
        self.config = c = config
        D = c.d_model
        self.embed = TileEmbedding(c)
        self.prelude = LayerStack(c, c.prelude_layers, "prelude")
        self.recurrent = RecurrentBlock(c)
        self.act = DeadbandACT(c.deadband_threshold, c.deadband_max_steps, d_model=D, hidden=c.halt_hidden,
                               max_loop_depth=c.max_loop_depth, ponder_cost=c.ponder_cost,
                               temperature=c.halt_temperature)
        self.coda = LayerStack(c, c.coda_layers, "coda")
        self.norm_out = RMSNorm(D, c.norm_eps)
        self.head = None if c.tie_weights else nn.Linear(D, c.vocab_size, bias=False)
        if c.tile_metadata:
            self.room_bias = nn.Embedding(c.num_domains + 1, c.num_rooms)
        self.rope = Rotary(c.rope_dim, c.max_seq_len, c.rope_theta)
        self.scheduler = CurriculumScheduler(c.max_loop_depth, c.curriculum_start_depth, c.curriculum_warmup,
                                             c.curriculum_full_prob, c.bptt_depth)
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("train_progress", torch.full((), -1.0))
        self._extra: torch.Tensor | None = None
        #: routed slots per expert of each MoE layer in the last training forward (summed over its loops)
        self.last_expert_loads: list[torch.Tensor] | None = None
        self.last_depth: torch.Tensor | None = None
        self.last_loops: int = 0
        self._init_weights()
        self.to(device=c.device, dtype=c.torch_dtype)

    # ------------------------------------------------------------------ init
    def _init_weights(self) -> None:
        c = self.config
        std = c.init_std
        out_std = std / (2 * (c.prelude_layers + c.coda_layers + c.num_layers)) ** 0.5
        with torch.no_grad():
            for name, m in self.named_modules():
                if name.startswith("act.") or name.startswith("recurrent.shells"):
                    continue
                if isinstance(m, nn.Linear):
                    last = name.endswith(".wo") or name.endswith(".w2")
                    nn.init.normal_(m.weight, std=out_std if last else std)
                elif isinstance(m, nn.Embedding):
                    nn.init.normal_(m.weight, std=1.0 if name == "embed.tokens" else std)
            if c.tile_metadata:
                self.room_bias.weight.zero_()
                for d in range(c.num_domains):
                    self.room_bias.weight[d, d % c.num_rooms] = 1.0

    # ------------------------------------------------------------------ training hooks
    def set_training_progress(self, fraction: float) -> None:
        """Tell the curriculum how far training has come (0..1); otherwise it counts optimizer steps."""
        self.train_progress.fill_(float(min(1.0, max(0.0, fraction))))

    def training_progress(self) -> float:
        p = float(self.train_progress)
        if p >= 0:
            return p
        return min(1.0, float(self.train_steps) / max(1, self.config.curriculum_steps))

    def training_depth(self) -> tuple[int, int]:
        """``(loops, loops with gradient)`` of the current training step."""
        c = self.config
        if c.curriculum:
            return self.scheduler.sample(self.training_progress(), int(self.train_steps))
        assert c.bptt_depth is not None  # filled in by PlatoMythosConfig.check()
        return c.max_loop_depth, min(c.max_loop_depth, c.bptt_depth)

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Once after every optimizer step: move each MoE layer's balancer bias by the expert loads of the
        step's training forward (:meth:`RoomsAsExperts.apply_balancer`) and count the step."""
        if self.last_expert_loads is not None:
            for moe, load in zip(self.moe_layers(), self.last_expert_loads):
                moe.apply_balancer(load)
            self.last_expert_loads = None
        self.train_steps += 1

    def extra_loss(self) -> torch.Tensor | None:
        """Auxiliary loss of the last training forward: MoE balance loss + halting-head loss."""
        return self._extra

    def moe_layers(self) -> list[RoomsAsExperts]:
        """The MoE feed-forward of every recurrent layer, in order."""
        return self.recurrent.moe_layers()

    def merge_shells(self) -> None:
        self.recurrent.merge_shells()

    def loops_of(self, n_loops: int | None) -> int:
        """Loop count of an evaluation pass: ``n_loops`` (>= 1) or ``max_loop_depth``."""
        n = int(n_loops or self.config.max_loop_depth)
        if n < 1:
            raise InputError(f"n_loops must be >= 1, got {n_loops}")
        return n

    # ------------------------------------------------------------------ stages
    def new_chunk(self, ids: torch.Tensor, meta: TileMetadata | None = None,
                  cache: MythosCache | None = None) -> Chunk:
        """The :class:`Chunk` of ``ids (B, t)``: positions ``cache.length ..`` (``0 ..`` without a cache)."""
        B, t = ids.shape
        meta = meta or TileMetadata()
        cos, sin = self.rope.cos_sin(0 if cache is None else cache.length, t)
        room_bias = confidence = None
        if meta.route is not None:
            d, confidence = meta.route
            room_bias = confidence[..., None] * self.room_bias(d)
        return Chunk(cos, sin, room_bias, confidence, cache)

    def embed_tiles(self, ids: torch.Tensor, meta: TileMetadata | None = None) -> torch.Tensor:
        """Tile embedding ``(B, t) -> (B, t, D)``, conditioned on the tiles' metadata when given."""
        if meta is None or meta.emb is None:
            return self.embed(ids)
        return self.embed(ids, *meta.emb)

    def iterate(self, e: torch.Tensor, chunk: Chunk, n_loops: int | None = None, *, act: bool = False,
                grad_loops: int | None = None) -> Iterator[LoopState]:
        """Loop the recurrent block from ``h_0 = e (B, t, D)`` (the prelude output, injected every loop),
        yielding the :class:`LoopState` after each of ``n_loops`` loops (default ``max_loop_depth``).

        With ``act`` each position halts once :meth:`DeadbandACT.halt_now` says so and keeps its state (and,
        for later loops' attention, its latents); the generator stops early once every position has halted
        (with a cache it still fills the remaining loops' slots, yielding the unchanged state). Only the
        last ``grad_loops`` loops (default all) record a graph.
        """
        n = self.loops_of(n_loops)
        n_grad = n if grad_loops is None else int(grad_loops)
        B, t = e.shape[:2]
        thresholds = None
        if act:
            thresholds = DeadbandACT.token_thresholds(chunk.confidence, (B, t), device=self.rope.cos.device)
        h = e
        halted = torch.zeros(B, t, dtype=torch.bool, device=e.device)
        depth = torch.full((B, t), n, dtype=torch.long, device=e.device)
        last: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        grad_on = torch.is_grad_enabled()
        for i in range(n):
            slots = None if chunk.cache is None else chunk.cache.loops[i]
            if act and bool(halted.all()):
                if slots is None:
                    return
                assert last is not None  # positions halt only after a loop that set ``last``
                for j, s in enumerate(slots):
                    s.extend(*last[j])
                yield LoopState(i + 1, h, depth, [], [])
                continue
            with torch.set_grad_enabled(grad_on and i >= n - n_grad):
                freeze = (halted, last) if (act and last is not None and bool(halted.any())) else None
                h_new, lats = self.recurrent(h, e, i, chunk.cos, chunk.sin, chunk.room_bias, slots, freeze)
            aux = self.recurrent.aux_losses() if h_new.requires_grad else []
            if act:
                delta = DeadbandACT.relative_change(h_new, h)
                h = torch.where(halted[..., None], h, h_new)
                last = lats
                assert thresholds is not None  # set above when ``act``
                stop = self.act.halt_now(h, delta, i + 1, thresholds) & ~halted
                depth = torch.where(stop, i + 1, depth)
                halted = halted | stop
            else:
                h = h_new
            yield LoopState(i + 1, h, depth, aux, self.recurrent.expert_loads())

    def logits(self, y: torch.Tensor) -> torch.Tensor:
        """Output head ``W_out rmsnorm(y)``: ``(B, t, D) -> (B, t, vocab_size)``."""
        w = self.embed.tokens.weight if self.head is None else self.head.weight
        return F.linear(self.norm_out(y), w)

    # ------------------------------------------------------------------ forward
    def forward(self, tiles: Any, rooms: dict[str, Any] | None = None, *, n_loops: int | None = None,
                act: bool | None = None) -> Any:
        """``(B, T)`` ids -> ``(B, T, vocab)`` logits; a dict of tiles -> a dict whose ``token_ids`` are the
        logits (plus ``loop_depth (B, T)``: loops each position ran)."""
        is_dict = isinstance(tiles, dict)
        if is_dict and "token_ids" not in tiles:
            raise InputError("a tiles dict needs a 'token_ids' entry")
        ids = check_ids(tiles["token_ids"] if is_dict else tiles, self.config,
                        "tiles['token_ids']" if is_dict else "tiles")
        B, T = ids.shape
        meta = read_metadata(self.config, tiles if is_dict else None, rooms, B, T, self.rope.cos.device)
        if self.training:
            n, n_grad = self.training_depth()
        else:
            n = n_grad = self.loops_of(n_loops)
        use_act = (self.config.act if act is None else bool(act)) and not self.training
        logits = self._run(ids, meta, n, n_grad, use_act)
        if not is_dict:
            return logits
        out = {k: v for k, v in tiles.items() if k != "token_ids"}
        out["token_ids"] = logits
        out["loop_depth"] = self.last_depth
        return out

    def _run(self, ids: torch.Tensor, meta: TileMetadata, n: int, n_grad: int, act: bool,
             cache: MythosCache | None = None) -> torch.Tensor:
        """prelude -> iterate -> coda over the positions of ``ids (B, t)``; records what the forward saw."""
        B, t = ids.shape
        chunk = self.new_chunk(ids, meta, cache)
        e = self.prelude(self.embed_tiles(ids, meta), chunk)
        # the halting head learns the gain still to come at full depth: only steps that run every loop label it
        full = n == self.config.max_loop_depth
        rows = min(B, self.config.act_label_rows) if (self.training and full and n >= 2 and t >= 2) else 0
        states: list[torch.Tensor] = []
        aux: list[torch.Tensor] = []
        loads: list[torch.Tensor] | None = None
        for state in self.iterate(e, chunk, n, act=act, grad_loops=n_grad):
            aux += state.aux_losses
            if state.expert_loads:
                loads = state.expert_loads if loads is None else [a + b for a, b in zip(loads, state.expert_loads)]
            if rows:
                states.append(state.h[:rows].detach())
        logits = self.logits(self.coda(state.h, chunk))
        self.last_depth, self.last_loops = state.depth, n
        if cache is not None:
            cache.length += t
        if self.training:
            self.last_expert_loads = loads
            self._extra = self._training_extra(e[:rows].detach(), states, aux, chunk)
        return logits

    def _training_extra(self, e: torch.Tensor, states: list[torch.Tensor], aux: list[torch.Tensor],
                        chunk: Chunk) -> torch.Tensor | None:
        """MoE balance loss plus the halting head's loss: its predicted gain after each loop against
        :meth:`DeadbandACT.remaining_divergence` of the per-loop predictions of the labelled rows."""
        c = self.config
        total = None
        if aux and c.moe_aux_weight > 0:
            total = c.moe_aux_weight * torch.stack(aux).mean()
        if len(states) >= 2 and c.act_loss_weight > 0:
            with torch.no_grad():
                log_probs = [torch.log_softmax(self.logits(self.coda(h, chunk)).float(), dim=-1) for h in states]
                gains = DeadbandACT.remaining_divergence(torch.stack(log_probs))
            preds = []
            prev = e
            for i, h in enumerate(states[:-1]):
                preds.append(self.act.log_gain(h, DeadbandACT.relative_change(h, prev), i + 1))
                prev = h
            act_loss = DeadbandACT.log_gain_loss(torch.stack(preds), gains)
            total = c.act_loss_weight * act_loss if total is None else total + c.act_loss_weight * act_loss
        return total

    # ------------------------------------------------------------------ decoding
    def new_cache(self, batch: int, capacity: int | None = None, n_loops: int | None = None) -> MythosCache:
        return MythosCache(self, batch, capacity or self.config.max_seq_len, self.loops_of(n_loops))

    @torch.no_grad()
    def step(self, ids: torch.Tensor, cache: MythosCache, meta: TileMetadata | None = None, act: bool | None = None
             ) -> torch.Tensor:
        """Logits ``(B, t, vocab)`` of ``t`` new positions appended to ``cache`` (evaluation mode rules)."""
        if self.training:
            raise RuntimeError("step() decodes in evaluation mode; call model.eval() first")
        ids = check_ids(ids, self.config, "ids")
        if cache.length + ids.shape[1] > cache.capacity:
            raise InputError(f"cache holds {cache.capacity} positions; {cache.length} used, "
                             f"{ids.shape[1]} more requested")
        use_act = self.config.act if act is None else bool(act)
        return self._run(ids, meta or TileMetadata(), cache.n_loops, cache.n_loops, use_act, cache)

    @torch.no_grad()
    def generate(self, tiles: Any, max_new_tokens: int = 32, temperature: float = 1.0, top_k: int | None = None,
                 rooms: dict[str, Any] | None = None, n_loops: int | None = None, act: bool | None = None,
                 use_cache: bool = True, seed: int | None = None) -> Any:
        """Continue ``tiles`` (ids ``(B, T)`` or a tiles dict) by ``max_new_tokens`` tokens.

        ``temperature == 0`` decodes greedily; ``top_k`` truncates sampling. With ``use_cache`` every new
        token runs once through the model against the latent cache (and only as many loops as its own
        depth); without it the whole sequence is recomputed each step (the reference). New positions
        inherit the metadata of the last prompt position.
        """
        is_dict = isinstance(tiles, dict)
        ids = check_ids(tiles["token_ids"] if is_dict else tiles, self.config, "prompt")
        B, T = ids.shape
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise InputError(f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}")
        if T + max_new_tokens > self.config.max_seq_len:
            raise InputError(f"prompt ({T} tokens) + max_new_tokens ({max_new_tokens}) exceed the context of "
                             f"{self.config.max_seq_len} tokens (max_seq_len)")
        if temperature < 0:
            raise InputError(f"temperature must be >= 0, got {temperature}")
        meta = read_metadata(self.config, tiles if is_dict else None, rooms, B, T, self.rope.cos.device)
        meta = meta.extend(max_new_tokens)
        gen = torch.Generator(device=ids.device)
        gen.manual_seed(0 if seed is None else int(seed))
        was = self.training
        self.eval()
        try:
            out = ids
            n = self.loops_of(n_loops)
            depths = []
            if use_cache:
                cache = self.new_cache(B, T + max_new_tokens, n)
                logits = self.step(ids, cache, meta.slice(0, T), act)[:, -1]
            for k in range(max_new_tokens):
                if not use_cache:
                    logits = self._run(out, meta.slice(0, out.shape[1]), n, n,
                                       self.config.act if act is None else bool(act))[:, -1]
                nxt = self._sample(logits, temperature, top_k, gen)
                out = torch.cat((out, nxt[:, None]), dim=1)
                if use_cache and k < max_new_tokens - 1:
                    pos = out.shape[1] - 1
                    logits = self.step(nxt[:, None], cache, meta.slice(pos, pos + 1), act)[:, -1]
                    assert self.last_depth is not None  # recorded by step()
                    depths.append(self.last_depth[:, -1])
        finally:
            self.train(was)
        self.last_generated_depth = torch.stack(depths, 1) if depths else None
        if is_dict:
            return {**{k: v for k, v in tiles.items() if k != "token_ids"}, "token_ids": out}
        return out

    @staticmethod
    def _sample(logits: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator) -> torch.Tensor:
        if temperature == 0:
            return logits.argmax(-1)
        z = logits.float() / temperature
        if top_k is not None:
            if top_k < 1:
                raise InputError(f"top_k must be >= 1, got {top_k}")
            k = min(int(top_k), z.shape[-1])
            kth = torch.topk(z, k, dim=-1).values[..., -1:]
            z = z.masked_fill(z < kth, float("-inf"))
        return torch.multinomial(torch.softmax(z, -1), 1, generator=gen)[:, 0]

