"""The one seam where Trio and asyncio differ for the engine: events, cancel points, threads.

Every engine module asks :func:`current_backend` once per session for the running loop's
own primitives (AnyIO's wrappers cost a few µs on the hot path) and never branches on the
async library itself.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import anyio
import sniffio

__all__ = ["YIELD_EVERY", "Backend", "LoopEvent", "Pace", "current_backend"]


class LoopEvent(Protocol):
    """The part of ``trio.Event`` / ``asyncio.Event`` the engine uses."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> object: ...


@dataclass(frozen=True)
class Backend:
    """The running loop's primitives, looked up once."""

    name: str
    """``"trio"`` or ``"asyncio"``."""
    new_event: Callable[[], LoopEvent]
    """A new event of the loop's own kind (cancellation reaches its waiter)."""
    cancel_point: Callable[[], Awaitable[None]] | None
    """Raise if the calling task is cancelled; otherwise return without yielding.

    None on asyncio, where a cancellation is delivered when the task next suspends: a call
    that need not wait has nothing to check, as ``asyncio.Queue.get()`` with an item
    ready. (AnyIO's check costs a sixth of the CPU per received event there.)"""
    thread_waker: Callable[[Callable[[], None]], Callable[[], None]]
    """A function any thread may call to run the callback soon in this loop."""


@functools.cache
def _trio_backend() -> Backend:
    import trio

    def thread_waker(callback: Callable[[], None]) -> Callable[[], None]:
        token = trio.lowlevel.current_trio_token()

        def wake() -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(callback)

        return wake

    return Backend("trio", trio.Event, trio.lowlevel.checkpoint_if_cancelled, thread_waker)


@functools.cache
def _asyncio_backend() -> Backend:
    import asyncio

    def thread_waker(callback: Callable[[], None]) -> Callable[[], None]:
        loop = asyncio.get_running_loop()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(callback)

        return wake

    return Backend("asyncio", asyncio.Event, None, thread_waker)


def current_backend() -> Backend:
    """The primitives of the async library running the caller (Trio or asyncio)."""
    if sniffio.current_async_library() == "trio":
        return _trio_backend()
    return _asyncio_backend()


YIELD_EVERY = 32
"""Hot paths that need not wait give other tasks a turn at least this often."""


class Pace:
    """The checkpoints of a hot path (``__anext__``, ``append_audio``).

    Every call is a cancel point (on Trio; on asyncio see :attr:`Backend.cancel_point`);
    it is a schedule point when it waits and on every ``YIELD_EVERY``-th call, so a
    producer or consumer that never waits still lets other tasks run. (Trio's memory
    channels schedule on every call; measured here, doing it every call costs a task
    switch per event on the receive path.)
    """

    __slots__ = ("_calls", "cancel_point")

    def __init__(self, cancel_point: Callable[[], Awaitable[None]] | None) -> None:
        self._calls = 0
        self.cancel_point = cancel_point
        """The backend's own cancel point (raises if cancelled, never yields), if any."""

    def due(self) -> bool:
        """Count a call; True when this one must also be a schedule point.

        ``__anext__`` spells out :meth:`__call__` rather than awaiting it: one coroutine
        less per event.
        """
        self._calls += 1
        return not self._calls % YIELD_EVERY

    async def __call__(self) -> None:
        if self.due():
            await anyio.lowlevel.checkpoint()
        elif self.cancel_point is not None:
            await self.cancel_point()
