"""CMPredictor (registry name ``cm``): bit-level context mixing, a compressor-grade byte predictor.

Each byte is 8 binary decisions down a 255-node tree. For every node, each context model (orders 1-7,
words, sparse, column, indentation and indirect contexts, :mod:`.contexts`) offers an adaptive bit
probability from a hashed slot (one 64-byte slot per context and nibble serves its 15 nodes), a state map
reads the entry's bit history, the context's last byte and its run offer that byte's bit, and a match model
offers the bit of the byte that followed the latest repeat of the context; logistic mixers with weight sets
selected by small contexts combine them in the stretch domain, a second layer mixes the mixers, and two
adaptive probability maps refine the result (:mod:`.nodes`).

Learning happens once per byte, after the byte is known (:mod:`.learn`), so the probability of a byte is
exactly the product of its 8 node probabilities, and the full 256-way distribution (all 255 nodes,
``log_probs``, ``stream``, coding frequencies) agrees with the 8-node fast path of ``target_log_probs``
(:mod:`.kernels`).

``fit`` starts from a fresh state and learns every byte of the corpus; ``partial_fit`` continues. Scoring
runs from a private copy of the fitted state (``online``: it keeps learning, prequential) and never mutates
it; the running contexts (words, lines, match history) start empty for each scored input.
Model files hold the context tables sparsely: only the slots in use (:mod:`.persist`). ``compress`` codes
the 8 node probabilities of each byte with the model's own binary arithmetic coder (:mod:`.coding`,
``bit_compress`` / ``bit_decompress``), 8 node evaluations per byte instead of the 255 a 256-way row needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import CompressedFileError, InputError
from ..jit import Kernels, get_kernels, specialise
from ..memory.base import finish_fit
from ..predictor import LN2, CausalPredictor, Stream
from ..runtime.progress import ByteProgress
from ..runtime.reports import FitReport
from .coding import M32
from .config import CONTEXT_KINDS, CMConfig
from .kernels import MODE_FREQS, MODE_ROWS, MODE_TARGET
from .persist import state_from_tensors, state_to_tensors
from .state import CMParams, CMScratch, CMState, copy_state, new_scratch, new_state


class CMPredictor(CausalPredictor):
    """Bit-level context mixer; options in :class:`~decepticons.cm.config.CMConfig` (keywords, a
    ``config`` instance, or ``preset=fast|default|max``)."""

    name: ClassVar[str] = "cm"
    config_class: ClassVar[type] = CMConfig

    def __init__(self, config: CMConfig | None = None, *, use_numba: bool = True, seed: int = 0,
                 **options: Any) -> None:
        base = config.to_dict() if config is not None else {}
        self.config = cfg = CMConfig.build({**base, **options})
        self.kinds = np.asarray([CONTEXT_KINDS.index(c) for c in cfg.contexts], dtype=np.int64)
        self.params = CMParams(kinds=self.kinds, table_bits=cfg.table_bits, limit=cfg.limit, nm=cfg.mixers,
                               lr=cfg.lr, lr2=cfg.lr2, apm_rate=cfg.apm_rate, match_min=cfg.match_min,
                               confidence=cfg.confidence, runs=cfg.runs)
        self.use_numba = bool(use_numba)
        self.seed = int(seed)
        self.fit_info: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        """Forget everything learned (a fresh model)."""
        self.state = self._new_state()
        #: nothing learned since the state was made: a scoring or coding pass that learns can start from a new
        #: state instead of a copy (zeros are mapped lazily, so a pass touches only the table pages it uses)
        self._pristine = True

    def _new_state(self) -> CMState:
        cfg = self.config
        return new_state(len(self.kinds), cfg.table_bits, cfg.mixers, cfg.confidence, cfg.runs)

    @classmethod
    def tiny(cls, train: np.ndarray) -> CMPredictor:
        model = cls(table_bits=10, match_bits=12, match_min=4)
        model.fit(train)
        return model

    @property
    def adaptive(self) -> bool:  # type: ignore[override]
        return self.config.online

    @property
    def _k(self) -> Kernels:
        return get_kernels(self.use_numba)

    def _fresh(self) -> CMState:
        cfg = self.config
        return new_state(len(self.kinds), 6, cfg.mixers, cfg.confidence, cfg.runs)  # table size does not matter here

    def _scratch(self) -> CMScratch:
        return new_scratch(len(self.kinds), self.config.confidence, self.config.runs, self.config.match_bits)

    def _state_for(self, learn: bool) -> CMState:
        """The state a pass reads: the model's own, or, when the pass learns, one the pass may change (a copy;
        a new state while the model has learned nothing, which is the same numbers)."""
        if not learn:
            return self.state
        return self._new_state() if self._pristine else copy_state(self.state)

    # ------------------------------------------------------------------ batched paths
    def _blocks(self, x: np.ndarray, chunk: int, mode: int, learn: bool,
                state: CMState | None = None) -> Iterator[np.ndarray]:
        state = state if state is not None else self._state_for(learn)
        scratch = self._scratch()
        buf = np.empty((min(chunk, len(x)), 256)) if mode == MODE_FREQS else None
        run = self._k.cm_run
        for c0 in range(0, len(x), chunk):
            end = min(len(x), c0 + chunk)
            if buf is not None:
                out = buf[:end - c0]
            else:
                out = np.empty((end - c0, 1 if mode == MODE_TARGET else 256))
            run(self.params, state, scratch, x, c0, end, learn, out, mode)
            yield out

    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        x = np.asarray(as_byte_array(data))
        yield from self._blocks(x, max(1, int(chunk_size)), MODE_ROWS, self.config.online)

    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        if len(x) == 0:
            return np.zeros((0, 256))
        return np.concatenate(list(self.iter_log_probs(x)), axis=0)

    def target_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16,
                         progress: bool | None = None) -> np.ndarray:
        """The base method's values through the 8-node path of each byte (no 256-wide rows)."""
        x = np.asarray(as_byte_array(data))
        out = np.empty(len(x))
        pos = 0
        with ByteProgress(len(x), desc=f"score {self.name}", enabled=progress) as bar:
            for block in self._blocks(x, chunk_size, MODE_TARGET, self.config.online):
                out[pos:pos + len(block)] = block[:, 0]
                pos += len(block)
                bar.update(len(block))
        return out

    def coding_freq_blocks(self, data: BytesLike, chunk: int) -> Iterator[np.ndarray]:
        """Coding frequencies in batches (views of one reused buffer), equal to the stream's step by step."""
        x = np.asarray(as_byte_array(data))
        yield from self._blocks(x, chunk, MODE_FREQS, self.config.online)

    def stream(self) -> Stream:
        return CMStream(self)

    # ------------------------------------------------------------------ bitwise coding (decepticons.coding)
    def bit_compress(self, data: BytesLike) -> bytes:
        """The bitwise payload of ``data`` (:mod:`.coding`): 8 binary decisions per byte with the node
        probabilities of ``target_log_probs``."""
        x = np.asarray(as_byte_array(data))
        learn = self.config.online
        state, scratch, k = self._state_for(learn), self._scratch(), self._k
        out = np.empty(len(x) // 2 + 1024, dtype=np.uint8)
        scratch.coder[:] = (0, M32, 0, 0)
        t = 0
        while True:
            t = k.cm_encode(self.params, state, scratch, x, t, len(x), learn, out)
            if t >= len(x) and scratch.coder[3] + 8 <= len(out):
                break
            out = np.concatenate([out, np.empty(len(out), dtype=np.uint8)])
        k.cm_flush(out, scratch.coder)
        return out[:int(scratch.coder[3])].tobytes()

    def bit_decompress(self, payload: bytes, length: int) -> np.ndarray:
        """Invert :meth:`bit_compress`: ``uint8[length]``; a payload that ends too soon is a
        :class:`~decepticons.errors.CompressedFileError`."""
        learn = self.config.online
        out = np.zeros(length, dtype=np.uint8)
        src = np.frombuffer(payload, dtype=np.uint8).copy()  # one buffer type for both directions
        got = self._k.cm_decode(self.params, self._state_for(learn), self._scratch(), src, length, learn, out)
        if got != length:
            raise CompressedFileError(f"compressed file is truncated or corrupted: its {len(payload):,}-byte payload "
                                      f"is used up before the {length:,} bytes its header claims")
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """From a fresh state, learn every byte of ``data`` (prequential train figure)."""
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot fit on an empty corpus")
        self.reset()
        return self._learn(x, valid, progress)

    def partial_fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
                    progress: bool | None = None) -> FitReport:
        """Keep learning on ``data`` from the current state (its running contexts start empty)."""
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot fit on an empty corpus")
        return self._learn(x, valid, progress)

    def _learn(self, x: np.ndarray, valid: BytesLike | None, progress: bool | None) -> FitReport:
        self._pristine = False
        t0 = time.perf_counter()
        total = 0.0
        with ByteProgress(len(x), desc=f"fit {self.name}", enabled=progress) as bar:
            for block in self._blocks(x, 1 << 16, MODE_TARGET, True, state=self.state):
                total -= float(block.sum())
                bar.update(len(block))
        used = int(np.count_nonzero(self.state.T[:, 0]))
        report = FitReport(model=self.name, train_bytes=len(x), seconds=time.perf_counter() - t0,
                           train_bits_per_byte=total / LN2 / len(x), workers=1,
                           details={"contexts": list(self.config.contexts), "slots_used": used,
                                    "slots": int(self.state.T.shape[0]),
                                    "numba": self._k.fast,
                                    "train_bits_per_byte_is": "prequential (each byte scored before learning)"})
        return finish_fit(self, report, valid, progress)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def state_tensors(self) -> dict[str, np.ndarray]:
        return state_to_tensors(self.state, self._fresh())

    def extra_state(self) -> dict[str, Any]:
        return {"fit": self.fit_info}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> CMPredictor:
        model = cls(**config)
        model.state = state_from_tensors(tensors, model.state)
        model._pristine = False
        model.fit_info = dict(extra.get("fit", {}))
        return model

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(self.config_dict())
        d["slots_used"] = int(np.count_nonzero(self.state.T[:, 0]))
        return d


class CMStream(Stream):
    """Step-by-step path: one compiled call per byte (learn the byte pushed last, predict the next position
    in full), as in the batched full mode."""

    def __init__(self, model: CMPredictor) -> None:
        self.m = model
        self.learn = model.config.online
        self.state = model._state_for(self.learn)
        self.scratch = model._scratch()
        self.hist = np.zeros(1 << 12, dtype=np.uint8)
        self.tpos = np.zeros(1, dtype=np.int64)
        self.freq_row = np.zeros((1, 256))
        self.freqs = self.freq_row[0]
        self.lrow = np.zeros(256)
        self._pending = -1
        self._cached = False
        self._fn = model._k.cm_stream_step
        self._step = specialise(self._fn, *self._args(), -1)

    def _args(self) -> tuple[Any, ...]:
        return (self.m.params, self.state, self.scratch, self.hist, self.tpos, self.lrow, self.freqs, self.learn)

    def _predict(self) -> None:
        if self._cached:
            return
        if self._pending >= 0 and int(self.tpos[0]) >= len(self.hist):
            self.hist = np.concatenate([self.hist, np.zeros(len(self.hist), dtype=np.uint8)])
        self._step(*self._args(), self._pending)
        self._pending = -1
        self._cached = True

    def log_probs(self) -> np.ndarray:
        self._predict()
        return self.lrow.copy()

    def coding_freqs(self) -> np.ndarray:
        self._predict()
        return self.freqs.copy()

    def coding_freq_row(self) -> np.ndarray:
        """The next byte's coding frequencies as the stream's own ``(1, 256)`` buffer (valid until the next
        ``push``)."""
        self._predict()
        return self.freq_row

    def push(self, byte: int) -> None:
        if not self._cached:
            self._predict()
        self._pending = int(byte)
        self._cached = False
