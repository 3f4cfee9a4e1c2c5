"""Artifact accounting: the total description length of data under a model, as compression benchmarks count it.

A decoder needs the model as well as the code, so the honest size of ``data`` (``T`` bytes) is::

    total_bits = 8 * model_bytes + code_bits
    code bits/byte  = code_bits / T            (what ``score`` and ``compress`` report on their own)
    total bits/byte = total_bits / T           (the model's bytes charged to this data)

``model_bytes`` is the saved model file's size (``model_source = "file"``) or, for a model in memory, the size
the file would have (:func:`model_file_bytes`, ``"serialised"``). ``code_bits`` is the compressed file's size
in bits, header included (``code_source = "compressed file"``), or the ideal code length
``sum_t -log2 p(x_t | x_<t)`` of ``score`` (``"ideal code length"``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..predictor import CausalPredictor
from .reports import Report


def model_file_bytes(model: CausalPredictor) -> int:
    """Bytes of the file :meth:`CausalPredictor.save` writes for ``model`` (saved into a private temporary
    folder, measured and removed)."""
    with tempfile.TemporaryDirectory(prefix="decepticons-size-") as d:
        path = os.path.join(d, "model.safetensors")
        model.save(path)
        return os.path.getsize(path)


@dataclass
class ArtifactAccounting(Report):
    """Model bytes + code length = total description length (module docstring)."""

    model: str
    data_bytes: int
    model_bytes: int
    code_bits: float
    model_source: str = "file"
    code_source: str = "ideal code length"

    def __post_init__(self) -> None:
        if self.data_bytes <= 0 or self.model_bytes < 0 or not 0 <= self.code_bits < float("inf"):
            raise InputError(f"accounting needs data_bytes >= 1, model_bytes >= 0 and a finite code_bits >= 0, "
                             f"got {self.data_bytes}, {self.model_bytes}, {self.code_bits}")

    @classmethod
    def of(cls, model: CausalPredictor, data_bytes: int, code_bits: float,
           model_path: str | os.PathLike[str] | None = None, code_source: str = "ideal code length"
           ) -> ArtifactAccounting:
        """Accounting of ``model`` (its file at ``model_path``, else its serialised size) and a code length."""
        if model_path is not None:
            size, source = os.path.getsize(model_path), "file"
        else:
            size, source = model_file_bytes(model), "serialised"
        return cls(model=model.name, data_bytes=int(data_bytes), model_bytes=int(size), code_bits=float(code_bits),
                   model_source=source, code_source=code_source)

    @property
    def total_bits(self) -> float:
        return 8.0 * self.model_bytes + self.code_bits

    @property
    def code_bits_per_byte(self) -> float:
        return self.code_bits / self.data_bytes

    @property
    def total_bits_per_byte(self) -> float:
        return self.total_bits / self.data_bytes

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(total_bits=self.total_bits, code_bits_per_byte=self.code_bits_per_byte,
                 total_bits_per_byte=self.total_bits_per_byte, total_bytes=self.total_bits / 8.0)
        return d

    def __str__(self) -> str:
        return "\n".join([
            f"model bytes    {self.model_bytes:,} ({'model file' if self.model_source == 'file' else 'as saved'})",
            f"code bytes     {self.code_bits / 8:,.0f} ({self.code_source}; {self.code_bits_per_byte:.4f} bits/byte)",
            f"total bytes    {self.total_bits / 8:,.0f} (model + code; {self.total_bits_per_byte:.4f} bits/byte)",
        ])


__all__ = ["ArtifactAccounting", "model_file_bytes"]
