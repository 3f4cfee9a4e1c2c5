"""Held-out evaluation in bits per byte: exactly the number :meth:`~decepticons.predictor.CausalPredictor.score`
(and so ``decepticons score``) reports for the same model and bytes.

``bpb = -(1 / T) sum_t log2 p(x_t | x_<t)``, row 0 conditioned on the start byte only, computed through the
predictor's own scoring path (windowed or whole-history, whatever the predictor declares).
"""

from __future__ import annotations

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from .hooks import TrainablePredictor


def evaluate(predictor: TrainablePredictor, data: BytesLike) -> float:
    """Bits per byte of ``predictor`` on ``data`` (``predictor.score(data).bits_per_byte``)."""
    x = as_byte_array(data)
    if len(x) == 0:
        raise InputError("cannot evaluate on empty data")
    return float(predictor.score(x, progress=False).bits_per_byte)
