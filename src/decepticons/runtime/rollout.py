"""Rollout evaluation: k-step free-running generation from many start positions, against teacher forcing.

For held-out bytes ``x: uint8[T]``, start positions ``s_1 .. s_N`` and a prefix of ``C`` bytes (``context``;
``None``: everything before the start), step ``j = 1..k`` of start ``s`` compares two conditionings of the
same model on the same prefix ``x[s-C:s]``::

    teacher-forced:  p_j = p( . | x[s-C:s], x_s .. x_{s+j-2})        (the truth so far; ``log_probs``)
    free-running:    q_j = p( . | x[s-C:s], g_1 .. g_{j-1}),   g_j ~ q_j   (its own output; ``stream``)

with ``g_j`` the argmax of ``q_j`` (greedy) or a draw from it (sampled: ``temperature``, ``top_k``, seeded
per start so a start's draws do not depend on the others). Per step and start (arrays ``[N, k]``)::

    rollout_hits[n, j]  = [g_j == x_{s+j-1}]          teacher_hits[n, j] = [pick(p_j) == x_{s+j-1}]
    rollout_bits[n, j]  = -log2 q_j(x_{s+j-1})        teacher_bits[n, j] = -log2 p_j(x_{s+j-1})

(``pick`` is the same rule as ``g``: argmax, or a draw from a generator seeded like the rollout's, so both
use the same random number at each step), and the curves are their means over starts;
``on_track[j]`` is the fraction of starts whose rollout matched the truth at every step up to j. Step 1
conditions both ways on the prefix alone, so the two curves start together; ``rollout_bits`` then measures
how well the model still predicts the true continuation after its own mistakes (exposure to its outputs).
Works for any :class:`~decepticons.predictor.CausalPredictor` through the contract (``log_probs`` and
``stream``); adaptive models learn from the prefix and from what they are fed, from their fitted state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..predictor import LN2, CausalPredictor, check_int, check_sampling, sample_from_log_probs
from .reports import Report, fmt

#: most steps one rollout evaluation runs from each start
MAX_ROLLOUT_STEPS = 1 << 14


@dataclass
class RolloutReport(Report):
    """One sampling rule's rollout against teacher forcing (module docstring); arrays are ``[N, k]``."""

    model: str
    mode: str
    steps: int
    context: int | None
    temperature: float
    top_k: int | None
    seed: int | None
    seconds: float
    starts: np.ndarray = field(repr=False)
    generated: np.ndarray = field(repr=False)
    rollout_hits: np.ndarray = field(repr=False)
    teacher_hits: np.ndarray = field(repr=False)
    rollout_bits: np.ndarray = field(repr=False)
    teacher_bits: np.ndarray = field(repr=False)

    @property
    def rollout_accuracy(self) -> np.ndarray:
        return self.rollout_hits.mean(axis=0)

    @property
    def teacher_accuracy(self) -> np.ndarray:
        return self.teacher_hits.mean(axis=0)

    @property
    def rollout_bits_per_byte(self) -> np.ndarray:
        return self.rollout_bits.mean(axis=0)

    @property
    def teacher_bits_per_byte(self) -> np.ndarray:
        return self.teacher_bits.mean(axis=0)

    @property
    def on_track(self) -> np.ndarray:
        return np.cumprod(self.rollout_hits, axis=1).mean(axis=0)

    def to_dict(self, include_arrays: bool = False) -> dict[str, Any]:
        d = super().to_dict()
        d.update(n_starts=len(self.starts), curves={
            "rollout_accuracy": self.rollout_accuracy.tolist(), "teacher_accuracy": self.teacher_accuracy.tolist(),
            "rollout_bits_per_byte": self.rollout_bits_per_byte.tolist(),
            "teacher_bits_per_byte": self.teacher_bits_per_byte.tolist(), "on_track": self.on_track.tolist()},
            mean={"rollout_accuracy": float(self.rollout_hits.mean()),
                  "teacher_accuracy": float(self.teacher_hits.mean()),
                  "rollout_bits_per_byte": float(self.rollout_bits.mean()),
                  "teacher_bits_per_byte": float(self.teacher_bits.mean())})
        if include_arrays:
            d.update(starts=self.starts.tolist(), generated=self.generated.tolist())
        return d

    def table(self) -> list[str]:
        """Rows ``step | accuracy rollout, teacher | bits/byte rollout, teacher | on track`` at steps 1, 2, 4 .. k."""
        lines = [f"{'step':>6}  {'acc rollout':>11}  {'acc teacher':>11}  {'bpb rollout':>11}  {'bpb teacher':>11}"
                 f"  {'on track':>8}"]
        ra, ta, rb, tb, ot = (self.rollout_accuracy, self.teacher_accuracy, self.rollout_bits_per_byte,
                              self.teacher_bits_per_byte, self.on_track)
        for j in report_steps(self.steps):
            lines.append(f"{j:>6}  {ra[j - 1]:>11.3f}  {ta[j - 1]:>11.3f}  {fmt(rb[j - 1], 3):>11}  "
                         f"{fmt(tb[j - 1], 3):>11}  {ot[j - 1]:>8.3f}")
        return lines

    def __str__(self) -> str:
        rule = "" if self.mode == "greedy" else f", temperature {self.temperature}"
        rule += "" if self.top_k is None else f", top-k {self.top_k}"
        head = (f"{self.model} rollout ({self.mode}{rule}): {len(self.starts)} starts x {self.steps} "
                f"steps, {'whole history' if self.context is None else f'{self.context}-byte prefix'}, "
                f"{self.seconds:.1f} s")
        return "\n".join([head, *self.table()])


@dataclass
class RolloutCurve(Report):
    """Greedy and sampled rollouts from the same starts, each against teacher forcing."""

    greedy: RolloutReport
    sampled: RolloutReport

    def to_dict(self, include_arrays: bool = False) -> dict[str, Any]:
        return {"greedy": self.greedy.to_dict(include_arrays), "sampled": self.sampled.to_dict(include_arrays)}

    def __str__(self) -> str:
        return f"{self.greedy}\n\n{self.sampled}"


def report_steps(k: int) -> list[int]:
    """Steps 1, 2, 4, 8, ... up to ``k``, and ``k``."""
    out = [1]
    while out[-1] * 2 <= k:
        out.append(out[-1] * 2)
    return out if out[-1] == k else [*out, k]


def start_positions(n_bytes: int, k: int, starts: int | Sequence[int] | np.ndarray, context: int | None) -> np.ndarray:
    """``int64[N]`` start positions: ``starts`` of them spread evenly over ``[lo, n_bytes - k]`` (``lo`` the
    prefix length, 0 without one), or the given positions, each checked to fit a prefix and ``k`` steps."""
    lo = 0 if context is None else context
    hi = n_bytes - k
    if hi < lo:
        raise InputError(f"the input ({n_bytes:,} bytes) is too short for a {lo}-byte prefix and {k} steps")
    if isinstance(starts, (int, np.integer)) and not isinstance(starts, bool):
        n = check_int("starts", starts, 1, None)
        return np.unique(np.round(np.linspace(lo, hi, min(n, hi - lo + 1))).astype(np.int64))
    pos = np.asarray(starts)
    if pos.ndim != 1 or len(pos) == 0 or pos.dtype.kind not in "iu":
        raise InputError(f"starts must be a number of starts or a non-empty list of integer positions, "
                         f"got {starts!r:.60}")
    if pos.min() < lo or pos.max() > hi:
        raise InputError(f"start positions must lie in {lo}..{hi} (a {lo}-byte prefix and {k} steps inside "
                         f"{n_bytes:,} bytes), got {int(pos.min())}..{int(pos.max())}")
    return pos.astype(np.int64)


def _rules(greedy: bool, temperature: float, top_k: int | None) -> dict[str, Any]:
    return {"greedy": greedy or temperature == 0, "temperature": temperature, "top_k": top_k}


def _rng(seed: int | None, start: int) -> np.random.Generator:
    return np.random.default_rng(None if seed is None else [seed, start])


@dataclass
class _Tally:
    """One sampling rule's results while the starts run: the ``[N, k]`` arrays of :class:`RolloutReport`
    and the seconds spent on its rollouts."""

    generated: np.ndarray
    rollout_hits: np.ndarray
    teacher_hits: np.ndarray
    rollout_bits: np.ndarray
    seconds: float = 0.0

    @classmethod
    def zeros(cls, n: int, k: int) -> _Tally:
        return cls(generated=np.zeros((n, k), np.uint8), rollout_hits=np.zeros((n, k), bool),
                   teacher_hits=np.zeros((n, k), bool), rollout_bits=np.zeros((n, k)))


def _evaluate(model: CausalPredictor, data: BytesLike, k: int, starts: Any, context: int | None,
              modes: dict[str, dict[str, Any]], seed: int | None) -> dict[str, RolloutReport]:
    x = np.asarray(as_byte_array(data))
    k = check_int("k", k, 1, MAX_ROLLOUT_STEPS)
    context = check_int("context", context, 0, None, optional=True)
    check_int("seed", seed, 0, 2**63 - 1, optional=True)
    for rule in modes.values():
        check_sampling(rule["temperature"], rule["top_k"])
    pos = start_positions(len(x), k, starts, context)
    ctx = model.context_length
    longest = int(pos.max()) if context is None else context
    if ctx is not None and not model.slides_window and longest + k > ctx:
        raise InputError(f"a {longest}-byte prefix + {k} steps exceed the model's context of {ctx} bytes")
    N = len(pos)
    out = {m: _Tally.zeros(N, k) for m in modes}
    teacher_bits = np.zeros((N, k))
    t_teacher = 0.0
    for n, s in enumerate(pos.tolist()):
        c = s if context is None else context
        truth = x[s:s + k]
        t0 = time.perf_counter()
        lp = model.log_probs(x[s - c:s + k])[c:]  # teacher forcing: row j sees the prefix and truth[:j]
        teacher_bits[n] = -lp[np.arange(k), truth] / LN2
        t_teacher += time.perf_counter() - t0
        for m, rule in modes.items():
            o = out[m]
            t0 = time.perf_counter()
            rt, rr = _rng(seed, s), _rng(seed, s)  # common random numbers: step j draws with the same uniform
            o.teacher_hits[n] = [sample_from_log_probs(row, rt, **rule) == b for row, b in zip(lp, truth)]
            st = model.stream()
            st.push_many(x[s - c:s])
            for j in range(k):
                q = st.log_probs()
                o.rollout_bits[n, j] = -q[truth[j]] / LN2
                g = sample_from_log_probs(q, rr, **rule)
                o.generated[n, j] = g
                st.push(g)
            o.rollout_hits[n] = o.generated[n] == truth
            o.seconds += time.perf_counter() - t0
    reports = {}
    for m, rule in modes.items():
        o = out[m]
        reports[m] = RolloutReport(
            model=model.name, mode=m, steps=k, context=context, temperature=float(rule["temperature"]),
            top_k=rule["top_k"], seed=seed, seconds=o.seconds + t_teacher, starts=pos, generated=o.generated,
            rollout_hits=o.rollout_hits, teacher_hits=o.teacher_hits, rollout_bits=o.rollout_bits,
            teacher_bits=teacher_bits)
    return reports


def evaluate_rollout(model: CausalPredictor, data: BytesLike, k: int, starts: int | Sequence[int] = 32,
                     context: int | None = 256, greedy: bool = True, temperature: float = 1.0,
                     top_k: int | None = None, seed: int | None = 0) -> RolloutReport:
    """k-step rollouts of ``model`` from ``starts`` positions of ``data`` against teacher forcing (module
    docstring): greedy by default, else sampled with ``temperature`` / ``top_k``, seeded by ``seed``."""
    mode = "greedy" if greedy or temperature == 0 else "sampled"
    return _evaluate(model, data, k, starts, context, {mode: _rules(greedy, temperature, top_k)}, seed)[mode]


def evaluate_rollout_curve(model: CausalPredictor, data: BytesLike, k: int, starts: int | Sequence[int] = 32,
                           context: int | None = 256, temperature: float = 1.0, top_k: int | None = None,
                           seed: int | None = 0) -> RolloutCurve:
    """Greedy and sampled rollout curves over steps 1..k from the same starts, sharing the teacher-forced pass."""
    if isinstance(temperature, (int, float)) and temperature == 0:
        raise InputError("the sampled curve needs temperature > 0 (temperature 0 is the greedy curve)")
    r = _evaluate(model, data, k, starts, context, {"greedy": _rules(True, 1.0, None),
                                                    "sampled": _rules(False, temperature, top_k)}, seed)
    return RolloutCurve(greedy=r["greedy"], sampled=r["sampled"])


__all__ = ["MAX_ROLLOUT_STEPS", "RolloutCurve", "RolloutReport", "evaluate_rollout", "evaluate_rollout_curve",
           "report_steps", "start_positions"]
