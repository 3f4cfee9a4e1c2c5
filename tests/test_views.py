"""Views: causal feature rows (changing bytes >= t leaves rows <= t bit-identical), chunked and streamed paths
equal to one pass, fitted parts that survive params/load_params, bad inputs refused; the latent committer, the
sampled readout and the bridge features against loop references."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.readouts.sampled import SampledMultiscaleReadout, SampledReadoutConfig
from decepticons.substrates import make_substrate
from decepticons.views.bridge import bridge_feature_arrays
from decepticons.views.latent import LatentCommitter
from decepticons.views.presets import PRESETS, make_view

#: name -> (substrate kind, substrate options, view kind, view options)
CASES = {
    **{name: (p.get("substrate", "linear_memory"), p.get("substrate_options", {}), p["view"], p.get("view_options", {}))
       for name, p in PRESETS.items()},
    "byte_latent/fixed-patches": ("linear_memory", {}, "byte_latent",
                                  {"segmenter": {"min_patch": 3, "max_patch": 3, "target_patch": 3}}),
    "byte_latent/no-state": ("echo_state", {"size": 32}, "byte_latent", {"include_state": False, "latent_dim": 8}),
    "hierarchical/stride": ("hierarchical", {"level_width": 16}, "hierarchical",
                            {"gate_options": {"refresh_stride": 5}}),
    "hierarchical/no-gates": ("hierarchical", {"level_width": 16}, "hierarchical", {"gates": False}),
    "linear_memory/no-hormones": ("linear_memory", {}, "linear_memory", {"hormones": False}),
    "sampled/with-state": ("oscillatory", {}, "sampled", {"include_state": True, "n_bands": 3}),
}


@cache
def text() -> tuple[np.ndarray, np.ndarray]:
    train, valid = embedded_corpus()
    return np.asarray(train[:20000]), np.asarray(valid[:600])


@cache
def fitted(case: str):
    kind, sopts, view, vopts = CASES[case]
    v = make_view(view, make_substrate(kind, seed=1, **sopts), vopts)
    v.fit(text()[0])
    return v


@pytest.mark.parametrize("case", sorted(CASES))
def test_rows_are_causal(case):
    v = fitted(case)
    x = text()[1]
    base, _ = v.features(x)
    assert base.shape == (len(x), v.feature_size) and np.all(np.isfinite(base))
    rng = np.random.default_rng(0)
    reacted = False
    for t in (0, 1, 57, 300, len(x) - 1):
        y = x.copy()
        y[t:] = rng.integers(0, 256, len(x) - t)
        y[t] = (int(x[t]) + 1) % 256
        f, _ = v.features(y)
        np.testing.assert_array_equal(f[:t + 1], base[:t + 1], err_msg=f"{case}: row <= {t} moved")
        reacted |= not np.allclose(f[t + 1:], base[t + 1:])
    assert reacted


@pytest.mark.parametrize("case", sorted(CASES))
def test_chunks_and_stream_equal_one_pass(case):
    v = fitted(case)
    x = text()[1]
    whole, end = v.features(x)
    st, parts = v.init_state(), []
    for s in range(0, len(x), 97):
        f, st = v.features(x[s:s + 97], st)
        parts.append(f)
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-10, rtol=0)
    np.testing.assert_allclose(st, end, atol=1e-10, rtol=0)
    st, rows = v.init_state(), []
    for b in x[:200]:
        rows.append(v.features_of(st).copy())
        st = v.step(st, int(b))
    np.testing.assert_allclose(np.array(rows), whole[:200], atol=1e-10, rtol=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fitted_parts_round_trip(case):
    v = fitted(case)
    kind, sopts, view, vopts = CASES[case]
    w = make_view(view, make_substrate(kind, seed=1, **sopts), vopts)
    if v.needs_fit:
        assert not w.fitted
        with pytest.raises(InputError, match="not been fitted"):
            w.features(b"abc")
    w.load_params({k: a.copy() for k, a in v.params().items()})
    x = text()[1]
    np.testing.assert_array_equal(w.features(x)[0], v.features(x)[0])


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_inputs(case):
    v = fitted(case)
    for bad in (np.zeros((2, 3), np.uint8), np.zeros(4), [300], 3.5):
        with pytest.raises(InputError):
            v.features(bad)
    with pytest.raises(InputError, match="state"):
        v.features(b"abc", np.zeros(v.state_size + 1))
    with pytest.raises(InputError, match="state"):
        v.features(b"abc", np.full(v.state_size, np.nan))
    assert v.features(b"")[0].shape == (0, v.feature_size)


@pytest.mark.parametrize("kind, substrate, options, pattern", [
    ("nope", "linear_memory", {}, "unknown view"),
    ("hierarchical", "linear_memory", {}, "hierarchical substrate"),
    ("linear_memory", "delay", {}, "linear_memory substrate"),
    ("state", "linear_memory", {"x": 1}, "no options"),
    ("byte_latent", "linear_memory", {"bogus": 1}, "unknown"),
    ("byte_latent", "linear_memory", {"latent_dim": 0}, "latent_dim"),
    ("byte_latent", "linear_memory", {"latent_dim": 500}, "exceeds"),
    ("byte_latent", "linear_memory", {"segmenter": {"min_patch": 9, "max_patch": 2}}, "max_patch"),
    ("hierarchical", "hierarchical", {"gate_options": {"refresh_stride": 0}}, "refresh_stride"),
    ("hierarchical", "hierarchical", {"include_state": False, "pooled": False, "surprise": False, "gates": False},
     "no features"),
    ("linear_memory", "linear_memory", {"hormone_options": {"scale": -1.0}}, "scale"),
    ("sampled", "linear_memory", {"readout": {"samples": 0, "stats": []}}, "no features"),
])
def test_bad_configurations(kind, substrate, options, pattern):
    with pytest.raises(InputError, match=pattern):
        make_view(kind, make_substrate(substrate), options)


def test_view_fit_needs_two_bytes():
    v = make_view("byte_latent", make_substrate("linear_memory"), {})
    with pytest.raises(InputError, match="2 training bytes"):
        v.fit(np.array([65], np.uint8))


def test_hierarchical_without_gates_is_the_substrate():
    v = fitted("hierarchical/no-gates")
    x = text()[1]
    h, _ = v.substrate.states(x)
    f, _ = v.features(x)
    np.testing.assert_allclose(f[1:, :h.shape[1]], h[:-1], atol=1e-12)


def test_byte_latent_patches_follow_the_segmenter_limits():
    v = fitted("byte_latent")
    f, _ = v.features(text()[1])
    c = v.config
    d, k, L = v.substrate.state_size, c.latent_dim, v.max_patch
    pos = f[1:, d + 2 * k:d + 2 * k + L]
    assert np.all(pos.sum(axis=1) == 1.0)
    nxt = pos.argmax(axis=1) + 1   # position of each next byte in its patch
    starts = np.flatnonzero(nxt == 1)
    assert len(starts) > 30 and np.diff(starts).max() <= v.segmenter.config.max_patch


def test_byte_latent_patches_are_the_boundaries_its_features_encode():
    v = fitted("byte_latent")
    x = text()[1]
    seg = v.patches(x)
    f, _ = v.features(x)
    d, k, L = v.substrate.state_size, v.config.latent_dim, v.max_patch
    nxt = f[1:, d + 2 * k:d + 2 * k + L].argmax(axis=1) + 1  # feature row t+1 encodes the patch after byte t
    np.testing.assert_array_equal(seg.boundary[:-1], nxt == 1)
    assert seg.length.max() <= v.segmenter.config.max_patch
    with pytest.raises(InputError, match="non-empty 1-D"):
        v.patches(np.zeros(0, dtype=np.uint8))
    with pytest.raises(InputError, match="not fitted"):
        make_view("byte_latent", v.substrate).patches(x)


# ----------------------------------------------------------------------------- latent committer
def test_committer_matches_the_loop_across_chunks():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((400, 5))
    b = rng.random(400) < 0.2
    c = LatentCommitter(5)
    start = np.concatenate([rng.standard_normal(5), [3.0], rng.standard_normal(5), [7.0]])
    fast, end = c.commit(z, b, start)
    ref, end_ref = c.reference_commit(z, b, start)
    np.testing.assert_allclose(fast.committed, ref.committed, atol=1e-12)
    np.testing.assert_allclose(fast.residual, ref.residual, atol=1e-12)
    np.testing.assert_array_equal(fast.patches, ref.patches)
    np.testing.assert_allclose(end, end_ref, atol=1e-12)
    first, mid = c.commit(z[:123], b[:123], start)
    second, end2 = c.commit(z[123:], b[123:], mid)
    np.testing.assert_allclose(np.concatenate([first.committed, second.committed]), fast.committed, atol=1e-12)
    np.testing.assert_allclose(end2, end, atol=1e-12)
    none, _ = c.commit(z[:10], np.zeros(10, bool), start)
    np.testing.assert_array_equal(none.committed, np.broadcast_to(start[6:11], (10, 5)))


def test_committer_is_causal_and_refuses_bad_inputs():
    rng = np.random.default_rng(3)
    z, b = rng.standard_normal((100, 4)), rng.random(100) < 0.3
    c = LatentCommitter(4)
    a, _ = c.commit(z, b, c.init_state())
    z2 = z.copy()
    z2[60:] += 1.0
    b2 = b.copy()
    b2[60:] = ~b2[60:]
    a2, _ = c.commit(z2, b2, c.init_state())
    np.testing.assert_array_equal(a.committed[:60], a2.committed[:60])
    for call in (lambda: c.commit(z[:, :3], b, c.init_state()), lambda: c.commit(z, b.astype(int), c.init_state()),
                 lambda: c.commit(z, b, np.zeros(3)), lambda: LatentCommitter(0)):
        with pytest.raises(InputError):
            call()


# ----------------------------------------------------------------------------- sampled readout
def test_sampled_readout_matches_the_loop():
    rng = np.random.default_rng(4)
    h = rng.standard_normal((50, 40))
    bands = [slice(0, 10), slice(10, 13), slice(13, 40)]
    cfg = SampledReadoutConfig(samples=5, stats=("mean", "energy", "drift", "max_abs"))
    r = SampledMultiscaleReadout(40, bands, cfg)
    assert r.feature_size == 5 + 3 + 5 + 3 * 4
    assert np.all(r.indices[:5] < 10) and np.all((r.indices[5:8] >= 10) & (r.indices[5:8] < 13))
    prev = rng.standard_normal(40)
    np.testing.assert_allclose(r.encode(h, prev), r.reference_encode(h, prev), atol=1e-12)
    again = SampledMultiscaleReadout(40, bands, SampledReadoutConfig(samples=5))
    np.testing.assert_array_equal(again.indices, r.indices)   # deterministic from the seed
    other = SampledMultiscaleReadout(40, bands, SampledReadoutConfig(samples=5, seed=9))
    assert not np.array_equal(other.indices, r.indices)
    for call in (lambda: r.encode(h[:, :30]), lambda: SampledMultiscaleReadout(40, []),
                 lambda: SampledMultiscaleReadout(40, [slice(5, 5)]), lambda: SampledReadoutConfig(samples=-1)):
        with pytest.raises(InputError):
            call()


# ----------------------------------------------------------------------------- bridge features
def test_bridge_features():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((30, 256)) * 3
    a = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
    z2 = z + rng.standard_normal((30, 256))
    b = z2 - np.logaddexp.reduce(z2, axis=1, keepdims=True)
    f = bridge_feature_arrays(a, b, top_k=3)
    p, q = np.exp(a), np.exp(b)
    srt = np.sort(p, axis=1)[:, ::-1]
    np.testing.assert_allclose(f.entropy, -(p * np.log2(p)).sum(axis=1) / 8)
    np.testing.assert_allclose(f.peak, srt[:, 0])
    np.testing.assert_allclose(f.top_k_mass, srt[:, :3].sum(axis=1))
    np.testing.assert_allclose(f.margin, srt[:, 0] - srt[:, 1])
    np.testing.assert_allclose(f.overlap, np.minimum(p, q).sum(axis=1))
    tp, tq = np.argsort(-p, axis=1)[:, :3], np.argsort(-q, axis=1)[:, :3]
    shared = [0.5 * sum(p[i, c] + q[i, c] for c in set(tp[i]) & set(tq[i])) for i in range(30)]
    np.testing.assert_allclose(f.shared_top_k_mass, shared)
    np.testing.assert_array_equal(f.agreement, (tp[:, 0] == tq[:, 0]).astype(float))
    assert f.matrix().shape == (30, 7) and f.names[0] == "entropy"
    one = bridge_feature_arrays(a)
    assert one.names == ("entropy", "peak", "top_k_mass", "margin") and one.matrix().shape == (30, 4)
    for call in (lambda: bridge_feature_arrays(a[:, :10]), lambda: bridge_feature_arrays(a, b[:5]),
                 lambda: bridge_feature_arrays(a, top_k=0)):
        with pytest.raises(InputError):
            call()
