"""A self-contained HTML page that shows where a model is surprised, byte by byte.

For a text ``x: uint8[T]`` and one or more models, :func:`byte_records` reads each model's next-byte
distributions ``p_t = softmax(log_probs(x)[t])`` through the predictor contract (in chunks, so memory stays
``O(T K)``) and keeps, per position t::

    bits[t]      = -log2 p_t(x[t])                      the code length of the actual byte
    entropy[t]   = -sum_b p_t(b) log2 p_t(b)            the model's own uncertainty
    top_ids[t]   = the K most probable bytes            uint8[T, K], most probable first
    top_probs[t] = their probabilities                  float32[T, K]

:func:`render_html` writes them into one HTML file with its script and styles inline (no network, no CDN):
the text with each byte coloured by its bits (with two models: by ``bits_A - bits_B``, where each one wins),
a hover card with the byte, its probability, its bits and the top alternatives under every model, a running
bits-per-byte chart of the whole file (click to jump there), and pages of ``page_bytes`` bytes so a large file
stays responsive (only one page is in the DOM at a time). Any bytes are shown: printable ASCII as itself,
newline and tab as visible marks, a valid UTF-8 sequence as its character on its first byte, anything else as
its hex value. The arrays travel base64-encoded in the page (bits as float32, probabilities
and entropies as uint16 fixed point, about 30 bytes of page per byte of text and model); :func:`write_html`
writes it atomically.
"""

from __future__ import annotations

import base64
import html
import json
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..predictor import CausalPredictor, require_causal
from .files import write_output

#: the page format; the script reads ``version`` and refuses pages it does not know
PAGE_VERSION = 1
#: at most this many bytes in one page (the arrays are a few tens of bytes per position)
MAX_BYTES = 1 << 24
#: the page stores probabilities and entropies as uint16 fixed point (``round(v * scale)``)
PROB_SCALE = 65535.0
ENTROPY_SCALE = 8000.0


@dataclass
class ByteRecords:
    """One model's per-position records over a text (see the module docstring for the equations)."""

    name: str
    bits: np.ndarray       # float32[T]
    entropy: np.ndarray    # float32[T]
    top_ids: np.ndarray    # uint8[T, K]
    top_probs: np.ndarray  # float32[T, K]

    @property
    def bits_per_byte(self) -> float:
        return float(self.bits.astype(np.float64).mean()) if len(self.bits) else 0.0


def byte_records(model: CausalPredictor, data: np.ndarray, top_k: int = 5, name: str | None = None,
                 chunk_size: int = 1 << 14) -> ByteRecords:
    """Per-position bits, entropy and top-``top_k`` alternatives of ``model`` on ``data: uint8[T]``."""
    x = np.asarray(data)
    if x.ndim != 1 or x.dtype != np.uint8:
        raise InputError(f"byte_records needs a 1-D uint8 array, got {x.dtype} of shape {x.shape}")
    if not 1 <= top_k <= 256:
        raise InputError(f"top_k must be in 1..256, got {top_k}")
    require_causal(model, "a per-byte report")
    T = len(x)
    bits = np.empty(T, np.float32)
    ent = np.empty(T, np.float32)
    ids = np.empty((T, top_k), np.uint8)
    probs = np.empty((T, top_k), np.float32)
    start = 0
    for lp in model.iter_log_probs(x, chunk_size=chunk_size):
        n = len(lp)
        rows = np.arange(n)
        p = np.exp(lp)
        bits[start:start + n] = -lp[rows, x[start:start + n]] / np.log(2.0)
        with np.errstate(invalid="ignore"):
            ent[start:start + n] = -np.where(p > 0, p * lp, 0.0).sum(axis=1) / np.log(2.0)
        top = np.argsort(-lp, axis=1, kind="stable")[:, :top_k]
        ids[start:start + n] = top
        probs[start:start + n] = np.take_along_axis(p, top, axis=1)
        start += n
    if start != T:
        raise InputError(f"{model.name} gave {start} rows of log-probabilities for {T} bytes")
    return ByteRecords(name or model.name, bits, ent, ids, probs)


def _u16(a: np.ndarray, scale: float) -> np.ndarray:
    """``round(clip(a * scale, 0, 65535))`` as ``uint16``: probabilities to 1/65535, entropy to 1/8000 bit."""
    return np.round(np.clip(np.nan_to_num(np.asarray(a, np.float64)) * scale, 0, 65535)).astype(np.uint16)


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii")


def render_html(data: np.ndarray, records: list[ByteRecords], title: str = "decepticons report",
                page_bytes: int = 4096) -> str:
    """The page for ``data: uint8[T]`` and one or more models' :class:`ByteRecords` (see the module docstring)."""
    x = np.asarray(data)
    if x.ndim != 1 or x.dtype != np.uint8:
        raise InputError(f"the report needs a 1-D uint8 array, got {x.dtype} of shape {x.shape}")
    if len(x) == 0:
        raise InputError("the report needs at least one byte")
    if len(x) > MAX_BYTES:
        raise InputError(f"the report shows at most {MAX_BYTES:,} bytes; got {len(x):,} (score a part of the file)")
    if not records:
        raise InputError("the report needs at least one model")
    for r in records:
        if len(r.bits) != len(x) or r.top_ids.shape[0] != len(x) or r.top_ids.shape != r.top_probs.shape:
            raise InputError(f"records of {r.name} do not cover the {len(x)} bytes")
    if not 256 <= page_bytes <= 1 << 16:
        raise InputError(f"page_bytes must be in 256..65536, got {page_bytes}")
    payload = {
        "version": PAGE_VERSION, "title": title, "prob_scale": PROB_SCALE, "entropy_scale": ENTROPY_SCALE,
        "n": int(len(x)), "page": int(page_bytes),
        "data": _b64(x),
        "models": [{"name": r.name, "k": int(r.top_ids.shape[1]), "bpb": r.bits_per_byte,
                    "bits": _b64(r.bits.astype(np.float32)), "entropy": _b64(_u16(r.entropy, ENTROPY_SCALE)),
                    "ids": _b64(r.top_ids.astype(np.uint8)), "probs": _b64(_u16(r.top_probs, PROB_SCALE))}
                   for r in records],
    }
    blob = json.dumps(payload).replace("</", "<\\/")
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", blob)


def write_html(path: str | os.PathLike[str], data: np.ndarray, models: list[CausalPredictor],
               names: list[str] | None = None, title: str | None = None, top_k: int = 5,
               page_bytes: int = 4096) -> list[ByteRecords]:
    """Score ``data`` with each model, write the page to ``path`` atomically; returns the records."""
    names = names or [m.name for m in models]
    recs = [byte_records(m, np.asarray(data), top_k=top_k, name=n) for m, n in zip(models, names)]
    page = render_html(np.asarray(data), recs, title=title or " vs ".join(names), page_bytes=page_bytes)
    write_output(str(path), page.encode("utf-8"), "--html")
    return recs


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:10px 16px;background:#fff;border-bottom:1px solid #ddd;position:sticky;top:0;z-index:2}
h1{font-size:16px;margin:0 0 4px}
#summary span{margin-right:18px}
#chart{width:100%;height:90px;display:block;cursor:pointer;background:#fff;border:1px solid #eee}
#nav{margin:6px 0}
#nav button{font:inherit;padding:1px 8px}
#text{font:13px/1.6 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all;
      padding:12px 16px;margin:0}
#text span.b{cursor:default;border-radius:2px}
#text span.b:hover{outline:1px solid #000}
#text span.m{color:#888}
#text span.c{display:inline-block;width:3px;height:1.1em;vertical-align:text-bottom}
#card{position:fixed;display:none;background:#fff;border:1px solid #999;border-radius:4px;padding:6px 9px;
      font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;box-shadow:0 2px 8px rgba(0,0,0,.2);z-index:3;
      pointer-events:none;white-space:pre}
#legend{font-size:12px;color:#555}
</style></head><body>
<header><h1 id="title"></h1><div id="summary"></div>
<canvas id="chart" width="1200" height="90"></canvas>
<div id="nav"><button id="prev">&larr;</button> <span id="where"></span> <button id="next">&rarr;</button>
<span id="legend"></span></div></header>
<pre id="text"></pre><div id="card"></div>
<script id="payload" type="application/json">__DATA__</script>
<script>
"use strict";
const P = JSON.parse(document.getElementById("payload").textContent);
function dec(s, T) { const b = atob(s), u = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
  return T === Uint8Array ? u : new T(u.buffer); }
if (P.version !== 1) throw new Error("unknown report version " + P.version);
const X = dec(P.data, Uint8Array);
const M = P.models.map(m => ({name: m.name, k: m.k, bpb: m.bpb, bits: dec(m.bits, Float32Array),
  ent: Float32Array.from(dec(m.entropy, Uint16Array), v => v / P.entropy_scale), ids: dec(m.ids, Uint8Array),
  probs: Float32Array.from(dec(m.probs, Uint16Array), v => v / P.prob_scale)}));
const two = M.length >= 2, pages = Math.ceil(P.n / P.page);
let page = 0;
document.title = P.title;
document.getElementById("title").textContent = P.title;
document.getElementById("summary").innerHTML = M.map(m =>
  `<span><b>${esc(m.name)}</b>: ${m.bpb.toFixed(4)} bits/byte</span>`).join("") +
  `<span>${P.n.toLocaleString()} bytes</span>`;
document.getElementById("legend").textContent = two
  ? `colour: bits of ${M[0].name} minus bits of ${M[1].name} (blue: ${M[0].name} wins, red: ${M[1].name} wins)`
  : "colour: bits of the actual byte (white 0, red 8 or more)";
function esc(s) { return String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"})[c]); }
function show(b) {  // one byte as text: printable ASCII, visible marks, or hex
  if (b === 10) return "\u21b5\n"; if (b === 9) return "\u21e5"; if (b === 13) return "\u240d";
  if (b >= 32 && b < 127) return String.fromCharCode(b);
  return null; }
function utf8At(i) {  // a valid UTF-8 sequence starting at i: [char, length] or null
  const b = X[i], n = b >= 0xf0 && b < 0xf5 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
  if (b >= 0xf5 || n === 0 || i + n > X.length) return null;
  for (let j = 1; j < n; j++) if ((X[i + j] & 0xc0) !== 0x80) return null;
  try { return [new TextDecoder("utf-8", {fatal: true}).decode(X.subarray(i, i + n)), n]; } catch (e) { return null; }
}
function colour(i) {
  if (two) { const d = Math.max(-4, Math.min(4, M[0].bits[i] - M[1].bits[i])) / 4, a = Math.abs(d);
    return d < 0 ? `rgba(40,100,230,${a})` : `rgba(230,50,40,${a})`; }
  const a = Math.min(1, M[0].bits[i] / 8); return `rgba(230,50,40,${a})`; }
function label(b) { const s = show(b); return s === null ? "0x" + b.toString(16).padStart(2, "0")
  : b === 10 ? "\\n" : b === 9 ? "\\t" : b === 13 ? "\\r" : JSON.stringify(s); }
function render() {
  const t = document.getElementById("text"), s = page * P.page, e = Math.min(P.n, s + P.page);
  const parts = [];
  let cont = 0;
  for (let i = s; i < e; i++) {
    let txt, cls = "b";
    if (cont > 0) { cont--; txt = ""; cls = "b c"; }
    else { txt = show(X[i]);
      if (txt === null) { const u = X[i] >= 0x80 ? utf8At(i) : null;
        if (u) { txt = u[0]; cont = u[1] - 1; }
        else { txt = "\u2039" + X[i].toString(16).padStart(2, "0") + "\u203a"; cls = "b m"; } } }
    parts.push(`<span class="${cls}" data-i="${i}" style="background:${colour(i)}">${esc(txt)}</span>`);
  }
  t.innerHTML = parts.join("");
  document.getElementById("where").textContent =
    `bytes ${s.toLocaleString()}\u2013${(e - 1).toLocaleString()} (page ${page + 1} of ${pages})`;
  drawChart();
}
function card(i) {
  const lines = [`byte ${i.toLocaleString()}: ${label(X[i])}`];
  for (const m of M) {
    const p = Math.pow(2, -m.bits[i]);
    lines.push(`${m.name}: p=${p.toPrecision(4)}  ${m.bits[i].toFixed(3)} bits  entropy ${m.ent[i].toFixed(2)}`);
    const alts = [];
    for (let j = 0; j < m.k; j++) alts.push(`${label(m.ids[i * m.k + j])} ${m.probs[i * m.k + j].toFixed(3)}`);
    lines.push("  top: " + alts.join("  "));
  }
  if (two) lines.push(`difference: ${(M[0].bits[i] - M[1].bits[i]).toFixed(3)} bits`);
  return lines.join("\n");
}
const C = document.getElementById("card");
document.getElementById("text").addEventListener("mouseover", ev => {
  const el = ev.target.closest("span.b"); if (!el) return;
  C.textContent = card(+el.dataset.i); C.style.display = "block";
  const r = el.getBoundingClientRect();
  C.style.left = Math.min(window.innerWidth - C.offsetWidth - 8, r.left) + "px";
  C.style.top = (r.bottom + 6 + C.offsetHeight > window.innerHeight ? r.top - C.offsetHeight - 6 : r.bottom + 6) + "px";
});
document.getElementById("text").addEventListener("mouseout", () => { C.style.display = "none"; });
const W = Math.max(256, Math.ceil(P.n / 600));  // running mean window (bytes)
const run = M.map(m => { const pts = []; let acc = 0;
  for (let i = 0; i < P.n; i++) { acc += m.bits[i]; if (i >= W) acc -= m.bits[i - W];
    if ((i + 1) % Math.max(1, Math.floor(P.n / 1200)) === 0 || i === P.n - 1) pts.push([i, acc / Math.min(i + 1, W)]); }
  return pts; });
function drawChart() {
  const cv = document.getElementById("chart"), g = cv.getContext("2d"), w = cv.width, h = cv.height;
  g.clearRect(0, 0, w, h);
  const top = Math.max(1, ...run.flat().map(p => p[1])) * 1.05;
  g.fillStyle = "rgba(0,0,0,.06)"; g.fillRect(page * P.page / P.n * w, 0, Math.max(2, P.page / P.n * w), h);
  const cols = two ? ["#2864e6", "#d03020", "#2a9d3a", "#8a4fbf"] : ["#d03020"];  // as the byte colours
  run.forEach((pts, k) => { g.strokeStyle = cols[k % cols.length]; g.beginPath();
    pts.forEach(([i, v], j) => { const px = i / P.n * w, py = h - v / top * h;
      j ? g.lineTo(px, py) : g.moveTo(px, py); });
    g.stroke(); });
  g.fillStyle = "#555"; g.font = "11px sans-serif";
  g.fillText(`running bits/byte (window ${W.toLocaleString()} bytes), 0..${top.toFixed(2)}`, 6, 12);
}
document.getElementById("chart").addEventListener("click", ev => {
  const r = ev.target.getBoundingClientRect();
  page = Math.min(pages - 1, Math.floor((ev.clientX - r.left) / r.width * P.n / P.page)); render(); });
document.getElementById("prev").onclick = () => { if (page > 0) { page--; render(); } };
document.getElementById("next").onclick = () => { if (page < pages - 1) { page++; render(); } };
render();
document.body.dataset.ready = "1";
</script></body></html>
"""
