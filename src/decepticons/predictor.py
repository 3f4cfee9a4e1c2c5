"""The one contract: a causal byte predictor.

Every model in the package, whatever its backend, implements::

    log_probs(data: uint8[T]) -> float64[T, 256]   # row t = log p(x_t | x_<t); row 0 sees only the start state
    stream() -> Stream                             # .log_probs() -> float64[256], .push(byte) -> None

``log_probs`` is the fast batched path; ``stream`` the step-by-step path used by generation and entropy
coding. Both must agree (each model has a parity test). Scoring, generation, compression, evaluation, the
CLI and the benchmarks are written once against this contract (:func:`score`, :func:`generate`).

Adaptive models (those that keep learning while they predict) start ``log_probs`` and every new ``stream``
from the same fitted state and never mutate it, so an encoder and a decoder see identical predictions.
"""

from __future__ import annotations

import functools
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar, Literal, overload

import numpy as np

from .codecs import BytesLike, as_byte_array
from .errors import InputError
from .runtime.progress import ByteProgress
from .runtime.reports import ScoreReport

VOCAB = 256
LN2 = float(np.log(2.0))
#: most bytes one :func:`generate` call produces (``steps``; also the command line's ``--steps``)
MAX_GENERATE_STEPS = 1 << 20
#: seeds accepted by :func:`generate` and the command line: ``0 <= seed <= MAX_SEED``
MAX_SEED = 2**63 - 1


def check_byte(byte: Any) -> int:
    """``byte`` as an ``int`` in 0..255: a Python or numpy integer (not a bool, a float, a string or an
    array); anything else is an :class:`InputError` naming the value and the allowed range."""
    if isinstance(byte, (int, np.integer)) and not isinstance(byte, (bool, np.bool_)):
        b = int(byte)
        if 0 <= b < VOCAB:
            return b
    raise InputError(f"a byte must be an integer in 0..255, got {byte!r:.40} ({type(byte).__name__})")


@overload
def check_int(name: str, value: Any, lo: int, hi: int | None, optional: Literal[False] = False) -> int: ...


@overload
def check_int(name: str, value: Any, lo: int, hi: int | None, optional: bool) -> int | None: ...


def check_int(name: str, value: Any, lo: int, hi: int | None, optional: bool = False) -> int | None:
    """``value`` as an ``int`` with ``lo <= value <= hi`` (no upper bound when ``hi`` is ``None``; ``None``
    itself when ``optional``), else an :class:`InputError` naming the argument, the value and the range."""
    if value is None and optional:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and lo <= value \
            and (hi is None or value <= hi):
        return int(value)
    allowed = f"an integer >= {lo}" if hi is None else f"an integer in {lo}..{hi}"
    raise InputError(f"{name} must be {allowed}{' (or None)' if optional else ''}, got {value!r:.40}")


class Stream(ABC):
    """Incremental prediction: ask for the next-byte distribution, then push the byte that came.

    Every subclass's ``push`` is wrapped so that its argument is checked by :func:`check_byte` first (one
    place for every model's stream): a string, ``None``, an array, a float or a value outside 0..255 is an
    :class:`InputError`, never a silent truncation.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        push = cls.__dict__.get("push")
        if push is not None:
            @functools.wraps(push)
            def checked_push(self: Stream, byte: Any) -> None:
                push(self, check_byte(byte))

            cls.push = checked_push  # type: ignore[method-assign]

    @abstractmethod
    def log_probs(self) -> np.ndarray:
        """``float64[256]`` log-probabilities of the next byte given every byte pushed so far."""

    @abstractmethod
    def push(self, byte: int) -> None:
        """Condition on one more observed byte."""

    def push_many(self, data: BytesLike) -> None:
        for b in as_byte_array(data):
            self.push(int(b))


class CausalPredictor(ABC):
    """Base class of every next-byte model.

    Subclasses implement :meth:`log_probs` and :meth:`stream`; they may override :meth:`iter_log_probs`
    to score long inputs in bounded memory (the default materialises ``[T, 256]`` at once).
    """

    #: registry name (``coder``, ``ngram``, ``mixer``, ``causal-bank``, ``mythos``, ...)
    name: ClassVar[str] = "predictor"
    #: longest history the model can condition on; ``None`` means unbounded
    context_length: int | None = None
    #: True when the stream keeps predicting past ``context_length`` bytes, each prediction conditioned
    #: on a window of the most recent bytes (``generate`` then accepts any length)
    slides_window: bool = False
    #: True when predictions keep learning from the bytes being scored (prequential)
    adaptive: bool = False
    #: False for a model that reads both sides of each byte (row t may depend on bytes after t, e.g. the
    #: oracle analysis adapter): its rows are not a code, so causal scoring, generation, compression and
    #: mixing refuse it (:func:`require_causal`)
    causal: ClassVar[bool] = True
    #: fnmatch patterns of saved tensors that may hold NaN or infinities on purpose; every other
    #: floating-point tensor must be finite to be saved or loaded (a diverged model is refused)
    non_finite_tensors: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def log_probs(self, data: BytesLike) -> np.ndarray:
        """``float64[T, 256]``: row t is ``log p(x_t | x_<t)``."""

    @abstractmethod
    def stream(self) -> Stream:
        """A fresh incremental predictor at the start state."""

    # ------------------------------------------------------------------ derived, written once
    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        """Yield consecutive ``[n, 256]`` blocks whose concatenation equals ``log_probs(data)``."""
        del chunk_size
        yield self.log_probs(data)

    def target_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16,
                         progress: bool | None = None) -> np.ndarray:
        """``float64[T]``: ``log p(x_t | x_<t)`` of the bytes that actually occur (natural log)."""
        x = as_byte_array(data)
        out = np.empty(len(x), dtype=np.float64)
        pos = 0
        with ByteProgress(len(x), desc=f"score {self.name}", enabled=progress) as bar:
            for block in self.iter_log_probs(x, chunk_size=chunk_size):
                n = len(block)
                out[pos:pos + n] = block[np.arange(n), x[pos:pos + n]]
                pos += n
                bar.update(n)
        if pos != len(x):
            raise RuntimeError(f"{type(self).__name__}.iter_log_probs yielded {pos} rows for {len(x)} bytes")
        return out

    def score(self, data: BytesLike, trace: bool = False, progress: bool | None = None) -> ScoreReport:
        """Bits per byte on ``data`` (see :func:`score`)."""
        return score(self, data, trace=trace, progress=progress)

    def generate(self, prompt: BytesLike = b"", steps: int = 64, greedy: bool = False,
                 temperature: float = 1.0, top_k: int | None = None, seed: int | None = None) -> np.ndarray:
        """Prompt followed by ``steps`` sampled bytes (see :func:`generate`)."""
        return generate(self, prompt, steps=steps, greedy=greedy, temperature=temperature, top_k=top_k,
                        seed=seed)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        """JSON-serialisable configuration that, with :meth:`state_tensors`, rebuilds the model."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def state_tensors(self) -> dict[str, np.ndarray]:
        """Every learned array, by name."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def extra_state(self) -> dict[str, Any]:
        """Small JSON facts kept beside the tensors (e.g. the fit report)."""
        return {}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> CausalPredictor:
        raise NotImplementedError(f"{cls.__name__} cannot be loaded")

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write one ``.safetensors`` model file atomically; returns the model's fingerprint."""
        from .runtime.checkpoints import FACTS_KEY, non_finite_tensors, save_model_file

        tensors = self.state_tensors()
        bad = non_finite_tensors(tensors, self.non_finite_tensors)
        if bad:
            raise InputError(f"refusing to save a {self.name} model whose weights are not finite (NaN or infinite "
                             f"values in {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}): it diverged or "
                             "was corrupted")
        extra = dict(self.extra_state())
        facts = self.prediction_facts()
        if facts:
            extra[FACTS_KEY] = facts
        return save_model_file(path, self.name, self.config_dict(), tensors, extra)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CausalPredictor:
        """Read a model file written by :meth:`save` (refusing files of another model kind)."""
        from .runtime.checkpoints import read_model_file

        return cls.from_model_file(read_model_file(path, expected_kind=cls.name))

    @classmethod
    def from_model_file(cls, mf: Any) -> CausalPredictor:
        from .errors import ModelFileError
        from .runtime.checkpoints import non_finite_tensors

        bad = non_finite_tensors(mf.tensors, cls.non_finite_tensors)
        if bad:
            raise ModelFileError(f"model file holds non-finite values (NaN or infinity) in {', '.join(bad[:3])}"
                                 f"{' ...' if len(bad) > 3 else ''}; a {cls.name} model needs finite weights")
        if not isinstance(mf.config, dict) or not isinstance(mf.extra, dict):
            raise ModelFileError("model file's config and extra must be JSON objects")
        try:
            return cls.from_state(mf.config, mf.tensors, mf.extra)
        except (KeyError, ValueError, TypeError) as e:
            raise ModelFileError(f"model file does not match {cls.__name__}: {e}") from None

    def partial_fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
                    progress: bool | None = None) -> Any:
        """Keep learning on ``data`` from the state the model is in (``fit`` always starts from scratch).

        Models whose fitted state accumulates (the count memories, the mixer, the gradient-trained models)
        override this; here it is an :class:`InputError`: the model's fit is one pass over all of its data."""
        raise InputError(f"{self.name} cannot continue fitting from a fitted state: its fit is one pass over all "
                         "of its data; fit it again on everything (fit always starts from scratch)")

    def prediction_facts(self) -> dict[str, Any]:
        """Facts besides configuration and weights that change predictions (saved and fingerprinted)."""
        return {}

    def fingerprint(self) -> str:
        """sha256 of kind, configuration, weights and :meth:`prediction_facts`: identical models, identical
        fingerprints."""
        from .runtime.checkpoints import fingerprint

        return fingerprint(self.name, self.config_dict(), self.state_tensors(), self.prediction_facts())

    def describe(self) -> dict[str, Any]:
        """Short facts for ``decepticons info``; subclasses add their configuration."""
        return {"name": self.name, "class": type(self).__name__, "adaptive": self.adaptive,
                "context_length": self.context_length}


def require_causal(model: CausalPredictor, what: str) -> None:
    """Refuse (:class:`InputError`) a model that declares itself non-causal (``causal = False``) for ``what``
    (scoring as a code length, generation, compression, mixing)."""
    if not model.causal:
        raise InputError(f"{what} needs a causal model; {model.name} is non-causal (it reads the bytes after "
                         "each position, so its predictions are not a code): use it for analysis only")


def log_probs_from_chunks(model: CausalPredictor, data: BytesLike) -> np.ndarray:
    """``log_probs`` for models whose primary path is :meth:`CausalPredictor.iter_log_probs`."""
    x = as_byte_array(data)
    if len(x) == 0:
        return np.zeros((0, VOCAB))
    return np.concatenate(list(model.iter_log_probs(x)), axis=0)


class RecomputeStream(Stream):
    """Reference stream for any predictor: recompute ``log_probs`` on the whole history each step.

    O(T^2); used to check fast streams and by models too small to need their own.
    """

    def __init__(self, model: CausalPredictor) -> None:
        self._model = model
        self._history = bytearray()

    def log_probs(self) -> np.ndarray:
        # append a dummy byte: row len(history) then sees exactly the history
        lp = self._model.log_probs(bytes(self._history) + b"\0")
        return lp[-1]

    def push(self, byte: int) -> None:
        self._history.append(int(byte))


def score(model: CausalPredictor, data: BytesLike, trace: bool = False,
          progress: bool | None = None) -> ScoreReport:
    """Score ``data`` with ``model``: total code length ``sum_t -log2 p(x_t | x_<t)`` and bits per byte."""
    require_causal(model, "score")
    x = as_byte_array(data)
    if len(x) == 0:
        raise InputError("cannot score an empty input")
    t0 = time.perf_counter()
    lp = model.target_log_probs(x, progress=progress)
    seconds = time.perf_counter() - t0
    bits = -lp / LN2
    if not np.all(np.isfinite(bits)):
        bad = int(np.flatnonzero(~np.isfinite(bits))[0])
        raise InputError(f"{model.name} gave probability 0 (or a non-finite log-probability) to the byte at "
                         f"position {bad}: its weights or counts do not describe a distribution there")
    return ScoreReport(model=model.name, bytes=len(x), total_bits=float(bits.sum()), seconds=seconds,
                       adaptive=bool(model.adaptive), trace=bits if trace else None)


def score_valid(model: CausalPredictor, report: Any, valid: BytesLike, progress: bool | None = None) -> None:
    """Score ``valid`` and record its size and bits per byte on a fit ``report`` (``valid_bytes``,
    ``valid_bits_per_byte``); an empty validation input is an :class:`InputError`."""
    v = as_byte_array(valid, name="valid")
    if len(v) == 0:
        raise InputError("the validation input is empty")
    sr = model.score(v, progress=progress)
    report.valid_bytes, report.valid_bits_per_byte = sr.bytes, sr.bits_per_byte


def check_sampling(temperature: Any, top_k: Any) -> None:
    """``temperature``: a finite number >= 0; ``top_k``: ``None`` or an integer >= 1 (256 or more: every
    byte)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)) \
            or not 0 <= temperature < float("inf"):  # also refuses NaN and infinity
        raise InputError(f"temperature must be a finite number >= 0, got {temperature!r:.40}")
    check_int("top_k", top_k, 1, None, optional=True)


def sample_from_log_probs(lp: np.ndarray, rng: np.random.Generator, greedy: bool = False,
                          temperature: float = 1.0, top_k: int | None = None) -> int:
    """Draw one byte from log-probabilities: greedy, temperature-scaled and/or top-k truncated."""
    check_sampling(temperature, top_k)
    if greedy or temperature == 0:
        return int(np.argmax(lp))
    logits = np.asarray(lp, dtype=np.float64) / temperature
    if top_k is not None:
        if top_k < len(logits):
            kth = np.partition(logits, -top_k)[-top_k]
            logits = np.where(logits >= kth, logits, -np.inf)
    logits = logits - logits.max()
    p = np.exp(logits)
    p /= p.sum()
    return int(rng.choice(len(p), p=p))


def generate(model: CausalPredictor, prompt: BytesLike = b"", steps: int = 64, greedy: bool = False,
             temperature: float = 1.0, top_k: int | None = None, seed: int | None = None) -> np.ndarray:
    """Continue ``prompt`` by ``steps`` bytes through the model's stream; returns prompt + continuation.

    A model with a finite ``context_length`` accepts prompt + steps up to it, or any length when its stream
    slides a window over the history (``slides_window``).

    ``greedy=True`` (or ``temperature=0``) takes the most likely byte; otherwise samples from the
    distribution sharpened or flattened by ``temperature`` and optionally truncated to the ``top_k`` bytes.
    ``seed`` (``0 <= seed <= MAX_SEED``) makes sampling reproducible. ``steps`` is at most
    :data:`MAX_GENERATE_STEPS`; ``top_k`` an integer >= 1.
    """
    require_causal(model, "generate")
    p = as_byte_array(prompt, name="prompt")
    steps = check_int("steps", steps, 0, MAX_GENERATE_STEPS)
    check_int("seed", seed, 0, MAX_SEED, optional=True)
    check_sampling(temperature, top_k)
    ctx = model.context_length
    if ctx is not None and not model.slides_window and len(p) + steps > ctx:
        raise InputError(
            f"prompt ({len(p)} bytes) + steps ({steps}) exceed the model's context of {ctx} bytes")
    rng = np.random.default_rng(seed)
    st = model.stream()
    for b in p:
        st.push(int(b))
    out = bytearray(p.tobytes())
    for _ in range(int(steps)):
        b = sample_from_log_probs(st.log_probs(), rng, greedy=greedy, temperature=temperature, top_k=top_k)
        out.append(b)
        st.push(b)
    return np.frombuffer(bytes(out), dtype=np.uint8).copy()


def shift_right(x: np.ndarray, start_byte: int) -> np.ndarray:
    """Model inputs for the predictor contract: ``int64[T]`` with ``out[0] = start_byte`` and
    ``out[t] = x[t-1]``, so a network reading input t (bytes ``x_<t``) predicts ``x_t`` at row t.
    Works along the last axis for ``[..., T]`` integer arrays."""
    x = np.asarray(x)
    out = np.empty(x.shape, dtype=np.int64)
    if x.shape[-1] == 0:
        return out
    out[..., 0] = start_byte
    out[..., 1:] = x[..., :-1]
    return out


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable ``log softmax`` along ``axis``."""
    m = np.max(z, axis=axis, keepdims=True)
    s = z - m
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
