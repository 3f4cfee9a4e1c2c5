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
