"""The HTML report: per-byte records agree with scoring, the page refuses bad input, and in a real headless
Chromium (skipped when none is installed) it renders, pages, and hovering a byte shows its probability."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache

import numpy as np
import pytest

from _browser import Browser, find_chromium
from decepticons.data import embedded_corpus
from decepticons.errors import InputError
from decepticons.registry import model_class
from decepticons.runtime.html_report import ByteRecords, byte_records, render_html, write_html

#: text, a multi-byte UTF-8 stretch, and bytes that are not UTF-8 at all
TAIL = "naïve café — ✓\n".encode() + bytes([0, 1, 0xFF, 0xFE, 0x80, 9, 13, 10])


@cache
def setup() -> tuple[np.ndarray, object, object]:
    train, valid = embedded_corpus()
    a = model_class("ngram")(orders=2)
    a.fit(np.asarray(train)[:30000])
    b = model_class("ngram")(orders=4)
    b.fit(np.asarray(train)[:30000])
    x = np.concatenate([np.asarray(valid)[:5000], np.frombuffer(TAIL, np.uint8)])
    return x, a, b


def test_records_agree_with_scoring():
    x, a, _ = setup()
    r = byte_records(a, x, top_k=4, chunk_size=777)
    s = a.score(x, trace=True)
    np.testing.assert_allclose(r.bits, s.trace, rtol=1e-5, atol=1e-5)
    assert abs(r.bits_per_byte - s.bits_per_byte) < 1e-5
    lp = a.log_probs(x)
    np.testing.assert_array_equal(r.top_ids[:, 0], np.argmax(lp, axis=1))
    assert np.all(np.diff(r.top_probs, axis=1) <= 1e-7)
    p = np.exp(lp)
    np.testing.assert_allclose(r.entropy, -(p * lp).sum(1) / np.log(2), rtol=1e-4, atol=1e-4)


def test_bad_input_is_refused():
    x, a, _ = setup()
    r = byte_records(a, x[:100])
    with pytest.raises(InputError, match="at least one byte"):
        render_html(x[:0], [r])
    with pytest.raises(InputError, match="do not cover"):
        render_html(x[:99], [r])
    with pytest.raises(InputError, match="at least one model"):
        render_html(x[:100], [])
    with pytest.raises(InputError, match="uint8"):
        byte_records(a, x[:100].astype(np.int64))
    with pytest.raises(InputError, match="top_k"):
        byte_records(a, x[:100], top_k=0)
    bad = ByteRecords("x", r.bits, r.entropy, r.top_ids, r.top_probs[:, :2])
    with pytest.raises(InputError, match="do not cover"):
        render_html(x[:100], [bad])


def test_page_is_self_contained():
    x, a, _ = setup()
    page = render_html(x, [byte_records(a, x)])
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "src=" not in page  # no external scripts or images


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "decepticons", *args], capture_output=True, text=True)


def test_compare_cli(tmp_path):
    x, a, b = setup()
    pa, pb, inp = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "x.bin"
    a.save(pa)
    b.save(pb)
    inp.write_bytes(x.tobytes())
    r = run_cli("compare", "--load", str(pa), "--load", str(pb), "--name", "two", "--name", "four",
                "--input", str(inp), "--json", "--html", str(tmp_path / "c.html"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["schema_version"] == 1 and out["bytes"] == len(x)
    two, four = out["models"]
    assert (two["name"], four["name"]) == ("two", "four")
    assert abs(two["bits_per_byte"] - a.score(x).bits_per_byte) < 1e-6
    assert 0 < two["wins"] and 0 < four["wins"] and two["wins"] + four["wins"] <= 1
    assert four["bits_per_byte"] < two["bits_per_byte"] and four["wins"] > two["wins"]
    assert (tmp_path / "c.html").stat().st_size > 0
    r = run_cli("compare", "--load", str(pa), "--input", str(inp))
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "two models" in r.stderr
    r = run_cli("score", "--load", str(pa), "--input", str(inp), "--html", str(inp))
    assert r.returncode == 2 and "same file" in r.stderr
    r = run_cli("compare", "--load", str(pa), "--load", str(pb), "--name", "one", "--input", str(inp))
    assert r.returncode == 2 and "--name" in r.stderr


CHROMIUM = pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed (apt-get install chromium)")


def center(b: Browser, i: int) -> tuple[float, float]:
    r = b.evaluate(f"(() => {{ const e = document.querySelector('span.b[data-i=\"{i}\"]');"
                   " e.scrollIntoView({block: 'center'});"
                   " const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()")
    return r[0], r[1]


@CHROMIUM
def test_in_a_browser_render_hover_and_pages(tmp_path):
    x, a, b = setup()
    path = tmp_path / "r.html"
    recs = write_html(path, x, [a, b], names=["order2", "order4"], page_bytes=1024)
    with Browser() as br:
        br.open(path.as_uri())
        assert br.evaluate("document.querySelectorAll('#text span.b').length") == 1024
        assert "order2" in br.evaluate("document.getElementById('summary').textContent")
        i = 37
        br.hover(*center(br, i))
        card = br.evaluate("document.getElementById('card').style.display === 'block' && "
                           "document.getElementById('card').textContent")
        assert card, "hovering a byte shows its card"
        p = 2.0 ** -float(recs[0].bits[i])
        shown = float(re.search(r"order2: p=([0-9.e+-]+)", card).group(1))
        assert f"byte {i}:" in card and abs(shown - p) <= 1e-3 * p, (shown, p)
        assert "difference:" in card and "top:" in card
        # pages: go to the last one, which holds the multi-byte and non-UTF-8 bytes
        pages = -(-len(x) // 1024)
        for _ in range(pages - 1):
            br.evaluate("document.getElementById('next').click()")
        last = br.evaluate("document.getElementById('text').textContent")
        assert "naïve café" in last and "✓" in last and "‹ff›" in last and "‹00›" in last
        assert br.evaluate("document.querySelectorAll('#text span.b').length") == len(x) - (pages - 1) * 1024
        j = len(x) - 5  # the 0xFE byte
        br.hover(*center(br, j))
        assert "0xfe" in br.evaluate("document.getElementById('card').textContent")
        png = br.screenshot()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
