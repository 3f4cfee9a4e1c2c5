"""The byte-latent predictive coder: a frozen substrate and an exact-context count view under a calibrated
closed-form readout.

- ``model.py``: :class:`ByteLatentPredictiveCoder` and :class:`CoderConfig` (fit, score, stream, persistence)
- ``context_counts.py``: the exact-context count view (hashed context tables, interpolated Kneser-Ney chain)
- ``ridge.py``: the ridge readout from additive sufficient statistics, with temperature calibration
- ``search.py``: golden-section search used to choose hyper-parameters on held-out bytes
"""

from .model import ByteLatentPredictiveCoder, CoderConfig

__all__ = ["ByteLatentPredictiveCoder", "CoderConfig"]
