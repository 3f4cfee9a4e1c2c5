"""Progress output: a tqdm bar on an interactive terminal, silence when piped or asked to be quiet."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Globally silence (or re-enable) progress bars, e.g. from the CLI's ``--quiet``."""
    global _QUIET
    _QUIET = bool(quiet)


def progress_enabled(explicit: bool | None = None) -> bool:
    """Whether to draw a bar: ``explicit`` wins; otherwise only on a TTY, never under ``--quiet``/CI."""
    if explicit is not None:
        return explicit and not _QUIET
    if _QUIET or os.environ.get("DECEPTICONS_QUIET"):
        return False
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it",
    enabled: bool | None = None, unit_scale: bool = False,
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when :func:`progress_enabled`; otherwise return it untouched."""
    if not progress_enabled(enabled):
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=False,
                    dynamic_ncols=True)


class ByteProgress:
    """A byte-count bar (``update(n_bytes)``) that is a no-op when progress is disabled."""

    def __init__(self, total: int, desc: str = "", enabled: bool | None = None) -> None:
        self._bar = None
        if progress_enabled(enabled):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False,
                             dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ByteProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
