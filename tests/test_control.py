"""Control mechanisms: each one causal (changing inputs after t leaves outputs <= t alone), its fast path equal
to a loop reference, and bad inputs refused with InputError."""

from __future__ import annotations

import numpy as np
import pytest

from decepticons.control import (
    ControllerSummary,
    ControllerSummaryBuilder,
    HormoneConfig,
    HormoneModulator,
    LearnedSegmenter,
    PathwayGateConfig,
    PathwayGateController,
    PredictiveSurpriseController,
    RouterConfig,
    SegmenterConfig,
    SummaryConfig,
    SummaryRouter,
    running,
)
from decepticons.control.summary import reference_running
from decepticons.errors import InputError

RNG = np.random.default_rng(0)
T = 300


def _perturbed(a: np.ndarray, t: int, seed: int = 1) -> np.ndarray:
    b = a.copy()
    b[t:] = np.random.default_rng(seed).standard_normal(b[t:].shape) * 3
    return b


def _log_probs(n: int, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal((n, 256)) * 2
    return z - np.logaddexp.reduce(z, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- summaries
def test_state_summary_values_and_causality():
    h = RNG.standard_normal((T, 12))
    b = ControllerSummaryBuilder(SummaryConfig(state_reductions=("mean", "mean_abs", "energy", "max_abs", "drift")),
                                 bands=[slice(0, 4), slice(4, 12)], band_names=["a", "b"])
    s = b.from_states(h)
    assert s.values.shape == (T, 10) and s.names[0] == "a.mean" and s.names[-1] == "b.drift"
    np.testing.assert_allclose(s.column("a.energy"), (h[:, :4] ** 2).mean(axis=1))
    np.testing.assert_allclose(s.column("b.drift")[1:], np.abs(h[1:, 4:] - h[:-1, 4:]).mean(axis=1))
    t = 100
    s2 = b.from_states(_perturbed(h, t))
    np.testing.assert_array_equal(s.values[:t], s2.values[:t])
    assert not np.allclose(s.values[t:], s2.values[t:])


def test_record_summary_matches_the_diagnostics():
    lp = _log_probs(50, 2)
    y = RNG.integers(0, 256, 50)
    s = ControllerSummaryBuilder(SummaryConfig(record_reductions=("entropy", "peak", "surprise"))).from_record(lp, y)
    p = np.exp(lp)
    np.testing.assert_allclose(s.column("entropy"), -(p * np.log2(p)).sum(axis=1))
    np.testing.assert_allclose(s.column("peak"), p.max(axis=1))
    np.testing.assert_allclose(s.column("surprise"), -np.log2(p[np.arange(50), y]))


def test_running_matches_the_loop_and_is_causal():
    v = RNG.standard_normal((T, 3))
    np.testing.assert_allclose(running(v, 7.0, 0.5), reference_running(v, 7.0, 0.5), atol=1e-12)
    np.testing.assert_allclose(running(v[:, 0], 7.0), reference_running(v[:, 0], 7.0), atol=1e-12)
    a, b = running(v, 7.0), running(_perturbed(v, 90), 7.0)
    np.testing.assert_array_equal(a[:90], b[:90])


@pytest.mark.parametrize("call", [
    lambda: ControllerSummary(np.zeros((3, 2)), ("a",)),
    lambda: ControllerSummary(np.full((2, 1), np.nan), ("a",)),
    lambda: ControllerSummaryBuilder().from_states(np.zeros(5)),
    lambda: ControllerSummaryBuilder().from_states(np.zeros((4, 3)), previous=np.zeros(2)),
    lambda: ControllerSummaryBuilder().from_record(np.zeros((4, 10))),
    lambda: ControllerSummaryBuilder(SummaryConfig(record_reductions=("surprise",))).from_record(np.zeros((2, 256))),
    lambda: SummaryConfig(state_reductions=("median",)),
    lambda: running(np.zeros(3), 0.0),
    lambda: ControllerSummary(np.zeros((2, 1)), ("a",)).column("b"),
])
def test_summary_bad_inputs(call):
    with pytest.raises(InputError):
        call()


# ----------------------------------------------------------------------------- pathway gates
@pytest.mark.parametrize("stride", [1, 4])
def test_gates_match_the_loop_chunked_and_causal(stride):
    g = PathwayGateController(PathwayGateConfig(refresh_stride=stride, fast_to_mid_scale=2.0))
    q = RNG.standard_normal(T)
    g.fit("fast_to_mid", q)
    fast, held = g.gate("fast_to_mid", q, 3, 0.25)
    ref, held_ref = g.reference_gate("fast_to_mid", q, 3, 0.25)
    np.testing.assert_allclose(fast, ref, atol=1e-15)
    assert held == pytest.approx(held_ref)
    a, h1 = g.gate("fast_to_mid", q[:97], 3, 0.25)
    b, _ = g.gate("fast_to_mid", q[97:], 3 + 97, h1)
    np.testing.assert_allclose(np.concatenate([a, b]), fast, atol=1e-15)
    assert np.all((fast > 0) & (fast < 1))
    other, _ = g.gate("fast_to_mid", _perturbed(q, 120), 3, 0.25)
    np.testing.assert_array_equal(other[:120], fast[:120])


@pytest.mark.parametrize("call", [
    lambda g: g.gate("sideways", np.zeros(3), 0, 0.5),
    lambda g: g.gate("fast_to_mid", np.zeros((3, 2)), 0, 0.5),
    lambda g: g.fit("mid_to_slow", np.array([1.0])),
    lambda g: PathwayGateConfig(refresh_stride=0),
    lambda g: PathwayGateConfig(fast_to_mid_bias=float("nan")),
])
def test_gate_bad_inputs(call):
    with pytest.raises(InputError):
        call(PathwayGateController())


# ----------------------------------------------------------------------------- router
def _summaries(n: int) -> list[ControllerSummary]:
    return [ControllerSummary(np.random.default_rng(i).standard_normal((n, 2)), ("loss", "entropy")) for i in range(3)]


def test_router_soft_select_and_combine():
    s = _summaries(40)
    r = SummaryRouter([-1.0, 0.5], biases=[0.0, 0.1, -0.1])
    d = r.route(s)
    assert d.weights.shape == (40, 3)
    np.testing.assert_allclose(d.weights.sum(axis=1), 1.0)
    ref = np.stack([x.values @ np.array([-1.0, 0.5]) for x in s], axis=1) + [0.0, 0.1, -0.1]
    np.testing.assert_allclose(d.logits, ref)
    hard = SummaryRouter([-1.0, 0.5], biases=[0.0, 0.1, -0.1], config=RouterConfig(mode="select")).route(s)
    np.testing.assert_array_equal(hard.weights.argmax(axis=1), ref.argmax(axis=1))
    assert set(np.unique(hard.weights)) <= {0.0, 1.0}
    lps = [_log_probs(40, 10 + i) for i in range(3)]
    mix = SummaryRouter.combine(d.weights, lps)
    np.testing.assert_allclose(np.logaddexp.reduce(mix, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(mix), sum(d.weights[:, [i]] * np.exp(lps[i]) for i in range(3)), atol=1e-12)


def test_router_rows_are_independent():
    s = _summaries(40)
    r = SummaryRouter([-1.0, 0.5])
    w = r.route(s).weights
    t = 17
    s2 = [ControllerSummary(_perturbed(x.values, t), x.names) for x in s]
    np.testing.assert_array_equal(r.route(s2).weights[:t], w[:t])


@pytest.mark.parametrize("call", [
    lambda: SummaryRouter([]),
    lambda: SummaryRouter([1.0, 2.0]).route([]),
    lambda: SummaryRouter([1.0]).route(_summaries(4)),
    lambda: SummaryRouter([1.0, 2.0], biases=[1.0]).route(_summaries(4)),
    lambda: SummaryRouter([1.0, 2.0]).route([np.zeros((4, 2))]),
    lambda: SummaryRouter.combine(np.ones((4, 2)) / 2, [np.zeros((4, 256))]),
    lambda: RouterConfig(temperature=0.0),
    lambda: RouterConfig(mode="vote"),
])
def test_router_bad_inputs(call):
    with pytest.raises(InputError):
        call()


# ----------------------------------------------------------------------------- hormones
def test_hormones_causal_chunked_and_bounded():
    s = np.abs(RNG.standard_normal(T))
    m = HormoneModulator(4, HormoneConfig(surprise_half_life=20.0, position_horizon=100.0))
    m.fit(s)
    eta, r_end = m.hormones(s, 0, 0.0)
    a, r1 = m.hormones(s[:130], 0, 0.0)
    b, r2 = m.hormones(s[130:], 130, r1)
    np.testing.assert_allclose(np.concatenate([a, b]), eta, atol=1e-12)
    assert r2 == pytest.approx(r_end)
    assert eta[-1, 1] == 1.0 and 0 < eta[0, 1] < 1   # the position hormone saturates at the horizon
    g = m.gains(eta)
    assert g.shape == (T, 4) and np.all((g > 0) & (g < 2))
    e2, _ = m.hormones(_perturbed(np.abs(s), 77), 0, 0.0)
    np.testing.assert_array_equal(e2[:77], eta[:77])


@pytest.mark.parametrize("call", [
    lambda: HormoneModulator(0),
    lambda: HormoneModulator(2).hormones(np.zeros((3, 1)), 0, 0.0),
    lambda: HormoneModulator(2).gains(np.zeros((3, 3))),
    lambda: HormoneModulator(2).fit(np.array([np.inf, 1.0])),
    lambda: HormoneConfig(surprise_half_life=-1.0),
])
def test_hormone_bad_inputs(call):
    with pytest.raises(InputError):
        call()


# ----------------------------------------------------------------------------- predictive surprise
def test_surprise_learns_linear_dynamics_and_flags_shocks():
    rng = np.random.default_rng(3)
    A = np.diag([0.9, 0.5, -0.3])
    z = np.zeros((2000, 3))
    for t in range(1, 2000):
        z[t] = z[t - 1] @ A + 0.1 * rng.standard_normal(3)
    c = PredictiveSurpriseController(3, 3).fit(z[:-1], z[1:])
    np.testing.assert_allclose(c.W[:3], A, atol=0.05)
    z2 = z.copy()
    z2[1500] += 5.0
    rec = c.observe(z2[:-1], z2[1:])
    assert rec.surprise.argmax() == 1499 and rec.surprise[1499] > 100 * np.median(rec.surprise)
    assert rec.features().shape == (1999, 2)
    t = 700
    r2 = c.observe(_perturbed(z2[:-1], t), _perturbed(z2[1:], t))
    np.testing.assert_array_equal(r2.surprise[:t], rec.surprise[:t])


@pytest.mark.parametrize("call", [
    lambda: PredictiveSurpriseController(0, 3),
    lambda: PredictiveSurpriseController(2, 2).observe(np.zeros((3, 2)), np.zeros((3, 2))),
    lambda: PredictiveSurpriseController(2, 2).fit(np.zeros((3, 2)), np.zeros((4, 2))),
    lambda: PredictiveSurpriseController(2, 2).fit(np.zeros((3, 3)), np.zeros((3, 2))),
    lambda: PredictiveSurpriseController(2, 2).fit(np.zeros((1, 2)), np.zeros((1, 2))),
    lambda: PredictiveSurpriseController(2, 2).fit(np.full((3, 2), np.nan), np.zeros((3, 2))),
])
def test_surprise_bad_inputs(call):
    with pytest.raises(InputError):
        call()


# ----------------------------------------------------------------------------- learned segmenter
def _bursty_surprise(n: int, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.abs(rng.standard_normal(n)) * 0.2
    s[rng.random(n) < 0.15] += 3.0
    return s


def test_segmenter_respects_lengths_and_tracks_the_target_rate():
    seg = LearnedSegmenter(SegmenterConfig(target_patch=5.0, min_patch=2, max_patch=9))
    rec, _ = seg.segment(_bursty_surprise(20000), seg.init_state())
    ends = np.flatnonzero(rec.boundary)
    lens = np.diff(np.concatenate([[-1], ends]))
    assert lens.min() >= 2 and lens.max() <= 9
    assert 4.5 < lens.mean() < 5.5
    np.testing.assert_array_equal(rec.length[ends], lens)
    assert np.all((rec.probability > 0) & (rec.probability < 1))


def test_segmenter_learns_to_cut_before_surprising_bytes():
    """Surprise spikes at random gaps, each announced by a moderate "cue" one byte before: after learning,
    boundaries fall right before the spikes far more often than with learning off (the rate controller alone)."""
    rng = np.random.default_rng(5)
    n = 30000
    s = np.abs(rng.standard_normal(n)) * 0.1
    spikes = np.cumsum(rng.integers(3, 12, n // 3))
    spikes = spikes[spikes < n]
    s[spikes], s[spikes - 1] = 4.0, 1.0
    late = spikes[spikes > 20000]
    hits = {}
    for learn in (True, False):
        seg = LearnedSegmenter(SegmenterConfig(target_patch=7.0, min_patch=1, max_patch=16, learn=learn))
        rec, _ = seg.segment(s, seg.init_state())
        hits[learn] = float(rec.boundary[late - 1].mean())   # boundary after byte t, byte t+1 is the spike
    assert hits[True] > 0.9 and hits[False] < 0.3


def test_segmenter_chunked_equals_whole_and_is_causal():
    s = _bursty_surprise(3000)
    seg = LearnedSegmenter()
    whole, end = seg.segment(s, seg.init_state())
    st, parts = seg.init_state(), []
    for i in range(0, 3000, 111):
        r, st = seg.segment(s[i:i + 111], st)
        parts.append(r.boundary)
    np.testing.assert_array_equal(np.concatenate(parts), whole.boundary)
    np.testing.assert_array_equal(st, end)
    t = 1234
    other, _ = seg.segment(_perturbed(s, t), seg.init_state())
    np.testing.assert_array_equal(other.boundary[:t], whole.boundary[:t])
    np.testing.assert_array_equal(other.probability[:t], whole.probability[:t])


@pytest.mark.parametrize("call", [
    lambda: SegmenterConfig(min_patch=5, max_patch=3),
    lambda: SegmenterConfig(target_patch=20.0, max_patch=8),
    lambda: SegmenterConfig(learning_rate=-1.0),
    lambda: LearnedSegmenter().segment(np.zeros((3, 2)), LearnedSegmenter().init_state()),
    lambda: LearnedSegmenter().segment(np.array([np.nan]), LearnedSegmenter().init_state()),
    lambda: LearnedSegmenter().segment(np.zeros(3), np.zeros(2)),
])
def test_segmenter_bad_inputs(call):
    with pytest.raises(InputError):
        call()
