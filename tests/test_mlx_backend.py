"""The MLX backend behind the predictor contract and the command line (``--backend mlx``).

Tolerance: MLX and torch compute the same float32 equations with different kernels (and the MLX scans
reassociate the recurrence), so log-probabilities agree to about 1e-5; the tests allow 1e-4 (nats per row).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")
torch = pytest.importorskip("torch")

from _cli_run import assert_user_error, run  # noqa: E402
from decepticons.backends import check_backend, load_model  # noqa: E402
from decepticons.causal_bank import SUBSTRATE_MODES, CausalBankConfig  # noqa: E402
from decepticons.causal_bank.predictor import CausalBankPredictor  # noqa: E402
from decepticons.causal_bank.predictor_mlx import MLXCausalBankPredictor  # noqa: E402
from decepticons.coding import compress, decompress  # noqa: E402
from decepticons.errors import CompressedFileError, InputError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOL = 1e-4
TEXT = b"To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. " * 2


def _torch_predictor(window: int | None = None, seed: int = 0, **kw) -> CausalBankPredictor:
    p = CausalBankPredictor(CausalBankConfig.variant("tiny", **kw), seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for q in p.module.parameters():
            q.add_(0.2 * torch.randn(q.shape, generator=g))
    if window is not None:
        p.train_window, p.train_mode = window, "detached"
    return p


def _saved(tmp_path, window: int | None = 16, **kw) -> str:
    path = str(tmp_path / "bank.safetensors")
    _torch_predictor(window, **kw).save(path)
    return path


@pytest.mark.parametrize("window", [None, 16], ids=["whole-history", "windowed"])
@pytest.mark.parametrize("mode", SUBSTRATE_MODES)
def test_mlx_predictor_gives_torch_log_probs(mode, window):
    tp = _torch_predictor(window, substrate_mode=mode, state_dim=2)
    mp = MLXCausalBankPredictor.from_torch(tp)
    ref = tp.log_probs(TEXT)
    lp = mp.log_probs(TEXT)
    assert lp.shape == ref.shape == (len(TEXT), 256)
    np.testing.assert_allclose(lp, ref, atol=TOL)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-9)
    st = mp.stream()  # the step-by-step path agrees with the batched one
    rows = []
    for b in TEXT[:60]:
        rows.append(st.log_probs())
        st.push(b)
    np.testing.assert_allclose(np.array(rows), lp[:60], atol=TOL)
    assert mp.fingerprint() == tp.fingerprint()  # the same model, whatever computes it


@pytest.mark.parametrize("window", [None, 16], ids=["whole-history", "windowed"])
def test_mlx_predictor_is_causal(window):
    mp = MLXCausalBankPredictor.from_torch(_torch_predictor(window, substrate_mode="gated_retention",
                                                            state_dim=2, readout="gru"))
    x = np.frombuffer(TEXT[:80], dtype=np.uint8).copy()
    base = mp.log_probs(x)
    for t in (0, 17, 50):
        y = x.copy()
        y[t:] = (y[t:].astype(np.int64) + 101) % 256  # change byte t and everything after it
        np.testing.assert_array_equal(mp.log_probs(y)[:t + 1], base[:t + 1])  # rows 0..t see only x_<=t - 1
        assert not np.allclose(mp.log_probs(y)[t + 1:], base[t + 1:])


def test_mlx_model_file_round_trip_and_backend_loader(tmp_path):
    path = _saved(tmp_path, readout="routed", expert_top_k=2)
    mp = load_model(path, "mlx")
    assert isinstance(mp, MLXCausalBankPredictor) and mp.window == 16
    again = tmp_path / "again.safetensors"
    mp.save(again)  # what MLX writes, torch reads: same tensors, same fingerprint
    tp = CausalBankPredictor.load(again)
    assert tp.fingerprint() == mp.fingerprint() == load_model(path).fingerprint()
    np.testing.assert_allclose(mp.log_probs(TEXT), tp.log_probs(TEXT), atol=TOL)


def test_backend_refusals(tmp_path, monkeypatch):
    from decepticons.runtime.checkpoints import save_model_file

    other = tmp_path / "other.safetensors"  # a model file of a kind without an MLX implementation
    save_model_file(other, "transformer", {}, {"w": np.zeros(2, dtype=np.float32)}, {})
    with pytest.raises(InputError, match="'transformer' has no MLX implementation"):
        load_model(other, "mlx")
    with pytest.raises(InputError, match="unknown backend"):
        check_backend("jax")
    import decepticons.backends as backends

    monkeypatch.setattr(backends, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="needs the mlx package"):
        load_model(other, "mlx")


def test_compressed_files_decode_only_with_their_backend():
    tp = _torch_predictor(16)
    mp = MLXCausalBankPredictor.from_torch(tp)
    data = TEXT[:120]
    blob_m, blob_t = compress(mp, data), compress(tp, data)
    assert blob_m[5] == 1 and blob_t[5] == 0  # the header's flags record the backend
    assert decompress(mp, blob_m).tobytes() == data
    assert decompress(tp, blob_t).tobytes() == data
    with pytest.raises(CompressedFileError, match="written by the mlx backend.*--backend mlx"):
        decompress(tp, blob_m)
    with pytest.raises(CompressedFileError, match="written by the torch backend.*--backend torch"):
        decompress(mp, blob_t)
    assert decompress(mp, compress(mp, b"")).size == 0


def test_cli_backend_mlx(tmp_path):
    path = _saved(tmp_path)
    src = tmp_path / "in.txt"
    src.write_bytes(TEXT)
    scores = {}
    for backend in ("torch", "mlx"):
        code, out, err = run(["score", "--backend", backend, "--load", path, "--input", str(src), "--json"])
        assert code == 0, err
        scores[backend] = json.loads(out)["score"]["bits_per_byte"]
    assert abs(scores["mlx"] - scores["torch"]) < TOL
    z = tmp_path / "in.dcpz"
    back = tmp_path / "back.txt"
    assert run(["compress", "--backend", "mlx", "--load", path, "--input", str(src), "--output", str(z)])[0] == 0
    assert_user_error(run(["decompress", "--load", path, "--input", str(z), "--output", str(back)]),
                      "written by the mlx backend")
    assert run(["decompress", "--backend", "mlx", "--load", path, "--input", str(z), "--output", str(back)])[0] == 0
    assert back.read_bytes() == TEXT
    code, out, err = run(["generate", "--backend", "mlx", "--load", path, "--steps", "20", "--prompt", "To",
                          "--seed", "3", "--json"])
    assert code == 0, err
    assert json.loads(out)["sample"].startswith("To")
    assert_user_error(run(["score", "--backend", "tpu", "--load", path, "--input", str(src)]), "")


def test_fit_mlx_and_the_bench_backend():
    from decepticons.bench import BenchConfig
    from decepticons.bench.runner import run_model
    from decepticons.training.mlx_step import fit_mlx

    data = np.frombuffer(TEXT * 20, dtype=np.uint8)
    tiny = dict(CausalBankConfig.variant("tiny").__dict__)
    mp = MLXCausalBankPredictor(CausalBankConfig(**tiny), seed=1)
    kw = dict(max_steps=3, batch_size=2, seq_len=16, eval_every=0, eval_bytes=256, plot=False)
    report = fit_mlx(mp, data, **kw)
    assert report.details["steps"] == 3 and mp.train_window == 16
    first = mp.state_tensors()
    fit_mlx(mp, data, fresh=False, **kw)  # continues from the fitted weights
    assert any(not np.array_equal(mp.state_tensors()[k], v) for k, v in first.items())
    again = MLXCausalBankPredictor(CausalBankConfig(**tiny), seed=1)
    fit_mlx(again, data, **kw)  # a fresh fit starts from the seed's weights: the same as the first fit
    for k, v in first.items():
        np.testing.assert_array_equal(again.state_tensors()[k], v)
    cfg = BenchConfig(models=["causal-bank"], quick=True, steps=2, compress="none", backend="mlx",
                      configs={"causal-bank": {k: v for k, v in tiny.items() if k != "seed"}})
    row = run_model("causal-bank", data[:3000], data[3000:3600], cfg)
    assert row.note == "mlx, 2 steps, tiny" and 0 < row.adaptive_bpb < 9
