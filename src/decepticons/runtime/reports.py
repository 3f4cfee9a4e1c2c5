"""Report dataclasses. Each has ``to_dict()`` for ``--json`` and a readable ``__str__`` for the CLI."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Report:
    """Base of the report dataclasses: ``to_dict()`` gives the JSON-ready fields (those with ``repr``)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if f.repr}


def fmt(x: float | None, digits: int = 4) -> str:
    """``x`` with ``digits`` decimals, or ``n/a`` for ``None``."""
    return "n/a" if x is None else f"{x:.{digits}f}"


@dataclass
class FitReport(Report):
    """What ``fit`` learned and how fast.

    ``train_bits_per_byte`` is measured on the training bytes themselves (optimistic);
    ``valid_bits_per_byte`` is on held-out bytes when a validation split was given.
    """

    model: str
    train_bytes: int
    seconds: float
    train_bits_per_byte: float
    valid_bytes: int = 0
    valid_bits_per_byte: float | None = None
    workers: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_per_second(self) -> float:
        return self.train_bytes / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["bytes_per_second"] = _jsonable(self.bytes_per_second)
        return d

    def __str__(self) -> str:
        lines = [
            f"model              {self.model}",
            f"train bytes        {self.train_bytes:,}",
            f"fit time           {self.seconds:.2f} s ({self.bytes_per_second / 1e3:,.1f} KB/s,"
            f" {self.workers} worker{'s' if self.workers != 1 else ''})",
            f"train bits/byte    {fmt(self.train_bits_per_byte)}",
        ]
        if self.valid_bits_per_byte is not None:
            lines.append(f"held-out bits/byte {fmt(self.valid_bits_per_byte)} ({self.valid_bytes:,} bytes)")
        return "\n".join(lines)


@dataclass
class ScoreReport(Report):
    """Bits per byte of a predictor on some data: sum over t of -log2 p(x_t | x_<t), divided by T."""

    model: str
    bytes: int
    total_bits: float
    seconds: float
    adaptive: bool = False
    trace: np.ndarray | None = field(default=None, repr=False)

    @property
    def bits_per_byte(self) -> float:
        return self.total_bits / self.bytes if self.bytes else float("nan")

    @property
    def bytes_per_second(self) -> float:
        return self.bytes / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self, include_trace: bool = False) -> dict[str, Any]:
        d = super().to_dict()
        d["bits_per_byte"] = _jsonable(self.bits_per_byte)
        d["bytes_per_second"] = _jsonable(self.bytes_per_second)
        if include_trace and self.trace is not None:
            d["trace"] = _jsonable(self.trace)
        return d

    def __str__(self) -> str:
        return "\n".join([
            f"model          {self.model}",
            f"bytes          {self.bytes:,}",
            f"bits/byte      {fmt(self.bits_per_byte)}",
            f"total          {self.total_bits / 8:,.0f} bytes ideal code length",
            f"time           {self.seconds:.2f} s ({self.bytes_per_second / 1e3:,.1f} KB/s)",
            f"adaptive       {'on (prequential: keeps learning while it scores)' if self.adaptive else 'off'}",
        ])
