"""Writes onto devices, FIFOs, symlinks and descriptors; outputs checked against inputs; stale temporaries."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from decepticons import InputError
from decepticons.runtime import files
from decepticons.runtime.files import (
    atomic_write_bytes,
    check_output_path,
    remove_stale_temporaries,
    write_output,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture()
def no_replace_in_dev(monkeypatch):
    """A writer that tried to replace anything under /dev fails the test before touching it."""
    real_replace, real_rename = os.replace, os.rename

    def guarded(real):
        def call(src, dst, *a, **k):
            if os.path.abspath(dst).startswith("/dev/"):
                raise AssertionError(f"tried to replace {dst}")
            return real(src, dst, *a, **k)
        return call

    monkeypatch.setattr(os, "replace", guarded(real_replace))
    monkeypatch.setattr(os, "rename", guarded(real_rename))
    yield
    for dev in ("/dev/null", "/dev/full"):
        if os.path.exists(dev):
            assert stat.S_ISCHR(os.stat(dev).st_mode), f"{dev} is no longer a character device"
    assert not [n for n in os.listdir("/dev") if n.endswith(".tmp") and n.startswith((".null.", ".full."))]


# ------------------------------------------------------------------------------------------ devices, FIFOs
@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_dev_null_is_written_straight_and_stays_a_device(no_replace_in_dev):
    atomic_write_bytes("/dev/null", b"discarded" * 1000)
    write_output("/dev/null", b"discarded")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_dev_full_is_a_clear_error(no_replace_in_dev):
    with pytest.raises(InputError, match="cannot write /dev/full: No space left on device"):
        atomic_write_bytes("/dev/full", b"x" * 10)


def test_a_fifo_is_written_straight_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    payload = bytes(range(256)) * 4000  # larger than a pipe buffer
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write_bytes(fifo, payload)
    reader.join(10)
    assert got == [payload]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_a_directory_block_device_and_socket_are_refused(tmp_path):
    with pytest.raises(InputError, match="cannot write .* directory"):
        atomic_write_bytes(tmp_path, b"x")
    import socket

    sock_path = tmp_path / "s"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(sock_path))
        with pytest.raises(InputError, match="socket"):
            atomic_write_bytes(sock_path, b"x")
    finally:
        s.close()
    blocks = [p for p in ("/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1")
              if os.path.exists(p) and stat.S_ISBLK(os.stat(p).st_mode)]
    if blocks:
        with pytest.raises(InputError, match="block device"):
            atomic_write_bytes(blocks[0], b"x")


def test_an_empty_name_is_refused():
    with pytest.raises(InputError, match="empty"):
        atomic_write_bytes("", b"x")
    with pytest.raises(InputError, match="--output is empty"):
        write_output("", b"x")


# ------------------------------------------------------------------------------------------ symlinks
def test_a_symlink_keeps_the_link_and_replaces_its_file(tmp_path):
    real = tmp_path / "data" / "real.bin"
    real.parent.mkdir()
    real.write_bytes(b"old")
    os.chmod(real, 0o600)
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new contents")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new contents"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600  # the file's permissions are kept
    assert sorted(os.listdir(real.parent)) == ["real.bin"]


def test_a_dangling_symlink_creates_the_file_it_names(tmp_path):
    link = tmp_path / "link.bin"
    link.symlink_to(tmp_path / "target.bin")
    atomic_write_bytes(link, b"created")
    assert link.is_symlink() and (tmp_path / "target.bin").read_bytes() == b"created"


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_symlink_to_a_device_writes_the_device(tmp_path, no_replace_in_dev):
    link = tmp_path / "sink"
    link.symlink_to("/dev/null")
    atomic_write_bytes(link, b"discarded")
    assert link.is_symlink() and os.readlink(link) == "/dev/null"


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_dev_stdout_appends_to_the_descriptor(tmp_path):
    """``--output /dev/stdout >> log`` appends to the log instead of replacing it."""
    log = tmp_path / "log.txt"
    log.write_bytes(b"earlier line\n")
    code = "import sys; from decepticons.runtime.files import atomic_write_bytes as w; " \
           "print('text first', flush=False); w('/dev/stdout', b'payload\\n'); w('/dev/fd/1', b'again\\n')"
    with open(log, "ab") as out:
        r = subprocess.run([sys.executable, "-c", code], stdout=out, stderr=subprocess.PIPE,
                           env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert log.read_bytes() == b"earlier line\ntext first\npayload\nagain\n"


def test_write_output_dash_is_standard_output(capfdbinary):
    write_output("-", b"to stdout\n")
    assert capfdbinary.readouterr().out == b"to stdout\n"


# ------------------------------------------------------------------------------------------ outputs vs inputs
def test_check_output_path(tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_bytes(b"input")
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"model")
    (tmp_path / "alias.txt").symlink_to(inp)
    os.link(model, tmp_path / "hard.safetensors")
    inputs = {"--input": str(inp), "--load": str(model), "--valid": None}
    check_output_path(str(tmp_path / "new.bin"), inputs=inputs)  # not existing yet: fine
    check_output_path("-", inputs=inputs)
    for same, label in ((inp, "--input"), (tmp_path / "alias.txt", "--input"),
                        (tmp_path / "hard.safetensors", "--load")):
        with pytest.raises(InputError, match=f"same file as {label}"):
            check_output_path(str(same), inputs=inputs)
    with pytest.raises(InputError, match="--trace .* directory"):
        check_output_path(str(tmp_path), what="--trace")
    with pytest.raises(InputError, match="empty"):
        check_output_path("")
    if os.path.exists("/dev/null"):
        check_output_path("/dev/null", inputs={"--input": "/dev/null"})


# ------------------------------------------------------------------------------------------ permissions
def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "new.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o640
    os.chmod(tmp_path / "new.bin", 0o604)
    atomic_write_bytes(tmp_path / "new.bin", b"y")
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o604


# ------------------------------------------------------------------------------------------ stale temporaries
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_the_target_are_removed(tmp_path):
    target = tmp_path / "m.safetensors"
    dead = _dead_pid()
    stale = tmp_path / f".m.safetensors.{dead}.0123456789abcdef.tmp"
    live = tmp_path / f".m.safetensors.{os.getppid()}.0123456789abcdef.tmp"  # a writer that still runs
    reused = tmp_path / f".m.safetensors.{os.getppid()}.fedcba9876543210.tmp"  # live pid, untouched for days
    other = tmp_path / f".other.bin.{dead}.0123456789abcdef.tmp"  # another target's
    for p in (stale, live, reused, other):
        p.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(reused, (two_days_ago, two_days_ago))
    atomic_write_bytes(target, b"complete")
    assert target.read_bytes() == b"complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other.name])
    assert remove_stale_temporaries(tmp_path / "other.bin") == [other]


def test_a_killed_writer_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "big.bin"
    script = textwrap.dedent(f"""
        import os, time
        from decepticons.runtime.files import atomic_write_bytes
        os.fsync = lambda fd: time.sleep(120)  # stall after writing, before the rename
        atomic_write_bytes({str(target)!r}, b"half" * 1000)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": SRC})
    try:
        deadline = time.time() + 60
        while not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] and time.time() < deadline:
            time.sleep(0.05)
    finally:
        p.kill()
        p.wait()
    left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(f".big.bin.{p.pid}.")
    atomic_write_bytes(target, b"whole")
    assert os.listdir(tmp_path) == ["big.bin"] and target.read_bytes() == b"whole"


def test_long_names_get_recognisable_temporaries(tmp_path):
    target = tmp_path / ("n" * 240)
    atomic_write_bytes(target, b"x")
    assert target.read_bytes() == b"x"
    stale = tmp_path / f".{files._temp_tag(target.name)}.{_dead_pid()}.0123456789abcdef.tmp"
    stale.write_bytes(b"")
    atomic_write_bytes(target, b"y")
    assert os.listdir(tmp_path) == [target.name]


def test_an_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(InputError, match="cannot write .*folder"):
        atomic_write_bytes(blocker / "sub" / "x.bin", b"x")
