"""Run the emulator in a background thread, for asyncio code, the official client, any test.

The emulator keeps its own Trio loop in a thread of its own. :class:`EmulatorThread` is
how other threads control it: each wait is a job handed to the emulator's loop
(``_handoff``), awaited from asyncio or another ``trio.run``, or waited for by a plain
thread with a timeout. Cancelling the caller cancels the job.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, overload

import trio

from .._recording import Recording
from ..events import RealtimeEvent
from ._brain import Brain
from ._connection import EmulatorConnection
from ._faults import Faults
from ._handoff import Job, await_future, run_job
from ._retention import DEFAULT_RETENTION, Retention
from ._server import Emulator, EmulatorStatistics, load_replay, open_emulator

__all__ = ["EmulatorThread", "run_emulator_in_thread"]

WAIT_TIMEOUT = 10.0
"""Default seconds a blocking wait (connection, event, close) may take: ``TimeoutError``."""
START_TIMEOUT = 10.0
"""Seconds the emulator's thread may take to listen."""
STOP_TIMEOUT = 10.0
"""Seconds the emulator's thread may take to end once asked to stop."""

_T = TypeVar("_T")
_E = TypeVar("_E", bound=RealtimeEvent)
Predicate = type[RealtimeEvent] | Callable[[RealtimeEvent], bool]


class EmulatorThread:
    """An emulator on its own Trio loop in a daemon thread, controlled from any other thread.

    Get one from :func:`run_emulator_in_thread` (a ``with`` or ``async with`` block). Plain
    attributes (``url``, ``connections`` and what each connection records, ``statistics()``)
    may be read from any thread. The waits are async and work from an asyncio loop or
    from inside another ``trio.run``: bound them the usual way (``asyncio.timeout``,
    ``trio.fail_after``); cancelling one cancels it in the emulator's thread too. Each has
    a ``_blocking`` twin for plain threads, which takes a ``timeout`` (seconds,
    :data:`WAIT_TIMEOUT` by default) and raises ``TimeoutError`` when it runs out. The
    waits, :meth:`set_faults` and the brain run in the emulator's thread.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        self._ready: concurrent.futures.Future[Emulator] = concurrent.futures.Future()
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._target, name="trio-realtime-emulator", daemon=True
        )
        self._emulator: Emulator | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._jobs: trio.Nursery | None = None
        self._stop = trio.Event()

    def __repr__(self) -> str:
        state = "running" if self._thread.is_alive() else "stopped"
        return f"<EmulatorThread {state} {self._emulator!r}>"

    # -- what can be read from any thread ------------------------------------------------

    @property
    def emulator(self) -> Emulator:
        """The :class:`Emulator` itself (its async methods belong to its thread)."""
        if self._emulator is None:
            raise LookupError("the emulator's thread has not started; use it in a with block")
        return self._emulator

    @property
    def trio_token(self) -> trio.lowlevel.TrioToken:
        """The emulator's loop, for ``trio.from_thread.run(..., trio_token=...)`` (e.g. to
        place a call with :meth:`Emulator.place_call` from another thread)."""
        if self._token is None:
            raise LookupError("the emulator's thread has not started; use it in a with block")
        return self._token

    @property
    def host(self) -> str:
        """The interface the emulator listens on."""
        return self.emulator.host

    @property
    def port(self) -> int:
        """The TCP port the emulator listens on."""
        return self.emulator.port

    @property
    def url(self) -> str:
        """The base URL for clients: ``ws://127.0.0.1:<port>/v1``."""
        return self.emulator.url

    @property
    def http_url(self) -> str:
        """The base URL for REST calls (client secrets)."""
        return self.emulator.http_url

    @property
    def realtime_url(self) -> str:
        """``<url>/realtime``."""
        return self.emulator.realtime_url

    @property
    def translation_url(self) -> str:
        """``<url>/realtime/translations``."""
        return self.emulator.translation_url

    @property
    def connections(self) -> list[EmulatorConnection]:
        """A snapshot of the connections kept (``Emulator.connections``)."""
        return list(self.emulator.connections)

    @property
    def faults(self) -> Faults:
        """The faults given to connections accepted from now on (set with :meth:`set_faults`)."""
        return self.emulator.faults

    def statistics(self) -> EmulatorStatistics:
        """Counts over every connection accepted so far (``Emulator.statistics()``)."""
        return self.emulator.statistics()

    # -- control -------------------------------------------------------------------------

    async def wait_connection(self, n: int = 1) -> EmulatorConnection:
        """Wait until the ``n``-th connection (1-based) was accepted; return it.

        Raises:
            LookupError: it closed and was let go already (``Retention.closed_connections``).
        """
        job: Job[EmulatorConnection] = self._start(lambda: self.emulator.wait_connection(n))
        return await self._wait(job)

    def wait_connection_blocking(
        self, n: int = 1, *, timeout: float = WAIT_TIMEOUT
    ) -> EmulatorConnection:
        """:meth:`wait_connection` for a plain thread: blocks it until done.

        Raises:
            TimeoutError: not within ``timeout`` seconds.
        """
        job = self._start(lambda: self.emulator.wait_connection(n))
        return self._block(job, timeout, f"connection #{n}")

    @overload
    async def wait_for(
        self,
        connection: EmulatorConnection | int,
        predicate: type[_E],
        *,
        count: int = 1,
    ) -> _E: ...

    @overload
    async def wait_for(
        self,
        connection: EmulatorConnection | int,
        predicate: Callable[[RealtimeEvent], bool],
        *,
        count: int = 1,
    ) -> RealtimeEvent: ...

    async def wait_for(
        self,
        connection: EmulatorConnection | int,
        predicate: Predicate,
        *,
        count: int = 1,
    ) -> RealtimeEvent:
        """Wait until ``connection`` (or the n-th one) received ``count`` matching events.

        ``predicate`` is an event class or a function of an event (run in the emulator's
        thread); see ``EmulatorConnection.wait_for``. Returns the last match.

        Raises:
            trio.BrokenResourceError: the connection ended first.
            LookupError: the n-th connection was let go already.
        """
        return await self._wait(self._wait_for_job(connection, predicate, count))

    def wait_for_blocking(
        self,
        connection: EmulatorConnection | int,
        predicate: Predicate,
        *,
        count: int = 1,
        timeout: float = WAIT_TIMEOUT,
    ) -> RealtimeEvent:
        """:meth:`wait_for` for a plain thread: blocks it until done.

        Raises:
            TimeoutError: not within ``timeout`` seconds (waiting for the connection too).
        """
        job = self._wait_for_job(connection, predicate, count)
        return self._block(job, timeout, f"{count} matching event(s)")

    async def wait_closed(self, connection: EmulatorConnection | int) -> EmulatorConnection:
        """Wait until ``connection`` (or the n-th one) is fully closed; return it.

        Raises:
            LookupError: the n-th connection was let go already (so it is closed).
        """
        return await self._wait(self._wait_closed_job(connection))

    def wait_closed_blocking(
        self, connection: EmulatorConnection | int, *, timeout: float = WAIT_TIMEOUT
    ) -> EmulatorConnection:
        """:meth:`wait_closed` for a plain thread: blocks it until done.

        Raises:
            TimeoutError: not within ``timeout`` seconds.
        """
        return self._block(self._wait_closed_job(connection), timeout, "the close")

    def set_faults(self, faults: Faults, *, connection: EmulatorConnection | None = None) -> None:
        """Place faults: on every connection accepted from now on, or on ``connection``.

        Applied in the emulator's thread before this returns (a connection's faults apply
        from its next frame on). Blocks the calling thread for that short hop only.

        Raises:
            TimeoutError: the emulator's thread did not answer within :data:`WAIT_TIMEOUT`.
        """

        async def place() -> None:
            if connection is None:
                self.emulator.faults = faults.copy()
            else:
                connection.faults = faults.copy()
            await trio.lowlevel.checkpoint()

        if threading.current_thread() is self._thread:
            raise ValueError("set_faults() is for other threads; set .faults directly here")
        self._block(self._start(place), WAIT_TIMEOUT, "the faults to be placed")

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the emulator (open connections end abruptly) and join its thread.

        Safe from any thread but the emulator's, inside another event loop too (it blocks
        that loop until the thread ends: prefer :meth:`aclose` there). Idempotent.

        Raises:
            TimeoutError: the thread did not end within ``timeout`` seconds.
            BaseException: whatever ended the emulator's thread with an error.
        """
        if self._thread.ident is None:
            return
        self._request_stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the emulator's thread did not stop within {timeout:g} s")
        self._done.result(0)

    async def aclose(self) -> None:
        """:meth:`stop` without blocking the calling event loop (asyncio or Trio).

        Raises:
            TimeoutError: the thread did not end within :data:`STOP_TIMEOUT` seconds.
        """
        if self._thread.ident is None:
            return
        self._request_stop()
        await await_future(self._done, STOP_TIMEOUT, "the emulator's thread to stop")
        self._thread.join(STOP_TIMEOUT)  # it has returned from trio.run: a moment at most

    # -- the context manager -------------------------------------------------------------

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        try:
            self._ready.result(START_TIMEOUT)
        except concurrent.futures.TimeoutError:
            self._request_stop()
            raise TimeoutError(
                f"the emulator did not start listening within {START_TIMEOUT:g} s"
            ) from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmulatorThread:
        self._thread.start()
        try:
            await await_future(self._ready, START_TIMEOUT, "the emulator to listen")
        except BaseException:
            self._request_stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the emulator's thread -----------------------------------------------------------

    def _target(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            self._done.set_exception(exc)
        else:
            if not self._ready.done():
                self._ready.set_exception(TimeoutError("the emulator stopped before listening"))
            self._done.set_result(None)

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        async with open_emulator(**self._options) as emulator, trio.open_nursery() as jobs:
            self._emulator = emulator
            self._jobs = jobs
            if not self._ready.done():
                self._ready.set_result(emulator)
            await self._stop.wait()
            self._jobs = None
            jobs.cancel_scope.cancel("the emulator is stopping")

    def _request_stop(self) -> None:
        token = self._token
        if token is None:
            return
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(self._stop.set)

    def _start(self, operation: Callable[[], Awaitable[_T]]) -> Job[_T]:
        """Start ``operation`` in the emulator's loop; don't wait for it."""
        job: Job[_T] = Job()
        token = self._token
        if token is None or not self._ready.done():
            raise LookupError("the emulator's thread has not started; use it in a with block")

        def start() -> None:
            if self._jobs is None:
                job.future.set_exception(LookupError("the emulator has stopped"))
            else:
                self._jobs.start_soon(run_job, job, operation)

        try:
            token.run_sync_soon(start)
        except trio.RunFinishedError:
            job.future.set_exception(LookupError("the emulator has stopped"))
        return job

    def _cancel(self, job: Job[Any]) -> None:
        if self._token is not None and not job.future.done():
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(job.scope.cancel)

    async def _wait(self, job: Job[_T]) -> _T:
        try:
            return await await_future(job.future, None, "")
        except BaseException:
            self._cancel(job)
            raise

    def _block(self, job: Job[_T], timeout: float, what: str) -> _T:
        """Wait for a job from a plain thread, at most ``timeout`` seconds."""
        try:
            return job.future.result(timeout)
        except concurrent.futures.TimeoutError:
            self._cancel(job)
            raise TimeoutError(f"no {what} within {timeout:g} s") from None

    def _connection(self, connection: EmulatorConnection | int) -> Awaitable[EmulatorConnection]:
        if isinstance(connection, EmulatorConnection):

            async def given() -> EmulatorConnection:
                await trio.lowlevel.checkpoint()
                return connection

            return given()
        return self.emulator.wait_connection(connection)

    def _wait_for_job(
        self, connection: EmulatorConnection | int, predicate: Predicate, count: int
    ) -> Job[RealtimeEvent]:
        async def wait() -> RealtimeEvent:
            found = await self._connection(connection)
            return await found.wait_for(predicate, count=count)

        return self._start(wait)

    def _wait_closed_job(self, connection: EmulatorConnection | int) -> Job[EmulatorConnection]:
        async def wait() -> EmulatorConnection:
            found = await self._connection(connection)
            await found.closed.wait()
            return found

        return self._start(wait)


def run_emulator_in_thread(
    *,
    api_key: str | None = None,
    brain: Brain | None = None,
    faults: Faults | None = None,
    ping_interval: float | None = 20.0,
    audio_pace: float | None = None,
    session_max_s: float = 3600.0,
    retention: Retention = DEFAULT_RETENTION,
    replay: str | Path | Recording | None = None,
    replay_speed: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
) -> EmulatorThread:
    """An emulator on its own Trio loop in a daemon thread, for a ``with`` or ``async with``.

    Entering returns the :class:`EmulatorThread` once it listens; leaving stops it and
    joins the thread (``async with`` waits without blocking the loop). For asyncio users,
    tests that drive the official (asyncio) client, synchronous tests, and Trio code that
    wants the emulator off its own loop. Options: :func:`serve_emulator`.

    Raises:
        ValueError: ``replay`` is not a readable recording, or ``replay_speed`` < 0.
        TimeoutError: (entering) the emulator did not listen within :data:`START_TIMEOUT`.
    """
    options = {
        "api_key": api_key,
        "brain": brain,
        "faults": faults,
        "ping_interval": ping_interval,
        "audio_pace": audio_pace,
        "session_max_s": session_max_s,
        "retention": retention,
        "replay": load_replay(replay),
        "replay_speed": replay_speed,
        "host": host,
        "port": port,
    }
    return EmulatorThread(options)
