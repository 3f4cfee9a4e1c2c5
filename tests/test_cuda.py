"""CUDA paths (skipped cleanly without a GPU): the causal bank and plato_mythos predict the same bytes on CUDA
as on the CPU (float32, within rounding), a few training steps under bf16 autocast stay finite and improve the
loss, causality holds on the device, and the bench measures tokens/s and MFU there."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():  # pragma: no cover - the CPU machines of the test suite
    pytest.skip("no CUDA device", allow_module_level=True)

from decepticons.bench import BenchConfig, run_model  # noqa: E402
from decepticons.data import embedded_corpus  # noqa: E402
from decepticons.registry import model_class  # noqa: E402

TINY = {"causal-bank": {"embed_dim": 16, "input_hidden": 64}, "mythos": {"d_model": 64, "max_seq_len": 256}}


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    train, valid = embedded_corpus()
    return train[:200_000], valid[:4096]


@pytest.mark.parametrize("kind", sorted(TINY))
def test_device_matches_cpu(kind: str, corpus: tuple[np.ndarray, np.ndarray]) -> None:
    cpu = model_class(kind)(seed=0, device="cpu", **TINY[kind])
    gpu = model_class(kind)(seed=0, device="cuda", **TINY[kind])  # the same seed: the same initial weights
    for name, value in gpu.state_tensors().items():
        np.testing.assert_array_equal(value, cpu.state_tensors()[name])
    x = corpus[1][:1024]
    np.testing.assert_allclose(gpu.log_probs(x), cpu.log_probs(x), atol=2e-3, rtol=0)


@pytest.mark.parametrize("kind", sorted(TINY))
def test_bf16_training_steps_are_finite_and_learn(kind: str, corpus: tuple[np.ndarray, np.ndarray]) -> None:
    m = model_class(kind)(seed=0, device="cuda", **TINY[kind])
    before = m.score(corpus[1], progress=False).bits_per_byte
    m.fit(corpus[0], progress=False, max_steps=60, batch_size=8, warmup_steps=5, eval_every=0, plot=False, amp=True)
    after = m.score(corpus[1], progress=False).bits_per_byte
    assert np.isfinite(after) and after < before - 0.5


@pytest.mark.parametrize("kind", sorted(TINY))
def test_causality_on_device(kind: str, corpus: tuple[np.ndarray, np.ndarray]) -> None:
    m = model_class(kind)(seed=0, device="cuda", **TINY[kind])
    x = corpus[1][:512].copy()
    y = x.copy()
    y[300:] = np.random.default_rng(0).integers(0, 256, len(y) - 300)
    np.testing.assert_allclose(m.log_probs(x)[:301], m.log_probs(y)[:301], atol=1e-5, rtol=0)


def test_bench_measures_tokens_and_mfu_on_device(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    cfg = BenchConfig(models=["causal-bank"], quick=True, steps=5, compress="none", seq_lens=[256, 1024],
                      configs={"causal-bank": {"device": "cuda"}})
    row = run_model("causal-bank", corpus[0][:50_000], corpus[1], cfg)
    assert [int(e[0]) for e in row.throughput] == [256, 1024]
    assert all(tps > 0 and 0.0 < mfu < float("inf") for _, tps, mfu in row.throughput)
