"""The project's URLs are declared in pyproject.toml, reach the installed distribution's metadata, and the
changelog they point to exists."""

from __future__ import annotations

import json
import tomllib
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPO = "https://github.com/asuramaya/decepticons"
URLS = {
    "Homepage": "https://decepticons.win",
    "Repository": REPO,
    "Issues": f"{REPO}/issues",
    "Changelog": f"{REPO}/blob/main/CHANGELOG.md",
    "Documentation": f"{REPO}/tree/main/docs",
}


def test_pyproject_declares_the_urls():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"] == URLS


def test_installed_metadata_lists_the_urls():
    try:
        dist = metadata.distribution("decepticons")
    except metadata.PackageNotFoundError:
        pytest.skip("decepticons is not installed as a distribution (run from src/)")
    direct = dist.read_text("direct_url.json")
    if direct:
        url = urlparse(json.loads(direct).get("url", ""))
        if url.scheme == "file" and Path(unquote(url.path)).resolve() != ROOT:
            pytest.skip(f"the installed decepticons was built from another checkout ({unquote(url.path)})")
    declared = {}
    for entry in dist.metadata.get_all("Project-URL") or []:
        label, _, url_text = entry.partition(",")
        declared[label.strip()] = url_text.strip()
    assert declared == URLS


def test_the_changelog_and_docs_the_urls_name_exist():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog")
    assert "## [Unreleased]" in text and "keepachangelog.com" in text
    assert (ROOT / "docs").is_dir()
