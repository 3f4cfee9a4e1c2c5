"""Model files that pass every integrity check but are not sane: structure is validated on load.

Each hostile file is written through the package's own writer (:func:`save_model_file`), so its checksum and
fingerprint are right; the refusal must come from the structural checks, in seconds and bounded memory, as
one ``error:`` line with exit status 2 from the command line. The compiled loops themselves are bounded too:
a malformed table that bypasses the load checks ends in an error, never in an endless loop.
"""

from __future__ import annotations

import numpy as np
import pytest

from _hostile import LINUX, assert_user_error, model_parts, needs_torch, resave, run_cli, run_py
from decepticons import ModelFileError
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.memory.count_tables import CountTables
from decepticons.registry import load_model, model_class
from decepticons.validation import MAX_MODEL_VALUES

TRAIN = np.asarray(embedded_corpus()[0][:20_000])
TEXT = np.asarray(embedded_corpus()[1][:3_000])


@pytest.fixture(scope="module")
def ngram_parts():
    m = model_class("ngram")(orders=[1, 2, 3])
    m.fit(TRAIN, progress=False)
    return model_parts(m)


@pytest.fixture()
def text_file(tmp_path):
    p = tmp_path / "text.txt"
    p.write_bytes(TEXT.tobytes())
    return p


def _list_nodes(t: dict, i: int) -> list[int]:
    """Nodes of the ``i``-th stored context (lists are stored one after another, in key order)."""
    start = int(t["uniq"][:i].sum())
    return list(range(start, start + int(t["uniq"][i])))


def _context_with_followers(t: dict, n: int = 2) -> int:
    return next(i for i in range(len(t["keys"])) if t["uniq"][i] >= n)


# ------------------------------------------------------------------------------------------ count tables
def _longer_list(t):
    t["uniq"][_context_with_followers(t)] += 1  # the lengths now cover more nodes than the file holds


def _unsorted_keys(t):
    t["keys"][[0, 1]] = t["keys"][[1, 0]]


def _zero_key(t):
    t["keys"][0] = 0


def _wrong_header(t):
    t["meta"][1] += 1


def _negative_count(t):
    t["ncnt"][_list_nodes(t, _context_with_followers(t))[0]] = -3


def _repeated_byte(t):
    nodes = _list_nodes(t, _context_with_followers(t))
    t["nbyte"][nodes[1]] = t["nbyte"][nodes[0]]


def _orphan(t):
    for f, v in (("nbyte", 7), ("ncnt", 1)):
        t[f] = np.append(t[f], np.array(v, dtype=t[f].dtype))
    t["meta"][0] += 1


def _huge_node_count(t):
    t["meta"][0] = 1 << 40


def _double_key(t):
    t["keys"][1] = t["keys"][0]


def _overflowing_lengths(t):
    # lengths whose int64 sum wraps around to the node count
    n = int(t["meta"][0])
    u = np.zeros(len(t["keys"]), dtype=np.int64)
    u[:4] = [1 << 62, 1 << 62, 1 << 62, (1 << 62) + n]
    t["uniq"] = u


def _wide_byte(t):
    t["nbyte"] = t["nbyte"].astype(np.int64)
    t["nbyte"][0] = 256 + int(t["nbyte"][0])


def _huge_count(t):
    t["ncnt"] = t["ncnt"].astype(np.int64)
    t["ncnt"][0] = 1 << 40


def _linked_layout(t):
    t["heads"] = np.zeros(len(t["keys"]), dtype=np.int32)


def _float_counts(t):
    t["ncnt"] = t["ncnt"].astype(np.float32)


@pytest.mark.parametrize("edit, message", [
    (_longer_list, "list lengths sum to"),
    (_unsorted_keys, "not positive and increasing"),
    (_zero_key, "not positive and increasing"),
    (_wrong_header, "contexts in the header"),
    (_negative_count, "a follower count is below 1"),
    (_repeated_byte, "holds a byte twice"),
    (_orphan, "list lengths sum to"),
    (_huge_node_count, "expected 1099511627776 integers"),
    (_double_key, "hold a context twice"),
    (_overflowing_lengths, "list lengths sum to"),
    (_wide_byte, "a follower byte is outside 0..255"),
    (_huge_count, "does not fit 31 bits"),
    (_linked_layout, "linked layout of an earlier version"),
    (_float_counts, "must be a 1-D integer array"),
])
def test_malformed_count_tables_are_refused_on_load(tmp_path, ngram_parts, edit, message):
    kind, config, tensors, extra = ngram_parts
    t = {k: v.copy() for k, v in tensors.items()}
    edit(t)
    p = resave(tmp_path / "bad.safetensors", kind, config, t, extra)
    with pytest.raises(ModelFileError, match=message):
        load_model(p)


def test_count_tables_store_their_content_not_the_hash_table(ngram_parts):
    """No pointer or empty slot is stored: 12 bytes per context and 5 per follower node."""
    kind, config, tensors, extra = ngram_parts
    assert sorted(tensors) == ["c0", "keys", "meta", "nbyte", "ncnt", "uniq"]
    k, n = len(tensors["keys"]), int(tensors["meta"][0])
    assert np.all(tensors["keys"] > 0) and np.all(np.diff(tensors["keys"]) > 0)
    assert sum(v.nbytes for v in tensors.values()) == 12 * k + 5 * n + 8 * 260


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
@pytest.mark.parametrize("command", ["score", "compress"])
def test_a_broken_follower_list_is_a_clear_error_from_the_cli(tmp_path, ngram_parts, text_file, command):
    kind, config, tensors, extra = ngram_parts
    t = {k: v.copy() for k, v in tensors.items()}
    _repeated_byte(t)
    p = resave(tmp_path / "broken.safetensors", kind, config, t, extra)
    args = [command, "--load", str(p), "--input", str(text_file)]
    if command == "compress":
        args += ["--output", str(tmp_path / "out.dcx")]
    assert_user_error(run_cli(args), "holds a byte twice", seconds=60)
    assert not (tmp_path / "out.dcx").exists()


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
def test_a_huge_node_count_fails_fast_in_bounded_memory(tmp_path, ngram_parts, text_file):
    kind, config, tensors, extra = ngram_parts
    for edit, message in ((_huge_node_count, "expected 1099511627776"), (_longer_list, "list lengths sum to")):
        t = {k: v.copy() for k, v in tensors.items()}
        edit(t)
        p = resave(tmp_path / f"{edit.__name__}.safetensors", kind, config, t, extra)
        assert_user_error(run_cli(["score", "--load", str(p), "--input", str(text_file)]), message, seconds=60)


@pytest.mark.parametrize("use_numba", [True, False])
def test_every_compiled_loop_is_bounded(use_numba):
    """Tables broken after loading (bypassing the checks): each kernel that walks a list or probes the table
    stops with an error. Run in a fresh interpreter with a timeout, so a regression fails instead of hanging."""
    r = run_py(f"""
        from decepticons.errors import InputError
        from decepticons.jit import get_kernels
        from decepticons.memory.count_tables import CountTables
        from decepticons.registry import model_class
        from decepticons.data import embedded_corpus
        train, valid = embedded_corpus()
        k = get_kernels({use_numba})
        def expect(fn, what):
            try:
                fn()
            except InputError as e:
                assert "count tables are malformed" in str(e), e
                print("bounded", what)
            else:
                print("no error", what)

        full = CountTables(cap=16)
        full.keys[:] = np.arange(1, 17)
        expect(lambda: k.find_slot(full.keys, 99), "find_slot")
        slots = np.zeros(1, dtype=np.int64)
        expect(lambda: k.lookup_slots(full.keys, np.array([99], dtype=np.int64), slots), "lookup_slots")

        for online in (False, True):
            m = model_class("ngram")(orders=[1, 2], online=online, use_numba={use_numba})
            m.fit(np.asarray(train[:3000]), progress=False)
            tb = m.tables
            s = int(np.argmax(tb.tot))  # the most frequent context: every input reads it
            node = int(tb.heads[s])
            while tb.nnext[node] >= 0:
                node = int(tb.nnext[node])
            tb.nnext[node] = node  # the list never ends
            expect(lambda: m.log_probs(np.asarray(valid[:2000])), f"log_probs online={{online}}")
            expect(lambda: m.score(np.asarray(valid[:2000])), f"score online={{online}}")
            expect(lambda: m.records(np.asarray(valid[:2000])), f"records online={{online}}")
            expect(lambda: tb.compact({use_numba}), f"compact online={{online}}")
        m = model_class("mixer")(orders=2, match_min=4, use_numba={use_numba})
        m.fit(np.asarray(train[:3000]), progress=False)
        tb = m.tables
        s = int(np.argmax(tb.tot))
        tb.nnext[int(tb.heads[s])] = int(tb.heads[s])
        expect(lambda: m.log_probs(np.asarray(valid[:2000])), "mixer log_probs")
    """, timeout=600)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines and all(line.startswith("bounded") for line in lines), r.stdout + r.stderr
    assert len(lines) == 2 + 4 * 2 + 1


def test_valid_tables_pass_the_checks_unchanged(ngram_parts):
    kind, config, tensors, extra = ngram_parts
    t = CountTables.from_tensors(tensors)
    for k, v in t.tensors().items():
        np.testing.assert_array_equal(v, tensors[k])


# ------------------------------------------------------------------------------------------ the coder
@pytest.fixture(scope="module")
def coder_parts():
    m = model_class("coder")(max_order=2, substrate_options={"n_decays": 4, "embed_dim": 4}, chunk_size=4096)
    m.fit(TRAIN[:8000], progress=False)
    return model_parts(m)


def _coder_edit(parts, **changes):
    kind, config, tensors, extra = parts
    t = {k: v.copy() for k, v in tensors.items()}
    cfg = dict(config)
    for k, v in changes.items():
        if k in t:
            t[k] = v(t[k]) if callable(v) else v
        else:
            cfg[k] = v
    return kind, cfg, t, extra


@pytest.mark.parametrize("changes, message", [
    ({"order1.keys": lambda a: a[::-1].copy()}, "order1: keys are not strictly increasing"),
    ({"order2.counts": lambda a: -a}, "order2: counts must be finite and >= 0"),
    ({"order0.counts": lambda a: a[:-1]}, "two 1-D arrays of the same length"),
    ({"order1.keys": lambda a: a.astype(np.float64)}, "uint64 keys"),
    ({"smoother.discounts": lambda a: a + 5}, "0 <= discount < 1"),
    ({"smoother.escapes": lambda a: a[:1]}, "3 numbers each"),
    ({"readout.tau_lam_eps": lambda a: np.array([a[0], a[1], 0.0])}, "eps > 0"),
    ({"readout.tau_lam_eps": lambda a: a[:2]}, "3 finite numbers"),
    ({"readout.W": lambda a: a[:-1]}, "readout shape"),
    ({"substrate_options": {"n_decays": 4, "embed_dim": 8}}, "readout shape"),
    ({"substrate_options": {"n_decays": 1024, "embed_dim": 1024}}, "state width 1048576 exceeds the limit"),
    ({"substrate_options": {"n_decays": 10 ** 12}}, "n_decays = 1000000000000 is not allowed"),
    ({"max_order": 5}, "order3.keys"),
])
def test_hostile_coder_files_are_refused(tmp_path, coder_parts, changes, message):
    p = resave(tmp_path / "coder.safetensors", *_coder_edit(coder_parts, **changes))
    with pytest.raises(ModelFileError, match=message.replace("(", r"\(")):
        load_model(p)


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
def test_a_coder_with_huge_substrate_options_fails_fast_in_bounded_memory(tmp_path, coder_parts, text_file):
    for opts in ({"n_decays": 1024, "embed_dim": 1024}, {"n_decays": 1 << 40, "embed_dim": 1 << 40}):
        p = resave(tmp_path / "huge.safetensors", *_coder_edit(coder_parts, substrate_options=opts))
        assert_user_error(run_cli(["score", "--load", str(p), "--input", str(text_file)], mem=256 << 20),
                          "does not match ByteLatentPredictiveCoder", seconds=60)


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
def test_the_widest_allowed_substrate_loads_in_bounded_memory(tmp_path, coder_parts):
    """At the width limit the readout check, not an allocation, is what refuses a small file."""
    p = resave(tmp_path / "wide.safetensors",
               *_coder_edit(coder_parts, substrate_options={"n_decays": 1024, "embed_dim": 8}))
    r = run_py(f"""
        from decepticons import ModelFileError
        from decepticons.registry import load_model
        try:
            load_model({str(p)!r})
        except ModelFileError as e:
            print(e)
    """, mem=256 << 20)
    assert r.returncode == 0 and "readout shape (17, 256)" in r.stdout and "(8193, 256)" in r.stdout, r.stderr


# ------------------------------------------------------------------------------------------ torch models


def _torch_parts(name, **config):
    m = model_class(name)(**config)
    return model_parts(m)


@needs_torch
@pytest.mark.parametrize("name, small, huge", [
    ("causal-bank", {"embed_dim": 8, "num_modes": 12, "num_oscillatory": 4, "local_window": 2, "readout_hidden": 16,
                     "input_hidden": 0, "half_life_max": 32.0},
     {"embed_dim": 4096, "num_modes": 1 << 16, "num_oscillatory": 1 << 15, "readout_hidden": 1 << 16,
      "input_hidden": 1 << 14, "local_window": 64}),
    ("transformer", {"d_model": 16, "n_layer": 1, "n_head": 2, "block_size": 32},
     {"d_model": 1 << 14, "n_layer": 256, "n_head": 2, "block_size": 1 << 16}),
    ("mythos", {"d_model": 32, "num_heads": 2, "d_kv_latent": 8, "rope_dim": 8, "qk_nope_dim": 8, "expert_dim": 16,
                "ffn_dim": 32, "max_seq_len": 32},
     {"d_model": 1 << 15, "num_heads": 2, "d_kv_latent": 8, "rope_dim": 8, "qk_nope_dim": 8, "expert_dim": 1 << 16,
      "ffn_dim": 1 << 16, "max_seq_len": 32, "num_layers": 8}),
])
def test_enormous_torch_configurations_are_refused_before_allocating(tmp_path, text_file, name, small, huge):
    kind, config, tensors, extra = _torch_parts(name, **small)
    with pytest.raises(InputError, match=f"more than the {MAX_MODEL_VALUES:,} allowed"):
        model_class(name)(**{**config, **huge})
    p = resave(tmp_path / "huge.safetensors", kind, {**config, **huge}, tensors, extra)
    with pytest.raises(ModelFileError, match="allowed"):
        load_model(p)
    assert_user_error(run_cli(["score", "--load", str(p), "--input", str(text_file)], mem=512 << 20, torch=True),
                      f"more than the {MAX_MODEL_VALUES:,} allowed", seconds=90)


@needs_torch
@pytest.mark.parametrize("name, small, bigger", [
    ("causal-bank", {"embed_dim": 8, "num_modes": 12, "num_oscillatory": 4, "local_window": 2, "readout_hidden": 16,
                     "input_hidden": 0}, {"readout_hidden": 1 << 16, "embed_dim": 1024}),
    ("transformer", {"d_model": 16, "n_layer": 1, "n_head": 2, "block_size": 32}, {"d_model": 4096, "n_layer": 8}),
    ("mythos", {"d_model": 32, "num_heads": 2, "d_kv_latent": 8, "rope_dim": 8, "qk_nope_dim": 8, "expert_dim": 16,
                "ffn_dim": 32, "max_seq_len": 32}, {"d_model": 4096, "expert_dim": 4096, "ffn_dim": 4096}),
])
def test_a_config_describing_more_than_the_file_holds_is_refused_before_allocating(tmp_path, text_file, name, small,
                                                                                    bigger):
    """Within the cap, but far larger than the tensors in the file: refused by counting, not by building."""
    kind, config, tensors, extra = _torch_parts(name, **small)
    p = resave(tmp_path / "big.safetensors", kind, {**config, **bigger}, tensors, extra)
    held = sum(t.size for t in tensors.values())
    assert_user_error(run_cli(["score", "--load", str(p), "--input", str(text_file)], mem=256 << 20, torch=True),
                      f"the file holds {held:,}", seconds=90)


@needs_torch
def test_the_size_formulas_are_exact():
    from decepticons.causal_bank.config import READOUT_KINDS, SUBSTRATE_MODES, CausalBankConfig

    for mode in SUBSTRATE_MODES:
        for readout in READOUT_KINDS:
            for extra in ({}, {"state_dim": 3, "input_hidden": 16, "readout_bands": 3}):
                cfg = CausalBankConfig.variant("tiny", substrate_mode=mode, readout=readout, **extra)
                m = model_class("causal-bank")(cfg)
                assert cfg.state_values() == sum(v.size for v in m.state_tensors().values()), (mode, readout, extra)
    for name, cfg in (("transformer", {"d_model": 24, "n_layer": 2, "n_head": 3, "block_size": 16}),
                      ("mythos", {"d_model": 32, "num_heads": 2, "d_kv_latent": 8, "rope_dim": 8, "qk_nope_dim": 8,
                                  "expert_dim": 16, "ffn_dim": 32, "max_seq_len": 32, "num_shared_experts": 1})):
        m = model_class(name)(**cfg)
        assert type(m).state_values(m.config) == sum(v.size for v in m.state_tensors().values()), name


@needs_torch
def test_a_mixer_expert_describing_an_enormous_model_is_refused(tmp_path):
    mixer = model_class("mixer")(orders=2, match_min=4, experts=[model_class("exact-context")(order=1)])
    mixer.fit(TRAIN[:4000], progress=False)
    kind, config, tensors, extra = model_parts(mixer)
    config["experts"] = [{"kind": "frozen-readout", "config": {"substrate_options": {"n_decays": 1 << 20}}}]
    with pytest.raises(ModelFileError, match="n_decays = 1048576 is not allowed"):
        load_model(resave(tmp_path / "m1.safetensors", kind, config, tensors, extra))
    bank = {"embed_dim": 4096, "num_modes": 1 << 16, "readout_hidden": 1 << 16, "input_hidden": 1 << 14}
    config["experts"] = [{"kind": "causal-bank", "config": bank}]
    with pytest.raises(ModelFileError, match="allowed"):
        load_model(resave(tmp_path / "m2.safetensors", kind, config, tensors, extra))
