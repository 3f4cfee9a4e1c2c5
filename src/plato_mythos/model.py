"""PlatoMythos: prelude -> recurrent block looped with stable input injection -> coda -> output head.

Shapes: ``ids (B, T)`` long -> ``e = prelude(TileEmbedding(ids, metadata)) (B, T, D)``;
``h_0 = e``, ``h_i+1 = RecurrentBlock(h_i, e, i)`` for ``i < n`` loops; logits ``= W_out rmsnorm(coda(h_n))``
``(B, T, vocab_size)``. Every attention is causal latent attention, so logits at ``t`` depend on ids ``<= t``
only.

Depth. In training the loop count ``n`` of each step comes from the :class:`CurriculumScheduler` (random
depth, truncated backpropagation through the earliest loops; with ``curriculum=False`` every step runs
``max_loop_depth`` loops). In evaluation ``n = max_loop_depth`` (or the
``n_loops`` argument) and, with ACT on, each position halts on its own (:class:`DeadbandACT`): a halted
position keeps its state, and later loops read its latents from the loop where it stopped. The cached
decoder (:meth:`PlatoMythos.generate`, :class:`MythosCache`) follows the same rule, so cached and uncached
computations agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from decepticons.errors import InputError

from .config import PlatoMythosConfig
from .curriculum_loop import CurriculumScheduler, RecurrentBlock
from .deadband_act import DeadbandACT
from .layer import MythosLayer
from .layers import RMSNorm, Rotary
from .rooms_as_experts import RoomsAsExperts
from .tiles_as_kv import LatentSlot, TileEmbedding


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


class _Meta:
    """Resolved per-position metadata: embedding ``(domain, confidence)``, routing ``(domain, confidence)``
    (each ``(B, T)`` or None) and whether any was given."""

    def __init__(self, emb: tuple[torch.Tensor, torch.Tensor] | None, route: tuple[torch.Tensor, torch.Tensor] | None):
        self.emb, self.route = emb, route

    def extend(self, n: int) -> _Meta:
        """Metadata for ``n`` more positions, repeating the last position's."""
        def ext(pair):
            if pair is None:
                return None
            return tuple(torch.cat((t, t[:, -1:].expand(-1, n)), dim=1) for t in pair)
        return _Meta(ext(self.emb), ext(self.route))

    def slice(self, a: int, b: int) -> _Meta:
        def sl(pair):
            return None if pair is None else tuple(t[:, a:b] for t in pair)
        return _Meta(sl(self.emb), sl(self.route))


class PlatoMythos(nn.Module):
    """The recurrent-depth transformer. ``model(tiles)`` / ``model(tiles_dict, rooms)`` (see module doc)."""

    #: random depth and routed experts leave some parameters without gradient in a step (DDP must know)
    ddp_find_unused_parameters = True

    def __init__(self, config: PlatoMythosConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = PlatoMythosConfig(**overrides)
        self.config = c = config
        D = c.d_model
        self.embed = TileEmbedding(c)
        self.prelude = nn.ModuleList(MythosLayer(c, moe=False) for _ in range(c.prelude_layers))
        self.recurrent = RecurrentBlock(c)
        self.act = DeadbandACT(c.deadband_threshold, c.deadband_max_steps, d_model=D, hidden=c.halt_hidden,
                               max_loop_depth=c.max_loop_depth, ponder_cost=c.ponder_cost,
                               temperature=c.halt_temperature)
        self.coda = nn.ModuleList(MythosLayer(c, moe=False) for _ in range(c.coda_layers))
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
        """Tell the curriculum how far training has come (0..1); otherwise it counts training forwards."""
        self.train_progress.fill_(float(min(1.0, max(0.0, fraction))))

    def training_progress(self) -> float:
        p = float(self.train_progress)
        if p >= 0:
            return p
        return min(1.0, float(self.train_steps) / max(1, self.config.curriculum_steps))

    def extra_loss(self) -> torch.Tensor | None:
        """Auxiliary loss of the last training forward: MoE balance + halting (ponder-cost) loss."""
        return self._extra

    def moe_layers(self) -> list[RoomsAsExperts]:
        return [m for m in self.modules() if isinstance(m, RoomsAsExperts)]

    def merge_shells(self) -> None:
        self.recurrent.merge_shells()

    # ------------------------------------------------------------------ input checks
    def _check_ids(self, ids: Any, name: str = "tiles") -> torch.Tensor:
        if not isinstance(ids, torch.Tensor):
            raise InputError(f"{name} must be a LongTensor of token ids (B, T), got {type(ids).__name__}")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise InputError(f"{name} must hold integer token ids (torch.long), got dtype {ids.dtype}")
        if ids.dim() != 2:
            raise InputError(f"{name} must have shape (batch, seq_len), got {tuple(ids.shape)}")
        if ids.shape[0] == 0 or ids.shape[1] == 0:
            raise InputError(f"{name} is empty (shape {tuple(ids.shape)}): need at least one token")
        if ids.shape[1] > self.config.max_seq_len:
            raise InputError(f"sequence of {ids.shape[1]} tokens exceeds the context of "
                             f"{self.config.max_seq_len} tokens (max_seq_len)")
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= self.config.vocab_size:
            raise InputError(f"{name} holds ids outside 0..{self.config.vocab_size - 1} (min {lo}, max {hi})")
        return ids.long()

    def _per_position(self, value: Any, B: int, T: int, name: str, is_domain: bool) -> torch.Tensor:
        dev = self.rope.cos.device
        if isinstance(value, torch.Tensor):
            t = value.to(dev)
        else:
            t = torch.as_tensor(value, device=dev)
        if is_domain:
            if t.dtype.is_floating_point or t.dtype == torch.bool:
                raise InputError(f"{name} must hold integer domain ids, got dtype {t.dtype}")
            t = t.long()
        else:
            t = t.float()
        if t.dim() == 0:
            t = t.expand(B, T)
        elif t.dim() == 1 and t.shape[0] == B:
            t = t[:, None].expand(B, T)
        elif t.dim() == 1 and t.shape[0] == T:
            t = t[None].expand(B, T)
        elif t.shape != (B, T):
            raise InputError(f"{name} has shape {tuple(t.shape)}; expected (batch,) = ({B},), (seq_len,) = ({T},) "
                             f"or (batch, seq_len) = ({B}, {T})")
        if is_domain:
            if int(t.min()) < 0 or int(t.max()) >= self.config.num_domains:
                raise InputError(f"{name} holds ids outside 0..{self.config.num_domains - 1}")
        elif not bool(((t >= 0) & (t <= 1)).all()):
            raise InputError(f"{name} must lie in [0, 1]")
        return t

    def _metadata(self, tiles: dict[str, Any] | None, rooms: dict[str, Any] | None, B: int, T: int) -> _Meta:
        emb = route = None
        given = (tiles is not None and ("domain_id" in tiles or "confidence" in tiles)) or rooms is not None
        if given and not self.config.tile_metadata:
            raise InputError("this model was built with tile_metadata=False: pass token ids only")
        if not given:
            return _Meta(None, None)
        none_dom = torch.full((B, T), self.config.num_domains, dtype=torch.long, device=self.rope.cos.device)
        ones = torch.ones((B, T), device=self.rope.cos.device)
        if tiles is not None and ("domain_id" in tiles or "confidence" in tiles):
            d = (self._per_position(tiles["domain_id"], B, T, "domain_id", True) if "domain_id" in tiles
                 else none_dom)
            cf = (self._per_position(tiles["confidence"], B, T, "confidence", False) if "confidence" in tiles
                  else ones)
            emb = (d, cf)
        if rooms is not None:
            if not isinstance(rooms, dict):
                raise InputError(f"rooms must be a dict with 'domains' and 'confidences', got {type(rooms).__name__}")
            doms = rooms.get("domains")
            confs = rooms.get("confidences")
            d = none_dom
            cf = ones
            if doms is not None:
                if len(doms) != T:
                    raise InputError(f"rooms['domains'] has {len(doms)} entries for {T} tokens")
                try:
                    ids = [self.config.domain_index(x) for x in doms]
                except IndexError as e:
                    raise InputError(f"rooms['domains']: {e}") from None
                d = torch.tensor(ids, dtype=torch.long, device=none_dom.device)[None].expand(B, T)
            if confs is not None:
                if len(confs) != T:
                    raise InputError(f"rooms['confidences'] has {len(confs)} entries for {T} tokens")
                cf = self._per_position(torch.as_tensor([float(x) for x in confs]), B, T, "rooms['confidences']",
                                        False)
            route = (d, cf)
        if emb is None:
            emb = route
        if route is None:
            route = emb
        return _Meta(emb, route)

    # ------------------------------------------------------------------ forward
    def forward(self, tiles: Any, rooms: dict[str, Any] | None = None, *, n_loops: int | None = None,
                act: bool | None = None) -> Any:
        """``(B, T)`` ids -> ``(B, T, vocab)`` logits; a dict of tiles -> a dict whose ``token_ids`` are the
        logits (plus ``loop_depth (B, T)``: loops each position ran)."""
        if isinstance(tiles, dict):
            if "token_ids" not in tiles:
                raise InputError("a tiles dict needs a 'token_ids' entry")
            ids = self._check_ids(tiles["token_ids"], "tiles['token_ids']")
            meta = self._metadata(tiles, rooms, *ids.shape)
            logits = self._run(ids, meta, n_loops, act)
            out = {k: v for k, v in tiles.items() if k != "token_ids"}
            out["token_ids"] = logits
            out["loop_depth"] = self.last_depth
            return out
        ids = self._check_ids(tiles)
        meta = self._metadata(None, rooms, *ids.shape)
        return self._run(ids, meta, n_loops, act)

    def _run(self, ids: torch.Tensor, meta: _Meta, n_loops: int | None, act: bool | None) -> torch.Tensor:
        if self.training:
            self._extra = None
            with torch.no_grad():
                for m in self.moe_layers():
                    m.apply_balancer()
            if self.config.curriculum:
                n, n_grad = self.scheduler.sample(self.training_progress(), int(self.train_steps))
            else:
                n, n_grad = self.config.max_loop_depth, min(self.config.max_loop_depth, self.config.bptt_depth)
            self.train_steps += 1
        else:
            n = int(n_loops or self.config.max_loop_depth)
            n_grad = n
        use_act = (self.config.act if act is None else bool(act)) and not self.training
        return self._chunk(ids, meta, n, n_grad, use_act, cache=None)

    def _room_bias(self, meta: _Meta) -> torch.Tensor | None:
        if meta.route is None:
            return None
        d, cf = meta.route
        return cf[..., None] * self.room_bias(d)

    def _thresholds(self, meta: _Meta, shape: tuple[int, int]) -> torch.Tensor:
        conf = None if meta.route is None else meta.route[1]
        return DeadbandACT.token_thresholds(conf, shape, device=self.rope.cos.device)

    def _chunk(self, ids: torch.Tensor, meta: _Meta, n: int, n_grad: int, use_act: bool,
               cache: MythosCache | None) -> torch.Tensor:
        """Run positions ``cache.length .. cache.length + t - 1`` (all of them without a cache)."""
        B, t = ids.shape
        start = 0 if cache is None else cache.length
        cos, sin = self.rope.cos_sin(start, t)
        if meta.emb is None:
            x = self.embed(ids)
        else:
            x = self.embed(ids, *meta.emb)
        for j, layer in enumerate(self.prelude):
            x, _ = layer(x, cos, sin, slot=None if cache is None else cache.prelude[j])
        e = x
        room_bias = self._room_bias(meta)
        thresholds = self._thresholds(meta, (B, t)) if use_act else None
        h = e
        halted = torch.zeros(B, t, dtype=torch.bool, device=ids.device)
        depth = torch.full((B, t), n, dtype=torch.long, device=ids.device)
        last: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        aux: list[torch.Tensor] = []
        # the halting head learns the gain still to come at full depth: only steps that run every loop label it
        full = n == self.config.max_loop_depth
        rows = min(B, self.config.act_label_rows) if (self.training and full and n >= 2 and t >= 2) else 0
        states: list[torch.Tensor] = []
        grad_on = torch.is_grad_enabled()
        for i in range(n):
            slots = None if cache is None else cache.loops[i]
            if use_act and bool(halted.all()):
                if cache is None:
                    break
                for j, s in enumerate(slots):
                    s.extend(*last[j])
                continue
            with torch.set_grad_enabled(grad_on and i >= n - n_grad):
                freeze = (halted, last) if (use_act and last is not None and bool(halted.any())) else None
                h_new, lats = self.recurrent(h, e, i, cos, sin, room_bias, slots, freeze)
            if self.training and h_new.requires_grad:
                aux += [layer.ffn.aux_loss for layer in self.recurrent.layers if layer.ffn.aux_loss is not None]
            if use_act:
                delta = DeadbandACT.relative_change(h_new, h)
                h = torch.where(halted[..., None], h, h_new)
                last = lats
                stop = self.act.halt_now(h, delta, i + 1, thresholds) & ~halted
                depth = torch.where(stop, i + 1, depth)
                halted = halted | stop
            else:
                h = h_new
            if rows:
                states.append(h[:rows].detach())
        y = h
        for j, layer in enumerate(self.coda):
            y, _ = layer(y, cos, sin, slot=None if cache is None else cache.coda[j])
        logits = self._head(y)
        self.last_depth, self.last_loops = depth, n
        if cache is not None:
            cache.length += t
        if self.training:
            self._extra = self._training_extra(e[:rows].detach(), states, aux, cos, sin)
        return logits

    def _head(self, y: torch.Tensor) -> torch.Tensor:
        w = self.embed.tokens.weight if self.head is None else self.head.weight
        return F.linear(self.norm_out(y), w)

    def _training_extra(self, e: torch.Tensor, states: list[torch.Tensor],
                        aux: list[torch.Tensor], cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor | None:
        c = self.config
        total = None
        if aux and c.moe_aux_weight > 0:
            total = c.moe_aux_weight * torch.stack(aux).mean()
        if len(states) >= 2 and c.act_loss_weight > 0:
            with torch.no_grad():
                log_probs = []
                for h in states:
                    y = h
                    for layer in self.coda:
                        y, _ = layer(y, cos, sin)
                    log_probs.append(torch.log_softmax(self._head(y).float(), dim=-1))
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
        return MythosCache(self, batch, capacity or self.config.max_seq_len, int(n_loops or self.config.max_loop_depth))

    @torch.no_grad()
    def step(self, ids: torch.Tensor, cache: MythosCache, meta: _Meta | None = None, act: bool | None = None
             ) -> torch.Tensor:
        """Logits ``(B, t, vocab)`` of ``t`` new positions appended to ``cache`` (evaluation mode rules)."""
        if self.training:
            raise RuntimeError("step() decodes in evaluation mode; call model.eval() first")
        ids = self._check_ids(ids, "ids")
        if cache.length + ids.shape[1] > cache.capacity:
            raise InputError(f"cache holds {cache.capacity} positions; {cache.length} used, "
                             f"{ids.shape[1]} more requested")
        use_act = self.config.act if act is None else bool(act)
        return self._chunk(ids, meta or _Meta(None, None), cache.n_loops, cache.n_loops, use_act, cache)

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
        ids = self._check_ids(tiles["token_ids"] if is_dict else tiles, "prompt")
        B, T = ids.shape
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise InputError(f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}")
        if T + max_new_tokens > self.config.max_seq_len:
            raise InputError(f"prompt ({T} tokens) + max_new_tokens ({max_new_tokens}) exceed the context of "
                             f"{self.config.max_seq_len} tokens (max_seq_len)")
        if temperature < 0:
            raise InputError(f"temperature must be >= 0, got {temperature}")
        meta = self._metadata(tiles if is_dict else None, rooms, B, T).extend(max_new_tokens)
        gen = torch.Generator(device=ids.device)
        gen.manual_seed(0 if seed is None else int(seed))
        was = self.training
        self.eval()
        try:
            out = ids
            n = int(n_loops or self.config.max_loop_depth)
            depths = []
            if use_cache:
                cache = self.new_cache(B, T + max_new_tokens, n)
                logits = self.step(ids, cache, meta.slice(0, T), act)[:, -1]
            for k in range(max_new_tokens):
                if not use_cache:
                    logits = self._chunk(out, meta.slice(0, out.shape[1]), n, n,
                                         self.config.act if act is None else bool(act), None)[:, -1]
                nxt = self._sample(logits, temperature, top_k, gen)
                out = torch.cat((out, nxt[:, None]), dim=1)
                if use_cache and k < max_new_tokens - 1:
                    pos = out.shape[1] - 1
                    logits = self.step(nxt[:, None], cache, meta.slice(pos, pos + 1), act)[:, -1]
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


def count_parameters(model: nn.Module, names: Sequence[str] | None = None) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if names is None or n in names)
