"""Reading inputs that never end, change while read, or are well-formed but hostile model files.

Where memory is the point, the case runs in a fresh interpreter under ``RLIMIT_AS`` (its current address
space plus 256 MiB) and must fail with the right error within seconds.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from decepticons import InputError, ModelFileError
from decepticons.data import corpus, read_corpus
from decepticons.runtime import files, tensor_file
from decepticons.runtime.checkpoints import metadata_checksum, read_model_file, save_model_file
from decepticons.runtime.files import open_regular_file, read_regular_file

SRC = str(Path(__file__).resolve().parents[1] / "src")
LINUX = sys.platform.startswith("linux")


def _meta(kind: str = "k") -> dict[str, str]:
    meta = {"format": "decepticons-model", "format_version": "1", "kind": kind, "config": "{}",
            "version": "0", "fingerprint": "0" * 64, "extra": "{}"}
    meta["checksum"] = metadata_checksum(meta)
    return meta


def hostile(path: Path, tensors: dict, data: bytes = b"", header_extra: dict | None = None) -> Path:
    """A file whose metadata passes every check and whose tensor table says whatever the test wants."""
    header = {"__metadata__": _meta(), **tensors, **(header_extra or {})}
    body = json.dumps(header).encode()
    body += b" " * (-len(body) % 8)
    path.write_bytes(len(body).to_bytes(8, "little") + body + data)
    return path


def run_limited(body: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run ``body`` in a fresh interpreter whose address space may grow by only 256 MiB."""
    script = textwrap.dedent("""
        import resource, sys
        import numpy as np
        from decepticons import DecepticonsError
        from decepticons.data import read_corpus
        from decepticons.runtime.checkpoints import read_model_file
        from decepticons.runtime.files import read_regular_file
        size = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:")][0]
        resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), resource.RLIM_INFINITY))
        try:
    """) + textwrap.indent(textwrap.dedent(body), "    ") + textwrap.dedent("""
        except DecepticonsError as e:
            print(type(e).__name__ + ": " + str(e))
            sys.exit(0)
        print("no error")
        sys.exit(1)
    """)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "PYTHONPATH": SRC})
    r.seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    return r


# ------------------------------------------------------------------------------------------ non-regular files
@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
def test_the_memory_limit_of_the_harness_bites():
    r = run_limited("np.ones(1 << 30, np.uint8)")
    assert r.returncode != 0 and "MemoryError" in r.stderr


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS and /dev/zero as on Linux")
@pytest.mark.parametrize("call, error", [
    ("read_model_file('/dev/zero')", "ModelFileError: expected a regular file, got a character device"),
    ("read_corpus('/dev/zero')", "InputError: expected a regular file, got a character device"),
    ("read_corpus('/dev/zero', mmap=True)", "InputError: expected a regular file"),
    ("read_regular_file('/dev/zero')", "InputError: expected a regular file"),
    ("read_model_file('/dev/null')", "ModelFileError: expected a regular file"),
])
def test_endless_devices_fail_fast_in_bounded_memory(call, error):
    r = run_limited(call)
    assert r.returncode == 0 and r.stdout.startswith(error), r.stdout + r.stderr
    assert r.seconds < 30


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="got a FIFO"):
        read_model_file(fifo)  # no writer: an ordinary open would block forever
    with pytest.raises(InputError, match="got a FIFO"):
        read_corpus(fifo)
    with pytest.raises(InputError, match="got a FIFO"):
        read_regular_file(fifo)


# ------------------------------------------------------------------------------------------ changing inputs
@pytest.fixture()
def shrink_after_open(monkeypatch):
    """``open_regular_file`` as used by the readers, but the file loses half its bytes right after the check."""
    real = files.open_regular_file

    def shrinking(path, *a, **k):
        cm = real(path, *a, **k)
        f, size = cm.__enter__()
        os.truncate(path, size // 2)

        class Wrapped:
            def __enter__(self):
                return f, size

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Wrapped()

    monkeypatch.setattr(corpus, "open_regular_file", shrinking)
    monkeypatch.setattr(tensor_file, "open_regular_file", shrinking)


def test_a_corpus_shrinking_while_read_is_a_clear_error(tmp_path, shrink_after_open):
    p = tmp_path / "c.txt"
    p.write_bytes(b"some text\n" * 1000)
    with pytest.raises(InputError, match="changed while being read.*truncated"):
        read_corpus(p)


def test_a_model_file_shrinking_while_read_is_a_clear_error(tmp_path, shrink_after_open):
    p = tmp_path / "m.safetensors"
    save_model_file(p, "k", {}, {"w": np.arange(1000.0)})
    with pytest.raises(ModelFileError, match="changed while being read"):
        read_model_file(p)


def test_a_file_growing_while_read_is_a_clear_error(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes(b"0123456789")
    with open_regular_file(p) as (f, size), open(p, "ab") as w:
        w.write(b"more")
        w.flush()
        with pytest.raises(InputError, match="grew"):
            files.read_exact(f, memoryview(bytearray(size)), p)


@pytest.mark.skipif(not LINUX, reason="SIGBUS on a truncated mapping as on Linux")
def test_a_corpus_read_survives_truncation_where_a_map_would_not(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes(b"a line of text\n" * 100_000)
    code = textwrap.dedent(f"""
        import os, sys
        from decepticons.data import read_corpus
        x = read_corpus({str(p)!r}, mmap=sys.argv[1] == "map")
        os.truncate({str(p)!r}, 0)
        print(int(x.astype("int64").sum()))
    """)
    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run([sys.executable, "-c", code, "read"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and int(r.stdout) == sum(b"a line of text\n") * 100_000, r.stderr
    p.write_bytes(b"a line of text\n" * 100_000)
    r = subprocess.run([sys.executable, "-c", code, "map"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == -7  # SIGBUS: why the map is opt-in and documented as such


# ------------------------------------------------------------------------------------------ hostile model files
F64 = {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS as on Linux")
def test_a_header_claiming_huge_tensors_fails_before_allocating(tmp_path):
    p = hostile(tmp_path / "huge.safetensors",
                {"w": {"dtype": "F64", "shape": [1 << 40], "data_offsets": [0, 8 << 40]}}, b"\0" * 64)
    r = run_limited(f"read_model_file({str(p)!r})")
    assert r.returncode == 0 and r.stdout.startswith("ModelFileError"), r.stdout + r.stderr
    assert "outside the 64 data bytes" in r.stdout
    q = tmp_path / "len.safetensors"  # a header length near 2**64
    q.write_bytes((2 ** 64 - 9).to_bytes(8, "little") + b"{}")
    r = run_limited(f"read_model_file({str(q)!r})")
    assert r.returncode == 0 and "truncated or not a safetensors" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("tensors, data, pattern", [
    ({"w": {**F64, "dtype": "BF16"}}, b"\0" * 16, "dtype 'BF16'; allowed"),
    ({"w": {**F64, "dtype": "O"}}, b"\0" * 16, "dtype 'O'"),
    ({"w": {**F64, "dtype": 5}}, b"\0" * 16, "dtype 5"),
    ({"w": {**F64, "shape": [3]}}, b"\0" * 16, "needs 24 bytes, its offsets give 16"),
    ({"w": {**F64, "shape": [-2, -1]}}, b"\0" * 16, "shape"),
    ({"w": {**F64, "shape": [2.0]}}, b"\0" * 16, "shape"),
    ({"w": {**F64, "shape": "2"}}, b"\0" * 16, "shape"),
    ({"w": {**F64, "shape": [1] * 40 + [2]}}, b"\0" * 16, "shape"),
    ({"w": {**F64, "data_offsets": [8, 24]}}, b"\0" * 16, "outside the 16 data bytes"),
    ({"w": {**F64, "data_offsets": [16, 0]}}, b"\0" * 16, "data_offsets"),
    ({"w": {**F64, "data_offsets": [0]}}, b"\0" * 16, "data_offsets"),
    ({"w": F64}, b"\0" * 24, "need 16 bytes of data, the file holds 24"),  # trailing bytes
    ({"w": F64}, b"\0" * 8, "outside the 8 data bytes"),  # cut short
    ({"w": F64, "v": F64}, b"\0" * 32, "overlap"),
    ({"w": F64, "v": {**F64, "data_offsets": [24, 40]}}, b"\0" * 40, "gap"),
    ({"w": {**F64, "extra": 1}}, b"\0" * 16, "dtype, shape and data_offsets"),
    ({"w": [1, 2]}, b"", "dtype, shape and data_offsets"),
])
def test_well_formed_but_hostile_tensor_tables_are_refused(tmp_path, tensors, data, pattern):
    p = hostile(tmp_path / "h.safetensors", tensors, data)
    with pytest.raises(ModelFileError, match=pattern.replace("(", r"\(")):
        read_model_file(p)


def test_too_many_tensors_and_too_long_a_header_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tensor_file, "MAX_TENSORS", 3)
    table = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(4)}
    with pytest.raises(ModelFileError, match="lists 4 tensors, more than the 3 allowed"):
        read_model_file(hostile(tmp_path / "many.safetensors", table, b"\0" * 4))
    monkeypatch.setattr(tensor_file, "MAX_HEADER_BYTES", 64)
    with pytest.raises(ModelFileError, match="header, more than the 64 allowed"):
        read_model_file(hostile(tmp_path / "long.safetensors", {"w": F64}, b"\0" * 16))


def test_deeply_nested_and_non_string_metadata_headers_are_refused(tmp_path):
    p = tmp_path / "deep.safetensors"
    body = b"[" * 200_000 + b"]" * 200_000
    p.write_bytes(len(body).to_bytes(8, "little") + body)
    with pytest.raises(ModelFileError, match="corrupted header"):
        read_model_file(p)
    header = {"__metadata__": {**_meta(), "note": 5}}
    header["__metadata__"]["checksum"] = metadata_checksum(header["__metadata__"])
    body = json.dumps(header).encode()
    p.write_bytes(len(body).to_bytes(8, "little") + body)
    with pytest.raises(ModelFileError, match="metadata values must be strings"):
        read_model_file(p)


def test_a_valid_layout_reaches_the_fingerprint_check(tmp_path):
    """The layout checks accept what safetensors writes: the next check (the fingerprint) is what refuses."""
    p = hostile(tmp_path / "ok.safetensors", {"w": F64, "e": {"dtype": "I32", "shape": [0, 7], "data_offsets":
                                                                  [16, 16]}}, b"\0" * 16)
    with pytest.raises(ModelFileError, match="fingerprint"):
        read_model_file(p)


def test_every_numpy_dtype_round_trips_through_the_reader(tmp_path):
    tensors = {name.lower(): (np.arange(6) % 2).astype(dt).reshape(2, 3)
               for name, dt in tensor_file.NUMPY_DTYPES.items()}
    p = tmp_path / "all.safetensors"
    fp = save_model_file(p, "k", {}, tensors)
    mf = read_model_file(p)
    assert mf.fingerprint == fp
    for k, v in tensors.items():
        got = mf.tensors[k]
        assert got.dtype == v.dtype and got.flags.writeable and got.flags.aligned
        np.testing.assert_array_equal(got, v)


def test_model_reads_refuse_other_special_files_by_type(tmp_path):
    p = tmp_path / "m.safetensors"
    save_model_file(p, "k", {}, {"w": np.ones(3)})
    link = tmp_path / "link.safetensors"
    link.symlink_to(p)
    assert read_model_file(link).tensors["w"].tolist() == [1.0, 1.0, 1.0]  # a link to a file is that file
    assert stat.S_ISREG(os.stat(link).st_mode)
