"""Masked-span reconstruction: the seeded span generator, span checks, reconstruction from both sides against
the left context only, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decepticons.adapters import MaskConfig, NoncausalReconstructiveAdapter, check_spans, make_spans
from decepticons.adapters.masks import parse_spans
from decepticons.cli import main
from decepticons.data import embedded_corpus
from decepticons.errors import InputError

TRAIN = np.asarray(embedded_corpus()[0][:65536]).copy()
VALID = np.asarray(embedded_corpus()[1][:8192]).copy()


@pytest.fixture(scope="module")
def model() -> NoncausalReconstructiveAdapter:
    m = NoncausalReconstructiveAdapter(forward={"kind": "ngram", "config": {"orders": 4, "online": False}},
                                       fit_rows=2048)
    m.fit(TRAIN)
    return m


@pytest.mark.parametrize("distribution", ["fixed", "uniform", "geometric"])
def test_spans_are_seeded_apart_and_about_the_asked_share(distribution):
    cfg = MaskConfig(span_length=5, distribution=distribution, fraction=0.1, seed=3)
    a, b = make_spans(10_000, cfg), make_spans(10_000, cfg)
    assert np.array_equal(a, b) and not np.array_equal(a, make_spans(10_000, MaskConfig(
        span_length=5, distribution=distribution, fraction=0.1, seed=4)))
    check_spans(a, 10_000)  # sorted, inside, apart
    lengths = a[:, 1] - a[:, 0]
    assert 0.07 < lengths.sum() / 10_000 < 0.13
    if distribution == "fixed":
        assert (lengths == 5).all()
    else:
        assert lengths.min() >= 1 and len(set(lengths.tolist())) > 2


@pytest.mark.parametrize("spans, match", [
    ([], "no spans"), ([[0, 0]], "out of range"), ([[5, 200]], "out of range"), ([[-1, 2]], "out of range"),
    ([[0, 4], [4, 6]], "overlaps or touches"), ([[10, 12], [0, 3]], "overlaps"), ([1, 2, 3], "shape"),
    ([[0.5, 2.0]], "integer"), ("abc", "shape"),
])
def test_bad_spans_are_input_errors(spans, match):
    with pytest.raises(InputError, match=match):
        check_spans(spans, 100)


def test_parse_spans():
    assert parse_spans("1:3, 7:9").tolist() == [[1, 3], [7, 9]]
    for bad in ("1-3", "a:b", "4"):
        with pytest.raises(InputError, match="START:END"):
            parse_spans(bad)


def test_both_sides_beat_the_left_context_only(model):
    rep = model.evaluate(VALID, mask=MaskConfig(span_length=2, fraction=0.1, seed=1))
    assert rep.spans > 300 and rep.masked_bytes == 2 * rep.spans
    assert rep.bits_per_masked_byte < rep.causal_bits_per_masked_byte - 0.3
    assert rep.span_accuracy > rep.causal_span_accuracy and rep.byte_accuracy > rep.causal_byte_accuracy
    spans = make_spans(len(VALID), MaskConfig(span_length=2, fraction=0.1, seed=1))
    masked = np.zeros(len(VALID), dtype=bool)
    for s, e in spans:
        masked[s:e] = True
    assert np.array_equal(rep.filled[~masked], VALID[~masked])  # only the spans are filled in
    exact = np.mean([np.array_equal(rep.filled[s:e], VALID[s:e]) for s, e in spans])
    assert rep.span_accuracy == pytest.approx(exact)


def test_reconstruction_never_reads_the_masked_bytes(model):
    spans = np.array([[100, 104], [300, 306]])
    hidden = VALID.copy()
    for s, e in spans:
        hidden[s:e] = ord("#")
    assert np.array_equal(model.reconstruct(VALID, spans), model.reconstruct(hidden, spans))
    out = model.reconstruct(hidden, spans)
    assert not (out[100:104] == ord("#")).all()


def test_bits_are_a_code_of_the_span_given_its_surroundings(model):
    """Changing a byte far outside every window changes nothing; changing the span's right neighbour does."""
    spans = np.array([[1000, 1004]])
    base = model.evaluate(VALID, spans=spans).masked_bits
    far = VALID.copy()
    far[5000] ^= 1
    assert np.array_equal(model.evaluate(far, spans=spans).masked_bits, base)
    near = VALID.copy()
    near[1004] = (int(near[1004]) + 1) % 256
    assert not np.array_equal(model.evaluate(near, spans=spans).masked_bits, base)


def test_bad_input(model):
    with pytest.raises(InputError, match="empty"):
        model.evaluate(b"", spans=[[0, 1]])
    with pytest.raises(InputError, match="out of range"):
        model.reconstruct(VALID[:50], [[40, 60]])
    with pytest.raises(InputError, match="not fitted"):
        NoncausalReconstructiveAdapter().reconstruct(VALID, [[1, 2]])
    with pytest.raises(InputError, match="span_length"):
        MaskConfig(span_length=0)
    with pytest.raises(InputError, match="window"):
        NoncausalReconstructiveAdapter(window=0)
    with pytest.raises(InputError, match="at least one byte"):
        make_spans(0)


def test_reconstruct_command(tmp_path, capsys):
    (tmp_path / "train.txt").write_bytes(TRAIN[:16384].tobytes())
    (tmp_path / "in.txt").write_bytes(VALID[:2048].tobytes())
    argv = ["reconstruct", "--input", str(tmp_path / "in.txt"), "--train", str(tmp_path / "train.txt"),
            "--span-length", "3", "--fraction", "0.05", "--output", str(tmp_path / "out.txt"), "--json"]
    assert main(argv) == 0
    rep = json.loads(capsys.readouterr().out)["reconstruct"]
    assert rep["masked_bytes"] == 3 * rep["spans"] and "filled" not in rep
    out = (tmp_path / "out.txt").read_bytes()
    assert len(out) == 2048 and out != VALID[:2048].tobytes()
    assert main(["reconstruct", "--input", str(tmp_path / "in.txt"), "--spans", "10:9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "out of range" in err[0]
    assert main(["reconstruct", "--input", str(tmp_path / "in.txt"), "--distribution", "zipf"]) == 2
    assert "distribution" in capsys.readouterr().err
