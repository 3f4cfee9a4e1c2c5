"""The mixer's experts: honest out-of-fold fitting, the expert stage against a numpy reference, "trust the base"
at the start, useless experts cost little, useful ones help, fixed experts, and real compress round trips."""

from __future__ import annotations

import numpy as np
import pytest

from decepticons.coding import compress, decompress
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.memory import ExactContextPredictor, NGramPredictor
from decepticons.mixer import MixerPredictor
from decepticons.mixer.experts import EXPERT_CONTEXTS, N_BASE, N_BASE8, N_ENT, N_TOP, RATE_FLOOR
from decepticons.mixer.folds import fold_bounds
from decepticons.predictor import LN2, CausalPredictor, Stream

TRAIN, VALID = (np.asarray(a) for a in embedded_corpus())
#: the small corpus of the quality tests: the mixer fits 60 KB and scores 20 KB of the held-out play
SMALL_TRAIN, SMALL_VALID = TRAIN[:60000], VALID[:20000]
#: how much worse (bits/byte on SMALL_VALID) a useless expert may make the mixer: the regret of learning that
#: it is useless (measured: a uniform expert +0.0009, a sharp random one +0.007)
USELESS_TOLERANCE = 0.01


class TableExpert(CausalPredictor):
    """A useless expert: a fixed random log-distribution chosen by a hash of the previous two bytes
    (``scale`` 0: uniform; large: sharp and confidently wrong)."""

    name = "table-test"

    def __init__(self, scale: float, seed: int = 0) -> None:
        z = np.random.default_rng(seed).normal(size=(4096, 256)) * scale
        self.table = z - np.logaddexp.reduce(z, axis=1, keepdims=True)

    def row(self, p1: int, p2: int) -> np.ndarray:
        return self.table[(p1 * 257 + p2 * 31) % 4096]

    def log_probs(self, data):
        x = np.frombuffer(bytes(data), dtype=np.uint8).astype(np.int64)
        p1 = np.concatenate([[0], x[:-1]])
        p2 = np.concatenate([[0, 0], x[:-2]])[:len(x)]
        return self.table[(p1 * 257 + p2 * 31) % 4096]

    def stream(self) -> Stream:
        return _TableStream(self)


class _TableStream(Stream):
    def __init__(self, m: TableExpert) -> None:
        self.m, self.p1, self.p2 = m, 0, 0

    def log_probs(self) -> np.ndarray:
        return self.m.row(self.p1, self.p2).copy()

    def push(self, byte: int) -> None:
        self.p1, self.p2 = int(byte), self.p1


class RecordingExpert(ExactContextPredictor):
    """An exact-context memory that records, in order, what it is fitted on and what it predicts (copies
    record into the same class-level list)."""

    events: list[tuple[str, bytes]] = []

    def fit(self, data, valid=None, workers=1, progress=None):
        RecordingExpert.events.append(("fit", bytes(np.asarray(data, dtype=np.uint8))))
        return super().fit(data, valid=valid, workers=workers, progress=progress)

    def iter_log_probs(self, data, chunk_size=1 << 16):
        RecordingExpert.events.append(("predict", bytes(np.asarray(data, dtype=np.uint8))))
        yield from super().iter_log_probs(data, chunk_size=chunk_size)


def _bpb(train: np.ndarray = SMALL_TRAIN, valid: np.ndarray = SMALL_VALID, **kw) -> float:
    m = MixerPredictor(orders=3, match_min=4, **kw)
    m.fit(train)
    return m.score(valid).bits_per_byte


@pytest.fixture(scope="module")
def alone() -> float:
    return _bpb()


# ------------------------------------------------------------------------------------------ honest folds
def test_fold_bounds_cover_the_bytes_in_contiguous_folds():
    assert fold_bounds(10, 2) == [(0, 5), (5, 10)]
    assert fold_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert fold_bounds(10, 1) == [(0, 10)]
    assert fold_bounds(5, 3) == [(0, 5)]  # too few bytes: one fold (in-sample)


@pytest.mark.parametrize("k", [2, 3])
def test_forward_fold_fitting_never_predicts_a_byte_it_was_fitted_on(k):
    """Fold k is predicted by a copy fitted on the bytes before it only (the first fold by none: the expert
    takes no part there), then the expert itself is fitted on every byte."""
    x = TRAIN[:3000]
    RecordingExpert.events = []
    m = MixerPredictor(orders=2, match_min=0, experts=[RecordingExpert(order=2)], expert_folds=k)
    report = m.fit(x)
    ev = RecordingExpert.events
    assert [kind for kind, _ in ev] == ["fit", "predict"] * (k - 1) + ["fit"]
    for (s, e), i in zip(fold_bounds(len(x), k)[1:], range(0, 2 * k, 2)):
        fitted, predicted = ev[i][1], ev[i + 1][1]
        assert predicted == bytes(x[s:e])
        assert fitted == bytes(x[:s])
    assert ev[-1] == ("fit", bytes(x))  # the expert itself is fitted on every byte, for scoring
    detail = report.details["experts"][0]
    assert detail["plan"] == "folds" and len(detail["folds"]) == k - 1


def test_a_forward_fold_expert_takes_no_part_in_the_first_fold():
    """Over the first fold the stage is skipped (no weight of the expert is used or learned there): fitting on
    the first fold alone leaves the stage's weights untouched."""
    x = TRAIN[:4000]
    m = MixerPredictor(orders=2, match_min=0, experts=[NGramPredictor(orders=2)], expert_folds=2)
    m.fit(x)
    used = m.U[:, :, 1].sum()
    assert 0 < used <= len(x) // 2 * 2  # base weight and expert weight, second fold only


def test_expert_plans_and_bad_options():
    bank_like = TableExpert(1.0)  # not fittable
    m = MixerPredictor(experts=[NGramPredictor(orders=2), NGramPredictor(orders=2), bank_like], fixed_experts=[1])
    assert m.expert_plans(10_000) == ["folds", "score-only", "score-only"]
    assert m.expert_plans(3) == ["in-sample", "score-only", "score-only"]
    m = MixerPredictor(experts=[NGramPredictor(orders=2), bank_like], fixed_in_fit=True, expert_folds=1)
    assert m.expert_plans(10_000) == ["in-sample", "fixed"]
    m = MixerPredictor(experts=[NGramPredictor(orders=2)], fit_experts=False)
    assert m.expert_plans(10_000) == ["score-only"]
    with pytest.raises(InputError, match="fixed_experts"):
        MixerPredictor(experts=[NGramPredictor(orders=2)], fixed_experts=[1])
    with pytest.raises(InputError, match="expert_context"):
        MixerPredictor(expert_context="loud")
    with pytest.raises(InputError, match="expert_folds"):
        MixerPredictor(expert_folds=0)
    with pytest.raises(InputError, match="expert_lr"):
        MixerPredictor(expert_lr=float("nan"))


def test_expert_options_are_recorded_only_with_experts():
    assert not set(MixerPredictor().config_dict()) & {"expert_lr", "expert_folds", "fixed_experts"}
    assert MixerPredictor(experts=[NGramPredictor(orders=2)]).config_dict()["expert_folds"] == 2


# ------------------------------------------------------------------------------------------ the stage
def test_the_stage_starts_from_the_base():
    """Before the stage learns, the mix is the base mix: with ``expert_lr = 0`` experts change nothing (the
    base is the same with or without experts, and their weights start at 0)."""
    base = MixerPredictor(orders=3, match_min=4)
    base.fit(SMALL_TRAIN[:20000])
    m = MixerPredictor(orders=3, match_min=4, experts=[TableExpert(3.0), NGramPredictor(orders=2)], expert_lr=0.0)
    m.fit(SMALL_TRAIN[:20000])
    assert np.array_equal(m.W1, base.W1) and np.array_equal(m.W2, base.W2)
    assert np.max(np.abs(np.exp(m.log_probs(VALID[:500])) - np.exp(base.log_probs(VALID[:500])))) < 1e-12


def _buckets(v: float, cuts: list[float]) -> int:
    return int(np.searchsorted(cuts, v, side="right"))


def _reference_contexts(X2: np.ndarray, scheme: str) -> list[int]:
    """The stage's contexts (decepticons.mixer.experts), every expert active."""
    pb, n_exp = np.exp(X2[0]), len(X2) - 1
    qb, best = float(pb.max()), int(np.argmax(pb))
    mask = sum(1 << j for j in range(min(n_exp, 4)))
    out = [mask * N_BASE8 + _buckets(qb, [0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95])]
    for row in X2[1:]:
        a = int(np.argmax(row) == best)
        top = _buckets(float(np.exp(row.max())), [0.25, 0.5, 0.75, 0.9])
        ent = _buckets(float(-(np.exp(row) * row).sum() / LN2), [1.0, 2.0, 3.5])
        bb = _buckets(qb, [0.3, 0.6, 0.9])
        out.append({"none": 0, "agreement": a, "confidence": (a * N_TOP + top) * N_BASE + bb,
                    "entropy": ((a * N_TOP + top) * N_ENT + ent) * N_BASE + bb}[scheme])
    return out


@pytest.mark.parametrize("scheme", EXPERT_CONTEXTS)
def test_expert_stage_matches_a_numpy_reference(scheme):
    """Taking the stage's input rows as given (the base mix, checked by test_mixer_reference.py, and the
    floored expert rows), the contexts, the mix and the learned weights follow the module's equations:

        p2 = softmax(U[0, c_0] log p_base + sum_j U[j, c_j] log q_j),
        U[i, c_i] += lr (RATE_FLOOR + 2048 / (1024 + n)) (X2[i, x] - X2[i] @ p2)
    """
    m = MixerPredictor(orders=3, match_min=4, apm_rate=0.0, expert_context=scheme,
                       experts=[NGramPredictor(orders=2), TableExpert(1.5)])
    m.fit(TRAIN[:8000])
    U = m.U.copy()
    st = m.stream()
    lr = m.config.expert_lr
    worst = 0.0
    for byte in VALID[:600]:
        probs = np.exp(st.log_probs())
        xb = st.work.scratch.experts
        X2 = xb.X.copy()
        assert np.all(X2[1:] >= -30.0)
        ctx = _reference_contexts(X2, scheme)
        assert ctx == list(xb.ctx)
        z = sum(U[i, c, 0] * X2[i] for i, c in enumerate(ctx))
        p2 = np.exp(z - z.max())
        p2 /= p2.sum()
        worst = max(worst, float(np.abs(p2 - probs).max()))
        for i, c in enumerate(ctx):
            rate = lr * (RATE_FLOOR + 2048.0 / (1024.0 + U[i, c, 1]))
            U[i, c, 1] += 1
            U[i, c, 0] += rate * (X2[i, byte] - X2[i] @ p2)
        st.push(int(byte))
    st.log_probs()  # the stream learns the last byte on its next call
    assert worst < 1e-9
    assert np.allclose(st.work.state.U, U, rtol=1e-9, atol=1e-12)
    assert not np.array_equal(U, m.U)


# ------------------------------------------------------------------------------------------ quality
@pytest.mark.parametrize("scale", [0.0, 3.0], ids=["uniform", "random-sharp"])
def test_a_useless_expert_costs_at_most_the_tolerance(alone, scale):
    assert _bpb(experts=[TableExpert(scale)]) <= alone + USELESS_TOLERANCE


def test_a_useful_expert_helps_and_honest_folds_are_what_make_it_help(alone):
    """An order-5 n-gram adds contexts the order-3 mixer lacks: fitted out of fold it helps; fitted in-sample
    (the expert predicts the bytes it was fitted on) the stage over-trusts it and held-out bits get worse."""
    honest = _bpb(experts=[NGramPredictor(orders=5)])
    in_sample = _bpb(experts=[NGramPredictor(orders=5)], expert_folds=1)
    assert honest < alone - 0.005
    assert in_sample > honest + 0.05


def test_a_fixed_expert_learns_its_weight_while_scoring(alone):
    """A fixed expert takes no part in fit (its weights stay untrained) and earns its trust on the scored
    bytes: one that has seen the held-out text is trusted within the run."""
    knows = ExactContextPredictor(order=4)
    knows.fit(SMALL_VALID)
    m = MixerPredictor(orders=3, match_min=4, experts=[knows], fixed_experts=[0])
    m.fit(SMALL_TRAIN)
    assert np.all(m.U[1, :, 1] == 0) and np.all(m.U[1, :, 0] == 0)
    assert m.score(SMALL_VALID).bits_per_byte < alone - 0.3


# ------------------------------------------------------------------------------------------ coding
def _round_trip(m: MixerPredictor, x: np.ndarray) -> None:
    blob = compress(m, x)
    assert np.array_equal(decompress(m, blob), x)
    scored = m.score(x).total_bits / 8
    assert abs(len(blob) - scored) <= 0.01 * scored + 64


def test_compress_round_trip_with_a_coder_expert():
    coder = pytest.importorskip("decepticons.coder").ByteLatentPredictiveCoder(max_order=3, chunk_size=512)
    m = MixerPredictor(orders=3, match_min=4, experts=[coder, NGramPredictor(orders=2)])
    m.fit(TRAIN[:6000])
    _round_trip(m, VALID[:1500])


def test_compress_round_trip_with_a_causal_bank_expert():
    """The bank's batched and stream rows differ in float32 rounding; the coder reads the experts' streams on
    both sides, so the frequencies still agree bit for bit."""
    pytest.importorskip("torch")
    from decepticons.registry import model_class

    cls = model_class("causal-bank")
    bank = cls(cls.config_cls.variant("tiny", state_dim=2), seed=3)
    m = MixerPredictor(orders=3, match_min=4, experts=[bank], fixed_experts=[0], fixed_in_fit=True)
    m.fit(TRAIN[:4000])
    _round_trip(m, VALID[:1000])
