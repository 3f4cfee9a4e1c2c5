"""Transfer probes on tiny corpora of three kinds: the matrix's diagonal is the self-fit figure, every cell is
what a freshly fitted model scores, and in-domain beats out-of-domain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from decepticons import InputError, model_class
from decepticons.data import embedded_corpus
from decepticons.runtime import TransferReport, evaluate_transfer_probe

SRC = Path(__file__).resolve().parents[1] / "src" / "decepticons"


def tiny_corpora() -> dict[str, tuple[bytes, bytes]]:
    """Prose (the demo plays), Python source (this package's own modules) and CSV records (generated)."""
    train, valid = embedded_corpus()
    code = b"".join(p.read_bytes() for p in sorted(SRC.glob("*.py")))
    rng = np.random.default_rng(0)
    rows = "".join(f"{i},{rng.integers(1900, 2030)},{['red', 'green', 'blue'][i % 3]},{rng.random():.4f}\n"
                   for i in range(2000)).encode()
    return {"prose": (train[:12_000].tobytes(), valid[:3_000].tobytes()),
            "code": (code[:12_000], code[-3_000:]),
            "records": (rows[:12_000], rows[-3_000:])}


@pytest.fixture(scope="module")
def report() -> TransferReport:
    return evaluate_transfer_probe("ngram", tiny_corpora(), config={"orders": 3})


def test_the_diagonal_is_the_self_fit_figure_and_every_cell_a_fresh_fit(report):
    corpora = tiny_corpora()
    cls = model_class("ngram")
    for a, (train_a, _) in corpora.items():
        model = cls(orders=3, seed=0)
        model.fit(train_a)
        for b, (_, valid_b) in corpora.items():
            assert report.cell(a, b) == model.score(valid_b).bits_per_byte
    for b, (train_b, valid_b) in corpora.items():
        model = cls(orders=3, seed=0)
        fit = model.fit(train_b, valid=valid_b)
        assert report.self_fit[b] == fit.valid_bits_per_byte


def test_in_domain_beats_out_of_domain_and_the_gap_is_measured_against_the_diagonal(report):
    m, g = report.matrix, report.gap
    assert m.shape == (3, 3) and np.all(np.isfinite(m))
    assert np.all(np.diag(g) == 0)
    off = ~np.eye(3, dtype=bool)
    assert np.all(g[off] > 0.3), g  # fitting on another kind of text costs on every column
    assert np.allclose(g, m - np.diag(m)[None, :])


def test_report_dict_and_markdown(report):
    d = json.loads(json.dumps(report.to_dict()))
    assert d["corpora"] == ["prose", "code", "records"] and d["model"] == "ngram"
    assert d["train_bytes"] == {"prose": 12_000, "code": 12_000, "records": 12_000}
    assert d["self_bits_per_byte"] == report.self_fit and np.allclose(d["gap"], report.gap)
    assert d["adaptive"] is model_class("ngram")(orders=3).adaptive
    md = report.to_markdown().splitlines()
    assert len(md) == 2 + 3 and md[0].count("|") == 3 + 3
    row = md[2 + 1]  # fitted on code
    assert row.startswith("| `code` |") and f"**{report.cell('code', 'code'):.3f}**" in row
    assert f"{report.cell('code', 'prose'):.3f} ({report.gap[1, 0]:+.3f})" in row
    assert "prose" in str(report)


def test_a_factory_and_byte_limits(tmp_path):
    corpora = tiny_corpora()
    files = {}
    for name, (train, valid) in list(corpora.items())[:2]:
        (tmp_path / f"{name}.train").write_bytes(train)
        (tmp_path / f"{name}.valid").write_bytes(valid)
        files[name] = (tmp_path / f"{name}.train", tmp_path / f"{name}.valid")
    cls = model_class("ngram")
    r = evaluate_transfer_probe(lambda: cls(orders=2), files, train_bytes=5_000, valid_bytes=1_000)
    assert r.train_bytes == {"prose": 5_000, "code": 5_000} and r.valid_bytes == {"prose": 1_000, "code": 1_000}
    model = cls(orders=2)
    model.fit(corpora["prose"][0][:5_000])
    assert r.cell("prose", "code") == model.score(corpora["code"][1][:1_000]).bits_per_byte


def test_registered_corpus_names_are_fetched_through_the_registry(monkeypatch, tmp_path):
    corpora = tiny_corpora()
    asked = []

    def fake_files(name):
        asked.append(name)
        paths = {s: tmp_path / f"{name}.{s}" for s in ("train", "valid")}
        for i, s in enumerate(("train", "valid")):
            paths[s].write_bytes(corpora[name][i])
        return paths

    monkeypatch.setattr("decepticons.data.corpora.corpus_files", fake_files)
    r = evaluate_transfer_probe("ngram", ["prose", "records"], config={"orders": 2}, train_bytes=4_000)
    assert asked == ["prose", "records"] and r.corpora == ["prose", "records"]
    assert r.train_bytes == {"prose": 4_000, "records": 4_000}
    assert r.valid_bytes == {"prose": 3_000, "records": 3_000}


class NotFittable:
    name = "plain"


@pytest.mark.parametrize("kwargs, pattern", [
    ({"corpora": {"only": (b"abc", b"abc")}}, "at least two corpora"),
    ({"corpora": {"a": (b"abc",), "b": (b"abc", b"abc")}}, "must be a \\(train, valid\\) pair"),
    ({"corpora": {"a": (b"", b"abc"), "b": (b"abc", b"abc")}}, "corpus 'a' train split is empty"),
    ({"corpora": "prose"}, "mapping name -> \\(train, valid\\)"),
    ({"train_bytes": 0}, "train_bytes must be an integer >= 1"),
    ({"kind": "no-such-model"}, "no-such-model"),
    ({"kind": NotFittable}, "not a predictor with a closed-form fit"),
    ({"kind": lambda: None, "config": {"orders": 2}}, "config applies to a model kind"),
])
def test_mistakes_are_input_errors(kwargs, pattern):
    kind = kwargs.pop("kind", "ngram")
    kwargs.setdefault("corpora", {"a": (b"abcabc", b"abc"), "b": (b"xyzxyz", b"xyz")})
    with pytest.raises(InputError, match=pattern):
        evaluate_transfer_probe(kind, **kwargs)
