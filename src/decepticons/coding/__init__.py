"""Entropy coding with any causal predictor.

* :mod:`.codec` -- ``compress`` / ``decompress`` (range coding through the model's stream, the container);
* :mod:`.files` -- their file versions and reports;
* :mod:`.frequencies` -- the deterministic quantiser from a distribution to coding frequencies.
"""

from __future__ import annotations

from .codec import (
    FORMAT_VERSION,
    HEADER_BYTES,
    MAGIC,
    CodingFreqStream,
    FreqBlockModel,
    FreqRowStream,
    compress,
    decompress,
    ideal_code_bits,
)
from .files import CompressReport, DecompressReport, compress_file, decompress_file
from .frequencies import QUANT_BITS, quantize, quantize_probs

__all__ = ["compress", "decompress", "compress_file", "decompress_file", "quantize", "quantize_probs",
           "ideal_code_bits", "CompressReport", "DecompressReport", "CodingFreqStream", "FreqBlockModel",
           "FreqRowStream", "MAGIC", "FORMAT_VERSION", "HEADER_BYTES", "QUANT_BITS"]
