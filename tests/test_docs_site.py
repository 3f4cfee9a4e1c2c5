"""The API reference (docs/api, Sphinx) builds from the docstrings with warnings as errors, and its pages hold
the names a user looks for. Skipped when Sphinx, furo, myst-parser or torch (the torch
models' pages) is not installed; the ``test`` extra installs them all."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "api"
MISSING = [m for m in ("sphinx", "furo", "myst_parser", "torch") if importlib.util.find_spec(m) is None]

PAGES = ["index", "tutorial", "decepticons", "coder", "memory", "mixer", "causal_bank", "transformer", "training",
         "coding", "substrates", "views", "control", "readouts", "adapters", "runtime", "data", "bench",
         "plato_mythos", "guide/architecture", "guide/hardening", "guide/kernel_matrix", "guide/benchmarks",
         "guide/experiments"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, str]:
    if MISSING:
        pytest.skip(f"the docs build needs {', '.join(MISSING)} (the docs extra)")
    tmp = tmp_path_factory.mktemp("docs")
    out = tmp / "html"
    r = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-j", "1", "-q", "-E",
                        "-d", str(tmp / "doctrees"), str(SOURCE), str(out)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    warnings = "\n".join(line for line in (r.stdout + r.stderr).splitlines() if line.strip())
    assert r.returncode == 0, f"the docs build failed or warned:\n{warnings[-6000:]}"
    return out, warnings


def _page(out: Path, name: str) -> str:
    return (out / f"{name}.html").read_text(encoding="utf-8")


def _documented(html: str) -> set[str]:
    """The fully qualified names that a page documents (the anchors of autodoc's entries)."""
    return set(re.findall(r'<dt class="sig sig-object py" id="([A-Za-z0-9_.]+)"', html))


def test_builds_without_warnings(site):
    out, warnings = site
    assert warnings == "", warnings
    for name in PAGES:
        assert (out / f"{name}.html").is_file(), name


def test_key_names_are_documented(site):
    out, _ = site
    expected = {
        "decepticons": ["decepticons.predictor.CausalPredictor", "decepticons.predictor.CausalPredictor.log_probs",
                        "decepticons.predictor.CausalPredictor.stream", "decepticons.predictor.Stream",
                        "decepticons.predictor.score", "decepticons.codecs.ByteCodec",
                        "decepticons.registry.load_model", "decepticons.errors.InputError",
                        "decepticons.runtime.reports.ScoreReport"],
        "coder": ["decepticons.coder.ByteLatentPredictiveCoder", "decepticons.coder.CoderConfig"],
        "mixer": ["decepticons.mixer.MixerPredictor", "decepticons.mixer.MixerConfig"],
        "memory": ["decepticons.memory.NGramPredictor", "decepticons.memory.OnlineNGramPredictor"],
        "causal_bank": ["decepticons.causal_bank.CausalBankConfig", "decepticons.causal_bank.scans.linear_scan",
                        "decepticons.causal_bank.predictor.CausalBankPredictor",
                        "decepticons.causal_bank.model_torch.CausalBankModel"],
        "transformer": ["decepticons.transformer.predictor.TransformerPredictor"],
        "training": ["decepticons.training.TrainConfig", "decepticons.training.train",
                     "decepticons.training.TorchPredictor"],
        "coding": ["decepticons.coding.compress", "decepticons.coding.decompress"],
        "runtime": ["decepticons.runtime.trace", "decepticons.runtime.read_trace", "decepticons.runtime.write_html"],
        "data": ["decepticons.data.embedded_corpus", "decepticons.data.corpus_files"],
        "bench": ["decepticons.bench.run_bench"],
        "views": ["decepticons.views.ByteLatentFeatureView"],
        "readouts": ["decepticons.readouts.FrozenReadoutExpert"],
        "adapters": ["decepticons.adapters.CausalPredictiveAdapter"],
        # the plato_mythos quickstart: the model, its configuration and the registered predictor
        "plato_mythos": ["plato_mythos.PlatoMythos", "plato_mythos.PlatoMythosConfig",
                         "plato_mythos.predictor.MythosPredictor",
                         "plato_mythos.predictor.MythosPredictor.calibrate_halting"],
    }
    for page, names in expected.items():
        missing = set(names) - _documented(_page(out, page))
        assert not missing, f"{page}.html does not document {sorted(missing)}"


def test_every_top_level_name_is_on_the_decepticons_page(site):
    import decepticons

    out, _ = site
    html = _page(out, "decepticons")
    # a resolved cross-reference: a link to where the name is documented, the name (and "()") as its text
    linked = set(re.findall(r'<a class="reference internal" href="[^"]*#([A-Za-z0-9_.]+)"[^>]*><code[^>]*>'
                            r'<span class="pre">([A-Za-z0-9_]+)(?:\(\))?</span>', html))
    names = {short for target, short in linked if target.endswith("." + short)}
    absent = [n for n in decepticons.__all__ if n != "__version__" and n not in names]
    assert not absent, f"names of decepticons.__all__ not linked from decepticons.html: {absent}"


def test_tutorial_and_guides_are_included(site):
    out, _ = site
    tutorial = _page(out, "tutorial")
    assert "embedded_corpus" in tutorial and "write_html" in tutorial and "--tiny" in tutorial
    assert "decepticons.substrates" in _page(out, "guide/kernel_matrix")
    assert "CausalPredictor" in _page(out, "guide/architecture")
    assert "<img" in _page(out, "guide/benchmarks")
    assert "<img" in _page(out, "guide/experiments")
    for name in ("guide/benchmarks", "guide/experiments"):
        for src in re.findall(r'<img[^>]* src="([^"]+)"', _page(out, name)):
            assert (out / "guide" / src).resolve().is_file(), f"{name}: missing image {src}"


def test_short_names_link_to_where_they_are_documented(site):
    out, _ = site
    # ``:class:`InputError``` in the adapters' docstrings links to decepticons.errors.InputError
    assert 'href="decepticons.html#decepticons.errors.InputError"' in _page(out, "adapters")
    # a base class shown under its defining module's path links to where the same object is documented
    assert 'href="memory.html#decepticons.memory.CountConfig"' in _page(out, "mixer")


def test_every_package_has_a_page():
    """A new subpackage of decepticons gets its page in docs/api (Sphinx itself warns when a page is not in the
    index's table of contents)."""
    packages = sorted(p.parent.name for p in (ROOT / "src" / "decepticons").glob("*/__init__.py"))
    missing = [p for p in packages if not (SOURCE / f"{p}.rst").is_file()]
    assert not missing, f"packages without a page in docs/api: {missing}"
    for page in ("decepticons", "plato_mythos"):
        assert (SOURCE / f"{page}.rst").is_file()
