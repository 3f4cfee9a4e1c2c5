"""PlatoMythos: causality with ACT and MoE on, cached == uncached decoding, gradients, stability, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from decepticons.errors import InputError
from plato_mythos import DeadbandACT, MythosCache, PlatoMythos, PlatoMythosConfig, RoomsAsExperts, TilesAsKV

pytestmark = pytest.mark.usefixtures("one_torch_thread")


#: log expected-gain bias of the halting head that makes a random head halt some positions and not others
HALT_BIAS = -5.8  # log(0.003 nats): near the price of the loops left after loop 1


def tiny(**kw) -> PlatoMythosConfig:
    base = dict(vocab_size=37, d_model=32, num_heads=2, num_layers=2, max_loop_depth=4, d_kv_latent=8, rope_dim=4,
                num_rooms=2, experts_per_room=2, top_k_experts=2, expert_dim=16, ffn_dim=32, prelude_layers=1,
                coda_layers=1, lora_r=4, max_seq_len=64, deadband_max_steps=8, curriculum_steps=10)
    base.update(kw)
    return PlatoMythosConfig(**base)


def model(seed: int = 0, **kw) -> PlatoMythos:
    torch.manual_seed(seed)
    return PlatoMythos(tiny(**kw))


def force_halting(m: PlatoMythos, bias: float = HALT_BIAS) -> None:
    """Make some positions halt early (a random head expects a large gain everywhere and halts nothing)."""
    with torch.no_grad():
        m.act.head[2].bias.fill_(bias)


def meta(B: int, T: int, g: torch.Generator) -> tuple[dict, dict]:
    tiles = {"domain_id": torch.randint(0, 2, (B, T), generator=g), "confidence": torch.rand(B, T, generator=g)}
    rooms = {"domains": [f"room_{i % 2}" for i in range(T)],
             "confidences": torch.rand(T, generator=g).tolist()}
    return tiles, rooms


#: shapes the tests run on: ``unfused`` keeps query/key wider than values (attention takes the unfused
#: kernel), ``fused`` has ``qk_nope_dim + rope_dim == head_dim`` (the fused causal kernel, as the byte
#: defaults) and no shared expert
VARIANTS = {"unfused": {}, "fused": dict(qk_nope_dim=12, num_shared_experts=0)}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("with_meta", [False, True])
def test_causality_with_act_and_moe(training, with_meta, variant):
    m = model(**VARIANTS[variant])
    force_halting(m)
    m.train(training)
    g = torch.Generator().manual_seed(1)
    T, t = 24, 11
    x = torch.randint(0, 37, (1, T), generator=g)
    y = x.clone()
    y[0, t + 1:] = torch.randint(0, 37, (T - t - 1,), generator=g)
    ids = torch.cat([x, y])  # one forward: the same depth draw and balancer state for both rows
    if with_meta:
        tiles, rooms = meta(1, T, g)
        tiles = {"token_ids": ids, "domain_id": tiles["domain_id"].expand(2, T),
                 "confidence": tiles["confidence"].expand(2, T)}
        out = m(tiles, rooms)["token_ids"]
    else:
        out = m(ids)
    assert (out[0, t + 1:] - out[1, t + 1:]).abs().max() > 1e-4  # the perturbation is visible later
    assert (out[0, :t + 1] - out[1, :t + 1]).abs().max() < 1e-5
    if not training:
        assert m.last_depth.min() < 4 and m.last_depth.max() == 4  # ACT really decided per position
    else:
        assert m.extra_loss() is not None


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cached_decoding_equals_uncached_recomputation(variant):
    m = model(**VARIANTS[variant]).eval()
    force_halting(m)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 37, (2, 20), generator=g)
    full = m(ids)
    full_depth = m.last_depth.clone()
    assert full_depth.min() < 4 < full_depth.max() + 1
    cache = m.new_cache(2, 20)
    parts = [m.step(ids[:, :7], cache)]  # prefill a chunk, then one position at a time
    depths = [m.last_depth]
    for i in range(7, 20):
        parts.append(m.step(ids[:, i:i + 1], cache))
        depths.append(m.last_depth)
    torch.testing.assert_close(torch.cat(parts, 1), full, rtol=1e-4, atol=1e-4)
    assert torch.equal(torch.cat(depths, 1), full_depth)
    assert cache.length == 20 and isinstance(cache, MythosCache)
    # generation: same tokens with and without the cache (greedy), and temperature 0 works
    a = m.generate(ids[:, :5], max_new_tokens=10, temperature=0)
    b = m.generate(ids[:, :5], max_new_tokens=10, temperature=0, use_cache=False)
    assert torch.equal(a, b) and a.shape == (2, 15)
    s1 = m.generate(ids[:, :5], max_new_tokens=6, temperature=0.8, top_k=5, seed=3)
    s2 = m.generate(ids[:, :5], max_new_tokens=6, temperature=0.8, top_k=5, seed=3, use_cache=False)
    assert torch.equal(s1, s2)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("training", [False, True])
def test_latent_attention_matches_its_slow_reference(variant, training):
    """Fused or unfused kernel, the attention equals explicit scores + causal mask + softmax, and so do
    its gradients."""
    cfg = tiny(**VARIANTS[variant])
    torch.manual_seed(4)
    att = TilesAsKV(cfg).train(training)
    from plato_mythos.rotary import Rotary

    cos, sin = Rotary(cfg.rope_dim, cfg.max_seq_len).cos_sin(0, 19)
    x = torch.randn(3, 19, cfg.d_model, requires_grad=True)
    fast, _ = att(x, cos, sin)
    slow = att.reference(x, cos, sin)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(fast)
    (gf,) = torch.autograd.grad(fast, x, g)
    (gs,) = torch.autograd.grad(slow, x, g)
    torch.testing.assert_close(gf, gs, rtol=1e-4, atol=1e-5)


def test_qk_nope_dim_shapes_the_projections():
    a = TilesAsKV(tiny(qk_nope_dim=12))
    assert a.wq.out_features == 2 * (12 + 4) and a.w_uk.out_features == 2 * 12 and a.w_uv.out_features == 2 * 16
    assert tiny().qk_nope_dim == 16  # default: the head width
    with pytest.raises(ValueError, match="qk_nope_dim"):
        tiny(qk_nope_dim=0)


def test_more_loops_at_inference_and_merged_shells():
    m = model().eval()
    ids = torch.randint(0, 37, (1, 12))
    ref = m(ids, n_loops=8, act=False)  # beyond max_loop_depth: the last shell is reused
    assert torch.isfinite(ref).all()
    cache = m.new_cache(1, 12, n_loops=8)
    torch.testing.assert_close(m.step(ids, cache, act=False), ref, rtol=1e-4, atol=1e-4)
    base = m(ids, act=False)
    m.merge_shells()
    torch.testing.assert_close(m(ids, act=False), base, rtol=1e-4, atol=1e-4)
    m.train()
    assert m.recurrent._merged is None


def _grads_all_nonzero(m: PlatoMythos) -> list[str]:
    bad = [n for n, p in m.named_parameters() if p.grad is None or float(p.grad.abs().sum()) == 0]
    for i, layer in enumerate(m.recurrent.layers):
        for e, ex in enumerate(layer.ffn.experts):
            if ex.w13.weight.grad is None or float(ex.w13.weight.grad.abs().sum()) == 0:
                bad.append(f"layer {i} expert {e}")
    return bad


def test_gradient_reaches_every_parameter_in_a_training_step():
    m = model(curriculum=False)  # a full-depth step uses every shell
    m.train()
    g = torch.Generator().manual_seed(3)
    tiles, rooms = meta(4, 32, g)
    ids = torch.randint(0, 37, (4, 32), generator=g)
    out = m({"token_ids": ids, **tiles}, rooms)["token_ids"]
    loss = torch.nn.functional.cross_entropy(out[:, :-1].reshape(-1, 37), ids[:, 1:].reshape(-1))
    extra = m.extra_loss()
    assert extra is not None and extra.requires_grad
    (loss + extra).backward()
    assert _grads_all_nonzero(m) == []


def test_random_depth_training_trains_every_parameter_over_steps():
    m = model(bptt_depth=2, curriculum_steps=4, tile_metadata=False)
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    m.train()
    seen = set()
    loops = set()
    for _ in range(12):
        ids = torch.randint(0, 37, (4, 24))
        out = m(ids)
        loops.add(m.last_loops)
        loss = torch.nn.functional.cross_entropy(out[:, :-1].reshape(-1, 37), ids[:, 1:].reshape(-1))
        (loss + m.extra_loss()).backward()
        seen |= {n for n, p in m.named_parameters() if p.grad is not None and float(p.grad.abs().sum()) > 0}
        opt.step()
        m.after_optimizer_step()
        opt.zero_grad()
    assert len(loops) > 1
    assert seen == {n for n, _ in m.named_parameters()}
    assert int(m.train_steps) == 12


@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_stable_injection_keeps_the_state_bounded(scale):
    m = model().eval()
    with torch.no_grad():  # scale 4: stress the block with large weights
        for p in m.recurrent.parameters():
            if p.dim() >= 2:
                p.mul_(scale)
    ids = torch.randint(0, 37, (2, 16))
    L = m.config.max_loop_depth
    with torch.no_grad():
        chunk = m.new_chunk(ids)
        e = m.prelude(m.embed_tiles(ids), chunk)
        norms = [float(state.h.norm(dim=-1).max()) for state in m.iterate(e, chunk, 4 * L)]
    assert all(torch.isfinite(torch.tensor(norms)))
    # no growth with depth: the last loops stay within the range reached in the first 2 L loops
    assert max(norms[3 * L:]) <= 1.05 * max(norms[:2 * L])
    assert torch.isfinite(m(ids, n_loops=4 * L, act=False)).all()


def test_bad_input_raises_clear_errors():
    m = model().eval()
    with pytest.raises(InputError, match="integer"):
        m(torch.rand(1, 4))
    with pytest.raises(InputError, match="outside"):
        m(torch.tensor([[1, 2, 37]]))
    with pytest.raises(InputError, match="outside"):
        m(torch.tensor([[-1, 2]]))
    with pytest.raises(InputError, match="empty"):
        m(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(InputError, match="shape"):
        m(torch.zeros(4, dtype=torch.long))
    with pytest.raises(InputError, match="exceeds the context"):
        m(torch.zeros(1, 65, dtype=torch.long))
    ids = torch.zeros(1, 8, dtype=torch.long)
    with pytest.raises(InputError, match="8 tokens"):
        m({"token_ids": ids}, {"domains": ["room_0"] * 7, "confidences": [0.5] * 8})
    with pytest.raises(InputError, match="8 tokens"):
        m({"token_ids": ids}, {"domains": ["room_0"] * 8, "confidences": [0.5] * 9})
    with pytest.raises(InputError, match="domain_id has shape"):
        m({"token_ids": ids, "domain_id": torch.zeros(3, dtype=torch.long)})
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        m({"token_ids": ids, "confidence": torch.full((1,), 1.5)})
    with pytest.raises(InputError, match="context"):
        m.generate(ids, max_new_tokens=60)
    with pytest.raises(InputError, match="tile_metadata"):
        model(tile_metadata=False)({"token_ids": ids, "domain_id": 0})
    assert issubclass(InputError, ValueError)


def test_room_routing_is_per_token_and_domain_biased():
    c = tiny()
    torch.manual_seed(0)
    moe = RoomsAsExperts(c).eval()
    x = torch.randn(10, 32)
    _, idx, w = moe.route(x)
    x2 = x.clone()
    x2[5:] = torch.randn(5, 32)
    _, idx2, w2 = moe.route(x2)
    assert torch.equal(idx[:5], idx2[:5]) and torch.equal(w[:5], w2[:5])
    torch.testing.assert_close(moe(x), moe.reference(x), rtol=1e-5, atol=1e-5)
    bias = torch.zeros(10, 2)
    bias[:, 1] = 20.0  # a strong room-1 domain bias routes every token to room 1's experts (2, 3)
    _, idx_b, _ = moe.route(x, bias)
    assert set(idx_b.flatten().tolist()) == {2, 3}
    # the balancer pushes the bias towards under-used experts
    moe.train()
    moe(x, bias)
    moe.apply_balancer(moe.last_load)
    assert (moe.balance_bias[:2] > moe.balance_bias[2:]).all()


@pytest.mark.parametrize("shared,k,n", [(1, 2, 10), (0, 2, 33), (0, 1, 7), (2, 3, 1)])
def test_rooms_as_experts_dispatch_matches_reference_with_gradients(shared, k, n):
    """The sorted dispatch (split per expert, one scatter) equals every-expert-on-every-token, values and
    gradients; few tokens leave some experts without any."""
    c = tiny(num_shared_experts=shared, top_k_experts=k)
    torch.manual_seed(1)
    moe = RoomsAsExperts(c).train()
    x = torch.randn(n, 32, requires_grad=True)
    fast, slow = moe(x), moe.reference(x)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the one-position decoding path
        torch.testing.assert_close(moe(x[-1:]), moe.reference(x[-1:]), rtol=1e-5, atol=1e-5)
    g = torch.randn_like(fast)
    params = [x] + list(moe.parameters())
    gf = torch.autograd.grad(fast, params, g, allow_unused=True)
    gs = torch.autograd.grad(slow, params, g, allow_unused=True)
    for a, b in zip(gf, gs):
        a = torch.zeros_like(b) if a is None and b is not None else a
        b = torch.zeros_like(a) if b is None and a is not None else b
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_latent_cache_is_small_and_absorbed_decode_matches():
    c = tiny()
    torch.manual_seed(0)
    attn = TilesAsKV(c).eval()
    assert TilesAsKV.cache_bytes_per_token(c) == (8 + 4) * 4 < 2 * 32 * 4
    x = torch.randn(1, 9, 32)
    from plato_mythos.rotary import Rotary
    from plato_mythos.tiles_as_kv import LatentSlot

    rope = Rotary(4, 64)
    full, _ = attn(x, *rope.cos_sin(0, 9))
    slot = LatentSlot(1, 9, 8, 4, torch.float32, torch.device("cpu"))
    outs = [attn(x[:, i:i + 1], *rope.cos_sin(i, 1), slot=slot)[0] for i in range(9)]
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=1e-5, atol=1e-5)


def test_remaining_gain_and_halting_logit():
    losses = torch.tensor([[1.0, 0.5], [0.8, 0.5], [0.7, 0.6]])  # 3 loops x 2 positions
    torch.testing.assert_close(DeadbandACT.remaining_gain(losses), torch.tensor([[0.3, -0.1], [0.1, -0.1]]))
    with pytest.raises(ValueError, match="at least 2 loops"):
        DeadbandACT.remaining_gain(losses[:1])
    act = DeadbandACT(d_model=4, max_loop_depth=4, ponder_cost=0.01, temperature=0.005)
    gain = torch.tensor([0.0, 0.03, 0.1])
    # 3 loops left after loop 1 cost 0.03 nats: no gain halts, a gain equal to the cost is a coin flip
    torch.testing.assert_close(act.gain_to_logit(gain, 1), torch.tensor([6.0, 0.0, -14.0]))
    torch.testing.assert_close(act.gain_to_logit(gain, 4), torch.tensor([2.0, -4.0, -18.0]))  # at least 1 loop
    h, delta = torch.randn(2, 3, 4), torch.rand(2, 3) + 0.1
    torch.testing.assert_close(act.halt_logits(h, delta, 2), act.gain_to_logit(act.expected_gain(h, delta, 2), 2))
    assert not act.halt_now(h, delta, 1, torch.full((2, 3), 0.8)).any()  # untrained: expects a large gain


def test_remaining_divergence_is_kl_to_the_full_depth_prediction():
    p = torch.tensor([[[0.5, 0.5], [0.9, 0.1]], [[0.8, 0.2], [0.9, 0.1]], [[0.8, 0.2], [0.9, 0.1]]])  # 3 loops, 2 pos
    g = DeadbandACT.remaining_divergence(p.log())
    assert g.shape == (2, 2)
    kl = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)
    torch.testing.assert_close(g, torch.tensor([[kl, 0.0], [0.0, 0.0]]), rtol=1e-5, atol=1e-6)
    far = torch.tensor([[[1e-9, 1.0]], [[1.0, 1e-9]]]).log()
    assert float(DeadbandACT.remaining_divergence(far)) == 1.0  # clipped
    with pytest.raises(ValueError, match="at least 2 loops"):
        DeadbandACT.remaining_divergence(p[:1].log())


def test_halting_head_learns_to_halt_positions_that_gain_nothing():
    """Half the positions gain nothing from loops 2..4, half gain 0.3 nats per loop; every loss carries noise
    (0.3 nats) larger than the price of the remaining loops. The regressed gain still halts exactly the
    first half after loop 1, where labels ``1[l_1 - min_j l_j <= price]`` would be close to coin flips."""
    torch.manual_seed(0)
    L, n, D = 4, 512, 8
    act = DeadbandACT(d_model=D, hidden=16, max_loop_depth=L, ponder_cost=0.05, temperature=0.01)
    opt = torch.optim.Adam(act.parameters(), lr=1e-2)

    def batch():
        easy = torch.rand(n) < 0.5
        h0 = torch.randn(n, D)
        h0[:, 0] = torch.where(easy, 2.0, -2.0)
        states = [h0 * (1 + 0.1 * i) + 0.05 * torch.randn(n, D) for i in range(L + 1)]
        loops = torch.arange(1, L + 1, dtype=torch.float32)[:, None]
        losses = torch.where(easy, torch.full((L, n), 0.2), 2.0 - 0.3 * loops) + 0.3 * torch.randn(L, n)
        return easy, states, losses

    for _ in range(300):
        _, states, losses = batch()
        pred = torch.stack([act.expected_gain(states[i], DeadbandACT.relative_change(states[i], states[i - 1]), i)
                            for i in range(1, L)])
        loss = torch.nn.functional.mse_loss(pred, DeadbandACT.remaining_gain(losses))
        opt.zero_grad()
        loss.backward()
        opt.step()
    easy, states, losses = batch()
    with torch.no_grad():
        halt = act.halt_now(states[1], DeadbandACT.relative_change(states[1], states[0]), 1,
                            DeadbandACT.token_thresholds(None, (n,)))
    assert halt[easy].float().mean() > 0.95
    assert halt[~easy].float().mean() < 0.02
    future_best = torch.flip(torch.cummin(torch.flip(losses, [0]), dim=0).values, [0])
    coin = ((losses - future_best) <= 0.05 * (L - 1)).float()[0]
    assert coin[easy].mean() < 0.5


def test_curriculum_off_trains_every_loop():
    m = model(curriculum=False, bptt_depth=3).train()
    ids = torch.randint(0, 37, (2, 10))
    for _ in range(3):
        m(ids)
        assert m.last_loops == 4
    m = model(curriculum_start_depth=1).train()
    m(ids)
    assert m.last_loops <= 2  # the curriculum starts low


def _records(m: PlatoMythos) -> dict[str, torch.Tensor]:
    """Every buffer, plus what the last forward recorded."""
    out = {k: v.clone() for k, v in m.named_buffers()}
    for j, load in enumerate(m.last_expert_loads or []):
        out[f"load{j}"] = load.clone()
    out["depth"] = m.last_depth.clone()
    return out


@pytest.mark.parametrize("kw", [{}, dict(curriculum=False, dropout=0.1, lora_dropout=0.1)])
def test_a_training_forward_has_no_side_effects(kw):
    """Two train-mode forwards from the same seed give identical outputs and leave the same state."""
    m = model(**kw).train()
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, 37, (4, 24), generator=g)
    runs = []
    for _ in range(2):
        torch.manual_seed(11)
        out = m(ids)
        runs.append((out.detach(), m.extra_loss().detach(), m.last_loops, _records(m)))
    (a, ea, la, ra), (b, eb, lb, rb) = runs
    assert torch.equal(a, b) and torch.equal(ea, eb) and la == lb
    assert ra.keys() == rb.keys() and all(torch.equal(ra[k], rb[k]) for k in ra)
    assert int(m.train_steps) == 0 and all(float(moe.balance_bias.abs().sum()) == 0 for moe in m.moe_layers())


def test_after_optimizer_step_moves_the_balancer_and_the_step_counter():
    m = model(moe_bias_rate=0.01).train()
    ids = torch.randint(0, 37, (4, 24), generator=torch.Generator().manual_seed(8))
    m(ids)
    loads = [load.clone() for load in m.last_expert_loads]
    assert all(int(load.sum()) > 0 for load in loads)
    m.after_optimizer_step()
    assert int(m.train_steps) == 1 and m.last_expert_loads is None
    for moe, load in zip(m.moe_layers(), loads):
        b = moe.balance_bias
        assert float(b.abs().sum()) > 0 and abs(float(b.mean())) < 1e-6
        busy, idle = int(load.argmax()), int(load.argmin())
        if load[busy] > load[idle]:
            assert b[busy] < b[idle]  # the busiest expert is pushed down relative to the idlest
    before = [moe.balance_bias.clone() for moe in m.moe_layers()]
    m.after_optimizer_step()  # no forward since: only the counter moves
    assert int(m.train_steps) == 2
    assert all(torch.equal(a, moe.balance_bias) for a, moe in zip(before, m.moe_layers()))
    # the curriculum's clock: without a set progress, the budget follows the counted steps
    m.train_steps.fill_(m.config.curriculum_steps)
    assert m.training_progress() == 1.0 and m.scheduler.budget(m.training_progress()) == m.config.max_loop_depth
