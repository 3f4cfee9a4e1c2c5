"""MLX causal-bank model: the same equations and the same weights as :mod:`.model_torch`.

Every substrate mode (``frozen``, ``learnable_decays``, ``learnable_mixing``, ``learned_recurrence``,
``gated_retention``), the selective augment (``state_dim > 0``), the local window, banded normalisation and
every readout (``plain``, ``banded``, ``gru``, ``routed``) are ported. Parameters are kept under the torch
``state_dict`` names, so a torch checkpoint (or the tensors of a saved ``causal-bank`` model file) loads
unchanged: :func:`from_torch_tensors` / :func:`load_model_file`.

Equations and shapes are those of :mod:`.model_torch` (``(B, T)`` ids -> ``(B, T, V)`` logits; e.g. the real
modes ``h_t = a_t h_{t-1} + sqrt(1 - a_t^2) u_t``, ``(B, T, Nr)``). The recurrences run as the scans of
:mod:`.scans_mlx`: chunk-local products (``scan_method = "chunked"``, the default), a log-depth prefix scan
(``"parallel"``) or, as the reference, a loop over time (``"loop"``); real arithmetic for the oscillatory
pairs: ``z' = (g_re z_re - g_im z_im + d_re, g_re z_im + g_im z_re + d_im)``. The GRU readout loops over time.
The forward is differentiable (MLX autograd): :mod:`decepticons.training.mlx_step` trains it with the torch
recipe. In training mode (``model.train()``) the routed readout leaves its balance loss in ``model.extra``.
``forward_with_state`` / ``step`` carry the same state dict as torch (``prev``, ``h``, ``z`` as ``(B, No, 2)``,
``s``, ``gru``).
"""

from __future__ import annotations

import os
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from .config import CausalBankConfig
from .scans_mlx import (
    scan_chunked,
    scan_complex_chunked,
    scan_complex_loop,
    scan_complex_parallel,
    scan_loop,
    scan_parallel,
)

State = dict[str, mx.array]


def _linear(p: dict[str, mx.array], name: str, x: mx.array) -> mx.array:
    return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]


def _layer_norm(x: mx.array, w: mx.array, b: mx.array, eps: float = 1e-5) -> mx.array:
    mu = mx.mean(x, axis=-1, keepdims=True)
    var = mx.mean(mx.square(x - mu), axis=-1, keepdims=True)
    return (x - mu) * mx.rsqrt(var + eps) * w + b


def _sqrelu(x: mx.array) -> mx.array:
    return mx.square(mx.maximum(x, 0.0))


def _gate_and_scale(logit: mx.array) -> tuple[mx.array, mx.array]:
    """``(a, sqrt(1 - a^2))`` for ``a = sigmoid(logit)``, as ``exp((log1p(a) - softplus(logit)) / 2)``: finite,
    with a finite gradient, for every logit (the torch model's ``_input_scale`` says why)."""
    a = mx.sigmoid(logit)
    return a, mx.exp(0.5 * (mx.log1p(a) - mx.logaddexp(logit, 0.0)))


SCAN_METHODS = ("chunked", "parallel", "loop")


def _scans(method: str, steps: int) -> tuple[Any, Any]:
    """The real and complex scans of ``method`` (:mod:`.scans_mlx`); a one-step input always loops."""
    if method not in SCAN_METHODS:
        raise ValueError(f"unknown MLX scan method {method!r}; choose one of {', '.join(SCAN_METHODS)}")
    if method == "loop" or steps == 1:
        return scan_loop, scan_complex_loop
    if method == "parallel":
        return scan_parallel, scan_complex_parallel
    return scan_chunked, scan_complex_chunked


class CausalBankModel(nn.Module):
    """MLX causal-bank model; ``params`` holds every tensor under its torch name (see module docstring)."""

    def __init__(self, vocab_size: int = 256, config: CausalBankConfig | None = None,
                 tensors: dict[str, Any] | None = None):
        super().__init__()
        self.config = config if config is not None else CausalBankConfig()
        self.vocab_size = int(vocab_size)
        if tensors is None:
            tensors = _fresh_torch_tensors(self.vocab_size, self.config)
        self.params = {k: mx.array(np.asarray(v, dtype=np.float32)) for k, v in tensors.items()}
        #: scoring window of :func:`log_probs` (``None``: the whole history); see :mod:`decepticons.windows`
        self.window: int | None = None
        #: how the recurrences run (:mod:`.scans_mlx`): ``chunked`` (chunk-local products), ``parallel``
        #: (log-depth prefix scan) or ``loop`` (the reference)
        self.scan_method = "chunked"
        #: the routed readout's balance loss of the last forward in training mode (else ``None``)
        self.extra: mx.array | None = None

    # ------------------------------------------------------------------ state
    def init_state(self, batch: int) -> State:
        cfg = self.config
        st: State = {}
        if cfg.local_window > 1:
            st["prev"] = mx.zeros((batch, cfg.local_window - 1), dtype=mx.int32)
        if cfg.num_modes:
            st["h"] = mx.zeros((batch, cfg.num_modes))
        if cfg.num_oscillatory:
            st["z"] = mx.zeros((batch, cfg.num_oscillatory, 2))
        if cfg.state_dim:
            st["s"] = mx.zeros((batch, cfg.state_dim))
        if cfg.readout == "gru":
            st["gru"] = mx.zeros((1, batch, cfg.readout_hidden))
        return st

    # ------------------------------------------------------------------ forward
    def __call__(self, x: mx.array) -> mx.array:
        return self.forward_with_state(x, None)[0]

    def step(self, byte_ids: mx.array, state: State) -> tuple[mx.array, State]:
        logits, st = self.forward_with_state(mx.reshape(byte_ids, (-1, 1)), state)
        return logits[:, 0], st

    def forward_with_state(self, x: mx.array, state: State | None = None) -> tuple[mx.array, State]:
        """``(B, T)`` ids -> ``(B, T, V)`` logits and the state after the last byte."""
        cfg, p = self.config, self.params
        x = mx.array(x).astype(mx.int32)
        B, T = x.shape
        if state is None:
            state = self.init_state(B)
        new: State = {}
        emb = p["embed.weight"]
        e = emb[x]
        feats: list[mx.array] = []
        k = cfg.local_window
        if k > 1:
            ext = mx.concatenate([state["prev"].astype(mx.int32), x], axis=1)
            new["prev"] = ext[:, -(k - 1):]
            ee = emb[ext]
            feats.extend(ee[:, k - 1 - j: k - 1 - j + T] for j in range(k))
        elif k == 1:
            feats.append(e)
        v = _sqrelu(_linear(p, "in_mlp", mx.concatenate(feats, axis=-1))) if cfg.input_hidden else e
        feats.extend(self._bank(v, state, new))
        if cfg.state_dim:
            S = cfg.state_dim
            sp = _linear(p, "sel_in", v)
            dt = nn.softplus(sp[..., :S])
            a = mx.exp(-dt * mx.exp(p["sel_log_rate"]))
            s = _scans(self.scan_method, T)[0](a, (1.0 - a) * sp[..., S:], state["s"])
            new["s"] = s[:, -1]
            feats.append(s)
        f = mx.concatenate(feats, axis=-1)
        sizes = cfg.band_sizes()
        parts, start = [], 0
        for i, n in enumerate(sizes):
            parts.append(_layer_norm(f[..., start:start + n], p[f"norm.norms.{i}.weight"], p[f"norm.norms.{i}.bias"]))
            start += n
        f = mx.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        return self._readout(f, state, new), new

    def _bank(self, e: mx.array, state: State, new: State) -> list[mx.array]:
        cfg, p = self.config, self.params
        Nr, No = cfg.num_modes, cfg.num_oscillatory
        if Nr + No == 0:
            return []
        B, T, _ = e.shape
        scan, scan_complex = _scans(self.scan_method, T)
        u = e @ p["in_proj"]
        g = _linear(p, "gate_proj", e) if cfg.gated else None
        out = []
        if Nr:
            lg = p["decay_logit"] if g is None else p["decay_logit"] + g[..., :Nr]
            a, scale = _gate_and_scale(lg)
            h = scan(a, scale * u[..., :Nr], state["h"])
            new["h"] = h[:, -1]
            out.append(h)
        if No:
            lq = p["osc_logit"] if g is None else p["osc_logit"] + g[..., Nr:]
            r, scale = _gate_and_scale(lq)
            ang = p["osc_angle"]
            zr, zi = scan_complex(r * mx.cos(ang), r * mx.sin(ang), scale * u[..., Nr:Nr + No],
                                   scale * u[..., Nr + No:], state["z"][..., 0], state["z"][..., 1])
            z = mx.stack([zr, zi], axis=-1)  # (B, T, No, 2): interleaved re, im as in torch view_as_real
            new["z"] = z[:, -1]
            out.append(mx.reshape(z, (B, T, 2 * No)))
        if cfg.gated:
            og = 2.0 * mx.sigmoid(_linear(p, "out_gate", e))
            return [mx.concatenate(out, axis=-1) * og]
        return out

    def _readout(self, f: mx.array, state: State, new: State) -> mx.array:
        cfg, p = self.config, self.params
        self.extra = None
        if cfg.readout == "banded":
            hs, start = [], 0
            for i, n in enumerate(cfg.band_sizes()):
                hs.append(_sqrelu(_linear(p, f"band_fc.{i}", f[..., start:start + n])))
                start += n
            return _linear(p, "fc2", mx.concatenate(hs, axis=-1))
        if cfg.readout == "routed":
            E, k = cfg.num_experts, cfg.expert_top_k
            probs = mx.softmax(_linear(p, "router", f), axis=-1)
            idx = mx.argsort(-probs, axis=-1)[..., :k]
            mask = mx.zeros(probs.shape)
            for j in range(k):
                mask = mask + (mx.arange(E) == idx[..., j:j + 1]).astype(probs.dtype)
            top = probs * mask
            gates = top / mx.sum(top, axis=-1, keepdims=True)
            hid = _sqrelu(_linear(p, "fc1", f))
            B, T, _ = hid.shape
            hid = mx.reshape(mx.reshape(hid, (B, T, E, -1)) * gates[..., None], (B, T, -1))
            if cfg.balance_weight > 0 and self.training:  # as torch: w * E * sum_e frac_e * mean_prob_e
                frac = mx.stop_gradient(mx.mean(mask / k, axis=(0, 1)))
                self.extra = cfg.balance_weight * E * mx.sum(frac * mx.mean(probs, axis=(0, 1)))
            return _linear(p, "fc2", hid)
        pre = _linear(p, "fc1", f)
        hid = _sqrelu(pre)
        if cfg.readout == "gru":
            g, hT = self._gru(pre, state["gru"][0])
            new["gru"] = hT[None]
            hid = hid + g
        return _linear(p, "fc2", hid)

    def _gru(self, x: mx.array, h: mx.array) -> tuple[mx.array, mx.array]:
        """torch ``nn.GRU`` (gate order r, z, n): ``h' = (1 - z) n + z h``, ``n = tanh(W_in x + r (W_hn h))``."""
        p = self.params
        H = h.shape[-1]
        xi = x @ p["gru.weight_ih_l0"].T + p["gru.bias_ih_l0"]  # (B, T, 3H)
        whh, bhh = p["gru.weight_hh_l0"].T, p["gru.bias_hh_l0"]
        out = []
        for t in range(x.shape[1]):
            hh = h @ whh + bhh
            xt = xi[:, t]
            r = mx.sigmoid(xt[:, :H] + hh[:, :H])
            z = mx.sigmoid(xt[:, H:2 * H] + hh[:, H:2 * H])
            n = mx.tanh(xt[:, 2 * H:] + r * hh[:, 2 * H:])
            h = (1.0 - z) * n + z * h
            out.append(h)
        return mx.stack(out, axis=1), h


def _fresh_torch_tensors(vocab_size: int, config: CausalBankConfig) -> dict[str, np.ndarray]:
    """Initial weights: built by the torch model when torch is present (same init), else a numpy stand-in."""
    try:
        import torch

        from .model_torch import CausalBankModel as TorchModel

        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            return {k: v.detach().numpy() for k, v in TorchModel(vocab_size, config).state_dict().items()}
    except ImportError:
        raise ImportError("building a fresh MLX causal bank needs torch for the initial weights; "
                          "pass tensors= (e.g. from load_model_file) instead") from None


def from_torch_tensors(config: CausalBankConfig | dict[str, Any], tensors: dict[str, Any],
                       vocab_size: int = 256) -> CausalBankModel:
    """MLX model from a torch ``state_dict`` (tensors or numpy arrays) of the same config."""
    cfg = config if isinstance(config, CausalBankConfig) else CausalBankConfig(**config)
    arrays = {}
    for k, v in tensors.items():
        arrays[k] = np.asarray(v) if isinstance(v, np.ndarray) else v.detach().cpu().float().numpy()
    return CausalBankModel(vocab_size, cfg, arrays)


def load_model_file(path: str | os.PathLike[str]) -> CausalBankModel:
    """MLX model from a ``causal-bank`` model file written by the torch predictor's ``save``."""
    from ..runtime.checkpoints import read_model_file

    mf = read_model_file(path, expected_kind="causal-bank")
    model = from_torch_tensors(mf.config, mf.tensors)
    if "scoring_window" in mf.extra:  # the torch predictor scores this model in windows of train_window
        model.window = mf.extra.get("train_window")
    return model


def _log_softmax(logits: mx.array) -> np.ndarray:
    return np.array(logits - mx.logsumexp(logits, axis=-1, keepdims=True)).astype(np.float64)


def log_probs(model: CausalBankModel, data: Any, bos: int = 0) -> np.ndarray:
    """``float64[T, 256]`` log-probabilities with the predictor contract's shift (row t predicts data[t]):
    over the whole history, or in the staggered windows of ``model.window`` (:mod:`decepticons.windows`),
    as the torch predictor of the same model file scores."""
    from ..codecs import as_byte_array
    from ..predictor import shift_right
    from ..windows import window_inputs, window_plan

    x = as_byte_array(data)
    if len(x) == 0:
        return np.zeros((0, model.vocab_size))
    if model.window is None:
        return _log_softmax(model(mx.array(shift_right(x, bos).astype(np.int32))[None])[0])
    out = np.empty((len(x), model.vocab_size))
    for s, lo, hi in window_plan(len(x), model.window):
        ids = window_inputs(x, [s], hi - s, bos).astype(np.int32)  # inputs s .. hi - 1
        out[lo:hi] = _log_softmax(model(mx.array(ids))[0])[lo - s:]
    return out


__all__ = ["CausalBankModel", "from_torch_tensors", "load_model_file", "log_probs"]
