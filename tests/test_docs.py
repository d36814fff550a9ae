"""The documentation site builds cleanly and documents the whole public API.

``mkdocs build --strict`` turns every warning (a broken link, a missing anchor, an
unresolvable cross-reference in a docstring) into a failure. Skipped when the docs
dependencies (the ``dev`` extra) are not installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")

import trio_realtime
import trio_realtime.audio
import trio_realtime.events
import trio_realtime.testing
import trio_realtime.webhooks

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = (
    trio_realtime,
    trio_realtime.events,
    trio_realtime.audio,
    trio_realtime.testing,
    trio_realtime.webhooks,
)
BUILD_TIMEOUT = 300.0
"""Seconds; a build takes a few seconds on the project's machines."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site once, strictly, into a temporary directory."""
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}")
    return site_dir


def test_the_site_builds_strictly(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "reference" / "trio_realtime" / "index.html").is_file()


def _anchors(site: Path) -> set[str]:
    ids: set[str] = set()
    for page in site.rglob("*.html"):
        ids.update(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))
    return ids


def test_every_public_name_has_a_reference_entry(site: Path) -> None:
    anchors = _anchors(site)
    missing = []
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if name.startswith("__") or isinstance(value, types.ModuleType):
                continue
            # A re-export may be documented where it is defined, under another public module.
            homes = [
                other.__name__
                for other in PUBLIC_MODULES
                if name in other.__all__ and getattr(other, name) is value
            ]
            if not any(f"{home}.{name}" in anchors for home in homes):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, (
        f"public names without an entry in the API reference: {missing}; add a "
        "`::: module.Name` block for each to the module's page under docs/reference/"
    )
