"""Screenshot of the HTML report for the docs: two n-gram orders compared on the demo corpus's held-out play.

    python examples/tools/report_screenshot.py [--out docs/images/html_report.png]

Fits an order-2 and an order-5 ``ngram`` on the embedded demo corpus, writes ``decepticons compare``'s page for
the first 12 KB of the held-out play, opens it in headless Chromium (``apt-get install chromium``), hovers one
byte and saves the screenshot.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from _browser import Browser  # noqa: E402
from decepticons.data import embedded_corpus  # noqa: E402
from decepticons.registry import model_class  # noqa: E402
from decepticons.runtime.html_report import write_html  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "images" / "html_report.png"))
    args = ap.parse_args()
    train, valid = embedded_corpus()
    models = []
    for order in (2, 5):
        m = model_class("ngram")(orders=order)
        m.fit(train)
        models.append(m)
    x = np.asarray(valid)[:12288]
    with tempfile.TemporaryDirectory() as d:
        page = Path(d) / "report.html"
        write_html(page, x, models, names=["ngram order 2", "ngram order 5"], page_bytes=2048)
        with Browser(width=1100, height=720) as b:
            b.open(page.as_uri())
            i = 1210
            xy = b.evaluate(f"(() => {{ const e = document.querySelector('span.b[data-i=\"{i}\"]');"
                            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
            b.hover(*xy)
            time.sleep(0.2)
            Path(args.out).write_bytes(b.screenshot())
    print(args.out)


if __name__ == "__main__":
    main()
