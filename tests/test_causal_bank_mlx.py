"""MLX causal bank: numeric parity with the torch model on shared weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")
torch = pytest.importorskip("torch")

from decepticons.causal_bank import READOUT_KINDS, SUBSTRATE_MODES, CausalBankConfig  # noqa: E402
from decepticons.causal_bank import model_mlx as cbm  # noqa: E402
from decepticons.causal_bank.model_torch import CausalBankModel  # noqa: E402
from decepticons.causal_bank.predictor import CausalBankPredictor  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _torch_model(seed: int = 0, **kw) -> CausalBankModel:
    torch.manual_seed(seed)
    m = CausalBankModel(256, CausalBankConfig.variant("tiny", **kw))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.2 * torch.randn_like(p))  # non-zero gates, so the gated paths are exercised
    return m.eval()


CASES = [
    *[dict(substrate_mode=m, state_dim=s) for m, s in itertools.product(SUBSTRATE_MODES, [0, 2])],
    *[dict(substrate_mode="gated_retention", readout=r, readout_bands=b)
      for r, b in itertools.product(READOUT_KINDS, [1, 2])],
    dict(readout="routed", expert_top_k=2, state_dim=2),
    dict(substrate_mode="gated_retention", input_hidden=6, state_dim=2, local_window=3),
]


@pytest.mark.parametrize("kw", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_forward_parity_with_torch(kw):
    m = _torch_model(**kw)
    x = np.random.default_rng(0).integers(0, 256, size=(2, 24))
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
    mm = cbm.from_torch_tensors(m.config, m.state_dict())
    out = np.array(mm(mx.array(x)))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)
    # carried state and one-byte steps agree with the whole pass
    st = mm.init_state(2)
    a, st = mm.forward_with_state(mx.array(x[:, :9]), st)
    rows = [np.array(a)]
    for t in range(9, 24):
        logits, st = mm.step(mx.array(x[:, t]), st)
        rows.append(np.array(logits)[:, None])
    np.testing.assert_allclose(np.concatenate(rows, axis=1), ref, atol=1e-4, rtol=1e-4)


def test_model_file_loads_into_mlx(tmp_path):
    p = CausalBankPredictor(CausalBankConfig.variant("tiny", readout="gru", state_dim=2), seed=5)
    with torch.no_grad():
        for q in p.module.parameters():
            q.add_(0.1 * torch.randn_like(q))
    p.save(tmp_path / "m.safetensors")
    mm = cbm.load_model_file(tmp_path / "m.safetensors")
    data = b"parity between backends, byte by byte"
    np.testing.assert_allclose(cbm.log_probs(mm, data), p.log_probs(data), atol=1e-4)
    assert cbm.log_probs(mm, b"").shape == (0, 256)


def test_fresh_mlx_model_matches_fresh_torch_init():
    cfg = CausalBankConfig.variant("tiny", seed=3)
    mm = cbm.CausalBankModel(256, cfg)
    torch.manual_seed(3)
    ref = CausalBankModel(256, cfg).state_dict()
    assert set(mm.params) == set(ref)
    for k, v in ref.items():
        np.testing.assert_array_equal(np.array(mm.params[k]), v.numpy())


def test_windowed_model_file_scores_like_torch(tmp_path):
    p = CausalBankPredictor(CausalBankConfig.variant("tiny", state_dim=2), seed=6)
    with torch.no_grad():
        for q in p.module.parameters():
            q.add_(0.1 * torch.randn_like(q))
    p.train_window, p.train_mode = 16, "detached"
    p.save(tmp_path / "w.safetensors")
    mm = cbm.load_model_file(tmp_path / "w.safetensors")
    assert mm.window == 16
    data = b"windows of sixteen bytes, staggered by eight, read every row from a bounded history"
    np.testing.assert_allclose(cbm.log_probs(mm, data), p.log_probs(data), atol=1e-4)


# ---------------------------------------------------------------------------------------------- scans
from decepticons.causal_bank import scans_mlx as sm  # noqa: E402

FAST_SCANS = {"chunked": (sm.scan_chunked, sm.scan_complex_chunked),
              "parallel": (sm.scan_parallel, sm.scan_complex_parallel)}


@pytest.mark.parametrize("method", sorted(FAST_SCANS))
@pytest.mark.parametrize("T", [1, 2, 7, 64, 100])
@pytest.mark.parametrize("const", [True, False], ids=["constant-gate", "input-gate"])
def test_fast_scans_match_the_loop_forward_and_backward(method, T, const):
    rng = np.random.default_rng(T)
    B, N = 2, 5
    shape = (N,) if const else (B, T, N)
    a = mx.array(rng.uniform(0.0, 1.0, shape).astype(np.float32))
    b = mx.array(rng.normal(size=(B, T, N)).astype(np.float32))
    h0 = mx.array(rng.normal(size=(B, N)).astype(np.float32))
    real, cplx = FAST_SCANS[method]
    np.testing.assert_allclose(np.array(real(a, b, h0)), np.array(sm.scan_loop(a, b, h0)), atol=1e-5)
    w = mx.array(rng.normal(size=(B, T, N)).astype(np.float32))
    grads = [mx.grad(lambda a_, b_, h_, f=f: mx.sum(w * f(a_, b_, h_)), argnums=(0, 1, 2))(a, b, h0)
             for f in (real, sm.scan_loop)]
    for g, ref in zip(*grads):
        np.testing.assert_allclose(np.array(g), np.array(ref), atol=1e-4, rtol=1e-4)
    # complex: damped rotations |g| <= 1
    r = mx.array(rng.uniform(0.0, 1.0, shape).astype(np.float32))
    th = mx.array(rng.uniform(-3.0, 3.0, shape).astype(np.float32))
    args = (r * mx.cos(th), r * mx.sin(th), b, 0.5 * b, h0, -h0)
    for x, ref in zip(cplx(*args), sm.scan_complex_loop(*args)):
        np.testing.assert_allclose(np.array(x), np.array(ref), atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(substrate_mode="frozen", state_dim=2),
                                dict(substrate_mode="gated_retention", input_hidden=6, state_dim=2)],
                         ids=["tiny", "frozen-selective", "gated-input"])
def test_model_scan_methods_agree(kw):
    m = _torch_model(**kw)
    mm = cbm.from_torch_tensors(m.config, m.state_dict())
    x = mx.array(np.random.default_rng(1).integers(0, 256, size=(2, 70)))
    outs = {}
    for method in cbm.SCAN_METHODS:
        mm.scan_method = method
        outs[method] = np.array(mm(x))
    for method in cbm.SCAN_METHODS:
        np.testing.assert_allclose(outs[method], outs["loop"], atol=1e-4, rtol=1e-4)


def test_saturated_gate_scale_and_gradient_are_finite():
    """``sqrt(1 - a^2)`` and its gradient stay finite where the gate saturates (a = 1 or 0 in float32)."""
    logit = mx.array([-300.0, -20.0, 0.0, 20.0, 95.0, 300.0])
    a, scale = cbm._gate_and_scale(logit)
    grad = mx.grad(lambda x: cbm._gate_and_scale(x)[1].sum())(logit)
    x = np.array(logit, dtype=np.float64)
    ref = np.sqrt((1.0 + 1.0 / (1.0 + np.exp(-x))) / (1.0 + np.exp(x)))  # (1 + a)(1 - a), 1 - a = sigmoid(-x)
    np.testing.assert_allclose(np.array(scale), ref, rtol=1e-5, atol=1e-30)
    assert np.isfinite(np.array(grad)).all()
