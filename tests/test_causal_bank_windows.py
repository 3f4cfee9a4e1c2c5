"""Bounded history: a causal bank trained on windows scores any length in staggered windows of that length
(batched and streaming alike), rows see a bounded history, and long inputs do not drift."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from decepticons.causal_bank import CausalBankConfig  # noqa: E402
from decepticons.causal_bank.predictor import CausalBankPredictor  # noqa: E402
from decepticons.cli import main  # noqa: E402
from decepticons.data import embedded_corpus  # noqa: E402
from decepticons.training import TrainConfig, train  # noqa: E402
from decepticons.windows import window_inputs, window_length, window_plan, window_start  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_window_plan_tiles_the_rows_and_depends_on_t_alone():
    for W in (1, 2, 7, 16):
        L = window_length(W)
        for n in (1, 5, L, L + 1, 3 * L + 3):
            plan = window_plan(n, W)
            rows = [r for _, lo, hi in plan for r in range(lo, hi)]
            assert rows == list(range(n))
            for s, lo, hi in plan:
                assert all(window_start(t, W) == s for t in range(lo, hi))  # the row's window starts at s
                assert s == 0 or all(L // 2 <= t - s < L for t in range(lo, hi))  # history in [H, L)
    x = np.arange(10, 20, dtype=np.uint8)
    np.testing.assert_array_equal(window_inputs(x, [0, 3], 4, 255), [[255, 10, 11, 12], [12, 13, 14, 15]])


def _bank(window: int, **kw) -> CausalBankPredictor:
    p = CausalBankPredictor(CausalBankConfig.variant("tiny", **kw), seed=3)
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():  # non-zero gates everywhere, so every part reacts to its inputs
        for q in p.module.parameters():
            q.add_(0.2 * torch.randn(q.shape, generator=gen))
    p.train_window, p.train_mode = window, "detached"
    return p


TEXT = np.frombuffer(b"To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
                     b"The slings and arrows of outrageous fortune", dtype=np.uint8)


@pytest.mark.parametrize("kw", [dict(), dict(substrate_mode="frozen", readout="gru", state_dim=2),
                                dict(readout="routed", readout_bands=2), dict(input_hidden=6, local_window=3)],
                         ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "tiny")
@pytest.mark.parametrize("window", [16, 7])
def test_stream_equals_windowed_log_probs(kw, window):
    p = _bank(window, **kw)
    assert p.window == window and p.context_length == window_length(window) and p.slides_window
    lp = p.log_probs(TEXT)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.concatenate(list(p.iter_log_probs(TEXT))), lp, atol=0)
    st = p.stream()
    rows = []
    for b in TEXT:
        rows.append(st.log_probs())
        st.push(int(b))
    assert np.abs(np.exp(np.array(rows)) - np.exp(lp)).max() < 1e-5
    np.testing.assert_allclose(np.array(rows), lp, atol=1e-4)
    # every prefix gets the same rows (rows depend on t alone)
    np.testing.assert_allclose(p.log_probs(TEXT[:50]), lp[:50], atol=1e-5)


def test_rows_see_exactly_their_window():
    W = 16
    p = _bank(W)
    lp = p.log_probs(TEXT)
    rng = np.random.default_rng(0)
    for t in (3, 20, 47, 90):
        s = window_start(t, W)
        future, past = TEXT.copy(), TEXT.copy()
        future[t:] = rng.integers(0, 256, len(TEXT) - t, dtype=np.uint8)
        np.testing.assert_allclose(p.log_probs(future)[:t + 1], lp[:t + 1], atol=1e-6)  # causal
        if s > 1:  # bytes before the window's first input x[s - 1] are never read
            past[:s - 1] = rng.integers(0, 256, s - 1, dtype=np.uint8)
            np.testing.assert_allclose(p.log_probs(past)[t], lp[t], atol=1e-6)
    # an untrained or carried-state bank reads the whole history
    q = _bank(None)
    assert q.window is None and q.context_length is None and not q.slides_window


def test_model_file_records_the_window(tmp_path, capsys):
    p = _bank(16)
    p.save(tmp_path / "b.safetensors")
    q = CausalBankPredictor.load(tmp_path / "b.safetensors")
    assert (q.train_window, q.train_mode, q.window) == (16, "detached", 16)
    np.testing.assert_array_equal(q.log_probs(TEXT), p.log_probs(TEXT))
    assert main(["info", "--load", str(tmp_path / "b.safetensors"), "--json"]) == 0
    extra = json.loads(capsys.readouterr().out)["extra"]
    assert extra == {"train_window": 16, "train_mode": "detached", "scoring_window": 16,
                     "prediction_facts": {"scoring_window": 16}}
    # the window is fingerprinted: the same weights scored another way are another model
    assert q.fingerprint() == p.fingerprint() != _bank(None).fingerprint()


#: stated margin: bits/byte of the last quarter may exceed the first quarter's by at most this much
DRIFT_MARGIN = 0.25


def test_long_input_does_not_drift():
    """A tiny bank with slow modes (half-lives up to 2048 bytes) trained briefly on 64-byte windows: over a
    100 KB play the last quarter scores like the first, and the same bytes scored from any offset that is a
    multiple of the stride give the same rows. Read over the whole history instead, its slow modes leave the
    range they were trained in and the score collapses."""
    train_text, play = embedded_corpus()
    p = CausalBankPredictor(CausalBankConfig.variant("tiny", half_life_max=2048.0), seed=0)
    cfg = TrainConfig(batch_size=16, seq_len=64, max_steps=100, lr=1e-2, warmup_steps=10, eval_every=0,
                      eval_bytes=4096, checkpoint_seconds=None, plot=False)
    res = train(p, train_text, play[:4096], cfg, progress=False)
    assert p.train_window == 64 and res.valid_bits_per_byte < 4.5
    x = np.asarray(play)
    bits = -p.target_log_probs(x) / np.log(2.0)
    q = len(x) // 4
    first, last = bits[:q].mean(), bits[-q:].mean()
    assert last <= first + DRIFT_MARGIN, (first, last)
    a = 32 * (len(x) // 2 // 32)  # an offset that is a multiple of the stride H = 32
    tail = -p.target_log_probs(x[a:]) / np.log(2.0)
    np.testing.assert_allclose(tail[64:], bits[a + 64:], atol=1e-6)
    p.train_window = None  # the unbounded reading the windows replace
    whole = -p.target_log_probs(x) / np.log(2.0)
    assert whole.mean() > bits.mean() + 0.3
