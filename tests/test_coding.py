"""compress / decompress: round trips, code length against the ideal, and every failure mode."""

from __future__ import annotations

import numpy as np
import pytest

from decepticons.cli import main
from decepticons.coding import (
    HEADER_BYTES,
    compress,
    compress_file,
    decompress,
    decompress_file,
    ideal_code_bits,
    quantize,
)
from decepticons.errors import CompressedFileError, InputError
from decepticons.jit import numba_available
from decepticons.memory import NGramPredictor
from decepticons.mixer import MixerPredictor
from decepticons.predictor import CausalPredictor, Stream

TEXT = (b"To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
        b"The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 6


class StaticPredictor(CausalPredictor):
    """A fixed next-byte distribution (context free): the cheapest possible model."""

    name = "static-test"

    def __init__(self, seed: int = 0, fast: bool = False) -> None:
        p = np.random.default_rng(seed).random(256) + 0.05
        self.lp = np.log(p / p.sum())
        self.fast = fast

    def log_probs(self, data):
        return np.tile(self.lp, (len(data), 1))

    def stream(self) -> Stream:
        return _StaticStream(self)

    def config_dict(self):
        return {"fast": self.fast}

    def state_tensors(self):
        return {"lp": self.lp}


class _StaticStream(Stream):
    def __init__(self, m: StaticPredictor) -> None:
        self.m = m
        if m.fast:
            self._freqs = quantize(np.exp(m.lp)).astype(np.float64)
            self.coding_freqs = lambda: self._freqs

    def log_probs(self):
        return self.m.lp

    def push(self, byte):
        pass


@pytest.fixture(scope="module")
def ngram():
    m = NGramPredictor(orders=3)
    m.fit(TEXT[: len(TEXT) // 2])
    return m


@pytest.fixture(scope="module")
def mixer():
    m = MixerPredictor(orders=3, match_min=6)
    m.fit(TEXT[: len(TEXT) // 2])
    return m


@pytest.mark.parametrize("payload", [b"", b"A", bytes(range(256)), TEXT], ids=["empty", "one", "all256", "text"])
def test_round_trip_ngram(ngram, payload):
    blob = compress(ngram, payload)
    out = decompress(ngram, blob)
    assert out.dtype == np.uint8 and out.tobytes() == payload


@pytest.mark.parametrize("payload", [b"", b"\x00", bytes(range(256))[::-1], TEXT], ids=["empty", "one", "all256",
                                                                                        "text"])
def test_round_trip_mixer(mixer, payload):
    assert decompress(mixer, compress(mixer, payload)).tobytes() == payload


def test_round_trip_generic_path_static_model():
    model = StaticPredictor(seed=3)
    data = bytes(range(256)) * 4
    assert decompress(model, compress(model, data)).tobytes() == data


def test_round_trip_one_megabyte_random():
    model = StaticPredictor(seed=1, fast=True)
    data = np.random.default_rng(0).integers(0, 256, size=1 << 20, dtype=np.uint8)
    blob = compress(model, data)
    assert np.array_equal(decompress(model, blob), data)
    ideal = -model.lp[data].sum() / np.log(2) / 8
    assert len(blob) <= ideal * 1.001 + 64


@pytest.mark.parametrize("which", ["ngram", "mixer"])
def test_size_close_to_ideal_code_length(which, ngram, mixer):
    model = ngram if which == "ngram" else mixer
    data = TEXT[len(TEXT) // 2:]
    ideal_bytes = model.score(data).total_bits / 8
    blob = compress(model, data)
    assert len(blob) <= ideal_bytes * 1.001 + 64
    assert len(blob) >= HEADER_BYTES
    # the stream's own ideal length is the scored one
    assert ideal_code_bits(model, data) / 8 == pytest.approx(ideal_bytes, rel=1e-9)


def test_mixer_batched_coding_frequencies_equal_stream(mixer):
    data = np.frombuffer(TEXT[:300], dtype=np.uint8)
    batched = np.concatenate([b.copy() for b in mixer.coding_freq_blocks(data, 64)], axis=0)
    st = mixer.stream()
    rows = []
    for b in data:
        rows.append(st.coding_freqs())
        assert st.coding_freq_row().shape == (1, 256) and np.array_equal(st.coding_freq_row()[0], rows[-1])
        st.push(int(b))
    assert np.array_equal(batched, np.array(rows))
    assert np.all(batched >= 1) and np.all(batched.sum(axis=1) == 1 << 24)


def test_quantize_properties_and_reference_parity():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.random(256) ** rng.uniform(1, 30)
        p[rng.integers(0, 256, size=10)] = 0.0
        f = quantize(p)
        assert f.sum() == 1 << 24 and f.min() >= 1
        if numba_available():
            assert np.array_equal(f, quantize(p, use_numba=False))
    with pytest.raises(InputError):
        quantize(np.zeros(256))
    with pytest.raises(InputError):
        quantize(np.full(256, np.nan))


def test_wrong_model_truncated_and_corrupted(ngram, mixer):
    blob = compress(ngram, TEXT)
    with pytest.raises(CompressedFileError, match="different model"):
        decompress(mixer, blob)
    for cut in (3, HEADER_BYTES - 1, HEADER_BYTES + 4, len(blob) - 4):
        with pytest.raises(CompressedFileError):
            decompress(ngram, blob[:cut])
    for pos in (1, 10, 25, HEADER_BYTES + 1, len(blob) // 2, len(blob) - 2):
        bad = bytearray(blob)
        bad[pos] ^= 0x40
        with pytest.raises(CompressedFileError):
            decompress(ngram, bytes(bad))
    with pytest.raises(CompressedFileError, match="not a decepticons"):
        decompress(ngram, b"hello world, not compressed at all")


def test_file_api_reports(tmp_path, ngram):
    src = tmp_path / "in.txt"
    src.write_bytes(TEXT)
    rep = compress_file(ngram, src, tmp_path / "c.dcpz")
    assert rep.original_bytes == len(TEXT) and rep.compressed_bytes == (tmp_path / "c.dcpz").stat().st_size
    assert "bits/byte" in str(rep) and rep.to_dict()["bits_per_byte"] < 8
    back = decompress_file(ngram, tmp_path / "c.dcpz", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == TEXT and back.original_bytes == len(TEXT)
    assert "checksum verified" in str(back) and back.to_dict()["original_bytes"] == len(TEXT)


def _cli(*args: str) -> int:
    return main(list(args))


def test_cli_fit_compress_decompress_and_failures(tmp_path, capsys):
    train = tmp_path / "train.txt"
    train.write_bytes(TEXT)
    other = tmp_path / "other.txt"
    other.write_bytes(TEXT[::-1])
    model = tmp_path / "m.safetensors"
    model2 = tmp_path / "m2.safetensors"
    assert _cli("fit", "--model", "mixer", "--config", "orders=3", "--input", str(train), "--save", str(model),
                "--quiet") == 0
    assert _cli("fit", "--model", "ngram", "--config", "orders=2", "--input", str(other), "--save", str(model2),
                "--quiet") == 0
    capsys.readouterr()
    comp = tmp_path / "t.dcpz"
    assert _cli("compress", "--load", str(model), "--input", str(train), "--output", str(comp), "--json") == 0
    import json

    rep = json.loads(capsys.readouterr().out)["compress"]
    assert rep["compressed_bytes"] == comp.stat().st_size
    out = tmp_path / "t.out"
    assert _cli("decompress", "--load", str(model), "--input", str(comp), "--output", str(out), "--json") == 0
    assert out.read_bytes() == TEXT
    capsys.readouterr()

    # wrong model, truncated and corrupted files: exit 2, a clear message, no output file
    blob = comp.read_bytes()
    cases = {"wrong": (model2, blob), "trunc": (model, blob[: len(blob) // 2]),
             "flip": (model, blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:])}
    for name, (m, payload) in cases.items():
        bad = tmp_path / f"{name}.dcpz"
        bad.write_bytes(payload)
        target = tmp_path / f"{name}.out"
        assert _cli("decompress", "--load", str(m), "--input", str(bad), "--output", str(target)) == 2
        err = capsys.readouterr().err
        assert "error:" in err and ("different model" in err or "corrupted" in err or "truncated" in err)
        assert not target.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{name}.out")]


def test_mixer_round_trip_while_the_stream_tables_grow():
    """64 KB of random bytes after text: every context is new, so the stream's count tables, document
    tables and history buffer grow (and compact) many times during decompression."""
    from decepticons.mixer import MixerPredictor

    model = MixerPredictor(orders=3, match_min=4)
    model.fit(TEXT)
    rng = np.random.default_rng(3)
    data = np.concatenate([np.frombuffer(TEXT, dtype=np.uint8), rng.integers(0, 256, 1 << 16, dtype=np.uint8)])
    blob = compress(model, data)
    assert np.array_equal(decompress(model, blob), data)
