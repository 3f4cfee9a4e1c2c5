"""Fetch one distribution file from the package indexes pip is configured with, verified before use.

Mechanism
---------
1. Sources: ``python -m pip config list`` gives pip's merged configuration (its config files and the
   ``PIP_*`` environment variables); from the ``global`` and ``download`` sections and the environment it
   takes ``index-url`` (default ``https://pypi.org/simple``), ``extra-index-url``, ``find-links``,
   ``no-index`` and ``cert``. pip is asked only for its configuration: it never downloads, builds or
   installs anything here, so no code from the downloaded file can run.
2. Candidates: each index's project page ``<index>/<project>/`` (PEP 503 HTML; ``index.html`` inside a
   ``file:`` folder) and each find-links location (a local folder, or an HTML page) are scanned for links
   whose file name is exactly the wanted one. A link whose ``#sha256=`` fragment names another digest is
   skipped without being fetched.
3. Each candidate is read (``http``, ``https`` or ``file``; at most ``max_bytes``) into memory and its
   sha256 compared with the pinned digest. The first match is returned; nothing (no archive reader, no
   build step, no file on disk) sees the bytes before they match.

Every failure is an :class:`~decepticons.errors.InputError` listing what each source gave.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import ssl
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import Request, url2pathname, urlopen

from ..errors import InputError
from ..runtime.files import read_regular_file

DEFAULT_INDEX = "https://pypi.org/simple"
PAGE_MAX_BYTES = 1 << 24
TIMEOUT_SECONDS = 60.0
_SECTIONS = (":env:", "download", "global")  # highest precedence first, as pip reads them
_KEYS = ("index-url", "extra-index-url", "find-links", "no-index", "cert")


def pip_settings() -> dict[str, str]:
    """pip's effective settings for ``pip download`` among :data:`_KEYS` (``{}`` when pip is absent)."""
    try:
        r = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                           timeout=TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
        lines = r.stdout.splitlines() if r.returncode == 0 else []
    except (OSError, subprocess.SubprocessError):
        lines = []
    found: dict[tuple[str, str], str] = {}
    for line in lines:
        name, sep, text = line.strip().partition("=")  # section.key='value'; names hold no "="
        section, dot, key = name.rpartition(".")
        if not sep or not dot:
            continue
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            continue
        found[(section, key)] = str(value)
    if not lines:  # no pip: its environment variables still say where packages come from
        for key in _KEYS:
            v = os.environ.get("PIP_" + key.upper().replace("-", "_"))
            if v is not None:
                found[(":env:", key)] = v
    out = {}
    for key in _KEYS:
        for section in _SECTIONS:
            if (section, key) in found:
                out[key] = found[(section, key)]
                break
    return out


def sources(settings: dict[str, str]) -> tuple[list[str], list[str]]:
    """``(index URLs, find-links locations)`` from :func:`pip_settings` output."""
    no_index = settings.get("no-index", "").strip().lower() in ("1", "true", "yes", "on")
    indexes = [] if no_index else [settings.get("index-url") or DEFAULT_INDEX,
                                   *settings.get("extra-index-url", "").split()]
    return indexes, settings.get("find-links", "").split()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _local_path(location: str) -> Path | None:
    """The local path of a ``file:`` URL or a plain path; ``None`` for other URLs."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(url2pathname(unquote(parts.path)))
    if parts.scheme == "" or (len(parts.scheme) == 1 and os.name == "nt"):  # a path (or a drive letter)
        return Path(location).expanduser()
    return None


def read_location(url: str, max_bytes: int, cafile: str | None = None) -> bytes:
    """The bytes at ``url`` (``http``, ``https`` or ``file``), refused beyond ``max_bytes``."""
    local = _local_path(url)
    if local is not None:
        return bytes(read_regular_file(local, InputError, "file", max_bytes=max_bytes))
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise InputError(f"unsupported URL scheme {scheme!r} in {url}")
    ctx = ssl.create_default_context(cafile=cafile if cafile and os.path.exists(cafile) else None)
    req = Request(url, headers={"User-Agent": "decepticons", "Accept": "text/html"})
    chunks, total = [], 0
    try:
        with urlopen(req, timeout=TIMEOUT_SECONDS, context=ctx if scheme == "https" else None) as r:
            while True:
                block = r.read(1 << 20)
                if not block:
                    break
                total += len(block)
                if total > max_bytes:
                    raise InputError(f"{url} is larger than the {max_bytes:,} bytes allowed")
                chunks.append(block)
    except OSError as e:  # URLError, HTTPError, timeouts
        raise InputError(f"{url}: {getattr(e, 'reason', None) or e}") from None
    return b"".join(chunks)


def _page_links(page_url: str, html: bytes) -> list[str]:
    parser = _Links()
    parser.feed(html.decode("utf-8", "replace"))
    return [urljoin(page_url, h) for h in parser.hrefs]


def candidates(project: str, filename: str, indexes: list[str], find_links: list[str],
               cafile: str | None = None) -> tuple[list[tuple[str, str | None]], list[str]]:
    """``([(url, sha256 named by the link or None)], problems)`` for ``filename`` across every source."""
    found: list[tuple[str, str | None]] = []
    problems: list[str] = []
    name = re.sub(r"[-_.]+", "-", project).lower()
    pages = [(ix.rstrip("/") + f"/{name}/", True) for ix in indexes] + [(fl, False) for fl in find_links]
    for page, is_index in pages:
        local = _local_path(page)
        try:
            if local is not None and local.is_dir():
                if not is_index:  # a find-links folder: its files are the links
                    if (local / filename).is_file():
                        found.append(((local / filename).as_uri(), None))
                    continue
                local = local / "index.html"
                if not local.is_file():
                    problems.append(f"{page}: no such project page")
                    continue
                links = _page_links(local.as_uri(), read_location(local.as_uri(), PAGE_MAX_BYTES))
            elif local is not None and not local.exists():
                problems.append(f"{page}: not found")
                continue
            else:
                links = _page_links(page, read_location(page, PAGE_MAX_BYTES, cafile))
        except InputError as e:
            problems.append(str(e))
            continue
        for link in links:
            url, _, fragment = link.partition("#")
            if unquote(urlsplit(url).path).rsplit("/", 1)[-1] != filename:
                continue
            m = re.search(r"(?:^|&)sha256=([0-9a-fA-F]{64})", fragment)
            found.append((url, m.group(1).lower() if m else None))
    return found, problems


def fetch_verified(project: str, filename: str, sha256: str, max_bytes: int) -> bytes:
    """The bytes of ``filename`` from pip's configured sources whose sha256 is ``sha256`` (module doc)."""
    settings = pip_settings()
    indexes, find_links = sources(settings)
    found, problems = candidates(project, filename, indexes, find_links, settings.get("cert"))
    for url, listed in found:
        if listed is not None and listed != sha256:
            problems.append(f"{url}: the index lists sha256 {listed}, expected {sha256} (not fetched)")
            continue
        try:
            blob = read_location(url, max_bytes, settings.get("cert"))
        except InputError as e:
            problems.append(str(e))
            continue
        digest = hashlib.sha256(blob).hexdigest()
        if digest == sha256:
            return blob
        problems.append(f"{url}: sha256 is {digest}, expected {sha256} (refused, not opened)")
    where = ", ".join(indexes + find_links) or "no index (no-index is set and there are no find-links)"
    raise InputError(f"could not fetch {filename} with sha256 {sha256} from {where}"
                     + (": " + "; ".join(problems) if problems else ": no source lists it"))


__all__ = ["DEFAULT_INDEX", "pip_settings", "sources", "candidates", "read_location", "fetch_verified"]
