"""The bit-level context mixer (``cm``): the full tree equals the 8-node path, the compiled kernels equal the
interpreted reference, a reference of the tree product written independently, real compress/decompress
round trips within 0.1% of the scored bits, sparse model files, hostile files refused, fit and
partial_fit semantics. (Causality, stream parity, chunking and save/load are in the contract harness.)"""

from __future__ import annotations

import numpy as np
import pytest

from _hostile import model_parts, resave
from decepticons.cm import CMPredictor
from decepticons.cm.config import CONTEXT_KINDS, PRESETS
from decepticons.coding.codec import compress, decompress
from decepticons.data import embedded_corpus
from decepticons.errors import InputError, ModelFileError
from decepticons.predictor import LN2
from decepticons.registry import load_model

SMALL = dict(table_bits=10, match_bits=10, match_min=4)


@pytest.fixture(scope="module")
def text() -> tuple[np.ndarray, np.ndarray]:
    train, valid = embedded_corpus()
    return np.asarray(train)[:6000].copy(), np.asarray(valid)[:1500].copy()


@pytest.fixture(scope="module")
def fitted(text) -> CMPredictor:
    model = CMPredictor(**SMALL)
    model.fit(text[0])
    return model


def test_full_distribution_equals_the_path_product(fitted, text):
    x = text[1][:600]
    rows = fitted.log_probs(x)
    target = fitted.target_log_probs(x)
    assert np.array_equal(rows[np.arange(len(x)), x], target)  # same products, same order: bit-identical
    assert np.abs(np.logaddexp.reduce(rows, axis=1)).max() < 1e-12


@pytest.mark.parametrize("options", [SMALL, dict(SMALL, preset="max", confidence=False, mixers=1),
                                     dict(SMALL, apm_rate=0.0, match_min=0)])
def test_compiled_kernels_equal_the_interpreted_reference(text, options):
    train, valid = text[0][:1500], text[1][:120]
    fast, ref = CMPredictor(**options), CMPredictor(**options, use_numba=False)
    fast.fit(train)
    ref.fit(train)
    assert np.array_equal(fast.target_log_probs(valid), ref.target_log_probs(valid))
    assert np.array_equal(fast.log_probs(valid[:40]), ref.log_probs(valid[:40]))
    for name, a in fast.state_tensors().items():
        assert np.array_equal(a, ref.state_tensors()[name]), name


def _reference_tree(pf: np.ndarray) -> np.ndarray:
    """P(byte) from node probabilities ``pf[1..255]`` (P(bit = 1)), bit by bit, independently of the kernel."""
    out = np.empty(256)
    for b in range(256):
        p, node = 1.0, 1
        for d in range(8):
            bit = (b >> (7 - d)) & 1
            p *= pf[node] if bit else 1.0 - pf[node]
            node = 2 * node + bit
        out[b] = p
    return out


def test_tree_products_match_an_independent_reference(fitted, text):
    st = fitted.stream()
    for b in text[1][:30]:
        lp = st.log_probs()
        ref = _reference_tree(st.scratch.PF)
        assert np.allclose(np.exp(lp), ref, rtol=1e-12, atol=0)
        st.push(int(b))


def test_round_trip_and_code_length_within_a_tenth_of_a_percent(fitted, text):
    x = np.concatenate([text[1][:1200], np.random.default_rng(0).integers(0, 256, 200).astype(np.uint8)])
    blob = compress(fitted, x)
    assert np.array_equal(decompress(fitted, blob), x)
    bits = -float(fitted.target_log_probs(x).sum()) / LN2
    payload = 8 * (len(blob) - 46)
    assert abs(payload - bits) <= 0.001 * bits + 64, (payload, bits)


def test_a_fresh_model_round_trips_too(text):
    model = CMPredictor(**SMALL)
    x = text[1][:500]
    assert np.array_equal(decompress(model, compress(model, x)), x)


def test_model_files_hold_only_the_slots_in_use(fitted, tmp_path):
    path = tmp_path / "cm.safetensors"
    fitted.save(path)
    big = CMPredictor(table_bits=20, match_bits=10)  # 64 MB of table, a few slots used
    big.fit(b"a small corpus, a small corpus, a small corpus")
    big_path = tmp_path / "big.safetensors"
    big.save(big_path)
    dense_table = 64 << 20
    assert big_path.stat().st_size < dense_table / 8
    loaded = load_model(big_path)
    assert np.array_equal(loaded.state.T, big.state.T)
    assert loaded.fingerprint() == big.fingerprint()


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.update(T_index=t["T_index"][::-1].copy()), "strictly increasing"),
    (lambda t: t.update(T_index=t["T_index"] + (1 << 40)), "strictly increasing"),
    (lambda t: t.update(T_slots=t["T_slots"][:-1].copy()), "T_slots must be"),
    (lambda t: t.update(W=np.zeros((3, 512, 2))), "W has shape"),
    (lambda t: t.pop("A1"), "missing"),
    (lambda t: t.update(A2_index=np.asarray([5, 3], dtype=np.int64), A2_rows=np.zeros((2, 33))), "A2_index"),
])
def test_hostile_model_files_are_refused(fitted, tmp_path, edit, message):
    kind, config, tensors, extra = model_parts(fitted)
    edit(tensors)
    path = resave(tmp_path / "bad.safetensors", kind, config, tensors, extra)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_a_configuration_beyond_the_size_bound_is_refused():
    with pytest.raises(InputError, match="table_bits"):
        CMPredictor(table_bits=27)
    with pytest.raises(InputError, match="contexts"):
        CMPredictor(contexts=("o1", "nope"))
    with pytest.raises(InputError, match="preset"):
        CMPredictor(preset="fastest")


def test_fit_resets_and_partial_fit_continues(text):
    a, b = text[0][:3000], text[0][3000:6000]
    once = CMPredictor(**SMALL)
    once.fit(a)
    again = CMPredictor(**SMALL)
    again.fit(b)
    again.fit(a)  # fit starts from scratch: same state as fitting on a alone
    assert again.fingerprint() == once.fingerprint()
    cont = CMPredictor(**SMALL)
    cont.fit(a)
    cont.partial_fit(b)
    assert cont.fingerprint() != once.fingerprint()
    # continuing learns: the continued model predicts b's text better than the model fitted on a alone
    probe = text[1][:800]
    assert cont.score(probe).bits_per_byte < once.score(probe).bits_per_byte + 0.05


def test_presets_and_every_context_kind_run(text):
    for preset in PRESETS:
        m = CMPredictor(preset=preset, table_bits=10, match_bits=10)
        m.fit(text[0][:800])
        assert np.isfinite(m.score(text[1][:200]).bits_per_byte)
    m = CMPredictor(contexts=CONTEXT_KINDS, table_bits=10, match_bits=10)
    m.fit(text[0][:800])
    assert m.score(text[1][:200]).bits_per_byte < 8.0


def test_files_are_bitwise_payloads_and_their_forgeries_are_refused(fitted, text):
    from decepticons.coding.codec import FLAG_BITWISE, HEADER_BYTES, _pack_header, _unpack_header
    from decepticons.errors import CompressedFileError

    x = text[1][:800]
    blob = compress(fitted, x)
    fp, length, digest, _, flags = _unpack_header(blob)
    assert flags == FLAG_BITWISE and length == len(x)
    payload = blob[HEADER_BYTES:]
    for bad_payload, bad_length in [(payload[:len(payload) // 2], length), (payload, length * 10_000_000),
                                    (payload[:2], length)]:
        forged = _pack_header(fp, bad_length, digest, bad_payload, FLAG_BITWISE) + bad_payload
        with pytest.raises(CompressedFileError):
            decompress(fitted, forged)
    other = CMPredictor(**SMALL)
    with pytest.raises(CompressedFileError, match="different model"):
        decompress(other, blob)


def test_a_bitwise_file_is_refused_by_a_model_without_the_bitwise_coder(fitted, text):
    from decepticons.coding.codec import FLAG_BITWISE, HEADER_BYTES, _pack_header, _unpack_header
    from decepticons.errors import CompressedFileError
    from decepticons.registry import model_class

    ngram = model_class("ngram")(orders=2)
    ngram.fit(text[0])
    blob = compress(fitted, text[1][:200])
    _, length, digest, _, _ = _unpack_header(blob)
    payload = blob[HEADER_BYTES:]
    forged = _pack_header(bytes.fromhex(ngram.fingerprint())[:16], length, digest, payload, FLAG_BITWISE) + payload
    with pytest.raises(CompressedFileError, match="bitwise"):
        decompress(ngram, forged)


def test_compress_without_a_model_file_uses_an_untrained_cm(tmp_path, capsys, text):
    import json

    from decepticons.cli import DEFAULT_COMPRESSOR, main

    assert DEFAULT_COMPRESSOR == "cm"
    src, z, back = tmp_path / "in.txt", tmp_path / "in.dcz", tmp_path / "out.txt"
    src.write_bytes(text[1][:1500].tobytes() * 2)
    assert main(["compress", "--input", str(src), "--output", str(z), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["compress"]
    assert rep["compressed_bytes"] < 3000 * 0.4  # the repeat is coded almost for free (match model)
    assert main(["decompress", "--input", str(z), "--output", str(back)]) == 0
    assert back.read_bytes() == src.read_bytes()


def test_an_untrained_model_scores_from_a_new_state_with_the_same_numbers(text):
    """While nothing is learned a learning pass starts from a new state, not a copy: same figures, and neither
    path changes the model."""
    m = CMPredictor(**SMALL)
    x = text[1][:800]
    new = m.target_log_probs(x)
    blob = compress(m, x)
    m._pristine = False  # the copy path
    assert np.array_equal(m.target_log_probs(x), new)
    assert compress(m, x) == blob
    assert not np.any(m.state.T)
    m.fit(text[0][:2000])
    assert not m._pristine
    assert not np.array_equal(m.target_log_probs(x), new)
    back = type(m).from_state(m.config_dict(), m.state_tensors(), m.extra_state())
    assert not back._pristine and np.array_equal(back.target_log_probs(x), m.target_log_probs(x))
