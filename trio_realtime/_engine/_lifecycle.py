"""A session's life: connect, run the tasks around the caller's block, fail or close, and
raise exactly one exception.

States (:class:`State`)::

    CONNECTING --session.created--> OPEN --failure--> FAILED --+
         |                            |                          +--> CLOSING --> CLOSED
         +--------failure-------------+--aclose / the block ends-+

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
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from .._endpoint import build_connect_request
from .._errors import ConnectTimeout, RealtimeError, Unsent
from .._transport import ConnectRequest, TransportFactory, select_transport
from ._inbox import Inbox
from ._options import SessionOptions

if TYPE_CHECKING:
    from ._core import Engine

__all__ = ["NORMAL_CLOSE", "Lifecycle", "State", "open_engine", "run_engine"]

NORMAL_CLOSE = 1000


class State(enum.Enum):
    """Where a session is in its life."""

    CONNECTING = "connecting"
    """Opening the connection; waiting for ``session.created``."""
    OPEN = "open"
    """``session.created`` arrived; sending and receiving."""
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
        self.task_group: TaskGroup | None = None
        """The group the caller's block runs in (set by :func:`run_engine`)."""
        self.body_running = False
        self._opened = anyio.Event()
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

    def fail(self, failure: RealtimeError, code: int, reason: str) -> bool:
        """Record ``failure`` if it is the first and the session is not closing; True if so."""
        if self.state is not State.CONNECTING and self.state is not State.OPEN:
            if self.failure is None and self.state is State.CLOSING:
                self.failure = failure  # raised at the end, nothing left to stop
            return False
        self.failure = failure
        self.close_code, self.close_reason = code, reason
        self.state = State.FAILED
        return True

    def stop_tasks(self, inbox: Inbox) -> None:
        """After a failure: stop the background tasks, and end the caller's block by the
        rule in the module docstring."""
        self.background.cancel()
        group = self.task_group
        if group is None:
            return
        if self.body_running:
            group.start_soon(self._watch_body, inbox)
        else:
            group.cancel_scope.cancel()  # still connecting: nothing to read yet

    async def _watch_body(self, inbox: Inbox) -> None:
        """Cancel the block unless it reads on (``close_timeout`` between events) to the end."""
        with anyio.CancelScope() as self._watch:
            if inbox.consumed:
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


async def _run_background(engine: Engine) -> None:
    with engine._life.background:
        async with anyio.create_task_group() as tasks:
            for task in engine._background_tasks():
                tasks.start_soon(task)


@asynccontextmanager
async def run_engine(
    engine: _E,
    factory: TransportFactory,
    request: ConnectRequest,
    *,
    connect_timeout: float,
    opening: Callable[[_E], Awaitable[Any]] | None = None,
) -> AsyncIterator[_E]:
    """Connect ``engine``, run its tasks around the caller's block, and close it.

    The block starts once the server's first event arrived (and ``opening``, run with the
    engine, returned). On the way out the block raises exactly one exception, the first
    row that applies:

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
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + connect_timeout) as connect_scope:
            if engine._chain is not None:
                request = await engine._chain.connect(request)
            async with factory(request) as transport:
                engine._attach(transport)
                async with anyio.create_task_group() as task_group:
                    life.task_group = task_group
                    task_group.start_soon(_run_background, engine)
                    try:
                        await life.wait_opened()
                        if opening is not None:
                            await opening(engine)
                        connect_scope.deadline = math.inf
                        life.body_running = True
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
    request = await build_connect_request(
        path=path,
        query=query,
        api_key=options["api_key"],
        url=options["url"],
        azure=options["azure"],
        headers=options["headers"],
        max_message_size=options["max_message_size"],
    )
    engine = make_engine(options)

    async def configure(opened: _E) -> None:
        if session is not None:
            await opened.update_session(session)  # type: ignore[attr-defined]

    async with run_engine(
        engine,
        factory,
        request,
        connect_timeout=options["connect_timeout"],
        opening=configure,
    ) as opened:
        yield opened
