"""A session's life: connect, run the tasks around the caller's block, fail or close, and
raise exactly one exception.

States (:class:`State`)::

    CONNECTING --session.created--> OPEN --failure--> FAILED --+
         |                          ^  |                          +--> CLOSING --> CLOSED
         |          resumed         |  +--aclose / the block ends-+
         |                          |  | a drop the resume policy takes
         |                     RESUMING <--+  (failure when the attempts run out)
         +--------failure--------------------------------------->

A failure (a close other than 1000, a drop, a heartbeat timeout, an interceptor's error)
is recorded once: the outbox stops and wakes its waiters with it, every reply waiter gets
it, the end goes into the inbox behind every event already received, and the background
tasks stop. The caller's block is not cancelled at once while it reads: a block that has
read events gets ``close_timeout`` seconds between events to read the rest and meet the
failure from ``__anext__``; a block that has never read (or stops reading) is cancelled,
and the failure's ``unread`` carries the events it did not take.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from .._endpoint import build_connect_request
from .._errors import (
    AuthenticationError,
    ConnectTimeout,
    RealtimeError,
    ResumeExhausted,
    SessionClosed,
    Unsent,
)
from .._transport import (
    ConnectRequest,
    Transport,
    TransportFactory,
    select_transport,
)
from ._inbox import Inbox
from ._options import SessionOptions
from ._resume import ResumeReason

if TYPE_CHECKING:
    from ._core import Engine

__all__ = ["NORMAL_CLOSE", "Drop", "Lifecycle", "State", "open_engine", "run_engine"]

logger = logging.getLogger("trio_realtime.session")

NORMAL_CLOSE = 1000


class State(enum.Enum):
    """Where a session is in its life."""

    CONNECTING = "connecting"
    """Opening the connection; waiting for ``session.created``."""
    OPEN = "open"
    """``session.created`` arrived; sending and receiving."""
    RESUMING = "resuming"
    """The connection ended in a way the resume policy takes: moving to a new one."""
    FAILED = "failed"
    """A failure ended the connection; the block may still read what arrived before it."""
    CLOSING = "closing"
    """The block ended or ``aclose()`` was called: flushing, then the close handshake."""
    CLOSED = "closed"
    """The connection is closed; ``unsent`` is final."""


class Lifecycle:
    """The state, the first failure, and the close of one session."""

    def __init__(self, close_timeout: float) -> None:
        self.state = State.CONNECTING
        self.close_timeout = close_timeout
        self.failure: RealtimeError | None = None
        self.close_code = NORMAL_CLOSE
        """The close code the client sends (the failure's, or 1000)."""
        self.close_reason = ""
        self.server_close: tuple[int, str] | None = None
        """The close code and reason the server sent, if it closed first."""
        self.unsent = Unsent()
        self.background = anyio.CancelScope()
        """The reader, writer, heartbeat and audio pump run in here."""
        self.connection_scope: anyio.CancelScope | None = None
        """The current connection's reader, writer and heartbeat run in here."""
        self.task_group: TaskGroup | None = None
        """The group the caller's block runs in (set by :func:`run_engine`)."""
        self.body_running = False
        self.drop: Drop | None = None
        """Why the current connection is being replaced (RESUMING), else None."""
        self.resumptions = 0
        self._opened = anyio.Event()
        self._closed = anyio.Event()
        self._connection_over = anyio.Event()
        self._watch: anyio.CancelScope | None = None

    @property
    def is_open(self) -> bool:
        """``session.created`` has arrived."""
        return self._opened.is_set()

    def opened(self) -> None:
        """``session.created`` arrived."""
        if self.state is State.CONNECTING:
            self.state = State.OPEN
        self._opened.set()

    async def wait_opened(self) -> None:
        """Wait for ``session.created``."""
        await self._opened.wait()

    def check_open(self) -> None:
        """Raise unless the session can still send: its failure, or ClosedResourceError."""
        if self.failure is not None:
            raise self.failure
        if self.state is State.CLOSING or self.state is State.CLOSED:
            raise anyio.ClosedResourceError("the session is closed")

    def server_closed(self, code: int, reason: str) -> None:
        """The server's close frame (or a drop, 1006) arrived."""
        self.server_close = (code, reason)

    def dropped(self, drop: Drop) -> None:
        """The connection ended in a way the resume policy takes: replace it."""
        if self.state is State.OPEN:
            self.state = State.RESUMING
            self.drop = drop
            self._connection_over.set()

    def connection_over(self) -> None:
        """The current connection's reader has ended."""
        self._connection_over.set()

    async def wait_connection_over(self) -> None:
        """Wait until the current connection ends (or is to be replaced)."""
        await self._connection_over.wait()

    def resumed(self) -> None:
        """The session is on a new connection."""
        self.drop = None
        self.resumptions += 1
        self._connection_over = anyio.Event()
        if self.state is State.RESUMING:
            self.state = State.OPEN

    def fail(self, failure: RealtimeError, code: int, reason: str) -> bool:
        """Record ``failure`` if it is the first and the session is not closing; True if so."""
        if self.state not in (State.CONNECTING, State.OPEN, State.RESUMING):
            if self.failure is None and self.state is State.CLOSING:
                self.failure = failure  # raised at the end, nothing left to stop
            return False
        self.failure = failure
        self.close_code, self.close_reason = code, reason
        self.state = State.FAILED
        return True

    def stop_tasks(self, inbox: Inbox, received: int) -> None:
        """After a failure: stop the connection's tasks (the connection itself stays for the
        close handshake), and end the caller's block by the rule in the module docstring."""
        if self.connection_scope is not None:
            self.connection_scope.cancel()
        group = self.task_group
        if group is None:
            return
        if self.body_running:
            # Whether the block has read: derived here, so reading costs nothing extra.
            consumed = inbox.consumer_waiting or received > len(inbox.buffer)
            group.start_soon(self._watch_body, inbox, consumed)
        else:
            group.cancel_scope.cancel()  # still connecting: nothing to read yet

    async def _watch_body(self, inbox: Inbox, consumed: bool) -> None:
        """Cancel the block unless it reads on (``close_timeout`` between events) to the end."""
        with anyio.CancelScope() as self._watch:
            if consumed:
                while not inbox.end_seen:
                    with anyio.move_on_after(self.close_timeout) as waited:
                        await inbox.wait_take()
                    if waited.cancelled_caught:
                        break
                else:
                    return
            if self.task_group is not None:
                self.task_group.cancel_scope.cancel()

    def begin_close(self) -> bool:
        """Start closing; False if the session is already closing or closed."""
        if self.state is State.CLOSING or self.state is State.CLOSED:
            return False
        self.state = State.CLOSING
        if self._watch is not None:
            self._watch.cancel()
        return True

    @property
    def reported_close(self) -> tuple[int, str]:
        """The close as interceptors are told: the server's, else the client's."""
        return self.server_close or (self.close_code, self.close_reason)

    def closed(self, unsent: Unsent) -> None:
        """The connection is closed; ``unsent`` is what never went out."""
        self.state = State.CLOSED
        self.unsent = unsent
        if self.failure is not None:
            self.failure.unsent = unsent
        self._closed.set()

    async def wait_closed(self) -> None:
        """Wait until the close has run (:meth:`closed`)."""
        await self._closed.wait()

    def stop_background(self) -> None:
        """Stop whatever background task is left."""
        self.background.cancel()


_E = TypeVar("_E", bound="Engine")
_O = TypeVar("_O", bound=SessionOptions)


def _is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, anyio.get_cancelled_exc_class())


def first_leaf(exc: BaseException) -> BaseException:
    """One exception out of a group: the first that is not a cancellation, if any."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [first_leaf(inner) for inner in exc.exceptions]
        for leaf in leaves:
            if not _is_cancellation(leaf):
                return leaf
        return leaves[0] if leaves else exc
    return exc


@dataclass(frozen=True)
class Drop:
    """Why a connection is being replaced."""

    reason: ResumeReason
    code: int
    """The close code (1006: no close frame came; 1000 for a rollover)."""
    detail: str = ""
    """The close reason, or what happened."""
    at: float = field(default_factory=anyio.current_time)
    """When the connection ended (the loop's clock)."""


async def _serve_connection(
    engine: Engine,
    transport: Transport,
    *,
    resume: tuple[Drop, int] | None,
    opened: Callable[[], Awaitable[None]],
) -> None:
    """Run one connection's tasks until it ends; ``resume``: the drop and attempt it replaces.

    A resumed connection is brought up to date (``engine._resume_on``) before anything
    else is written to it or read from it. When the connection ends in a way the resume
    policy takes, its writer stops at a frame boundary and the socket is aborted, so a
    send stuck on a dead socket cannot hold the move up.
    """
    life = engine._life
    if resume is None:
        engine._attach(transport)
    else:
        engine._transport = transport
        await engine._resume_on(transport, *resume)
        engine._attach(transport)
        life.resumed()
    with anyio.CancelScope() as life.connection_scope:
        async with anyio.create_task_group() as tasks:
            for task in engine._connection_tasks():
                tasks.start_soon(task)
            await opened()
            await life.wait_connection_over()
            drop = life.drop
            if drop is None:
                await anyio.sleep_forever()  # until a failure or the close stops the tasks
                return
            engine._outbox.stop_writing()
            with anyio.CancelScope(shield=True):
                if drop.reason == "rollover":
                    with anyio.move_on_after(life.close_timeout):
                        await transport.aclose(NORMAL_CLOSE, "rollover")
                await transport.abort()
            tasks.cancel_scope.cancel()
    if life.drop is None:
        await anyio.sleep_forever()  # the close handshake still needs this connection
    engine._outbox.detach()


async def _run_connections(
    engine: Engine,
    factory: TransportFactory,
    request: Callable[[], Awaitable[ConnectRequest]],
    opening: Callable[[], Awaitable[None]],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """The session's connections, one after another: the first, then one for every drop
    the resume policy takes, until the session ends or the attempts run out."""
    life = engine._life

    async def first_opened() -> None:
        await life.wait_opened()
        await opening()
        task_status.started()

    with life.background:
        async with anyio.create_task_group() as session_tasks:
            for task in engine._session_tasks():
                session_tasks.start_soon(task)
            async with factory(await request()) as transport:
                try:
                    await _serve_connection(engine, transport, resume=None, opened=first_opened)
                except BaseException:
                    await _close_while_connected(engine)
                    raise
            policy = engine._resume
            while life.drop is not None and policy is not None:
                drop = life.drop
                logger.info("the connection ended (%s, %d): resuming", drop.reason, drop.code)
                started = anyio.current_time()
                attempt = 0
                last: BaseException | None = None
                while True:
                    attempt += 1
                    spent = anyio.current_time() - started
                    if attempt > policy.max_attempts or spent > policy.max_total:
                        engine._fail(_exhausted(drop, attempt - 1, spent, last), code=drop.code)
                        return
                    await anyio.sleep(policy.delay(attempt))
                    outcome, lasted = await _attempt(engine, factory, request, drop, attempt)
                    if outcome is None:
                        again = life.drop
                        if again is None or lasted >= policy.stable_after:
                            break  # served: a later drop starts a new move
                        drop = again  # dropped again at once: one more failed attempt
                        outcome = SessionClosed(again.code, f"dropped again after {lasted:.1f} s")
                    if isinstance(outcome, AuthenticationError):
                        engine._fail(outcome)
                        return
                    last = outcome
                    logger.info("resume attempt %d failed: %s", attempt, outcome)


async def _attempt(
    engine: Engine,
    factory: TransportFactory,
    request: Callable[[], Awaitable[ConnectRequest]],
    drop: Drop,
    attempt: int,
) -> tuple[BaseException | None, float]:
    """One connect to replace a dropped connection, served until it ends: (None, how long
    it lasted once ready); or the error of an attempt that failed before it was ready."""
    served = False
    ready_at = math.inf
    with anyio.CancelScope(deadline=anyio.current_time() + engine._connect_timeout) as deadline:

        async def ready() -> None:
            nonlocal served, ready_at
            served = True
            ready_at = anyio.current_time()
            deadline.deadline = math.inf

        try:
            async with factory(await request()) as transport:
                try:
                    await _serve_connection(engine, transport, resume=(drop, attempt), opened=ready)
                except BaseException:
                    if served:
                        await _close_while_connected(engine)
                    raise
        except Exception as exc:
            if served:
                raise
            return first_leaf(exc), 0.0
    if deadline.cancelled_caught and not served:
        timeout = ConnectTimeout(f"no new connection within {engine._connect_timeout:g} s")
        return timeout, 0.0
    return None, anyio.current_time() - ready_at


async def _close_while_connected(engine: Engine) -> None:
    """The connection task is ending (cancelled, or it failed): the close handshake runs
    first, while the connection is still there (the block's end runs it; before the block
    started, this does)."""
    life = engine._life
    with anyio.CancelScope(shield=True):
        if life.body_running:
            with anyio.move_on_after(2 * life.close_timeout):
                await life.wait_closed()
        else:
            await engine._shutdown()


def _exhausted(
    drop: Drop, attempts: int, spent: float, last: BaseException | None
) -> RealtimeError:
    failure = ResumeExhausted(
        drop.code,
        f"could not resume after {attempts} attempt{'s' if attempts != 1 else ''} "
        f"in {spent:.1f} s ({drop.reason}{': ' + drop.detail if drop.detail else ''})",
    )
    failure.__cause__ = last
    return failure


@asynccontextmanager
async def run_engine(
    engine: _E,
    factory: TransportFactory,
    request: ConnectRequest | Callable[[], Awaitable[ConnectRequest]],
    *,
    connect_timeout: float,
    opening: Callable[[_E], Awaitable[Any]] | None = None,
) -> AsyncIterator[_E]:
    """Connect ``engine``, run its tasks around the caller's block, and close it.

    The block starts once the server's first event arrived (and ``opening``, run with the
    engine, returned). ``request`` may be a function making one per connect (a key
    provider is asked again when the session moves to a new connection). On the way out
    the block raises exactly one exception, the first row that applies:

    ====  ===============================================  ==================================
    row   what happened                                    the ``async with`` raises
    ====  ===============================================  ==================================
    1     the block raised (not a cancellation)            that exception, unchanged
    2     the session failed                               the failure (``RealtimeError``)
    3     connecting or the transport raised               that error (one, never a group)
    4     the connect deadline passed before opening       ``ConnectTimeout``
    5     the block was cancelled from outside             that cancellation, unchanged
    6     none of these                                    nothing
    ====  ===============================================  ==================================

    Whatever the row, the failure (if any) carries ``unsent`` (frames never written) and
    ``unread`` (events received but never taken).
    """
    life = engine._life
    user_exc: BaseException | None = None
    raised: BaseException | None = None
    chain = engine._chain

    async def connect_request() -> ConnectRequest:
        made = await request() if callable(request) else request
        return await chain.connect(made) if chain is not None else made

    async def open_session() -> None:
        if opening is not None:
            await opening(engine)

    connect_scope = anyio.CancelScope(deadline=anyio.current_time() + connect_timeout)
    try:
        async with anyio.create_task_group() as task_group:
            life.task_group = task_group
            try:
                with connect_scope:
                    await task_group.start(
                        _run_connections, engine, factory, connect_request, open_session
                    )
                    life.body_running = True
                if life.body_running:
                    try:
                        yield engine
                    except BaseException as exc:
                        user_exc = exc
            finally:
                await engine._shutdown(flush=life.body_running and user_exc is None)
    except BaseException as exc:
        raised = exc
    finally:
        engine.events.end()
        unread = engine.events.close()
        if life.failure is not None and unread:
            life.failure.unread = (*life.failure.unread, *unread)
    if user_exc is not None and not _is_cancellation(user_exc):
        raise user_exc
    if life.failure is not None:
        raise life.failure
    if raised is not None:
        leaf = first_leaf(raised)
        if _is_cancellation(leaf) and user_exc is not None:
            raise user_exc
        raise leaf
    if connect_scope.cancelled_caught and not life.body_running:
        raise ConnectTimeout(f"no session within the connect timeout ({connect_timeout:g} s)")
    if user_exc is not None:
        raise user_exc


@asynccontextmanager
async def open_engine(
    make_engine: Callable[[_O], _E],
    options: _O,
    *,
    path: str,
    query: Mapping[str, str | None],
    session: object,
) -> AsyncIterator[_E]:
    """What every ``open_*_session`` does: resolve the endpoint, make the engine, run it.

    ``options`` are resolved (:func:`~trio_realtime._engine._options.resolve`);
    ``session``, when not None, is sent with the engine's ``update_session`` before the
    caller's block starts.
    """
    factory = select_transport(options["transport"])

    async def request() -> ConnectRequest:
        return await build_connect_request(
            path=path,
            query=query,
            api_key=options["api_key"],
            url=options["url"],
            azure=options["azure"],
            headers=options["headers"],
            max_message_size=options["max_message_size"],
        )

    first = await request()  # a bad URL or a missing key fails before anything starts
    requests = iter([first])

    async def next_request() -> ConnectRequest:
        return next(requests, None) or await request()

    engine = make_engine(options)

    async def configure(opened: _E) -> None:
        if session is not None:
            await opened.update_session(session)  # type: ignore[attr-defined]

    async with run_engine(
        engine,
        factory,
        next_request,
        connect_timeout=options["connect_timeout"],
        opening=configure,
    ) as opened:
        yield opened
