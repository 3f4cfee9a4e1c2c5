"""Distillation: training on a teacher's soft targets beside the bytes, and student-teacher agreement.

A teacher signal (:class:`TeacherSignal`, e.g. a bridge record read by
:func:`decepticons.adapters.bridge_file.read_bridge_file`) holds one row ``q_j`` per byte ``j`` of the
training corpus: the teacher's distribution over byte ``j`` given the bytes before it. The training window
at offset ``o`` feeds ``x = data[o : o + L]`` and predicts ``y = data[o + 1 : o + L + 1]``, so position ``t``
of the window is paired with teacher row ``o + 1 + t`` (the same byte the student predicts; the student
still sees only bytes ``<= o + t``). With student logits ``z_t`` (``(B, L, 256)``), weight ``a`` and
temperature ``tau``::

    log q_t^tau = log_softmax(log q_t / tau),   log p_t^tau = log_softmax(z_t / tau)
    CE          = -mean_{b,t} log softmax(z_t)[y_t]
    KL          =  mean_{b,t} sum_c q_t^tau(c) (log q_t^tau(c) - log p_t^tau(c))
    loss        = (1 - a) * CE + a * tau^2 * KL                 (nats)

``tau^2`` keeps the soft term's gradient on the scale of the hard one (Hinton et al., 2015). A row stored as
top ``K`` bytes plus a rest mass is expanded by :func:`teacher_rows_torch` (the rest spread evenly over the
other ``256 - K`` bytes, then normalised) before the loss.

Agreement (:func:`agreement_summary`), over positions where both give a row: ``KL(q_t || p_t)`` in bits
(teacher to student, at temperature 1) and the top-1 agreement ``mean_t [argmax q_t == argmax p_t]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class TeacherSignal(Protocol):
    """Teacher rows over a corpus, one per byte (what :class:`~decepticons.adapters.BridgeRecord` provides)."""

    @property
    def identity(self) -> str:
        """A string identifying the teacher's rows and the corpus they cover (recorded in checkpoints)."""

    def check_corpus(self, data: np.ndarray, name: str = "corpus") -> None:
        """Refuse ``data`` unless it is the corpus the rows cover (raises ``InputError``)."""

    def window_targets(self, offsets: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``o + 1 .. o + L`` per offset: top-k ``index [B, L, K]``, ``log_prob [B, L, K]``, ``rest [B, L]``."""

    def dense_log_probs(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start .. stop - 1`` as normalised ``float64[n, 256]`` log-probabilities."""


def teacher_rows_torch(index: np.ndarray, log_prob: np.ndarray, rest: np.ndarray,
                       device: torch.device) -> torch.Tensor:
    """Normalised teacher log-probabilities ``float32[B, L, 256]`` from top-k rows (module docstring)."""
    idx = torch.from_numpy(np.ascontiguousarray(index)).to(device)
    lp = torch.from_numpy(np.ascontiguousarray(log_prob)).to(device)
    r = torch.from_numpy(np.ascontiguousarray(rest)).to(device)
    k = idx.shape[-1]
    fill = r - math.log(256 - k) if k < 256 else torch.zeros_like(r)  # K = 256: every entry is stored
    out = fill.unsqueeze(-1).expand(*fill.shape, 256).clone()
    out.scatter_(-1, idx, lp)
    return torch.log_softmax(out, dim=-1)


def distillation_terms(logits: torch.Tensor, teacher_log_probs: torch.Tensor,
                       temperature: float = 1.0) -> torch.Tensor:
    """``tau^2 * KL(q^tau || p^tau)`` averaged over positions (nats; module docstring)."""
    z = logits.float().reshape(-1, logits.shape[-1])
    q = teacher_log_probs.float().reshape(-1, logits.shape[-1])
    if temperature != 1.0:
        q = torch.log_softmax(q / temperature, dim=-1)
        z = z / temperature
    lp = torch.log_softmax(z, dim=-1)
    kl = (q.exp() * (q - lp)).sum(dim=-1).mean()
    return kl * (temperature ** 2)


def agreement_sums(student: np.ndarray, teacher: np.ndarray) -> tuple[float, float, int]:
    """``(sum_t KL(q_t || p_t) in bits, sum_t [argmax q_t == argmax p_t], n)`` for ``[n, 256]`` log rows."""
    p, q = np.asarray(student, dtype=np.float64), np.asarray(teacher, dtype=np.float64)
    kl = (np.exp(q) * (q - np.maximum(p, -1e300))).sum(axis=1) / math.log(2.0)
    same = np.argmax(p, axis=1) == np.argmax(q, axis=1)
    return float(np.maximum(kl, 0.0).sum()), float(same.sum()), len(p)


def agreement_summary(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean ``KL(teacher || student)`` in bits and top-1 agreement over ``(student, teacher)`` row blocks."""
    kl = same = 0.0
    n = 0
    for s, t in pairs:
        a, b, c = agreement_sums(s, t)
        kl, same, n = kl + a, same + b, n + c
    return {"teacher_kl_bits": kl / n if n else float("nan"),
            "teacher_top1_agreement": same / n if n else float("nan"), "teacher_positions": n}


__all__ = ["TeacherSignal", "agreement_summary", "agreement_sums", "distillation_terms",
           "teacher_rows_torch"]
