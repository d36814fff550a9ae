"""Requests that wait for their reply: matched by ``event_id`` for errors, by key or in order
for answers.

Every waiter is woken: with its reply, with a ``ServerError`` for an ``error`` event that
names its request, or with the session's failure when the session ends first.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, Protocol, TypeVar

import anyio

from .._errors import RealtimeError, ServerError
from ..events import ErrorEvent

__all__ = ["Replies", "Reply", "ReplyTable"]

_T = TypeVar("_T")


class _Waiting(Protocol):
    def fail(self, error: RealtimeError) -> None: ...


class Reply(Generic[_T]):
    """One reply a helper waits for: a value, or an error."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._value: _T | None = None
        self._error: RealtimeError | None = None

    def resolve(self, value: _T) -> None:
        """The reply arrived (ignored once resolved or failed)."""
        if not self._done.is_set():
            self._value = value
            self._done.set()

    def fail(self, error: RealtimeError) -> None:
        """The request failed (ignored once resolved or failed)."""
        if not self._done.is_set():
            self._error = error
            self._done.set()

    async def settled(self) -> None:
        """Wait until the reply arrived or the request failed, without raising."""
        await self._done.wait()

    async def wait(self) -> _T:
        """The reply. Raises the error the request failed with."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class ReplyTable(Generic[_T]):
    """Replies waited for by a key the answer carries (a response id, an item id)."""

    def __init__(self) -> None:
        self._waiting: dict[str, Reply[_T]] = {}

    def expect(self, key: str) -> Reply[_T]:
        """The reply for ``key`` (the same one for every caller waiting on that key)."""
        reply = self._waiting.get(key)
        if reply is None:
            reply = self._waiting[key] = Reply()
        return reply

    def resolve(self, key: str | None, value: _T) -> None:
        """An answer for ``key`` arrived."""
        if key is not None:
            reply = self._waiting.pop(key, None)
            if reply is not None:
                reply.resolve(value)

    def forget(self, key: str, reply: Reply[_T]) -> None:
        """The caller stopped waiting."""
        if self._waiting.get(key) is reply:
            del self._waiting[key]

    def fail(self, error: RealtimeError) -> None:
        """Wake every waiter with ``error``."""
        waiting, self._waiting = self._waiting, {}
        for reply in waiting.values():
            reply.fail(error)


class Replies:
    """Every request of a session waiting for an answer; :meth:`fail` wakes them all."""

    def __init__(self) -> None:
        self._by_event_id: dict[str, _Waiting] = {}
        self._tables: list[_Waiting] = []
        self._in_order: deque[Reply[object]] = deque()
        self._failure: RealtimeError | None = None

    def table(self, table: ReplyTable[_T]) -> ReplyTable[_T]:
        """Register ``table`` so that a failure wakes its waiters too."""
        self._tables.append(table)
        return table

    def expect_error(self, event_id: str, waiter: _Waiting) -> None:
        """An ``error`` event naming ``event_id`` fails ``waiter``."""
        if self._failure is not None:
            waiter.fail(self._failure)
        self._by_event_id[event_id] = waiter

    def forget_error(self, event_id: str) -> None:
        """The request with ``event_id`` no longer waits."""
        self._by_event_id.pop(event_id, None)

    def in_order(self, event_id: str) -> Reply[object]:
        """A reply to a request answered in order with no id (``session.update``)."""
        reply: Reply[object] = Reply()
        self.expect_error(event_id, reply)
        self._in_order.append(reply)
        return reply

    def forget_in_order(self, event_id: str, reply: Reply[object]) -> None:
        """That in-order request stopped waiting (answered, failed or cancelled)."""
        self.forget_error(event_id)
        if reply in self._in_order:
            self._in_order.remove(reply)

    def answered_in_order(self, value: object) -> None:
        """An answer without an id arrived: it answers the oldest request still waiting."""
        if self._in_order:
            self._in_order.popleft().resolve(value)

    def on_error(self, event: ErrorEvent) -> None:
        """Fail the request an ``error`` event names, with a :class:`ServerError`."""
        details = event.error
        request_id = details.event_id
        waiter = self._by_event_id.pop(request_id, None) if request_id else None
        if waiter is not None:
            waiter.fail(
                ServerError(
                    details.message,
                    type=details.type,
                    code=details.code,
                    param=details.param,
                    event_id=request_id,
                )
            )

    def fail(self, failure: RealtimeError) -> None:
        """The session ended: wake every waiter, now and later, with ``failure``."""
        self._failure = failure
        waiting, self._by_event_id = self._by_event_id, {}
        for waiter in waiting.values():
            waiter.fail(failure)
        for table in self._tables:
            table.fail(failure)
        while self._in_order:
            self._in_order.popleft().fail(failure)
