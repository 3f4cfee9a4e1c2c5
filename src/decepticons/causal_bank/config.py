"""Causal-bank family: configuration, named variants and deterministic substrate construction (numpy only).

A causal bank is a set of causal linear recurrences ("modes") driven by a projection of the byte embedding,
read out by a learned network. Per mode ``i`` and time ``t``::

    real decay mode:        h_t[i] = a[i] * h_{t-1}[i] + (1 - a[i]) * u_t[i]            a[i] in (0, 1)
    oscillatory pair:       z_t[k] = r[k] e^{i w[k]} z_{t-1}[k] + (1 - r[k]) (u_t[re] + i u_t[im])
    input:                  u_t = E[x_t] @ P                        E: (vocab, embed_dim), P: (embed_dim, n_in)
    or, with input_hidden:  u_t = relu(W [E[x_t], .., E[x_{t-k+1}]] + c)^2 @ P         P: (input_hidden, n_in)

with ``a = 2 ** (-1 / half_life)``. The substrate (half-lives, oscillation periods, ``P``) is built here from
a seed, so the torch and MLX backends start from identical numbers. The five substrate modes say which of
those numbers are learned:

==================  ===============================================================================
``frozen``          nothing in the substrate learns; only the embedding and the readout are trained
``learnable_decays``  decay rates, oscillation radii and frequencies learn; ``P`` stays fixed
``learnable_mixing``  ``P`` learns; decays stay fixed
``learned_recurrence``  decays, frequencies and ``P`` all learn (a learned diagonal linear recurrence)
``gated_retention``  as ``learned_recurrence`` plus input-dependent gates: ``a_t = sigmoid(logit(a) + G x_t)``
                    per mode, and a sigmoid output gate on the bank's features
==================  ===============================================================================

``state_dim > 0`` adds a selective-scan augment: ``state_dim`` extra channels whose step size depends on the
input (``a_t = exp(-softplus(dt_t) * A)``, ``b_t = softplus(dt_t) * (B x_t)``). ``local_window = k`` adds the
embeddings of the last ``k`` bytes to the features (a short causal convolution). ``readout_bands`` splits the
feature vector, ordered fast to slow, into bands normalised separately (the ``banded`` readout also gives each
band its own hidden layer).

Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..validation import Spec, Validated, check_model_size, check_value, fail, spec

SUBSTRATE_MODES = ("frozen", "learnable_decays", "learnable_mixing", "learned_recurrence", "gated_retention")
READOUT_KINDS = ("plain", "banded", "gru", "routed")
DECAY_SCHEDULES = ("log", "linear")
INPUT_PROJECTIONS = ("orthogonal", "gaussian", "sparse")
VARIANTS = ("tiny", "small", "default", "large")

#: substrate modes whose decays / frequencies are trained
LEARNS_DECAYS = frozenset({"learnable_decays", "learned_recurrence", "gated_retention"})
#: substrate modes whose input projection is trained
LEARNS_MIXING = frozenset({"learnable_mixing", "learned_recurrence", "gated_retention"})


@dataclass
class CausalBankConfig(Validated):
    """Everything that defines a causal-bank model's shape and its initial substrate (JSON-serialisable).

    ``input_hidden > 0`` drives the bank (and its gates) with a squared-ReLU layer of that width over the
    local window's embeddings instead of the current byte's embedding alone: the modes then integrate
    features of the last ``local_window`` bytes (a multi-timescale bag of recent n-grams).

    The default (``variant("default")``) is ``gated_retention`` with a 128-wide input layer over the last 4
    bytes, 192 decay modes with half-lives from 1 to 256 bytes, 32 oscillatory pairs and a 384-wide
    squared-ReLU readout (measured results: the ``training`` section of docs/experiments.md).

    Widths: ``embed_dim`` (byte embedding), ``num_modes`` (real decay modes), ``num_oscillatory`` (complex
    pairs, two features each), ``state_dim`` (selective augment channels), ``local_window`` (last bytes whose
    embeddings are features), ``readout_hidden`` (hidden units of the readout).
    Feature count: ``local_window * embed_dim + num_modes + 2 * num_oscillatory + state_dim``.
    """

    substrate_mode: str = spec("gated_retention", choices=SUBSTRATE_MODES, doc="which substrate numbers learn")
    embed_dim: int = spec(32, lo=1, hi=4096, doc="byte embedding width")
    num_modes: int = spec(192, lo=0, hi=1 << 16, doc="real decay modes")
    num_oscillatory: int = spec(32, lo=0, hi=1 << 15, doc="damped oscillatory pairs")
    half_life_min: float = spec(1.0, lo=0.0, lo_open=True, doc="fastest mode's half-life (bytes)")
    half_life_max: float = spec(256.0, lo=0.0, lo_open=True, doc="slowest mode's half-life (bytes)")
    decay_schedule: str = spec("log", choices=DECAY_SCHEDULES, doc="spacing of the half-lives")
    period_min: float = spec(3.0, lo=2.0, doc="shortest oscillation period (bytes)")
    period_max: float = spec(64.0, lo=2.0, doc="longest oscillation period (bytes)")
    input_projection: str = spec("orthogonal", choices=INPUT_PROJECTIONS, doc="initial input projection P")
    input_scale: float = spec(1.0, lo=0.0, lo_open=True, doc="column norm of P")
    input_hidden: int = spec(128, lo=0, hi=1 << 14, doc="width of the input layer over the local window (0: none)")
    state_dim: int = spec(0, lo=0, hi=1 << 14, doc="selective-scan augment channels")
    local_window: int = spec(4, lo=0, hi=64, doc="last bytes whose embeddings are features")
    readout: str = spec("plain", choices=READOUT_KINDS, doc="readout network")
    readout_hidden: int = spec(384, lo=1, hi=1 << 16, doc="readout hidden units")
    readout_bands: int = spec(1, lo=1, hi=64, doc="feature bands normalised separately")
    num_experts: int = spec(4, lo=1, hi=256, doc="experts of the routed readout")
    expert_top_k: int = spec(1, lo=1, hi=256, doc="experts per position of the routed readout")
    balance_weight: float = spec(0.01, lo=0.0, doc="weight of the routed readout's balance loss")
    seed: int = spec(0, lo=0, hi=2**63 - 1, doc="seed of the substrate")

    def check(self) -> None:
        """Cross-field rules (the per-field ranges are in the field specs)."""
        rules = [
            (self.half_life_max >= self.half_life_min,
             f"half_life_max ({self.half_life_max}) must be >= half_life_min ({self.half_life_min})"),
            (self.period_max >= self.period_min,
             f"period_max ({self.period_max}) must be >= period_min ({self.period_min})"),
            (not (self.input_hidden and not self.local_window),
             "input_hidden > 0 reads the local window: local_window must be >= 1"),
            (self.num_modes + self.num_oscillatory + self.state_dim > 0,
             "needs at least one recurrent channel: num_modes, num_oscillatory or state_dim must be > 0"),
            (self.readout_bands <= self.num_features,
             f"readout_bands ({self.readout_bands}) exceeds the feature count ({self.num_features})"),
            (self.readout != "banded" or self.readout_hidden >= self.readout_bands,
             f"readout 'banded' needs readout_hidden ({self.readout_hidden}) >= readout_bands "
             f"({self.readout_bands})"),
            (self.expert_top_k <= self.num_experts,
             f"expert_top_k ({self.expert_top_k}) must be <= num_experts ({self.num_experts})"),
            (self.readout != "routed" or self.readout_hidden >= self.num_experts,
             f"readout 'routed' needs readout_hidden ({self.readout_hidden}) >= num_experts ({self.num_experts})"),
        ]
        for ok, message in rules:
            if not ok:
                raise fail("CausalBankConfig", message)
        check_model_size("CausalBankConfig", self.state_values() + self.build_values())

    # ------------------------------------------------------------------ sizes (no allocation)
    def state_values(self, vocab: int = 256) -> int:
        """Values in the model's state dict (parameters and buffers) for a ``vocab``-symbol model."""
        E, Nr, No, S, H, k = (self.embed_dim, self.num_modes, self.num_oscillatory, self.state_dim,
                              self.readout_hidden, self.local_window)
        bi, nf, nb = self.bank_input_dim, self.num_features, self.num_bank_features
        n = vocab * E + 2 * nf  # embedding, band norms
        if Nr + No:
            n += bi * nb + Nr + 2 * No  # input projection, decay and oscillation numbers
            if self.gated:
                n += (bi + 1) * (Nr + No) + (bi + 1) * nb
        if S:
            n += (bi + 1) * 2 * S + S
        if self.input_hidden:
            n += (k * E + 1) * self.input_hidden
        if self.readout == "banded":
            hs = [H // self.readout_bands + (1 if i < H % self.readout_bands else 0) for i in range(self.readout_bands)]
            n += sum((f + 1) * h for f, h in zip(self.band_sizes(), hs))
            hidden = H
        elif self.readout == "routed":
            hidden = (H // self.num_experts) * self.num_experts
            n += (nf + 1) * self.num_experts + (nf + 1) * hidden
        else:
            n += (nf + 1) * H
            hidden = H
        if self.readout == "gru":
            n += 6 * H * H + 6 * H
        return n + (hidden + 1) * vocab

    def build_values(self) -> int:
        """Float64 temporaries of :func:`build_substrate` in float32-value units (the input projection and,
        when orthogonal, the square Gaussian blocks it is cut from)."""
        rows, cols = self.bank_input_dim, self.num_bank_features
        square = rows * rows * 2 if self.input_projection == "orthogonal" and cols else 0
        return 2 * (3 * rows * cols + square)

    # ------------------------------------------------------------------ derived sizes
    @property
    def num_bank_features(self) -> int:
        """Features produced by the decay and oscillatory modes."""
        return self.num_modes + 2 * self.num_oscillatory

    @property
    def bank_input_dim(self) -> int:
        """Width of the vector that drives the bank: ``input_hidden`` if set, else ``embed_dim``."""
        return self.input_hidden or self.embed_dim

    @property
    def num_features(self) -> int:
        """Width of the feature vector fed to the readout."""
        return self.local_window * self.embed_dim + self.num_bank_features + self.state_dim

    @property
    def learns_decays(self) -> bool:
        return self.substrate_mode in LEARNS_DECAYS

    @property
    def learns_mixing(self) -> bool:
        return self.substrate_mode in LEARNS_MIXING

    @property
    def gated(self) -> bool:
        return self.substrate_mode == "gated_retention"

    def band_sizes(self) -> list[int]:
        """Sizes of the ``readout_bands`` contiguous feature bands (features are ordered fast to slow)."""
        n, k = self.num_features, self.readout_bands
        return [n // k + (1 if i < n % k else 0) for i in range(k)]

    # ------------------------------------------------------------------ variants
    @classmethod
    def variant(cls, name: str, **overrides: Any) -> CausalBankConfig:
        """A named size: ``tiny`` (tests), ``small``, ``default``, ``large``; ``overrides`` replace fields."""
        if name not in VARIANTS:
            raise InputError(f"unknown causal-bank variant {name!r}; choose one of {', '.join(VARIANTS)}")
        sizes: dict[str, dict[str, Any]] = {
            "tiny": dict(embed_dim=8, num_modes=12, num_oscillatory=4, local_window=2, readout_hidden=16,
                         half_life_max=32.0, num_experts=2, input_hidden=0),
            "small": dict(embed_dim=24, num_modes=96, num_oscillatory=16, input_hidden=64, readout_hidden=192),
            "default": {},
            "large": dict(embed_dim=48, num_modes=384, num_oscillatory=64, input_hidden=256, readout_hidden=768,
                          half_life_max=1024.0),
        }
        return cls(**{**sizes[name], **overrides})

    def scaled(self, factor: float) -> CausalBankConfig:
        """The same design with every width multiplied by ``factor`` (at least 1 each; bands kept)."""
        f = check_value("CausalBankConfig.scaled", "factor", factor, Spec(kind="float", lo=0.0, lo_open=True))

        def w(v: int, lo: int = 1) -> int:
            return max(lo, int(round(v * f))) if v > 0 else 0

        return dataclasses.replace(
            self, embed_dim=w(self.embed_dim), num_modes=w(self.num_modes), num_oscillatory=w(self.num_oscillatory),
            state_dim=w(self.state_dim), input_hidden=w(self.input_hidden),
            readout_hidden=w(self.readout_hidden, max(self.num_experts, self.readout_bands)))


# ---------------------------------------------------------------------- substrate


@dataclass
class Substrate:
    """The initial numbers of a causal bank, all float64 numpy arrays.

    ``decays``: (num_modes,) in (0, 1), ordered fast to slow. ``osc_radius``: (num_oscillatory,) in (0, 1);
    ``osc_angle``: (num_oscillatory,) radians per byte. ``input_proj``: (bank_input_dim, num_modes +
    2 * num_oscillatory), columns ``[real modes | oscillatory real parts | oscillatory imaginary parts]``.
    ``sel_log_rate``: (state_dim,) log of the selective augment's base rates ``A``.
    """

    decays: np.ndarray
    osc_radius: np.ndarray
    osc_angle: np.ndarray
    input_proj: np.ndarray
    sel_log_rate: np.ndarray


def half_lives(n: int, lo: float, hi: float, schedule: str = "log") -> np.ndarray:
    """``n`` half-lives (in bytes) from ``lo`` to ``hi``: log-spaced (``log``) or evenly spaced (``linear``)."""
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.array([math.sqrt(lo * hi) if schedule == "log" else 0.5 * (lo + hi)])
    if schedule == "log":
        return np.exp(np.linspace(math.log(lo), math.log(hi), n))
    if schedule == "linear":
        return np.linspace(lo, hi, n)
    raise InputError(f"unknown decay schedule {schedule!r}; choose one of {', '.join(DECAY_SCHEDULES)}")


def decay_from_half_life(h: np.ndarray) -> np.ndarray:
    """Per-step decay ``a = 2 ** (-1 / h)``: a mode's response halves after ``h`` steps."""
    return np.exp2(-1.0 / np.asarray(h, dtype=np.float64))


def oscillatory_pairs(n: int, config: CausalBankConfig) -> tuple[np.ndarray, np.ndarray]:
    """``n`` damped rotations: periods log-spaced in ``[period_min, period_max]``, each damped so that its
    half-life is two periods (clipped to the decay range). Returns ``(radius, angle)``."""
    if n == 0:
        return np.zeros(0), np.zeros(0)
    periods = half_lives(n, config.period_min, config.period_max, "log")
    hl = np.clip(2.0 * periods, config.half_life_min, max(config.half_life_max, config.half_life_min))
    return decay_from_half_life(hl), 2.0 * math.pi / periods


def input_projection(rng: np.random.Generator, rows: int, cols: int, scheme: str, scale: float) -> np.ndarray:
    """A ``(rows, cols)`` input projection whose columns have expected squared norm ``scale**2``.

    ``orthogonal``: blocks of orthonormal rows (QR of a Gaussian) tiled across columns;
    ``gaussian``: i.i.d. normal; ``sparse``: each column reads about a third of the rows with random signs.
    """
    if cols == 0:
        return np.zeros((rows, 0))
    if scheme == "gaussian":
        w = rng.standard_normal((rows, cols)) / math.sqrt(rows)
    elif scheme == "orthogonal":
        blocks = []
        for start in range(0, cols, rows):
            width = min(rows, cols - start)
            q, r = np.linalg.qr(rng.standard_normal((rows, rows)))
            q = q * np.sign(np.diag(r))[None, :]
            blocks.append(q[:, :width])
        w = np.concatenate(blocks, axis=1)
    elif scheme == "sparse":
        mask = rng.random((rows, cols)) < 1.0 / 3.0
        mask[rng.integers(0, rows, size=cols), np.arange(cols)] = True
        w = mask * rng.choice([-1.0, 1.0], size=(rows, cols))
        w /= np.sqrt(mask.sum(axis=0, keepdims=True))
    else:
        raise InputError(f"unknown input projection {scheme!r}; choose one of {', '.join(INPUT_PROJECTIONS)}")
    return w * scale


def build_substrate(config: CausalBankConfig) -> Substrate:
    """Deterministic substrate from ``config`` (its ``seed`` and widths): same config, same arrays."""
    rng = np.random.default_rng([config.seed, 0xCA05A1])
    decays = decay_from_half_life(half_lives(config.num_modes, config.half_life_min, config.half_life_max,
                                             config.decay_schedule))
    radius, angle = oscillatory_pairs(config.num_oscillatory, config)
    proj = input_projection(rng, config.bank_input_dim, config.num_bank_features, config.input_projection,
                            config.input_scale)
    sel = np.log(math.log(2.0) / half_lives(config.state_dim, config.half_life_min,
                                            max(config.half_life_max / 4.0, config.half_life_min), "log"))
    return Substrate(decays=decays, osc_radius=radius, osc_angle=angle, input_proj=proj, sel_log_rate=sel)


def describe_family() -> dict[str, Any]:
    """Family metadata: modes, readout kinds, variants and which parameters each mode trains."""
    return {
        "substrate_modes": {m: {"learns_decays": m in LEARNS_DECAYS, "learns_mixing": m in LEARNS_MIXING,
                                "input_dependent_gates": m == "gated_retention"} for m in SUBSTRATE_MODES},
        "readouts": list(READOUT_KINDS),
        "decay_schedules": list(DECAY_SCHEDULES),
        "input_projections": list(INPUT_PROJECTIONS),
        "variants": {v: CausalBankConfig.variant(v).num_features for v in VARIANTS},
    }
