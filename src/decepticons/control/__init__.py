"""Control: small causal mechanisms that read summaries of the past and steer views, substrates and mixtures.

- ``summary.py``: :class:`ControllerSummary` (the record gates and routers read) and
  :class:`ControllerSummaryBuilder` (reductions of state and prediction records), running averages
- ``gates.py``: :class:`PathwayGateController`, gates of the fast->mid and mid->slow paths of a hierarchy
- ``router.py``: :class:`SummaryRouter`, soft weighting or selection among routes from their summaries
- ``hormones.py``: :class:`HormoneModulator`, running surprise and document position that scale gains
- ``surprise.py``: :class:`PredictiveSurpriseController`, a next-latent predictor, its residual and surprise
- ``segmenter.py``: :class:`LearnedSegmenter`, an online boundary probability with a target patch rate

Every mechanism is numpy only, deterministic, and causal: its output at row t reads inputs at rows <= t.
"""

from .gates import PathwayGateConfig, PathwayGateController
from .hormones import HormoneConfig, HormoneModulator
from .router import RouterConfig, RoutingDecision, SummaryRouter
from .segmenter import LearnedSegmenter, SegmenterConfig, SegmentRecord
from .summary import ControllerSummary, ControllerSummaryBuilder, SummaryConfig, running
from .surprise import PredictiveSurpriseController, SurpriseConfig, SurpriseRecord

__all__ = [
    "ControllerSummary", "ControllerSummaryBuilder", "HormoneConfig", "HormoneModulator", "LearnedSegmenter",
    "PathwayGateConfig", "PathwayGateController", "PredictiveSurpriseController", "RouterConfig",
    "RoutingDecision", "SegmentRecord", "SegmenterConfig", "SummaryConfig", "SummaryRouter", "SurpriseConfig",
    "SurpriseRecord", "running",
]
