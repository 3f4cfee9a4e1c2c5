"""Compressed files whose header lies: every field is bounded by the payload and the model before anything is
allocated, and decoding stops as soon as the payload cannot hold what the header claims.

Hostile headers are forged the way an attacker would: the documented layout, with both crc32 checksums
recomputed, so only the bounds can refuse them.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from _hostile import LINUX, assert_user_error, run_cli
from decepticons import CompressedFileError
from decepticons.coding import codec, compress, decompress
from decepticons.data import embedded_corpus
from decepticons.registry import model_class

TRAIN = np.asarray(embedded_corpus()[0][:50_000])
TEXT = np.asarray(embedded_corpus()[1][:5_000])
HEAD = struct.Struct("<4sBB16sQ8sI")


def forge(blob: bytes, length: int | None = None, payload: bytes | None = None, version: int = 1,
          flags: int = 0) -> bytes:
    """``blob`` with header fields replaced and both checksums recomputed (a well-formed lie)."""
    magic, _, _, fp, old_length, digest, _ = HEAD.unpack(blob[:HEAD.size])
    payload = blob[codec.HEADER_BYTES:] if payload is None else payload
    head = HEAD.pack(magic, version, flags, fp, old_length if length is None else length, digest,
                     zlib.crc32(payload))
    return head + struct.pack("<I", zlib.crc32(head)) + payload


@pytest.fixture(scope="module")
def ngram():
    m = model_class("ngram")(orders=[1, 2, 3])
    m.fit(TRAIN, progress=False)
    return m


@pytest.fixture(scope="module")
def blob(ngram):
    return compress(ngram, TEXT)


def test_the_forger_writes_what_compress_writes(blob):
    assert forge(blob) == blob


@pytest.mark.parametrize("length", [1 << 62, 2 ** 64 - 1, 10 ** 12])
def test_a_header_claiming_an_enormous_length_is_refused_before_allocating(ngram, blob, length):
    with pytest.raises(CompressedFileError, match="its header claims .* more than a .*-byte payload can hold"):
        decompress(ngram, forge(blob, length=length))


def test_a_header_claiming_more_than_the_payload_holds_stops_when_the_payload_is_used_up():
    """Past the real end the decoder reads zeros; a model that keeps finding those bytes unlikely spends the
    payload's remaining bits within a few bytes, and decoding stops there."""
    static = model_class("ngram")(orders=[1, 2, 3], online=False)
    static.fit(TRAIN, progress=False)
    b = compress(static, TEXT)
    for factor in (2, 10, 1000):
        with pytest.raises(CompressedFileError, match="payload is used up after") as e:
            decompress(static, forge(b, length=factor * len(TEXT)))
        assert int(str(e.value).split("used up after ")[1].split()[0].replace(",", "")) < len(TEXT) + 100


def test_an_adaptive_model_decodes_a_lie_no_further_than_the_bound(ngram, blob):
    """An adaptive model learns the zeros and soon finds them near-certain, so a lie can run on (up to
    ``1 / C_MIN`` bytes per remaining payload bit) before the checksum refuses it; never beyond the bound."""
    with pytest.raises(CompressedFileError, match="do not match the checksum|payload is used up"):
        decompress(ngram, forge(blob, length=10 * len(TEXT)))
    payload_bits = 8 * (len(blob) - codec.HEADER_BYTES) + codec.SLACK_BITS
    with pytest.raises(CompressedFileError, match="claims"):
        decompress(ngram, forge(blob, length=int(payload_bits / codec.C_MIN) + 1))


def test_a_shorter_claim_fails_the_checksum_of_the_original(ngram, blob):
    with pytest.raises(CompressedFileError, match="do not match the checksum of the original"):
        decompress(ngram, forge(blob, length=len(TEXT) - 1))


@pytest.mark.parametrize("fields, message", [
    ({"version": 2}, "format version 2"),
    ({"flags": 4}, "unknown flags"),
    ({"flags": 0x81}, "unknown flags"),
    ({"flags": 3}, "unknown flags"),  # MLX and bitwise together: no MLX model codes bitwise
    ({"flags": 1}, "written by the mlx backend"),  # bit 0: the MLX backend wrote it (this model is not on MLX)
    ({"flags": 2}, "bitwise payload, which ngram cannot decode"),  # bit 1: a bitwise payload
    ({"length": 0}, "payload after an empty original"),
    ({"payload": b""}, "not a whole number of 32-bit words"),
    ({"payload": b"\x01\x02\x03"}, "not a whole number of 32-bit words"),
])
def test_other_header_fields_are_checked(ngram, blob, fields, message):
    with pytest.raises(CompressedFileError, match=message):
        decompress(ngram, forge(blob, **fields))


def test_the_output_grows_as_decoded_and_near_certain_files_still_decode(monkeypatch):
    """The decoder never allocates the claimed length up front, and the bound never refuses a real file, even
    one where the model is near-certain of every byte (the most bytes per payload bit)."""
    monkeypatch.setattr(codec, "OUT_START", 16)
    m = model_class("online-ngram")()
    data = b"a" * 200_000
    b = compress(m, data)
    assert len(b) - codec.HEADER_BYTES <= 64  # a few words for 200,000 bytes
    assert decompress(m, b).tobytes() == data
    t = model_class("ngram")(orders=[1, 2])
    t.fit(TRAIN[:5000], progress=False)
    assert decompress(t, compress(t, TEXT[:3000])).tobytes() == TEXT[:3000].tobytes()


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
@pytest.mark.parametrize("length", [1 << 60, None])
def test_decompress_of_a_lying_header_is_a_clear_error_from_the_cli(tmp_path, ngram, blob, length):
    model = tmp_path / "m.safetensors"
    ngram.save(model)
    bad = tmp_path / "bad.dcx"
    bad.write_bytes(forge(blob, length=length if length is not None else 50 * len(TEXT)))
    out = tmp_path / "out.txt"
    r = run_cli(["decompress", "--load", str(model), "--input", str(bad), "--output", str(out)], mem=256 << 20)
    assert_user_error(r, "compressed file", seconds=60)
    assert not out.exists()
