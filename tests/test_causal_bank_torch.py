"""Causal-bank torch model: causality in every mode, stream/batch parity, carried state, save/load."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from decepticons.causal_bank import READOUT_KINDS, SUBSTRATE_MODES, CausalBankConfig
from decepticons.causal_bank.model_torch import CausalBankModel
from decepticons.causal_bank.predictor import CausalBankPredictor
from decepticons.errors import ModelFileError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(**kw) -> CausalBankConfig:
    return CausalBankConfig.variant("tiny", **kw)


def _perturbed(model: CausalBankModel, seed: int = 0) -> CausalBankModel:
    """Random non-zero values everywhere (the gates start at zero, which would hide their effect)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return model.eval()


CASES = [
    *[dict(substrate_mode=m, state_dim=s) for m, s in itertools.product(SUBSTRATE_MODES, [0, 3])],
    *[dict(substrate_mode="gated_retention", readout=r, readout_bands=b)
      for r, b in itertools.product(READOUT_KINDS, [1, 3])],
    dict(substrate_mode="frozen", readout="routed", state_dim=2, readout_bands=2, expert_top_k=2),
    dict(substrate_mode="learned_recurrence", num_oscillatory=0, local_window=0),
    dict(substrate_mode="gated_retention", input_hidden=6, state_dim=2, local_window=3),
    dict(substrate_mode="frozen", input_hidden=5, local_window=1, readout="gru"),
    dict(substrate_mode="learnable_mixing", num_modes=0, local_window=1),
]


def _id(c):
    return "-".join(f"{k}={v}" for k, v in c.items())


@pytest.mark.parametrize("kw", CASES, ids=_id)
def test_causality(kw):
    torch.manual_seed(0)
    m = _perturbed(CausalBankModel(256, _tiny(**kw)))
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (2, 40), generator=gen)
    with torch.no_grad():
        base = m(x)
    for t in [0, 17, 38]:
        y = x.clone()
        y[:, t + 1:] = torch.randint(0, 256, (2, 39 - t), generator=gen)
        with torch.no_grad():
            out = m(y)
        assert float((out[:, :t + 1] - base[:, :t + 1]).abs().max()) <= 1e-5, f"position {t} saw the future"
        if t < 38:
            assert float((out[:, t + 1:] - base[:, t + 1:]).abs().max()) > 1e-4, "later positions must react"


@pytest.mark.parametrize("kw", CASES, ids=_id)
def test_step_and_carried_state_equal_batched(kw):
    torch.manual_seed(0)
    m = _perturbed(CausalBankModel(256, _tiny(**kw)), seed=2)
    x = torch.randint(0, 256, (3, 30), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = m(x)
        st = m.init_state(3)
        rows = []
        for t in range(30):
            logits, st = m.step(x[:, t], st)
            rows.append(logits)
        assert float((torch.stack(rows, 1) - full).abs().max()) < 1e-4
        a, st = m.forward_with_state(x[:, :11])
        b, _ = m.forward_with_state(x[:, 11:], st)
        assert float((torch.cat([a, b], 1) - full).abs().max()) < 1e-4


def test_gradients_reach_learned_parts_only():
    for mode in SUBSTRATE_MODES:
        m = CausalBankModel(256, _tiny(substrate_mode=mode, state_dim=2))
        m(torch.randint(0, 256, (2, 16))).square().mean().backward()
        names = {n for n, p in m.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        cfg = m.config
        assert ("decay_logit" in names) == cfg.learns_decays, mode
        assert ("in_proj" in names) == cfg.learns_mixing, mode
        assert ("gate_proj.bias" in names) == cfg.gated, mode
        assert {"embed.weight", "fc1.weight", "fc2.weight", "sel_log_rate"} <= names
        if not cfg.learns_decays:
            assert "decay_logit" in dict(m.named_buffers())


@pytest.mark.parametrize("bias", [-300.0, 95.0, 300.0])
def test_saturated_gates_keep_gradients_finite(bias):
    """A gate logit past float32's sigmoid range (a = 1 or 0 exactly) once made the whole gradient NaN."""
    m = CausalBankModel(256, _tiny(substrate_mode="gated_retention"))
    with torch.no_grad():
        m.gate_proj.bias.fill_(bias)
    x = torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(0))
    loss = torch.nn.functional.cross_entropy(m(x).reshape(-1, 256), x.reshape(-1))
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in m.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name


def test_input_scale_is_sqrt_one_minus_a_squared():
    from decepticons.causal_bank.model_torch import _input_scale

    logit = torch.linspace(-40.0, 40.0, 801, dtype=torch.float64)
    a, scale = _input_scale(logit)
    ref = torch.sqrt(torch.sigmoid(-logit) * (1.0 + a))  # 1 - a^2 = (1 - a)(1 + a), exact in float64 here
    torch.testing.assert_close(scale, ref, rtol=1e-12, atol=0.0)


def test_routed_balance_loss():
    m = CausalBankModel(256, _tiny(readout="routed", num_experts=4, balance_weight=0.1)).train()
    m(torch.randint(0, 256, (2, 16)))
    loss = m.extra_loss()
    assert loss is not None and loss.requires_grad and loss.item() >= 0.1 * 0.99  # >= w when perfectly balanced
    m.eval()
    m(torch.randint(0, 256, (2, 16)))
    assert m.extra_loss() is None
    plain = CausalBankModel(256, _tiny())
    plain(torch.randint(0, 256, (1, 4)))
    assert plain.extra_loss() is None


def test_small_training_run_learns():
    torch.manual_seed(0)
    m = CausalBankModel(256, _tiny(substrate_mode="gated_retention"))
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    data = torch.tensor(list(b"abcabdabcabd" * 6))[None]
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(m(data[:, :-1])[0], data[0, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


# ----------------------------------------------------------------------------- predictor


def _predictor(**kw) -> CausalBankPredictor:
    p = CausalBankPredictor(_tiny(**kw), seed=3)
    _perturbed(p.module, seed=4)
    return p


DATA = np.frombuffer(b"To be, or not to be, that is the question:\nWhether 'tis nobler in the mind", dtype=np.uint8)


def test_predictor_basics():
    p = CausalBankPredictor()
    assert p.name == "causal-bank" and p.context_length is None
    assert p.log_probs(b"").shape == (0, 256)
    assert p.describe()["substrate_mode"] == CausalBankConfig().substrate_mode
    with pytest.raises(ValueError):
        p.stream().push(300)
    from decepticons.registry import model_class

    assert model_class("causal-bank") is CausalBankPredictor


def test_save_load_roundtrip(tmp_path):
    p = _predictor(substrate_mode="learnable_decays", readout="gru", state_dim=2, readout_bands=2)
    fp = p.save(tmp_path / "m.safetensors")
    q = CausalBankPredictor.load(tmp_path / "m.safetensors")
    assert q.fingerprint() == fp == p.fingerprint()
    assert q.config == p.config
    np.testing.assert_array_equal(q.log_probs(DATA), p.log_probs(DATA))
    # a file from another config is refused clearly
    other = _predictor(substrate_mode="learnable_decays", readout="plain")
    tensors = other.state_tensors()
    with pytest.raises(ModelFileError, match="does not fit"):
        CausalBankPredictor.from_state(p.config_dict(), tensors, {})


@pytest.mark.parametrize("mode", ["detached", "carried"])
def test_fit_through_shared_trainer(mode):
    p = CausalBankPredictor(_tiny(readout="routed", state_dim=2), seed=1)
    before = p.fingerprint()
    data = np.frombuffer(b"the quick brown fox jumps over the lazy dog. " * 30, dtype=np.uint8)
    report = p.fit(data, max_steps=3, batch_size=2, seq_len=16, mode=mode, plot=False, eval_every=0, progress=False)
    assert np.isfinite(report.train_bits_per_byte) and p.fingerprint() != before
    assert np.isfinite(p.score(data[:100]).bits_per_byte)


def test_fit_starts_from_the_seed_and_partial_fit_continues():
    data = np.frombuffer(b"the quick brown fox jumps over the lazy dog. " * 30, dtype=np.uint8)
    kw = dict(max_steps=2, batch_size=2, seq_len=16, plot=False, eval_every=0, progress=False)
    once, twice = CausalBankPredictor(_tiny(), seed=1), CausalBankPredictor(_tiny(), seed=1)
    once.fit(data, **kw)
    twice.fit(data, **kw)
    twice.fit(data, **kw)
    assert once.fingerprint() == twice.fingerprint()  # a second fit starts again from the seed's weights
    more = CausalBankPredictor(_tiny(), seed=1)
    more.fit(data, **kw)
    more.partial_fit(data, **kw)
    assert more.fingerprint() != once.fingerprint()  # partial_fit keeps training the current weights
