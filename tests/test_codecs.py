"""ByteCodec and as_byte_array: every accepted input form, the no-copy paths, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from decepticons import ByteCodec, InputError
from decepticons.codecs import as_byte_array

TEXT = "predictive coding — ünïcödé ✓ 字\n"


def test_encode_text_is_utf8_uint8():
    a = ByteCodec.encode_text(TEXT)
    assert a.dtype == np.uint8 and a.ndim == 1
    assert a.tobytes() == TEXT.encode("utf-8")
    a[0] = ord("P")  # an owned, writable copy
    assert a.tobytes().startswith(b"P")


def test_text_round_trip():
    assert ByteCodec.decode_text(ByteCodec.encode_text(TEXT)) == TEXT
    assert ByteCodec.decode_text(ByteCodec.encode_text("")) == ""


def test_encode_text_rejects_non_str():
    with pytest.raises(InputError, match="expects str"):
        ByteCodec.encode_text(b"bytes are not text")


def test_decode_invalid_utf8_replaces_by_default_and_strict_raises():
    data = b"ab\xffcd\xe2\x82"  # a stray byte and a cut multi-byte character
    assert ByteCodec.decode_text(data) == "ab\ufffdcd\ufffd"
    with pytest.raises(UnicodeDecodeError):
        ByteCodec.decode_text(data, errors="strict")


@pytest.mark.parametrize("form", [
    lambda b: b, bytearray, memoryview, lambda b: list(b), lambda b: np.frombuffer(b, dtype=np.uint8),
    lambda b: np.frombuffer(b, dtype=np.uint8).astype(np.int64),
    lambda b: np.frombuffer(b, dtype=np.uint8).astype(np.uint16),
])
def test_every_accepted_form_gives_the_same_bytes(form):
    raw = bytes(range(256)) + b"tail"
    a = as_byte_array(form(raw))
    assert a.dtype == np.uint8 and a.ndim == 1
    assert a.tobytes() == raw
    assert ByteCodec.encode(form(raw)).tobytes() == raw
    assert ByteCodec.to_bytes(form(raw)) == raw


def test_str_is_utf8_encoded():
    assert as_byte_array(TEXT).tobytes() == TEXT.encode("utf-8")


def test_uint8_arrays_and_memmaps_are_not_copied(tmp_path):
    a = np.arange(10, dtype=np.uint8)
    assert as_byte_array(a) is a
    p = tmp_path / "x.bin"
    p.write_bytes(bytes(range(200)))
    m = np.memmap(p, dtype=np.uint8, mode="r")
    out = as_byte_array(m)
    assert np.shares_memory(out, m)
    assert out.tobytes() == bytes(range(200))


@pytest.mark.parametrize("empty", [b"", "", bytearray(), np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int32)])
def test_empty_inputs_give_an_empty_array(empty):
    a = as_byte_array(empty)
    assert a.dtype == np.uint8 and a.shape == (0,)


def test_empty_list_gives_an_empty_array():
    a = as_byte_array([])
    assert a.dtype == np.uint8 and a.shape == (0,)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 3), dtype=np.uint8), "must be 1-D"),
    (np.array(7, dtype=np.uint8), "must be 1-D"),
    (np.array([1.0, 2.0]), "integer byte values"),
    (np.array([True, False]), "integer byte values"),
    (np.array([0, 256]), "outside 0..255"),
    (np.array([-1, 3]), "outside 0..255"),
    ([1, 2, 300], "outside 0..255"),
    ([[1, 2], [3, 4]], "must be 1-D"),
    (None, "must be str, bytes or a uint8 array"),
    (3, "must be str, bytes or a uint8 array"),
    ((1, 2), "must be str, bytes or a uint8 array"),
])
def test_bad_inputs_raise_input_error(bad, message):
    with pytest.raises(InputError, match=message):
        as_byte_array(bad)


def test_error_names_the_argument():
    with pytest.raises(InputError, match="^prompt "):
        as_byte_array(np.array([1.5]), name="prompt")


def test_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        as_byte_array(np.array([999]))


def test_vocab_size():
    assert ByteCodec.vocab_size == 256
