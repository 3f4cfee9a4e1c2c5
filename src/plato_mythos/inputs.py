"""What the model accepts: token ids ``(B, T)`` and the optional tile and room metadata, checked and resolved.

A tiles dict may carry ``domain_id`` and ``confidence`` (each a scalar, ``(B,)``, ``(T,)`` or ``(B, T)``); a
rooms dict may carry ``domains`` (``T`` room names or ids) and ``confidences`` (``T`` numbers in ``[0, 1]``).
Both resolve to per-position ``(domain (B, T) long, confidence (B, T) float)`` pairs: one for the tile
embedding and one for expert routing and halting tiers (each falls back to the other when only one is given).
"""

from __future__ import annotations

from typing import Any

import torch

from decepticons.errors import InputError

from .config import PlatoMythosConfig

Pair = tuple[torch.Tensor, torch.Tensor]


class TileMetadata:
    """Resolved per-position metadata: ``emb`` (for the tile embedding) and ``route`` (for routing and halting
    tiers), each a ``(domain (B, T), confidence (B, T))`` pair or None."""

    def __init__(self, emb: Pair | None = None, route: Pair | None = None) -> None:
        self.emb, self.route = emb, route

    def extend(self, n: int) -> TileMetadata:
        """Metadata for ``n`` more positions, repeating the last position's."""
        def ext(pair: Pair | None) -> Pair | None:
            if pair is None:
                return None
            d, c = pair
            return torch.cat((d, d[:, -1:].expand(-1, n)), dim=1), torch.cat((c, c[:, -1:].expand(-1, n)), dim=1)
        return TileMetadata(ext(self.emb), ext(self.route))

    def slice(self, a: int, b: int) -> TileMetadata:
        """Metadata of positions ``a .. b - 1``."""
        def sl(pair: Pair | None) -> Pair | None:
            return None if pair is None else (pair[0][:, a:b], pair[1][:, a:b])
        return TileMetadata(sl(self.emb), sl(self.route))


def check_ids(ids: Any, config: PlatoMythosConfig, name: str = "tiles") -> torch.Tensor:
    """``ids`` as a ``(B, T)`` long tensor of token ids, or :class:`InputError` saying what is wrong."""
    if not isinstance(ids, torch.Tensor):
        raise InputError(f"{name} must be a LongTensor of token ids (B, T), got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise InputError(f"{name} must hold integer token ids (torch.long), got dtype {ids.dtype}")
    if ids.dim() != 2:
        raise InputError(f"{name} must have shape (batch, seq_len), got {tuple(ids.shape)}")
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {tuple(ids.shape)}): need at least one token")
    if ids.shape[1] > config.max_seq_len:
        raise InputError(f"sequence of {ids.shape[1]} tokens exceeds the context of "
                         f"{config.max_seq_len} tokens (max_seq_len)")
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= config.vocab_size:
        raise InputError(f"{name} holds ids outside 0..{config.vocab_size - 1} (min {lo}, max {hi})")
    return ids.long()


def per_position(value: Any, config: PlatoMythosConfig, B: int, T: int, name: str, is_domain: bool,
                 device: torch.device) -> torch.Tensor:
    """A scalar, ``(B,)``, ``(T,)`` or ``(B, T)`` domain id or confidence broadcast to ``(B, T)``."""
    t = value.to(device) if isinstance(value, torch.Tensor) else torch.as_tensor(value, device=device)
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
        if int(t.min()) < 0 or int(t.max()) >= config.num_domains:
            raise InputError(f"{name} holds ids outside 0..{config.num_domains - 1}")
    elif not bool(((t >= 0) & (t <= 1)).all()):
        raise InputError(f"{name} must lie in [0, 1]")
    return t


def read_metadata(config: PlatoMythosConfig, tiles: dict[str, Any] | None, rooms: dict[str, Any] | None,
                  B: int, T: int, device: torch.device) -> TileMetadata:
    """Resolve the metadata of a tiles dict and a rooms dict (either may be None) for ``(B, T)`` positions."""
    from_tiles = tiles is not None and ("domain_id" in tiles or "confidence" in tiles)
    if (from_tiles or rooms is not None) and not config.tile_metadata:
        raise InputError("this model was built with tile_metadata=False: pass token ids only")
    if not from_tiles and rooms is None:
        return TileMetadata()
    none_dom = torch.full((B, T), config.num_domains, dtype=torch.long, device=device)
    ones = torch.ones((B, T), device=device)
    emb = route = None
    if tiles is not None and from_tiles:
        d = (per_position(tiles["domain_id"], config, B, T, "domain_id", True, device) if "domain_id" in tiles
             else none_dom)
        cf = (per_position(tiles["confidence"], config, B, T, "confidence", False, device)
              if "confidence" in tiles else ones)
        emb = (d, cf)
    if rooms is not None:
        route = _room_metadata(config, rooms, B, T, none_dom, ones, device)
    return TileMetadata(emb if emb is not None else route, route if route is not None else emb)


def _room_metadata(config: PlatoMythosConfig, rooms: Any, B: int, T: int, none_dom: torch.Tensor,
                   ones: torch.Tensor, device: torch.device) -> Pair:
    if not isinstance(rooms, dict):
        raise InputError(f"rooms must be a dict with 'domains' and 'confidences', got {type(rooms).__name__}")
    doms, confs = rooms.get("domains"), rooms.get("confidences")
    d, cf = none_dom, ones
    if doms is not None:
        if len(doms) != T:
            raise InputError(f"rooms['domains'] has {len(doms)} entries for {T} tokens")
        try:
            ids = [config.domain_index(x) for x in doms]
        except IndexError as e:
            raise InputError(f"rooms['domains']: {e}") from None
        d = torch.tensor(ids, dtype=torch.long, device=device)[None].expand(B, T)
    if confs is not None:
        if len(confs) != T:
            raise InputError(f"rooms['confidences'] has {len(confs)} entries for {T} tokens")
        cf = per_position(torch.as_tensor([float(x) for x in confs]), config, B, T, "rooms['confidences']", False,
                          device)
    return d, cf
