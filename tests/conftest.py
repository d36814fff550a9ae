"""Test policy for trio_realtime (after trio-websocket's tests/test_connection.py).

- Loopback only (127.0.0.1), port 0: the emulator is the only server; never the internet.
- Every async test runs under a deadline measured on the Trio clock (``DEADLINE`` seconds,
  or ``@pytest.mark.deadline(seconds)``): a hung test fails quickly and keeps its logs.
- Anything about time uses ``@pytest.mark.mock_clock``: the test runs on
  ``trio.testing.MockClock(autojump_threshold=0)`` and time jumps whenever every task is
  blocked. Such tests must not wait on real sockets (the clock would jump past their
  timeouts); they use a fake transport or in-memory streams.
- No ``sleep()`` to synchronise: use events, ``wait_all_tasks_blocked`` and statistics.
- ``-W error::ResourceWarning`` (pyproject) turns a leaked stream or socket into a failure.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import pytest
import trio.testing

DEADLINE = 30.0
"""Seconds (on the Trio clock) any async test may take unless it says otherwise."""

TIMEOUT = 1.0
FORCE_TIMEOUT = 2.0
MAX_DURATION = 3.0
"""The timeout triple for mock-clock tests: a timeout, a stall longer than it, a bound."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mock_clock: run on MockClock(autojump_threshold=0)")
    config.addinivalue_line("markers", "deadline(seconds): deadline of an async test")


@pytest.fixture
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Trio, with a fresh autojumping MockClock for tests marked ``mock_clock``."""
    if request.node.get_closest_marker("mock_clock") is not None:
        return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})
    return "trio"


def _with_deadline(
    fn: Callable[..., Coroutine[Any, Any, Any]], seconds: float
) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        with anyio.move_on_after(seconds) as scope:
            return await fn(*args, **kwargs)
        if scope.cancelled_caught:
            pytest.fail(f"test did not finish within its {seconds} s deadline")

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            marker = item.get_closest_marker("deadline")
            seconds = float(marker.args[0]) if marker else DEADLINE
            item.obj = _with_deadline(item.obj, seconds)
