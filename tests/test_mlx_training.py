"""MLX training with the torch recipe (:mod:`decepticons.training.mlx_step`): loss-curve parity, files that load
and resume across backends, and the command line.

Parity tolerance: the same seed draws the same windows, and both backends start from the same weights and run
the same float32 objective, AdamW update and clipping; they differ only in float rounding (kernels, the order
of reductions, the MLX scan's reassociated recurrence), which the optimizer carries from step to step. Over
the short runs here the per-step losses agree to a few 1e-6 nats (measured); the tests allow 1e-4 nats
(1.4e-4 bits/byte) per step, a hundred times less than the loss moves in one step, so a difference in the
recipe (a schedule, a clip, a decay group, a window) fails them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

mx = pytest.importorskip("mlx.core")
torch = pytest.importorskip("torch")

from _cli_run import assert_user_error, run  # noqa: E402
from decepticons.causal_bank import CausalBankConfig  # noqa: E402
from decepticons.causal_bank.predictor import CausalBankPredictor  # noqa: E402
from decepticons.causal_bank.predictor_mlx import MLXCausalBankPredictor  # noqa: E402
from decepticons.errors import InputError  # noqa: E402
from decepticons.training import TrainConfig  # noqa: E402
from decepticons.training.loop import Trainer  # noqa: E402
from decepticons.training.mlx_step import MLXTrainer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LOSS_TOL = 1e-4  # nats per step (module docstring)
DATA = np.frombuffer((b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
                      b"age of foolishness, it was the epoch of belief, it was the epoch of incredulity. ") * 40,
                     dtype=np.uint8)
VALID = DATA[:1500]


def _config(**kw) -> TrainConfig:
    base = dict(batch_size=4, seq_len=32, lr=1e-2, max_steps=24, warmup_steps=5, seed=3, eval_every=12,
                eval_bytes=512, log_every=1, plot=False, checkpoint_seconds=None, weight_decay=0.05)
    return TrainConfig.from_dict({**base, **kw})


def _curve(result, key: str = "loss") -> np.ndarray:
    return np.array([r[key] for r in result.curve if key in r])


@pytest.mark.parametrize("kw", [dict(substrate_mode="gated_retention", state_dim=2, input_hidden=8, local_window=3),
                                dict(substrate_mode="learnable_decays", readout="routed", expert_top_k=1)],
                         ids=["gated-selective", "routed"])
def test_mlx_and_torch_loss_curves_agree(kw, tmp_path):
    cfg = CausalBankConfig.variant("tiny", **kw)
    results, preds = {}, {}
    for name, cls in (("torch", Trainer), ("mlx", MLXTrainer)):
        preds[name] = CausalBankPredictor(cfg, seed=1)
        results[name] = cls(preds[name], DATA, VALID, _config(), run_dir=tmp_path / name, progress=False).run()
    t, m = results["torch"], results["mlx"]
    assert t.steps == m.steps == 24 and t.tokens == m.tokens
    lt, lm = _curve(t), _curve(m)
    assert len(lt) == len(lm) == 24 and lt[-1] < lt[0] - 0.5  # it learns
    np.testing.assert_allclose(lm, lt, atol=LOSS_TOL, rtol=0)
    np.testing.assert_allclose(_curve(m, "lr"), _curve(t, "lr"), rtol=1e-12)
    np.testing.assert_allclose(_curve(m, "grad_norm"), _curve(t, "grad_norm"), rtol=1e-3)
    np.testing.assert_allclose(_curve(m, "valid_bpb"), _curve(t, "valid_bpb"), atol=1e-3)
    if kw.get("readout") == "routed":
        np.testing.assert_allclose(_curve(m, "extra_loss"), _curve(t, "extra_loss"), atol=1e-5)
    # metrics.jsonl holds the same records
    lines = {n: [json.loads(x) for x in (tmp_path / n / "metrics.jsonl").read_text().splitlines()] for n in results}
    assert [sorted(r) for r in lines["mlx"]] == [sorted(r) for r in lines["torch"]]
    # the final weights: the MLX run's model file loads in torch and predicts as the torch run's model
    path = tmp_path / "mlx.safetensors"
    preds["mlx"].save(path)
    back = CausalBankPredictor.load(path)
    assert back.train_window == 32 and back.train_mode == "detached"
    for k, v in preds["torch"].module.state_dict().items():
        np.testing.assert_allclose(back.module.state_dict()[k].numpy(), v.numpy(), atol=2e-3, err_msg=k)
    text = DATA[:400]
    np.testing.assert_allclose(MLXCausalBankPredictor.from_torch(back).log_probs(text), back.log_probs(text),
                               atol=1e-4)


def test_mlx_checkpoints_resume_on_either_backend(tmp_path):
    import shutil

    cfg = CausalBankConfig.variant("tiny", state_dim=2)
    tc = _config(max_steps=20, eval_every=0, checkpoint_every=10, eval_bytes=256)
    whole = MLXTrainer(CausalBankPredictor(cfg, seed=2), DATA, VALID, tc, run_dir=tmp_path / "a",
                       progress=False).run()
    assert (tmp_path / "a" / "checkpoints" / "step-00000010").is_dir()
    for name, cls in (("mlx", MLXTrainer), ("torch", Trainer)):
        run_dir = tmp_path / name
        shutil.copytree(tmp_path / "a", run_dir)
        (run_dir / "checkpoints" / "latest").write_text("step-00000010")  # as if interrupted after step 10
        res = cls(CausalBankPredictor(cfg, seed=2), DATA, VALID, tc, run_dir=run_dir, progress=False).run(resume=True)
        assert res.steps == 20
        tail = _curve(res)[-10:]
        if name == "mlx":  # the same backend replays the uninterrupted run exactly
            np.testing.assert_array_equal(tail, _curve(whole)[-10:])
        else:  # weights, Adam moments and the data position moved across: the curve goes on within rounding
            np.testing.assert_allclose(tail, _curve(whole)[-10:], atol=LOSS_TOL)


def test_mlx_carried_mode_matches_torch():
    cfg = CausalBankConfig.variant("tiny")
    tc = _config(mode="carried", max_steps=12, eval_every=0)
    lt = _curve(Trainer(CausalBankPredictor(cfg, seed=4), DATA, VALID, tc, progress=False).run())
    lm = _curve(MLXTrainer(CausalBankPredictor(cfg, seed=4), DATA, VALID, tc, progress=False).run())
    np.testing.assert_allclose(lm, lt, atol=LOSS_TOL)


def test_mlx_trainer_refusals():
    p = CausalBankPredictor(CausalBankConfig.variant("tiny"), seed=0)
    with pytest.raises(InputError, match="slow_every"):
        MLXTrainer(p, DATA, VALID, _config(slow_every=2, slow_params=("decay_logit",)))


def test_cli_train_backend_mlx(tmp_path):
    src = tmp_path / "train.txt"
    src.write_bytes(DATA.tobytes())
    save = tmp_path / "m.safetensors"
    args = ["train", "--backend", "mlx", "--model", "causal-bank", "--config", "num_modes=8",
            "--config", "num_oscillatory=2", "--config", "input_hidden=0", "--config", "readout_hidden=16",
            "--config", "train.eval_bytes=512", "--config", "train.plot=false", "--input", str(src),
            "--steps", "6", "--batch-size", "2", "--seq-len", "16", "--save", str(save), "--json",
            "--run-dir", str(tmp_path / "run")]
    code, out, err = run(args)
    assert code == 0, err
    d = json.loads(out)
    assert d["train"]["steps"] == 6 and d["saved"]["fingerprint"] == CausalBankPredictor.load(save).fingerprint()
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()
    assert_user_error(run(["train", "--backend", "mlx", "--model", "transformer", "--input", str(src),
                           "--steps", "2"]), "'transformer' has no MLX implementation")
    assert_user_error(run([*args[:-5], "--device", "cuda"]), "torch device")
