"""The public surface of plato-mythos 0.1.0: the seed quick start verbatim and the compatibility points."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from plato_mythos import (
    CurriculumScheduler,
    DeadbandACT,
    PlatoMythos,
    PlatoMythosConfig,
    RecurrentBlock,
    RoomsAsExperts,
    ShellLoRA,
    TilesAsKV,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# the seed's quick start, verbatim (its README uses torch without importing it; we prepend the import)
QUICK_START = '''
from plato_mythos import PlatoMythos, PlatoMythosConfig

config = PlatoMythosConfig(vocab_size=32000, d_model=1024, max_loop_depth=8)
model = PlatoMythos(config)

# Forward pass with raw token tiles
tiles = torch.randint(0, config.vocab_size, (2, 16))
logits = model(tiles)  # (2, 16, vocab_size)

# Forward pass with PLATO-style metadata
tiles = {
    "token_ids": torch.randint(0, config.vocab_size, (1, 8)),
    "domain_id": torch.zeros(1, dtype=torch.long),
    "confidence": torch.ones(1) * 0.9,
}
rooms = {"domains": ["room_0"] * 8, "confidences": [0.9] * 8}
out = model(tiles, rooms)
'''


def test_seed_quick_start_verbatim():
    ns: dict = {}
    with torch.no_grad():
        exec("import torch\n" + QUICK_START, ns)
    assert ns["logits"].shape == (2, 16, 32000)
    assert isinstance(ns["out"], dict) and ns["out"]["token_ids"].shape == (1, 8, 32000)
    assert torch.isfinite(ns["logits"]).all() and torch.isfinite(ns["out"]["token_ids"]).all()


def test_config_fields_and_defaults():
    c = PlatoMythosConfig()
    expected = dict(vocab_size=32000, d_model=1024, num_heads=16, num_kv_heads=16, num_layers=4, max_loop_depth=8,
                    d_kv_latent=256, num_rooms=8, experts_per_room=2, top_k_experts=2, deadband_threshold=1e-3,
                    deadband_max_steps=12, lora_r=8, lora_alpha=16.0, lora_dropout=0.0, prelude_layers=2,
                    coda_layers=2, tie_weights=False, dropout=0.0, dtype="float32", device="cpu")
    for k, v in expected.items():
        assert getattr(c, k) == v, k
    assert c.room_tags == {i: (f"room_{i}", (0.0, 1.0)) for i in range(8)}
    assert c.head_dim == 64 and c.total_experts == 16
    assert PlatoMythosConfig(num_heads=8, num_kv_heads=2).num_kv_heads == 2
    with pytest.raises(ValueError):
        PlatoMythosConfig(num_rooms=2, experts_per_room=1, top_k_experts=3)
    # a JSON round trip of room_tags is normalised back
    d = dataclasses.asdict(PlatoMythosConfig(num_rooms=2))
    d["room_tags"] = {str(k): [v[0], list(v[1])] for k, v in d["room_tags"].items()}
    assert PlatoMythosConfig(**d).room_tags == {0: ("room_0", (0.0, 1.0)), 1: ("room_1", (0.0, 1.0))}


def test_modules_expose_the_names():
    import plato_mythos.config
    import plato_mythos.curriculum_loop
    import plato_mythos.deadband_act
    import plato_mythos.model
    import plato_mythos.rooms_as_experts
    import plato_mythos.shell_lora
    import plato_mythos.tiles_as_kv

    assert plato_mythos.config.PlatoMythosConfig is PlatoMythosConfig
    assert plato_mythos.model.PlatoMythos is PlatoMythos
    assert plato_mythos.tiles_as_kv.TilesAsKV is TilesAsKV
    assert plato_mythos.rooms_as_experts.RoomsAsExperts is RoomsAsExperts
    assert plato_mythos.curriculum_loop.CurriculumScheduler is CurriculumScheduler
    assert plato_mythos.curriculum_loop.RecurrentBlock is RecurrentBlock
    assert plato_mythos.deadband_act.DeadbandACT is DeadbandACT
    assert plato_mythos.shell_lora.ShellLoRA is ShellLoRA


def test_deadband_act_api():
    act = DeadbandACT()
    assert act.threshold == 1e-3 and act.max_steps == 12
    assert (DeadbandACT.P0, DeadbandACT.P1, DeadbandACT.P2) == (0.99, 0.8, 0.5)
    assert DeadbandACT.tier_threshold("P0") == 0.99
    s = torch.randn(2, 4, 8)
    act.reset(s)
    assert act.should_continue(s + 1.0, 0) is True  # still moving
    assert act.should_continue(s + 1.0 + 1e-7, 1) is False  # settled inside the deadband
    act.reset(s)
    assert act.should_continue(s * 3, 12) is False  # max_steps reached
    assert act.get_priority(None) == "P1"
    assert act.get_priority({"critical": True, "confidence": 0.1}) == "P0"
    assert act.get_priority({"confidence": 0.995}) == "P0"
    assert act.get_priority({"confidence": 0.99}) == "P0"
    assert act.get_priority({"confidence": 0.85}) == "P1"
    assert act.get_priority({"confidence": 0.8}) == "P1"
    assert act.get_priority({"confidence": 0.3}) == "P2"
    th = DeadbandACT.token_thresholds(torch.tensor([[0.995, 0.85, 0.2]]), (1, 3))
    assert th.tolist() == [[pytest.approx(0.99), pytest.approx(0.8), pytest.approx(0.5)]]


def test_shell_lora_distinct_at_init_and_mergeable():
    c = PlatoMythosConfig(vocab_size=16, d_model=32, num_heads=2, max_loop_depth=4, d_kv_latent=8, lora_r=4)
    lora = ShellLoRA(c)
    x = torch.randn(3, 5, 32)
    outs = [lora(x, s) for s in range(4)]
    assert all(o.shape == x.shape for o in outs)
    for i in range(4):
        assert outs[i].abs().max() > 0
        for j in range(i + 1, 4):
            assert (outs[i] - outs[j]).abs().max() > 1e-4
    with pytest.raises(IndexError):
        lora(x, 4)
    with pytest.raises(IndexError):
        lora(x, -1)
    W = torch.randn(32, 32)
    torch.testing.assert_close(x @ lora.merged(W, 2).T, x @ W.T + lora(x, 2), rtol=1e-5, atol=1e-5)


def test_curriculum_raises_budget_and_samples_deterministically():
    cs = CurriculumScheduler(8, start_depth=2, warmup=0.5, full_prob=0.5, bptt_depth=4)
    assert cs.budget(0.0) == 2 and cs.budget(0.25) == 5 and cs.budget(0.5) == 8 and cs.budget(1.0) == 8
    draws = [cs.sample(1.0, s) for s in range(200)]
    assert draws == [cs.sample(1.0, s) for s in range(200)]
    assert all(1 <= n <= 8 and g == min(n, 4) for n, g in draws)
    assert {n for n, _ in draws} == set(range(1, 9))
    assert all(n <= 2 for n, _ in (cs.sample(0.0, s) for s in range(50)))


@pytest.mark.parametrize("overrides,words", [
    (dict(d_model=0), ["d_model = 0", "1 <= d_model <= 65536"]),
    (dict(d_model=1000, num_heads=16), ["d_model = 1000", "num_heads = 16", "multiple of num_heads"]),
    (dict(dropout=1.0), ["dropout = 1.0", "0 <= dropout < 1"]),
    (dict(dtype="int8"), ["dtype = 'int8'", "'float32'"]),
    (dict(rope_dim=5), ["rope_dim = 5", "even"]),
    (dict(curriculum_start_depth=9), ["curriculum_start_depth = 9", "<= max_loop_depth (8)"]),
    (dict(halt_temperature=0.0), ["halt_temperature = 0.0", "halt_temperature > 0"]),
    (dict(ponder_cost=float("nan")), ["ponder_cost"]),
    (dict(room_tags={0: "room_0"}), ["room_tags"]),
])
def test_config_errors_name_field_value_and_range(overrides, words):
    from decepticons.errors import InputError

    with pytest.raises(InputError) as e:
        PlatoMythosConfig(**overrides)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_cli_refuses_a_bad_mythos_config_in_one_line(tmp_path, capsys):
    from decepticons.cli import main

    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat. " * 20)
    assert main(["train", "--model", "mythos", "--config", "d_model=7", "--input", str(corpus)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and "d_model = 7" in err[0] and "num_heads = 4" in err[0]
