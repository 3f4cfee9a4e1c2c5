"""ByteCodec: the one place where text, bytes and uint8 arrays meet.

Every model in the package reads and writes ``uint8[T]`` arrays. ``ByteCodec`` turns
``str`` (UTF-8), ``bytes``/``bytearray``/``memoryview`` and integer arrays into that form and back.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

BytesLike = str | bytes | bytearray | memoryview | np.ndarray | list[int]


class ByteCodec:
    """Conversions between text, bytes and ``uint8`` arrays (vocabulary size 256)."""

    vocab_size = 256

    @staticmethod
    def encode_text(text: str) -> np.ndarray:
        """UTF-8 encode ``text`` into a ``uint8[T]`` array."""
        if not isinstance(text, str):
            raise InputError(f"encode_text expects str, got {type(text).__name__}")
        try:
            return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
        except UnicodeEncodeError as e:  # a lone surrogate: not text UTF-8 can hold
            raise InputError(f"text cannot be encoded as UTF-8 ({e.reason} at position {e.start})") from None

    @staticmethod
    def decode_text(data: BytesLike, errors: str = "replace") -> str:
        """Decode a byte array as UTF-8 (invalid sequences replaced by U+FFFD by default)."""
        return ByteCodec.to_bytes(data).decode("utf-8", errors=errors)

    @staticmethod
    def encode(data: BytesLike) -> np.ndarray:
        """Coerce text, bytes or an integer array into a contiguous ``uint8[T]`` array."""
        return as_byte_array(data)

    @staticmethod
    def to_bytes(data: BytesLike) -> bytes:
        return as_byte_array(data).tobytes()


def as_byte_array(data: BytesLike, name: str = "data") -> np.ndarray:
    """Validate and convert ``data`` to a 1-D ``uint8`` array (no copy for uint8 arrays/memmaps)."""
    if isinstance(data, str):
        return np.frombuffer(data.encode("utf-8"), dtype=np.uint8)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    if isinstance(data, list):
        data = np.asarray(data) if data else np.zeros(0, dtype=np.uint8)  # [] alone would be float64
    if isinstance(data, np.ndarray):
        if data.ndim != 1:
            raise InputError(f"{name} must be 1-D, got shape {data.shape}")
        if data.dtype == np.uint8:
            return data
        if not np.issubdtype(data.dtype, np.integer):
            raise InputError(f"{name} must hold integer byte values, got dtype {data.dtype}")
        if data.size and (data.min() < 0 or data.max() > 255):
            raise InputError(f"{name} holds values outside 0..255 (min {data.min()}, max {data.max()})")
        return data.astype(np.uint8)
    raise InputError(f"{name} must be str, bytes or a uint8 array, got {type(data).__name__}")
