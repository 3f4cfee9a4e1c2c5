"""Safe file writing and reading: atomic replacement, devices and FIFOs, stale temporaries, bounded reads.

Writing (:func:`atomic_write_bytes`), by what the target is:

* a regular file, or a name that does not exist yet: the payload goes to a temporary file in the same
  folder, is flushed and fsynced, and ``os.replace`` moves it over the target. Readers see the old file
  or the new one, never a mixture; a failed or interrupted write leaves the old file untouched and removes
  its temporary. A file that already existed keeps its permission bits (never set-uid or set-gid); a new
  one gets ``0o666 & ~umask``.
* a symbolic link: the file the link points to is replaced (atomically, as above) and the link is kept;
  a dangling link creates the file it names.
* a character device (``/dev/null``, ``/dev/full``, a terminal) or a FIFO: written straight, with no
  temporary and no replace (replacing would turn ``/dev/null`` into a regular file). Such a write is not
  atomic: a FIFO's reader may have received part of the payload before an error.
* an alias of one of this process's open descriptors (``/dev/stdout``, ``/dev/fd/N``,
  ``/proc/self/fd/N``): written to that descriptor, so ``--output /dev/stdout >> log`` appends.
* a directory, a block device or a socket: refused.

Every failure to write (no space, no permission, a missing folder that cannot be made) is an
:class:`~decepticons.errors.InputError` naming the path.

Temporaries are named ``.<target name>.<pid>.<random>.tmp``. A writer killed outright (SIGKILL, power
loss) cannot remove its temporary, so each write first removes the temporaries of the same target whose
process (a pid on this machine) no longer runs, or which have not been touched for a day (the pid has been
reused). Temporaries of a live writer are left alone.

Reading (:func:`open_regular_file`, :func:`read_exact`, :func:`read_regular_file`): only regular files are
read where a size is needed (a device such as ``/dev/zero`` or a FIFO never ends, or blocks); the file is
opened without blocking and checked by ``fstat`` on the open descriptor, so nothing can swap it between the
check and the read. Reads use ``read()`` calls into a buffer of the expected size, never a memory map: a file
that shrinks or grows while being read is reported as changed rather than killing the process with SIGBUS.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from ..errors import DecepticonsError, InputError

#: a temporary untouched for this long is stale even when its pid is alive (the pid was reused)
STALE_SECONDS = 24 * 3600
#: read and write block size
CHUNK = 1 << 24
_FD_ALIAS = re.compile(r"^/(?:proc/(?:self|\d+)|dev)/fd/(\d+)$")
_STD_ALIAS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def file_type(mode: int) -> str:
    """A name for the kind of file ``mode`` (an ``st_mode``) describes, for messages."""
    for test, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISLNK, "symbolic link")):
        if test(mode):
            return name
    return "special file"


# ---------------------------------------------------------------------------------------------- writing
def _own_descriptor(path: str) -> int | None:
    """The descriptor number when ``path`` names one of this process's open descriptors, else ``None``."""
    p = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on chained links
        if p in _STD_ALIAS:
            return _STD_ALIAS[p]
        m = _FD_ALIAS.match(p)
        if m and (p.startswith(("/dev/", "/proc/self/")) or p.startswith(f"/proc/{os.getpid()}/")):
            return int(m.group(1))
        if not os.path.islink(p):
            return None
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
    return None


def _write_all(fd: int, payload: memoryview) -> None:
    done = 0
    while done < len(payload):
        done += os.write(fd, payload[done:done + CHUNK])


def _temp_tag(name: str) -> str:
    """The part of a temporary's name that identifies its target (shortened when the name is long)."""
    if len(name.encode()) <= 160:
        return name
    return name[:48] + "~" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    except OSError:
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries of ``target`` left by writers that no longer run; returns what was removed."""
    target = Path(target)
    pattern = re.compile(r"^\." + re.escape(_temp_tag(target.name)) + r"\.(\d+)\.[0-9a-f]{16}\.tmp$")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = pattern.match(entry.name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or pid == os.getpid():
            continue
        if _pid_alive(pid) and now - st.st_mtime < STALE_SECONDS:
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _replace_regular(path: Path, payload: memoryview, keep_mode: int | None) -> None:
    """Temporary file beside ``path``, fsync, ``os.replace``; the temporary never outlives a failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot write {path}: cannot create its folder ({e.strerror or e})") from e
    remove_stale_temporaries(path)
    tmp = path.parent / f".{_temp_tag(path.name)}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        try:
            if keep_mode is not None:
                os.fchmod(fd, keep_mode)
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise InputError(f"cannot write {path}: {e.strerror or e} (the previous contents, if any, are "
                             "unchanged)") from e
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _write_straight(path: Path, payload: memoryview, fd: int | None = None) -> None:
    """Write to a device, a FIFO or an open descriptor of this process, in place."""
    own = fd is not None
    try:
        if not own:
            fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        assert fd is not None
        try:
            _write_all(fd, payload)
        finally:
            if not own:
                os.close(fd)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from e


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes | bytearray | memoryview) -> None:
    """Write ``payload`` to ``path``: atomically for files, straight for devices and FIFOs (module doc)."""
    if str(path) == "":
        raise InputError("no output path given (an empty name)")
    p = Path(path)
    view = memoryview(payload).cast("B")
    fd = _own_descriptor(str(p))
    if fd is not None:
        try:
            mode = os.fstat(fd).st_mode
        except OSError as e:
            raise InputError(f"cannot write {p}: {e.strerror or e}") from e
        if stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            if fd in (1, 2):  # keep Python's own buffered text in order with ours
                with contextlib.suppress(ValueError, OSError):
                    (sys.stdout if fd == 1 else sys.stderr).flush()
            return _write_straight(p, view, fd)
    try:
        st = os.stat(p)  # follows links: what would be written
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise InputError(f"cannot write {p}: {e.strerror or e}") from e
    if st is None:
        target = Path(os.path.realpath(p)) if os.path.islink(p) else p
        return _replace_regular(target, view, None)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        target = Path(os.path.realpath(p)) if os.path.islink(p) else p
        return _replace_regular(target, view, stat.S_IMODE(mode) & 0o777)  # never set-id bits
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return _write_straight(p, view)
    raise InputError(f"cannot write {p}: it is a {file_type(mode)}")


def write_output(spec: str, payload: bytes | bytearray | memoryview, what: str = "--output") -> None:
    """Write an output named on the command line: ``"-"`` is standard output, ``""`` an error, else a path."""
    if spec == "":
        raise InputError(f"{what} is empty: give a file name, or - for standard output")
    if spec == "-":
        sys.stdout.flush()
        try:
            sys.stdout.buffer.write(payload)
            sys.stdout.buffer.flush()
        except OSError as e:
            raise InputError(f"cannot write standard output: {e.strerror or e}") from e
        return
    atomic_write_bytes(spec, payload)


def check_output_path(spec: str, what: str = "--output",
                      inputs: Mapping[str, str | os.PathLike[str] | None] | None = None) -> None:
    """Refuse, before any work is done, an output that cannot or must not be written.

    ``spec`` is the output as given (``"-"`` = standard output). Refused: an empty name, a directory, a
    block device or socket, and the same file (``os.path.samefile``: the same inode, through links too) as
    any existing path in ``inputs`` (label -> path, e.g. ``{"--input": args.input, "--load": args.load}``).
    """
    if spec == "":
        raise InputError(f"{what} is empty: give a file name, or - for standard output")
    if spec == "-":
        return
    try:
        st = os.stat(spec)
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputError(f"{what} {spec}: {e.strerror or e}") from e
    if stat.S_ISDIR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        raise InputError(f"{what} {spec} is a {file_type(st.st_mode)}, not a file that can be written")
    if stat.S_ISCHR(st.st_mode):  # /dev/null as input and output is not a clash
        return
    for label, other in (inputs or {}).items():
        if other is None or str(other) in ("", "-"):
            continue
        with contextlib.suppress(OSError):
            if os.path.samefile(spec, other):
                raise InputError(f"{what} {spec} is the same file as {label} {other}; refusing to "
                                 "overwrite it")


# ---------------------------------------------------------------------------------------------- reading
@contextlib.contextmanager
def open_regular_file(path: str | os.PathLike[str], error: type[DecepticonsError] = InputError,
                      what: str = "input file") -> Iterator[tuple[BinaryIO, int]]:
    """``(file, size)`` of a regular file opened for reading; anything else is ``error`` with a clear message.

    The file is opened with ``O_NONBLOCK`` (a FIFO does not block the open) and checked with ``fstat`` on the
    open descriptor, so the check and the read concern the same file.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{what} not found: {p}") from None
    except IsADirectoryError:
        raise error(f"expected a file, got a directory: {p}") from None
    except OSError as e:
        if e.errno == errno.ENXIO:  # a socket, or a FIFO opened without a writer
            raise error(f"expected a regular file, got a special file: {p}") from None
        raise error(f"cannot read {p}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"expected a file, got a directory: {p}")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"expected a regular file, got a {file_type(st.st_mode)}: {p}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f, st.st_size


def read_exact(f: BinaryIO, out: memoryview, path: str | os.PathLike[str], error: type[DecepticonsError] = InputError,
               at_end: bool = True) -> None:
    """Fill ``out`` from ``f`` by ``read()`` calls; a short read (the file shrank) is ``error``.

    With ``at_end`` the file must also end there: bytes beyond ``out`` mean it grew while being read.
    """
    out = out.cast("B")
    n, pos = len(out), 0
    while pos < n:
        got = f.readinto(out[pos:pos + CHUNK])  # type: ignore[attr-defined]
        if not got:
            raise error(f"{path} changed while being read: it ended after {pos:,} of the {n:,} bytes it "
                        "had when opened (truncated?)")
        pos += got
    if at_end and f.read(1):
        raise error(f"{path} changed while being read: it grew beyond the {n:,} bytes it had when opened")


def read_regular_file(path: str | os.PathLike[str], error: type[DecepticonsError] = InputError,
                      what: str = "input file", max_bytes: int | None = None) -> bytearray:
    """The whole contents of a regular file (never a device or FIFO), at most ``max_bytes`` if given.

    Returned as a ``bytearray`` filled in place, so the file is held in memory once.
    """
    with open_regular_file(path, error, what) as (f, size):
        if max_bytes is not None and size > max_bytes:
            raise error(f"{path} has {size:,} bytes, more than the {max_bytes:,} allowed")
        buf = bytearray(size)
        read_exact(f, memoryview(buf), path, error)
    return buf


__all__ = ["atomic_write_bytes", "write_output", "check_output_path", "remove_stale_temporaries",
           "open_regular_file", "read_exact", "read_regular_file", "file_type", "STALE_SECONDS"]
