"""Hand an operation to a Trio loop in another thread; await its outcome from anywhere.

The operation runs as a task in the owning loop (started through its ``TrioToken``) and
hands its outcome back through a ``concurrent.futures.Future``: an asyncio caller awaits
it with ``asyncio.wrap_future``, a Trio caller (another ``trio.run``) is woken through
its own token, a plain thread blocks on ``Future.result``. The job's cancel scope lets
the caller cancel it from its side.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import sniffio
import trio

__all__ = ["Job", "await_future", "run_job"]

_T = TypeVar("_T")


class Job(Generic[_T]):
    """One operation run in a Trio loop on behalf of another thread."""

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self.scope = trio.CancelScope()


async def run_job(job: Job[_T], operation: Callable[[], Awaitable[_T]]) -> None:
    """In the owning loop: run a job and hand its outcome to the waiting thread."""
    if not job.future.set_running_or_notify_cancel():
        return
    with job.scope:
        try:
            result = await operation()
        except Exception as exc:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
            return
    if not job.future.done():
        job.future.set_exception(concurrent.futures.CancelledError())


async def await_future(
    future: concurrent.futures.Future[_T], limit_s: float | None, what: str
) -> _T:
    """Await a future set by another thread, from asyncio or Trio, without blocking.

    Raises:
        TimeoutError: not done within ``limit_s`` seconds (None: no limit).
    """
    library = sniffio.current_async_library()
    if library == "asyncio":
        wrapped = asyncio.wrap_future(future)
        if limit_s is None:
            return await wrapped
        try:
            async with asyncio.timeout(limit_s):
                return await asyncio.shield(wrapped)
        except TimeoutError:
            raise TimeoutError(f"waited {limit_s:g} s for {what}") from None
    if library == "trio":
        done = trio.Event()
        token = trio.lowlevel.current_trio_token()

        def wake(_: object) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        future.add_done_callback(wake)
        with trio.move_on_after(float("inf") if limit_s is None else limit_s) as scope:
            await done.wait()
        if scope.cancelled_caught:
            raise TimeoutError(f"waited {limit_s:g} s for {what}")
        return future.result()
    raise TypeError(f"expected asyncio or trio, not {library}")
