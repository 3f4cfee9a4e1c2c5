"""MythosPredictor: the kernel contract (log_probs / stream parity, causality), persistence, registry, trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from decepticons.errors import InputError
from plato_mythos.predictor import MythosPredictor

TINY = dict(d_model=32, num_heads=2, d_kv_latent=8, rope_dim=4, qk_nope_dim=12, expert_dim=16, ffn_dim=32,
            max_seq_len=16, max_loop_depth=3, num_rooms=2, curriculum_steps=4)
#: log expected-gain bias of the halting head that makes a random head halt some positions and not others
#: (log 0.0012 nats: near the price of the 2 loops left after loop 1, less the P1 margin)
HALT_BIAS = -6.7


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(seed: int = 0, halting: bool = True) -> MythosPredictor:
    p = MythosPredictor(seed=seed, **TINY)
    if halting:
        with torch.no_grad():
            p.module.act.head[2].bias.fill_(HALT_BIAS)
    return p


def data(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, n).astype(np.uint8)


def test_defaults_are_byte_level_and_registered():
    from decepticons.registry import available_models, model_class

    assert "mythos" in available_models()
    assert model_class("mythos") is MythosPredictor
    p = MythosPredictor()
    assert p.config.vocab_size == 256 and p.context_length == p.config.max_seq_len == 256
    assert not p.config.tile_metadata
    assert p.num_parameters() < 5_000_000
    with pytest.raises(InputError, match="vocab_size=256"):
        MythosPredictor(vocab_size=300)


@pytest.mark.parametrize("act", [True, False])
def test_stream_equals_log_probs_across_windows(act):
    p = tiny()
    p.eval_act = act
    x = data(45)  # several windows of 16 with stride 8
    lp = p.log_probs(x)
    assert lp.shape == (45, 256)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, atol=1e-9)
    st = p.stream()
    rows = []
    for b in x:
        rows.append(st.log_probs())
        st.push(int(b))
    np.testing.assert_allclose(np.exp(np.array(rows)), np.exp(lp), atol=1e-5)
    blocks = list(p.iter_log_probs(x))
    np.testing.assert_array_equal(np.concatenate(blocks), lp)
    if act:
        p.depth_trace = []
        p.log_probs(x)
        depth = np.concatenate(p.depth_trace)
        assert len(depth) == 45 and depth.min() < 3


def test_generate_slides_the_window_past_the_context():
    p = tiny()
    out = p.generate(b"ab", steps=10, greedy=True)
    assert len(out) == 12 and bytes(out[:2]) == b"ab"
    # 10 + 20 bytes > max_seq_len 16: the stream slides its window, as batched scoring does
    out = p.generate(b"x" * 10, steps=20, greedy=True)
    assert len(out) == 30
    lp = p.log_probs(np.concatenate([out, [0]]).astype(np.uint8))
    assert np.array_equal(out[10:], lp[10:30].argmax(1))
    with pytest.raises(InputError, match="context"):  # the raw module's cache is bounded by max_seq_len
        p.module.generate(torch.zeros(1, 17, dtype=torch.long), max_new_tokens=0)


def test_trains_with_the_kernel_trainer(tmp_path):
    from decepticons.training import TrainConfig, train

    p = tiny(halting=False)
    corpus = np.frombuffer(b"the cat sat on the mat. " * 60, dtype=np.uint8)
    before = p.score(corpus[:200]).bits_per_byte
    seen = []

    def cb(step, rec):
        seen.append(rec["extra_loss"])
        p.module.set_training_progress(step / 30)

    res = train(p, corpus, corpus[:200], TrainConfig(batch_size=4, seq_len=16, max_steps=30, lr=3e-3,
                                                      warmup_steps=2, eval_every=0, eval_bytes=200, plot=False,
                                                      checkpoint_seconds=None), run_dir=tmp_path, callback=cb)
    assert res.steps == 30 and all(e is not None for e in seen)
    assert p.score(corpus[:200]).bits_per_byte < before - 1.0
    assert p.module.scheduler.budget(p.module.training_progress()) == p.config.max_loop_depth


def test_calibrate_halting_picks_the_largest_cost_within_the_gap(tmp_path):
    p = tiny()
    x = data(120, seed=3)
    res = p.calibrate_halting(x, max_relative_gap=0.01, costs=(0.05, 0.002, 1e-6))
    rows = res["table"]
    assert [r["cost"] for r in rows] == sorted((r["cost"] for r in rows), reverse=True)
    assert all(r["gap"] > 0.01 for r in rows[:-1])  # every larger cost was rejected
    if res["chosen"] is not None:
        assert rows[-1]["gap"] <= 0.01 and res["chosen"] == rows[-1]["cost"]
    assert p.config.ponder_cost == p.module.act.ponder_cost == (res["chosen"] or 1e-6)
    p.eval_act = True
    bpb = -p.target_log_probs(x, progress=False).mean() / np.log(2)
    assert bpb == pytest.approx(rows[-1]["bpb"], rel=1e-9)  # the chosen cost is what scoring now uses
    p.save(tmp_path / "m.safetensors")
    assert MythosPredictor.load(tmp_path / "m.safetensors").module.act.ponder_cost == p.config.ponder_cost
    none = tiny().calibrate_halting(x, max_relative_gap=-1.0, costs=(0.01, 0.001))
    assert none["chosen"] is None and len(none["table"]) == 2
    with pytest.raises(InputError, match="non-empty"):
        p.calibrate_halting(b"")
