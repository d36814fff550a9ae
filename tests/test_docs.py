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


_REFERENCES = re.compile(r"<(script|link)\b([^>]*?)\b(?:src|href)=\"([^\"]*)\"[^>]*>")
_NAVIGATION = re.compile(r"\brel=\"(prev|next|canonical)\"")
_CSS_URLS = re.compile(r"url\(\s*['\"]?([^'\")]+)")


def _is_external(reference: str) -> bool:
    return reference.startswith(("http:", "https:", "//"))


def _local_file(site: Path, page: Path, reference: str) -> Path:
    # 404.html uses site-absolute paths: it is served for any missing URL.
    base = site if reference.startswith("/") else page.parent
    return (base / reference.lstrip("/")).resolve()


def test_the_site_references_no_external_script_or_stylesheet(site: Path) -> None:
    # The docs must read the same on a plane: every script, stylesheet and icon a page
    # loads comes from the site itself, and exists there.
    external: set[str] = set()
    missing: set[str] = set()
    for page in site.rglob("*.html"):
        for match in _REFERENCES.finditer(page.read_text(encoding="utf-8")):
            if _NAVIGATION.search(match.group(0)):
                continue  # a link to another page, not something the page loads
            reference = match.group(3)
            if _is_external(reference):
                external.add(f"{page.relative_to(site)}: {reference}")
            elif not _local_file(site, page, reference).is_file():
                missing.add(f"{page.relative_to(site)}: {reference}")
    for stylesheet in site.rglob("*.css"):
        for reference in _CSS_URLS.findall(stylesheet.read_text(encoding="utf-8")):
            if _is_external(reference):
                external.add(f"{stylesheet.relative_to(site)}: {reference}")
    assert not external, f"the site loads from the network: {sorted(external)}"
    assert not missing, f"the site loads files it does not contain: {sorted(missing)}"


def test_the_diagram_page_renders_its_diagram_from_local_files(site: Path) -> None:
    page = site / "concepts" / "tasks-and-channels" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert '<pre class="mermaid">' in html, "the diagram is no longer a mermaid block"
    scripts = [
        _local_file(site, page, src)
        for tag, _, src in _REFERENCES.findall(html)
        if tag == "script" and src.endswith("mermaid.min.js")
    ]
    assert scripts, "the page does not load the vendored mermaid script"
    vendored = scripts[0].read_text(encoding="utf-8")
    # The theme fetches mermaid from a CDN only when no global `mermaid` is defined.
    assert vendored.rstrip().endswith(
        'globalThis["mermaid"] = globalThis.__esbuild_esm_mermaid_nm["mermaid"].default;'
    )
