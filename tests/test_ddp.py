"""Data-parallel training: 2 CPU processes (gloo) match one process on the same global batch."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

from _torch_tiny import TinyGRUPredictor, corpus  # noqa: E402
from decepticons.training import TrainConfig, train  # noqa: E402

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with gloo is not available")

DATA = corpus(16_000)
VALID = corpus(2_000, seed=1)
MODES = ("detached", "carried")


def _config(mode: str) -> TrainConfig:
    return TrainConfig(batch_size=4, seq_len=24, lr=1e-2, warmup_steps=2, max_steps=5, eval_every=0,
                       eval_bytes=512, log_every=1, checkpoint_seconds=None, plot=False, mode=mode,
                       checkpoint_every=3)


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        for mode in MODES:
            p = TinyGRUPredictor(seed=7)
            losses: list[float] = []
            res = train(p, DATA, VALID, _config(mode), run_dir=f"{out_dir}/run-{mode}",
                        callback=lambda s, r, out=losses: out.append(r["loss"]))
            weights = {k: v.tolist() for k, v in p.module.state_dict().items()}
            with open(f"{out_dir}/{mode}-rank{rank}.json", "w") as f:
                json.dump({"losses": losses, "weights": weights, "world": res.world_size}, f)
    finally:
        dist.destroy_process_group()


def test_two_process_ddp_matches_single_process(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for mode in MODES:
        single = TinyGRUPredictor(seed=7)
        losses: list[float] = []
        train(single, DATA, VALID, _config(mode), callback=lambda s, r, out=losses: out.append(r["loss"]))
        r0 = json.loads((tmp_path / f"{mode}-rank0.json").read_text())
        r1 = json.loads((tmp_path / f"{mode}-rank1.json").read_text())
        assert r0["world"] == 2
        assert len(r0["losses"]) == 5
        assert r0["losses"] == pytest.approx(losses, abs=1e-5), mode
        assert r1["losses"] == r0["losses"]  # every rank logs the global mean
        for k, v in single.module.state_dict().items():
            np.testing.assert_allclose(np.array(r0["weights"][k]), v.numpy(), atol=1e-5, err_msg=f"{mode} {k}")
            assert r0["weights"][k] == r1["weights"][k], k  # replicas stay identical
        assert (tmp_path / f"run-{mode}" / "checkpoints" / "step-00000005" / "rank1.safetensors").exists()


def _budget_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])  # a fresh process's first optimizer imports
        # torch's compiler stack (seconds), which the budget would count
        p = TinyGRUPredictor(seed=7)
        lrs: list[float] = []
        cfg = TrainConfig(batch_size=4, seq_len=24, lr=1e-2, warmup_steps=2, budget_seconds=2.0, eval_every=0,
                          eval_bytes=512, log_every=1, checkpoint_seconds=None, plot=False)
        res = train(p, DATA, VALID, cfg, callback=lambda s, r, out=lrs: out.append(r["lr"]))
        weights = {k: v.tolist() for k, v in p.module.state_dict().items()}
        with open(f"{out_dir}/budget-rank{rank}.json", "w") as f:
            json.dump({"lrs": lrs, "weights": weights, "steps": res.steps, "stop": res.stop_reason}, f)
    finally:
        dist.destroy_process_group()


def test_a_time_budget_runs_one_schedule_on_every_rank(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_budget_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"budget-rank{r}.json").read_text()) for r in (0, 1))
    assert r0["stop"] == r1["stop"] == "budget" and r0["steps"] == r1["steps"] > 0
    assert r0["lrs"] == r1["lrs"]  # rank 0's clock drives every rank's learning rate
    assert r0["weights"] == r1["weights"]
