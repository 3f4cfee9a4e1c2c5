"""ByteLatentPredictiveCoder: causality, log_probs/stream parity, workers, persistence, errors."""

import numpy as np
import pytest

from decepticons import ByteCodec, ByteLatentPredictiveCoder, InputError, ModelFileError, load_model
from decepticons.data import embedded_corpus
from decepticons.substrates import SUBSTRATES

TEXT = ("the quick brown fox jumps over the lazy dog. " * 20 + "predictive coding likes structure. " * 20)


@pytest.fixture(scope="module")
def fitted():
    m = ByteLatentPredictiveCoder(max_order=4, chunk_size=512)
    m.fit(TEXT)
    return m


@pytest.mark.parametrize("substrate", sorted(SUBSTRATES))
def test_causality_every_substrate(substrate):
    m = ByteLatentPredictiveCoder(substrate=substrate, max_order=3, chunk_size=256)
    m.fit(TEXT[:600])
    rng = np.random.default_rng(0)
    x = ByteCodec.encode_text(TEXT[100:400])
    t = 150
    y = x.copy()
    y[t + 1:] = rng.integers(0, 256, len(x) - t - 1)
    a, b = m.log_probs(x), m.log_probs(y)
    np.testing.assert_array_equal(a[: t + 1], b[: t + 1])
    assert not np.allclose(a[t + 1:], b[t + 1:])


def test_workers_give_the_same_model():
    train, _ = embedded_corpus()
    data = np.asarray(train[:60_000])
    m1 = ByteLatentPredictiveCoder(max_order=4, chunk_size=8192)
    m2 = ByteLatentPredictiveCoder(max_order=4, chunk_size=8192)
    m1.fit(data, workers=1)
    m2.fit(data, workers=2)
    assert m1.fingerprint() == m2.fingerprint()


def test_default_fits_real_text_better_than_order0():
    train, valid = embedded_corpus()
    m = ByteLatentPredictiveCoder()
    r = m.fit(np.asarray(train[:150_000]), valid=np.asarray(valid[:20_000]))
    # an order-0 model of English text is ~4.5 bits/byte; the coder must be far sharper
    assert r.valid_bits_per_byte < 3.2
    assert r.train_bits_per_byte < r.valid_bits_per_byte


def test_save_load_roundtrip(tmp_path, fitted):
    p = tmp_path / "m.safetensors"
    fp = fitted.save(p)
    m2 = load_model(p)
    assert isinstance(m2, ByteLatentPredictiveCoder) and m2.fingerprint() == fp
    x = TEXT[:200]
    np.testing.assert_array_equal(m2.log_probs(x), fitted.log_probs(x))
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    p.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        load_model(p)


def test_errors():
    with pytest.raises(InputError, match="not been fitted"):
        ByteLatentPredictiveCoder().log_probs("abc")
    with pytest.raises(InputError, match="empty"):
        ByteLatentPredictiveCoder().fit("")
    with pytest.raises(InputError, match="unknown coder option"):
        ByteLatentPredictiveCoder(bogus=1)
    with pytest.raises(InputError, match="max_order"):
        ByteLatentPredictiveCoder(max_order=-1)
    with pytest.raises(InputError, match="workers"):
        ByteLatentPredictiveCoder().fit("abc", workers=0)
