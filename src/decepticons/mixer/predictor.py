"""MixerPredictor (registry name ``mixer``): a causal, online context mixer over byte predictors.

Inputs at position t, each a log-distribution over the 256 next bytes (``X: float64[n_in, 256]``):

* the n-gram memory's recursion at every order ``r = 0..k`` (``log p_r``, see :mod:`decepticons.memory`),
* up to five extra contexts (``word``): the letters of the current word so far, that plus the previous
  word, plus the word before it, a sparse context (the two bytes before the last one) and a line context
  (column and the first two bytes of the line); each an escape-smoothed count distribution over a uniform
  floor (uniform, i.e. no opinion, when unseen),
* a document memory: the same chain over order 0 and ``doc_orders`` (default 2 and 4) counted only from
  the current document (empty at the start of every scoring run; restarted every ``DOC_RESET`` bytes
  during ``fit`` so the mixer learns how far to trust it),
* a match model (the byte that followed the longest recent repeat of the current context, with an adaptive
  hit rate per match length; uniform when there is no match),
* any number of external :class:`~decepticons.predictor.CausalPredictor` experts (for example the
  substrate coder or a trained causal bank), stepped in lockstep and mixed with the base mix of the inputs
  above by the expert stage (:mod:`.experts`): weights start at "trust the base" and are chosen by each
  expert's confidence (its top-1 mass and agreement with the base; optionally its entropy).

Mixing is geometric (logistic mixing generalised to 256 symbols, in the log/"stretched" domain)::

    z(c) = sum_i (W1[s1, i] + W2[s2, i]) * X[i, c],     p(c) = exp(z(c)) / sum_c' exp(z(c'))

with two weight sets chosen by small contexts: ``s1`` = (highest order whose context was seen, a bucket of
that context's count, whether it was deterministic, the match state) and ``s2`` = the previous byte. The
chain's escapes are learned too (``see``: a logit correction per order and (N, u) bucket, trained by the
gradient of ``log p_top`` through the chain, see :mod:`decepticons.memory.kernels.see`). An adaptive
probability map (APM) then refines the probability of the most likely byte from its stretched value and two
small contexts (see :mod:`.apm`). After byte ``x``::

    W[s, i] += lr * (X[i, x] - sum_c p(c) X[i, c])      (gradient of -log p(x) before the APM)

then the expert stage's weights, the APM nodes, the counts, the match model and the match hit rates learn
``x``. ``fit`` runs this over the training corpus (so weights, maps and counts are trained); scoring
continues from a private copy of the fitted state (prequential, ``adaptive = True``), never mutating it.

What is fitted on what: the base is fitted on the training bytes as above. An expert fitted by ``fit`` is
predicted on the training bytes forward, fold by fold (``expert_folds = K``: fold k by a copy fitted on the
folds before it, :mod:`.folds`), so the expert stage learns how far to trust it from predictions on bytes it
has not seen, next to a base that has seen the same past; then the expert is fitted on all of them. A fixed
expert (``fixed_experts``, e.g. a trained causal bank) is used as given: by default it takes no part in
``fit`` and its weights learn while scoring.
The per-position kernels live in :mod:`.kernels` (mixing :mod:`.mix`, experts :mod:`.experts`, match model
:mod:`.match`, APM :mod:`.apm`); options in :mod:`.config`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from ..codecs import BytesLike, as_byte_array
from ..errors import InputError
from ..jit import Kernels, get_kernels, specialise
from ..memory.base import finish_fit
from ..memory.count_tables import CountTables
from ..memory.kernels import CountParams
from ..predictor import LN2, CausalPredictor, Stream, require_causal
from ..runtime.progress import ByteProgress
from ..runtime.reports import FitReport
from .config import WORD_CONTEXTS, MixerConfig
from .experts import EXPERT_CONTEXTS, N_CTX
from .folds import fold_bounds, forward_rows, stream_rows, zero_rows
from .kernels import MODE_FREQS, MODE_ROWS, MODE_TARGET
from .state import MixerParams, MixerState, Work, mixer_scratch
from .trace import MODE_TRACE, TRACE_DOMINANT, TRACE_MATCH, TRACE_ROW, TRACE_WIDTH

MATCH_TABLE = 1 << 20
#: during ``fit`` the document memory restarts every this many bytes, so the mixer learns how much to trust
#: a young document memory (scoring never restarts it: the scored input is one document)
DOC_RESET = 1 << 17
_EMPTY_EXT = np.zeros((1, 0, 256))


@runtime_checkable
class FittablePredictor(Protocol):
    """An expert that can be fitted (``fit(data, workers=...)`` returning a report with ``to_dict``)."""

    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1) -> Any: ...


class MixerPredictor(CausalPredictor):
    """Context mixer over n-gram orders, a match model and optional external experts; options in
    :class:`~decepticons.mixer.config.MixerConfig` (keywords or a ``config`` instance)."""

    name: ClassVar[str] = "mixer"
    config_class: ClassVar[type] = MixerConfig

    def __init__(self, config: MixerConfig | None = None, *, experts: list[Any] | None = None,
                 use_numba: bool = True, seed: int = 0, **options: Any) -> None:
        base = dataclasses.asdict(config) if config is not None else {}
        self.config = cfg = MixerConfig.from_dict({**base, **options})
        self.orders = list(cfg.orders)
        self.word = cfg.word
        self.doc_orders = list(cfg.doc_orders)
        self.discount = np.asarray(cfg.discount, dtype=np.float64)
        self.escape = np.asarray(cfg.escape, dtype=np.float64)
        self.exclusion = cfg.exclusion
        self.max_total = cfg.max_total
        self.match_min = cfg.match_min
        self.params = CountParams(np.asarray(self.orders, dtype=np.int64), self.discount, self.escape,
                                  self.exclusion, self.max_total)
        self.mixer_params = MixerParams(lr=cfg.lr, lr2=cfg.lr2, apm_rate=cfg.apm_rate, see_rate=cfg.see_rate,
                                        apm=cfg.apm_rate > 0.0, indep=cfg.indep, select_match=cfg.select_match,
                                        select_word=cfg.select_word, select_doc=cfg.select_doc,
                                        match_min=cfg.match_min, expert_lr=cfg.expert_lr,
                                        expert_ctx=EXPERT_CONTEXTS.index(cfg.expert_context))
        self.experts = [self._as_expert(e) for e in (experts or [])]
        bad = [j for j in cfg.fixed_experts if j >= len(self.experts)]
        if bad:
            raise InputError(f"MixerConfig.fixed_experts = {list(cfg.fixed_experts)} names expert(s) {bad}; "
                             f"allowed: indices 0..{len(self.experts) - 1} of the {len(self.experts)} expert(s)")
        self.fit_experts = cfg.fit_experts
        self.online = cfg.online
        self.use_numba = bool(use_numba)
        self.seed = int(seed)
        self.fit_info: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        """Forget everything learned: counts, mixer and APM weights, the expert stage (what a fresh model has)."""
        cfg = self.config
        self.tables = CountTables()
        no = len(self.orders)
        # one extra column per weight matrix counts each set's updates (rate decay, see mix.mix_update)
        n1 = (no + 1) * 8 * (3 if cfg.select_match else 1) * (3 if cfg.select_word else 1)
        n1 *= len(self.doc_orders) + 1 if cfg.select_doc else 1
        self.W1 = np.zeros((n1, self.n_inputs + 1))
        self.W1[:, no] = 1.0
        self.W2 = np.zeros((257, self.n_inputs + 1))
        self.mconf = np.full(32, 0.5)
        node = 1.0 / (1.0 + np.exp(-(np.arange(33) / 2.0 - 8.0)))
        self.A1 = np.tile(node, ((no + 1) * 2, 1))
        self.A2 = np.tile(node, (257, 1))
        self.see = np.zeros((no + 1, 32))
        # expert stage: weight 1 on the base mix, 0 on every expert (see .experts)
        self.U = np.zeros((len(self.experts) + 1, N_CTX, 2))
        self.U[0, :, 0] = 1.0

    @staticmethod
    def _as_expert(e: Any) -> CausalPredictor:
        if isinstance(e, dict) and "kind" in e:
            from ..registry import model_class

            e = model_class(e["kind"])(**e.get("config", {}))
        if isinstance(e, CausalPredictor):
            require_causal(e, "a mixer expert")
            return e
        raise InputError(f"experts must be CausalPredictor instances, got {type(e).__name__}")

    # ------------------------------------------------------------------ properties
    @property
    def n_inputs(self) -> int:
        """Inputs of the base mix (rows of ``X``; the experts are mixed after it, by the expert stage)."""
        nd = len(self.doc_orders) + 1 if self.doc_orders else 0
        return len(self.orders) + 2 + self.word + nd

    @property
    def adaptive(self) -> bool:  # type: ignore[override]
        return self.online or any(e.adaptive for e in self.experts)

    @property
    def context_length(self) -> int | None:  # type: ignore[override]
        lens = [e.context_length for e in self.experts if e.context_length is not None]
        return min(lens) if lens else None

    @property
    def _k(self) -> Kernels:
        return get_kernels(self.use_numba)

    def input_names(self) -> list[str]:
        words = list(WORD_CONTEXTS[:self.word])
        doc = (["document order0"] + [f"document order{k}" for k in self.doc_orders]) if self.doc_orders else []
        return (["order0"] + [f"order{k}" for k in self.orders] + words + doc + ["match"]
                + [f"expert{i}:{e.name}" for i, e in enumerate(self.experts)])

    # ------------------------------------------------------------------ state
    def _doc_params(self) -> CountParams:
        """The document memory's orders and smoothing rows (order 0 first); it never halves its counts."""
        idx = [self.orders.index(k) for k in self.doc_orders]
        rows = np.asarray([0] + [i + 1 for i in idx], dtype=np.int64)
        return CountParams(np.asarray(self.doc_orders, dtype=np.int64), self.discount[rows].copy(),
                           self.escape[rows].copy(), self.exclusion, 1 << 30)

    def _work(self, n: int, private: bool) -> Work:
        """Working state: private copies of the fitted arrays (room for about ``n`` more positions) when
        ``private``, else the model's own arrays (``fit`` learns in place)."""
        def own(a: np.ndarray) -> np.ndarray:
            return a.copy() if private else a

        no = len(self.orders)
        tables = self.tables.copy(spare=n * (no + 1 + self.word)) if private else self.tables
        state = MixerState(W1=own(self.W1), W2=own(self.W2), mconf=own(self.mconf), A1=own(self.A1),
                           A2=own(self.A2), see=own(self.see),
                           mtab=np.zeros(MATCH_TABLE if self.match_min else 1, dtype=np.int64),
                           mstate=np.zeros(2, dtype=np.int64), U=own(self.U))
        doc_sel = np.asarray([self.orders.index(k) for k in self.doc_orders], dtype=np.int64)
        scratch = mixer_scratch(self.n_inputs, no, no + self.word, len(self.experts))
        work = Work(tables=tables, state=state, scratch=scratch, doc_params=self._doc_params(), doc_sel=doc_sel)
        work.reset_doc()
        return work

    def _run(self, work: Work, x: np.ndarray, start: int, end: int, learn: bool, ext: np.ndarray,
             ext_off: int, out: np.ndarray, out_off: int, mode: int) -> None:
        k = self._k
        run = k.mixer_trace_run if mode == MODE_TRACE else k.mixer_run
        t = start
        while t < end:
            t = run(work.tables.arrays(), self.params, self.mixer_params, work.state, work.scratch,
                            work.doc(), x, t, end, learn, ext, ext_off, out, out_off, mode)
            if t < end:
                work.grow(len(self.orders) + self.word, self.use_numba)

    def _expert_blocks(self, x: np.ndarray, chunk: int, rows: list[Iterator[np.ndarray]] | None = None,
                       via_stream: bool = False, cuts: tuple[int, ...] = ()) -> Iterator[np.ndarray]:
        """``float64[n, n_experts, 256]`` blocks of the experts' log-probabilities over the segments of
        :func:`segments` (empty without experts): ``rows`` (one iterator of ``[n, 256]`` blocks over ``x`` per
        expert), else each expert's ``iter_log_probs``, or its stream's rows when ``via_stream`` (what the
        mixer's stream reads)."""
        bounds = segments(len(x), chunk, cuts)
        if not self.experts:
            for _ in bounds:
                yield _EMPTY_EXT
            return
        if rows is None:
            rows = [stream_rows(e, x, chunk) if via_stream else e.iter_log_probs(x, chunk_size=chunk)
                    for e in self.experts]
        iters = [_recut(r, [e - s for s, e in bounds]) for r in rows]
        for c0, end in bounds:
            blocks = [next(it) for it in iters]
            n = end - c0
            for b in blocks:
                if b.shape != (n, 256):
                    raise RuntimeError(f"an expert yielded a block of shape {b.shape}, expected {(n, 256)}")
            yield np.ascontiguousarray(np.stack(blocks, axis=1), dtype=np.float64)
        for it in iters:  # let every source finish (and check it has no rows left)
            next(it, None)

    def _blocks(self, x: np.ndarray, chunk: int, mode: int, learn: bool, work: Work | None = None,
                doc_reset: int = 0, ext: Iterator[np.ndarray] | None = None, cuts: tuple[int, ...] = (),
                active: Callable[[int], list[bool]] | None = None) -> Iterator[np.ndarray]:
        """Output blocks over the segments of :func:`segments` (``cuts``: extra segment starts); ``active(c0)``
        (when given) says which experts take part in the segment starting at ``c0``."""
        work = work if work is not None else self._work(min(len(x), 1 << 20), private=learn)
        ext_blocks = ext if ext is not None else self._expert_blocks(x, chunk)
        # mode 2 (coding frequencies, consumed at once by the coder) reuses one buffer: fresh pages for
        # every block would cost more than the model itself
        buf = np.empty((min(chunk, len(x)), 256)) if mode == MODE_FREQS else None
        for (c0, end), e in zip(segments(len(x), chunk, cuts), ext_blocks):
            if doc_reset and c0 and c0 % doc_reset == 0:
                work.reset_doc()
            if active is not None:
                work.scratch.experts.active[:] = active(c0)
            if buf is not None:
                out = buf[:end - c0]
            elif mode == MODE_TRACE:
                out = np.empty((end - c0, TRACE_WIDTH), dtype=np.int64)
            else:
                out = np.empty((end - c0, 256 if mode != MODE_TARGET else 1))
            self._run(work, x, c0, end, learn, e, c0 if e.shape[1] else 0, out, c0, mode)
            yield out
        next(ext_blocks, None)  # the expert blocks' sources finish their work

    # ------------------------------------------------------------------ fit
    def fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
            progress: bool | None = None) -> FitReport:
        """From a fresh state (:meth:`reset`), run the mixer over ``data`` learning counts, match statistics
        and mixer weights, with each expert's honest predictions where it has them (:meth:`expert_plans`),
        then fit the experts it fits on all of ``data``; the train figure is prequential (each byte scored
        before learning)."""
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot fit on an empty corpus")
        self.reset()
        return self._learn(x, valid, workers, progress)

    def partial_fit(self, data: BytesLike, valid: BytesLike | None = None, workers: int = 1,
                    progress: bool | None = None) -> FitReport:
        """Keep learning on ``data`` from the current state, as if it followed the bytes learned so far.
        Experts the mixer fits cannot continue (their fit is one pass): with such experts this is an
        :class:`InputError`; fixed experts are fine."""
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            raise InputError("cannot fit on an empty corpus")
        fitted = [j for j, plan in enumerate(self.expert_plans(len(x))) if plan in ("folds", "in-sample")]
        if fitted:
            raise InputError(f"the mixer cannot continue fitting with experts it fits itself ({fitted}): fit it "
                             "again on all the data, or make them fixed_experts")
        return self._learn(x, valid, workers, progress)

    def _learn(self, x: np.ndarray, valid: BytesLike | None, workers: int, progress: bool | None) -> FitReport:
        t0 = time.perf_counter()
        chunk = 1 << 16
        plans = self.expert_plans(len(x))
        expert_reports: list[dict[str, Any]] = [{"plan": plan} for plan in plans]
        rows: list[Iterator[np.ndarray]] = []
        folds = fold_bounds(len(x), self.config.expert_folds)
        for e, plan, rep in zip(self.experts, plans, expert_reports):
            if plan == "folds":
                rep["folds"] = []
                rows.append(forward_rows(e, x, self.config.expert_folds, chunk, workers, rep["folds"]))
            elif plan == "in-sample":
                rep["fit"] = e.fit(x, workers=workers).to_dict()  # type: ignore[attr-defined]
                rows.append(e.iter_log_probs(x, chunk_size=chunk))
            elif plan == "fixed":
                rows.append(e.iter_log_probs(x, chunk_size=chunk))
            else:  # "score-only": no part in fit
                rows.append(zero_rows(len(x), chunk))
        work = self._work(0, private=False)  # learn in place on the model's own arrays
        cuts = tuple(s for s, _ in folds[1:]) if "folds" in plans else ()

        def active(c0: int) -> list[bool]:  # a forward-fold expert has no predictions over the first fold
            return [plan in ("in-sample", "fixed") or (plan == "folds" and c0 >= folds[0][1]) for plan in plans]

        total = 0.0
        with ByteProgress(len(x), desc=f"fit {self.name}", enabled=progress) as bar:
            for block in self._blocks(x, chunk, mode=MODE_TARGET, learn=True, work=work, doc_reset=DOC_RESET,
                                      ext=self._expert_blocks(x, chunk, rows, cuts=cuts), cuts=cuts,
                                      active=active if self.experts else None):
                total -= float(block.sum())
                bar.update(len(block))
        for e, plan, rep in zip(self.experts, plans, expert_reports):
            if plan == "folds":  # the copies predicted the training bytes; the expert itself learns them all
                rep["fit"] = e.fit(x, workers=workers).to_dict()  # type: ignore[attr-defined]
        self.tables = work.tables
        self.tables.compact(self.use_numba)  # contiguous follower lists: faster scoring, same predictions
        seconds = time.perf_counter() - t0
        report = FitReport(model=self.name, train_bytes=len(x), seconds=seconds,
                           train_bits_per_byte=total / LN2 / len(x), workers=1,
                           details={"inputs": self.input_names(), "contexts": self.tables.n_contexts,
                                    "nodes": self.tables.n_nodes, "numba": self._k.fast,
                                    "train_bits_per_byte_is": "prequential (each byte scored before learning)",
                                    "experts": expert_reports})
        return finish_fit(self, report, valid, progress)

    def expert_plans(self, n: int) -> list[str]:
        """How ``fit`` on ``n`` bytes treats each expert: ``"folds"`` (fitted; honest forward predictions fold
        by fold, :mod:`.folds`), ``"in-sample"`` (fitted, then predicting the bytes it was fitted on: ``expert_folds =
        1``, or too few bytes for the folds), ``"fixed"`` (used as given, predicting the training bytes:
        ``fixed_in_fit``) or ``"score-only"`` (used as given, no part in ``fit``: its weights learn while
        scoring)."""
        cfg = self.config
        plans = []
        for j, e in enumerate(self.experts):
            if cfg.fit_experts and j not in cfg.fixed_experts and isinstance(e, FittablePredictor):
                plans.append("folds" if len(fold_bounds(n, cfg.expert_folds)) > 1 else "in-sample")
            else:
                plans.append("fixed" if cfg.fixed_in_fit else "score-only")
        return plans

    # ------------------------------------------------------------------ contract
    def iter_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16) -> Iterator[np.ndarray]:
        x = np.asarray(as_byte_array(data))
        yield from self._blocks(x, chunk_size, mode=MODE_ROWS, learn=self.online)

    def target_log_probs(self, data: BytesLike, chunk_size: int = 1 << 16,
                         progress: bool | None = None) -> np.ndarray:
        """Same values as the base method, without materialising ``[T, 256]`` rows (mode 1 of the kernel)."""
        x = np.asarray(as_byte_array(data))
        out = np.empty(len(x))
        pos = 0
        with ByteProgress(len(x), desc=f"score {self.name}", enabled=progress) as bar:
            for block in self._blocks(x, chunk_size, mode=MODE_TARGET, learn=self.online):
                out[pos:pos + len(block)] = block[:, 0]
                pos += len(block)
                bar.update(len(block))
        return out

    def log_probs(self, data: BytesLike) -> np.ndarray:
        x = as_byte_array(data)
        if len(x) == 0:
            return np.zeros((0, 256))
        return np.concatenate(list(self.iter_log_probs(x, chunk_size=1 << 16)), axis=0)

    def trace_fields(self, data: BytesLike) -> dict[str, np.ndarray]:
        """What decided each byte (the model's columns of a trace, ``decepticons.runtime.traces``), by the same
        causal pass as :meth:`log_probs` through a kernel of its own (:mod:`.trace`): ``order int64[T]`` the
        longest n-gram context (bytes) seen at prefix time (0: none), ``match_length int64[T]`` (0: no match)
        and ``dominant_input int64[T]``, an index into :meth:`input_names`."""
        x = np.asarray(as_byte_array(data))
        if len(x) == 0:
            rec = np.zeros((0, TRACE_WIDTH), dtype=np.int64)
        else:
            rec = np.concatenate(list(self._blocks(x, 1 << 16, mode=MODE_TRACE, learn=self.online)), axis=0)
        lengths = np.asarray([0] + self.orders, dtype=np.int64)
        return {"order": lengths[rec[:, TRACE_ROW]], "match_length": rec[:, TRACE_MATCH].copy(),
                "dominant_input": rec[:, TRACE_DOMINANT].copy()}

    def coding_freq_blocks(self, data: BytesLike, chunk: int) -> Iterator[np.ndarray]:
        """Quantised coding frequencies in batches; equal to ``stream().coding_freqs()`` step by step.
        Every block is a view of one reused buffer: use (or copy) it before asking for the next."""
        x = np.asarray(as_byte_array(data))
        # the experts' rows from their streams, as the decoder's stream will read them: an expert's batched
        # rows may differ from its stream's in the last bits, and the coder needs bit-identical frequencies
        ext = self._expert_blocks(x, chunk, via_stream=True)
        yield from self._blocks(x, chunk, mode=MODE_FREQS, learn=self.online, ext=ext)

    def stream(self) -> Stream:
        return MixerStream(self)

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        d = self.config.to_dict()
        if not self.experts:  # the expert options change nothing without experts
            d = {k: v for k, v in d.items() if k not in MixerConfig.EXPERT_OPTIONS}
        return {**d, "experts": [{"kind": e.name, "config": e.config_dict()} for e in self.experts]}

    def state_tensors(self) -> dict[str, np.ndarray]:
        out = dict(self.tables.tensors())
        out.update({"W1": self.W1, "W2": self.W2, "mconf": self.mconf, "A1": self.A1, "A2": self.A2,
                    "see": self.see})
        if self.experts:
            out["U"] = self.U
        for i, e in enumerate(self.experts):
            out.update({f"expert{i}.{k}": v for k, v in e.state_tensors().items()})
        return out

    def extra_state(self) -> dict[str, Any]:
        return {"fit": self.fit_info, "experts": [e.extra_state() for e in self.experts]}

    @classmethod
    def from_state(cls, config: dict[str, Any], tensors: dict[str, np.ndarray],
                   extra: dict[str, Any]) -> MixerPredictor:
        from ..registry import model_class

        config = dict(config)
        specs = config.pop("experts", [])
        experts = []
        for i, spec in enumerate(specs):
            prefix = f"expert{i}."
            sub = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            ex = (extra.get("experts") or [{}] * len(specs))[i]
            experts.append(model_class(spec["kind"]).from_state(spec["config"], sub, ex))
        model = cls(**config, experts=experts)
        model.tables = CountTables.from_tensors(tensors)
        for name in ("W1", "W2", "mconf", "A1", "A2", "see") + (("U",) if experts else ()):
            a = np.ascontiguousarray(tensors[name], dtype=np.float64).copy()
            if a.shape != getattr(model, name).shape:
                raise ValueError(f"{name} has shape {a.shape}, expected {getattr(model, name).shape}")
            setattr(model, name, a)
        model.fit_info = dict(extra.get("fit", {}))
        return model

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update({k: v for k, v in self.config_dict().items() if k != "experts"})
        d["inputs"] = self.input_names()
        return d


def segments(n: int, chunk: int, cuts: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    """``[(start, end)]`` covering ``range(n)``: blocks of ``chunk`` positions, also cut at ``cuts``."""
    starts = sorted(set(range(0, n, chunk)) | {c for c in cuts if 0 < c < n})
    return list(zip(starts, starts[1:] + [n]))


def _recut(it: Iterator[np.ndarray], lengths: list[int]) -> Iterator[np.ndarray]:
    """Re-cut an iterator of ``[n, 256]`` blocks into blocks of the given ``lengths`` (in order), then drain
    it."""
    buf: list[np.ndarray] = []
    have = 0
    for want in lengths:
        while have < want:
            block = next(it, None)
            if block is None:
                break
            buf.append(block)
            have += len(block)
        cat = np.concatenate(buf, axis=0) if len(buf) > 1 else (buf[0] if buf else np.zeros((0, 256)))
        yield cat[:want]
        rest = cat[want:]
        buf = [rest] if len(rest) else []
        have = len(rest)
    # run the source to its end (so a generator finishes its work), refusing rows beyond the lengths
    have += sum(len(block) for block in it)
    if have:
        raise RuntimeError(f"an expert yielded {have} rows more than the {sum(lengths)} asked for")


class MixerStream(Stream):
    """Step-by-step path of the mixer: the same kernels as ``log_probs``, one position per call.

    Each byte costs one compiled call (``stream_step``, bound to its argument types once): it learns the
    byte pushed last, then predicts the next position. ``push`` only records the byte; the call happens
    when a prediction is next asked for (or at the next ``push``). The argument tuple is built once and
    rebuilt only when a table or the history grows.
    """

    def __init__(self, model: MixerPredictor) -> None:
        self.m = model
        self.k = model._k
        self.work = model._work(1 << 12, private=model.online)
        self.experts = [e.stream() for e in model.experts]
        self.ext = np.zeros((1, len(self.experts), 256))
        self.hist = np.zeros(1 << 12, dtype=np.uint8)
        self.tpos = np.zeros(1, dtype=np.int64)
        self.freq_row = np.zeros((1, 256))  # the coder reads this (1, 256) buffer without a copy
        self.freqs = self.freq_row[0]
        self._pending = -1  # byte pushed but not yet learned (learned by the next compiled call)
        self._t = 0  # tpos[0] once the pending byte is learned (a Python int: no array read per byte)
        self._cached = False
        self._build()
        self._step = specialise(self.k.stream_step, *self._args, -1)

    @property
    def t(self) -> int:
        return int(self.tpos[0]) + (self._pending >= 0)

    def _build(self) -> None:
        w, m = self.work, self.m
        self._args = (w.tables.arrays(), m.params, m.mixer_params, w.state, w.scratch, w.doc(), self.hist,
                      self.tpos, self.ext, self.freqs, m.online)

    def _predict(self) -> None:
        if self._cached:
            return
        if self.experts:
            for j, es in enumerate(self.experts):
                self.ext[0, j] = es.log_probs()
        if self._pending >= 0:
            if self._t >= len(self.hist):
                self.hist = np.concatenate([self.hist, np.zeros(len(self.hist), dtype=np.uint8)])
                self._build()
            self._t += 1
        while self._step(*self._args, self._pending):
            w, m = self.work, self.m
            w.grow(len(m.orders) + m.word, m.use_numba)
            # slots from the prediction are stale after a rehash: refresh them (same values otherwise)
            self.k.lookup_slots(w.tables.keys, w.scratch.chain.ctxk, w.scratch.chain.slots)
            self.k.lookup_slots(w.doc_tables.keys, w.doc_buf.ctxk, w.doc_buf.slots)
            self._build()
        self._pending = -1
        self._cached = True

    def log_probs(self) -> np.ndarray:
        self._predict()
        return self.work.scratch.lrow.copy()

    def probs(self) -> np.ndarray:
        self._predict()
        return self.work.scratch.pf.copy()

    def coding_freqs(self) -> np.ndarray:
        self._predict()
        return self.freqs.copy()

    def coding_freq_row(self) -> np.ndarray:
        """The next byte's coding frequencies as the stream's own ``(1, 256)`` buffer (no copy): valid
        until the next ``push``. For coders that decode one byte at a time."""
        self._predict()
        return self.freq_row

    def push(self, byte: int) -> None:
        byte = int(byte)
        if not 0 <= byte < 256:
            raise InputError(f"byte must be in 0..255, got {byte}")
        if not self._cached:
            self._predict()  # the prediction at t is what learning from ``byte`` needs
        self._pending = byte
        self._cached = False
        if self.experts:
            for es in self.experts:
                es.push(byte)
