"""PyTorch causal-bank model: byte embedding -> bank of causal linear recurrences -> learned readout.

Shapes (``B`` batch, ``T`` time, ``E`` embed_dim, ``Nr`` num_modes, ``No`` num_oscillatory, ``S`` state_dim,
``k`` local_window, ``F`` num_features, ``H`` readout_hidden, ``V`` vocab)::

    e_t = Emb[x_t]                                   (B, T, E)
    v_t = e_t, or relu(W [e_t, .., e_{t-k+1}] + c)^2 with input_hidden > 0   (B, T, E or input_hidden)
    u_t = v_t @ P                                    (B, T, Nr + 2 No)
    real modes:   h_t = a_t * h_{t-1} + sqrt(1 - a_t^2) * u_t[:Nr]                   (B, T, Nr)
    oscillatory:  z_t = r_t e^{i w} z_{t-1} + sqrt(1 - r_t^2) (u_t[re] + i u_t[im])   (B, T, No) complex
    selective:    s_t = exp(-d_t A) s_{t-1} + (1 - exp(-d_t A)) (v_t W_v),  d_t = softplus(v_t W_d + c)  (B, T, S)
    features:     f_t = [e_t, e_{t-1}, .., e_{t-k+1} | h_t | Re z_t, Im z_t (interleaved) | s_t]    (B, T, F)
    logits:       readout(LayerNorm_per_band(f_t))                                                  (B, T, V)

The ``sqrt(1 - a^2)`` input scale keeps every mode's stationary variance at that of its input. Without input
gates (``frozen``, ``learnable_*``, ``learned_recurrence``) ``a_t = sigmoid(l)`` and ``r_t = sigmoid(q)`` are
constants per mode; with ``gated_retention`` ``a_t = sigmoid(l + v_t G_a)``, ``r_t = sigmoid(q + v_t G_r)``
and the bank's features are multiplied by an output gate ``2 sigmoid(v_t G_o)`` (``G_*`` start at zero, so
training starts from the ungated bank). Every term at ``t`` depends on bytes ``<= t`` only: the model is causal.

Readouts (``act(x) = relu(x)^2``, squared ReLU):

``plain``
    ``W2 act(W1 f)``

``banded``
    ``W2 [act(W1_1 f_band1), .., act(W1_K f_bandK)]``: each timescale band has its own hidden units

``gru``
    ``W2 (act(W1 f) + GRU(W1 f))``: a recurrent readout, its hidden state carried like the bank's

``routed``
    ``W2 [g_1 act(W1_1 f), .., g_E act(W1_E f)]``: ``g = top-k softmax(router f)``, renormalised;
    :meth:`CausalBankModel.extra_loss` is the balance loss ``w * E * sum_e frac_e * mean_prob_e``

State (``init_state``): a dict of real tensors ``prev`` (B, k-1) long (last bytes), ``h`` (B, Nr), ``z``
(B, No, 2) (real and imaginary parts), ``s`` (B, S), ``gru`` (1, B, H); present only when the part exists.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import CausalBankConfig, build_substrate
from .scans import linear_scan

State = dict[str, torch.Tensor]


def squared_relu(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x).square()


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p) - torch.log1p(-p)


def _input_scale(logit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(a, sqrt(1 - a^2))`` for ``a = sigmoid(logit)``.

    ``1 - a^2 = sigmoid(-logit) (1 + a)``, so ``sqrt(1 - a^2) = exp((log1p(a) + log sigmoid(-logit)) / 2)``: in
    log space the value and its gradient stay finite for every logit. (The direct ``sqrt(sigmoid(-logit) *
    (1 + a))`` underflows to ``sqrt(0)`` once ``logit > 88`` in float32, and its backward is then ``inf * 0 =
    NaN``: a gated mode whose gate logit grew that large turned the whole gradient into NaN.)"""
    a = torch.sigmoid(logit)
    return a, torch.exp(0.5 * (torch.log1p(a) + F.logsigmoid(-logit)))


class BandNorm(nn.Module):
    """LayerNorm applied to each contiguous band of the feature vector separately."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.sizes = list(sizes)
        self.norms = nn.ModuleList([nn.LayerNorm(n) for n in self.sizes])

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        if len(self.sizes) == 1:
            return self.norms[0](f)
        return torch.cat([n(p) for n, p in zip(self.norms, f.split(self.sizes, dim=-1), strict=True)], dim=-1)


class CausalBankModel(nn.Module):
    """Causal-bank language model over ``vocab_size`` symbols (see the module docstring for the equations)."""

    # registered in ``__init__`` as parameters or buffers (by ``learns_mixing`` / ``learns_decays``), when the
    # bank has the modes that read them
    in_proj: torch.Tensor      # (bank_input_dim, Nr + 2 No)
    decay_logit: torch.Tensor  # (Nr,)
    osc_logit: torch.Tensor    # (No,)
    osc_angle: torch.Tensor    # (No,)

    def __init__(self, vocab_size: int = 256, config: CausalBankConfig | None = None):
        super().__init__()
        cfg = config if config is not None else CausalBankConfig()
        self.config = cfg
        self.vocab_size = int(vocab_size)
        sub = build_substrate(cfg)
        E, Nr, No, S, H = cfg.embed_dim, cfg.num_modes, cfg.num_oscillatory, cfg.state_dim, cfg.readout_hidden
        self.embed = nn.Embedding(vocab_size, E)
        f32 = torch.float32

        def tensor(x):
            return torch.as_tensor(x, dtype=f32).clone()

        def param_or_buffer(name: str, value: torch.Tensor, learn: bool) -> None:
            if learn:
                self.register_parameter(name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

        if Nr + No > 0:
            param_or_buffer("in_proj", tensor(sub.input_proj), cfg.learns_mixing)
        if Nr > 0:
            param_or_buffer("decay_logit", _logit(torch.as_tensor(sub.decays)).to(f32), cfg.learns_decays)
        if No > 0:
            param_or_buffer("osc_logit", _logit(torch.as_tensor(sub.osc_radius)).to(f32), cfg.learns_decays)
            param_or_buffer("osc_angle", tensor(sub.osc_angle), cfg.learns_decays)
        if cfg.gated and Nr + No > 0:
            self.gate_proj = nn.Linear(cfg.bank_input_dim, Nr + No)
            self.out_gate = nn.Linear(cfg.bank_input_dim, cfg.num_bank_features)
            for lin in (self.gate_proj, self.out_gate):
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)
        if S > 0:
            self.sel_in = nn.Linear(cfg.bank_input_dim, 2 * S)
            with torch.no_grad():
                self.sel_in.bias[:S].fill_(math.log(math.e - 1.0))  # softplus(bias) = 1
            self.sel_log_rate = nn.Parameter(tensor(sub.sel_log_rate))
        if cfg.input_hidden:
            self.in_mlp = nn.Linear(cfg.local_window * E, cfg.input_hidden)
        nf = cfg.num_features
        self.norm = BandNorm(cfg.band_sizes())
        if cfg.readout == "banded":
            hs = [H // cfg.readout_bands + (1 if i < H % cfg.readout_bands else 0) for i in range(cfg.readout_bands)]
            self.band_fc = nn.ModuleList([nn.Linear(n, h) for n, h in zip(cfg.band_sizes(), hs, strict=True)])
            hidden = H
        elif cfg.readout == "routed":
            he = H // cfg.num_experts
            self.router = nn.Linear(nf, cfg.num_experts)
            self.fc1 = nn.Linear(nf, he * cfg.num_experts)
            hidden = he * cfg.num_experts
        else:
            self.fc1 = nn.Linear(nf, H)
            hidden = H
        if cfg.readout == "gru":
            self.gru = nn.GRU(H, H, batch_first=True)
        self.fc2 = nn.Linear(hidden, vocab_size)
        self._extra: torch.Tensor | None = None

    # ------------------------------------------------------------------ state
    def init_state(self, batch: int, device: torch.device | str | None = None) -> State:
        """The start state for ``batch`` sequences (zeros; the window holds byte 0)."""
        cfg = self.config
        dev = device if device is not None else self.embed.weight.device
        dt = self.embed.weight.dtype
        st: State = {}
        if cfg.local_window > 1:
            st["prev"] = torch.zeros(batch, cfg.local_window - 1, dtype=torch.long, device=dev)
        if cfg.num_modes:
            st["h"] = torch.zeros(batch, cfg.num_modes, dtype=dt, device=dev)
        if cfg.num_oscillatory:
            st["z"] = torch.zeros(batch, cfg.num_oscillatory, 2, dtype=dt, device=dev)
        if cfg.state_dim:
            st["s"] = torch.zeros(batch, cfg.state_dim, dtype=dt, device=dev)
        if cfg.readout == "gru":
            st["gru"] = torch.zeros(1, batch, cfg.readout_hidden, dtype=dt, device=dev)
        return st

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` byte ids -> ``(B, T, V)`` logits, from the start state."""
        return self.forward_with_state(x, None)[0]

    def forward_with_state(self, x: torch.Tensor, state: State | None = None,
                           scan_method: str = "auto") -> tuple[torch.Tensor, State]:
        """``(B, T)`` ids and a state -> ``(B, T, V)`` logits and the state after the last byte."""
        cfg = self.config
        if x.dim() != 2:
            raise ValueError(f"CausalBankModel expects (B, T) byte ids, got shape {tuple(x.shape)}")
        B, T = x.shape
        if state is None:
            state = self.init_state(B, x.device)
        new: State = {}
        e = self.embed(x)  # (B, T, E)
        feats: list[torch.Tensor] = []
        k = cfg.local_window
        if k > 0:
            if k > 1:
                ext = torch.cat([state["prev"], x], dim=1)  # (B, T + k - 1)
                new["prev"] = ext[:, -(k - 1):]
                ee = torch.cat([self.embed(state["prev"]), e], dim=1)
                feats.extend(ee[:, k - 1 - j: k - 1 - j + T] for j in range(k))
            else:
                feats.append(e)
        v = squared_relu(self.in_mlp(torch.cat(feats, dim=-1))) if cfg.input_hidden else e
        feats.extend(self._bank(v, state, new, scan_method))
        if cfg.state_dim:
            feats.append(self._selective(v, state, new, scan_method))
        f = self.norm(torch.cat(feats, dim=-1))
        logits = self._readout(f, state, new)
        return logits, new

    def step(self, byte_ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One byte per sequence: ``(B,)`` ids -> ``(B, V)`` logits and the next state (O(1) memory)."""
        logits, st = self.forward_with_state(byte_ids.reshape(-1, 1), state)
        return logits[:, 0], st

    def slow_parameters(self) -> list[str]:
        """The substrate's timescales (decays, oscillation radii and frequencies, selective rates)."""
        names = ("decay_logit", "osc_logit", "osc_angle", "sel_log_rate")
        return [n for n, _ in self.named_parameters() if n in names]

    def no_weight_decay(self) -> list[str]:
        """Timescale parameters are spared weight decay (decay would pull them towards a = 0.5)."""
        return self.slow_parameters()

    def extra_loss(self) -> torch.Tensor | None:
        """Auxiliary loss of the last forward (the routed readout's expert balance), else ``None``."""
        return self._extra

    # ------------------------------------------------------------------ parts
    def _bank(self, e: torch.Tensor, state: State, new: State, method: str) -> list[torch.Tensor]:
        cfg = self.config
        Nr, No = cfg.num_modes, cfg.num_oscillatory
        if Nr + No == 0:
            return []
        B, T, _ = e.shape
        u = e @ self.in_proj  # (B, T, Nr + 2 No)
        g = self.gate_proj(e) if cfg.gated else None  # (B, T, Nr + No)
        out = []
        if Nr:
            lg = self.decay_logit if g is None else self.decay_logit + g[..., :Nr]
            a, scale = _input_scale(lg)
            h = linear_scan(a, scale * u[..., :Nr], state["h"], method=method)
            new["h"] = h[:, -1]
            out.append(h)
        if No:
            lq = self.osc_logit if g is None else self.osc_logit + g[..., Nr:]
            r, scale = _input_scale(lq)
            gate = torch.polar(r, self.osc_angle.expand_as(r))
            drive = torch.complex(u[..., Nr:Nr + No], u[..., Nr + No:]) * scale
            z = linear_scan(gate, drive, torch.view_as_complex(state["z"].contiguous()), method=method)
            new["z"] = torch.view_as_real(z[:, -1])
            out.append(torch.view_as_real(z).reshape(B, T, 2 * No))
        if cfg.gated:
            og = 2.0 * torch.sigmoid(self.out_gate(e))
            bank = torch.cat(out, dim=-1) * og
            return [bank]
        return out

    def _selective(self, e: torch.Tensor, state: State, new: State, method: str) -> torch.Tensor:
        S = self.config.state_dim
        p = self.sel_in(e)
        dt = F.softplus(p[..., :S])
        a = torch.exp(-dt * torch.exp(self.sel_log_rate))
        s = linear_scan(a, (1.0 - a) * p[..., S:], state["s"], method=method)
        new["s"] = s[:, -1]
        return s

    def _readout(self, f: torch.Tensor, state: State, new: State) -> torch.Tensor:
        cfg = self.config
        self._extra = None
        if cfg.readout == "banded":
            hid = torch.cat([squared_relu(fc(p)) for fc, p in
                             zip(self.band_fc, f.split(cfg.band_sizes(), dim=-1), strict=True)], dim=-1)
            return self.fc2(hid)
        if cfg.readout == "routed":
            return self._routed(f)
        pre = self.fc1(f)
        hid = squared_relu(pre)
        if cfg.readout == "gru":
            g, hT = self.gru(pre, state["gru"])
            new["gru"] = hT
            hid = hid + g
        return self.fc2(hid)

    def _routed(self, f: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        E, k = cfg.num_experts, cfg.expert_top_k
        probs = torch.softmax(self.router(f), dim=-1)  # (B, T, E)
        top, idx = probs.topk(k, dim=-1)
        gates = torch.zeros_like(probs).scatter(-1, idx, top / top.sum(-1, keepdim=True))
        hid = squared_relu(self.fc1(f))  # (B, T, E * He)
        B, T, _ = hid.shape
        hid = (hid.reshape(B, T, E, -1) * gates[..., None]).reshape(B, T, -1)
        if cfg.balance_weight > 0 and self.training:
            frac = torch.zeros_like(probs).scatter(-1, idx, 1.0 / k).mean(dim=(0, 1))
            self._extra = cfg.balance_weight * E * (frac.detach() * probs.mean(dim=(0, 1))).sum()
        return self.fc2(hid)
