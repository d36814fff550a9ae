"""A session's life: its state, its first failure, and how its block learns of the end.

States (:class:`State`)::

    CONNECTING --session.created--> OPEN --failure--> FAILED --+
         |                          ^  |                          +--> CLOSING --> CLOSED
         |          resumed         |  +--aclose / the block ends-+
         |                          |  | a drop the resume policy takes
         |                     RESUMING <--+  (failure when the attempts run out)
         +--------failure--------------------------------------->

A failure (a close other than 1000, a drop, a heartbeat timeout, an interceptor's error)
is recorded once: the outbox stops and wakes its waiters with it, every reply waiter gets
it, the end goes into the inbox behind every event already received, and the connection's
tasks stop. The caller's block is not cancelled at once while it reads: a block that has
read events gets ``close_timeout`` seconds between events to read the rest and meet the
failure from ``__anext__``; a block that has never read (or stops reading) is cancelled,
and the failure's ``unread`` carries the events it did not take. The connections
themselves are ``_connections``; running the whole around the caller's block is ``_run``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from .._errors import RealtimeError, Unsent
from ._inbox import Inbox
from ._resume import ResumeReason

__all__ = ["NORMAL_CLOSE", "Drop", "Lifecycle", "State", "first_leaf", "is_cancellation"]

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


def is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, anyio.get_cancelled_exc_class())


def first_leaf(exc: BaseException) -> BaseException:
    """One exception out of a group: the first that is not a cancellation, if any."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [first_leaf(inner) for inner in exc.exceptions]
        for leaf in leaves:
            if not is_cancellation(leaf):
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
