"""A pytest plugin for testing your own Realtime app offline (inert unless used).

Installed with the package (a ``pytest11`` entry point). It gives a
``realtime_emulator`` fixture: a local emulator (``trio_realtime.testing``) on a free
loopback port, running in a background thread so that it serves Trio, AnyIO/asyncio
and synchronous tests alike. While the test runs, ``OPENAI_WEBSOCKET_BASE_URL`` and
``OPENAI_API_KEY`` point at it, so code that connects with the defaults (this library's
``open_realtime_session()``, or the official ``openai`` client) talks to the emulator
unchanged.

Options come from a marker::

    @pytest.mark.realtime_emulator(brain=my_brain, faults=Faults(...), replay="call.jsonl")
    async def test_my_agent(realtime_emulator): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["realtime_emulator"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``realtime_emulator`` marker (a pytest hook)."""
    config.addinivalue_line(
        "markers",
        "realtime_emulator(**options): options for the realtime_emulator fixture "
        "(brain=, faults=, replay=, api_key=, audio_pace=, ...)",
    )


@pytest.fixture
def realtime_emulator(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A local Realtime emulator for this test; the environment points at it.

    Yields the :class:`trio_realtime.testing.Emulator` (``.url``, ``.connections`` to
    inspect what your code sent).
    """
    from trio_realtime.testing import run_emulator_in_thread

    marker = request.node.get_closest_marker("realtime_emulator")
    options = dict(marker.kwargs) if marker is not None else {}
    with run_emulator_in_thread(**options) as emulator:
        monkeypatch.setenv("OPENAI_WEBSOCKET_BASE_URL", emulator.url)
        monkeypatch.setenv("OPENAI_API_KEY", options.get("api_key") or "sk-emulator")
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        yield emulator
