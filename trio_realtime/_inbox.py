"""The received events between the engine's reader and the session's consumers.

A bounded FIFO with the semantics of an AnyIO memory object stream, made for the one
hand-off every received event goes through: a ``deque``, one event object the consumers
park on (created only when one parks), and one the reader parks on when the inbox is
full. The events are the loop's own, Trio's or asyncio's (AnyIO's wrapper costs a few µs
an event).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import anyio
import sniffio
from anyio.abc import ObjectReceiveStream

from .events import RealtimeEvent

__all__ = ["Inbox"]


class _Event(Protocol):
    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> object: ...


def _event_factory() -> Callable[[], _Event]:
    """The running loop's own event class (cancellation reaches a waiter either way)."""
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.Event
    import asyncio

    return asyncio.Event


class Inbox(ObjectReceiveStream[RealtimeEvent]):
    """Received events, in order, at most ``size`` of them (``session.events``).

    An AnyIO object receive stream: ``receive()`` waits for the next event and raises
    ``anyio.EndOfStream`` once the reader ended and every event was taken, and
    ``anyio.ClosedResourceError`` after :meth:`aclose`. Several tasks may receive; each
    event goes to one of them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffer: deque[RealtimeEvent] = deque()
        self.peak: int = 0
        """The most events seen waiting at once (sampled by the reader; exact when full)."""
        self._new_event = _event_factory()
        self._arrived: _Event | None = None
        """Set when an event arrives or the stream ends; exists while a consumer waits."""
        self._room: _Event | None = None
        """Set when a consumer takes an event; exists while the reader waits for room."""
        self._ended = False
        self._closed = False
        self._putting = False

    # -- the reader's side ------------------------------------------------------------

    @property
    def full(self) -> bool:
        """No room for another event (a closed inbox is never full: it drops them)."""
        return len(self.buffer) >= self.size and not self._closed

    def put_nowait(self, event: RealtimeEvent) -> bool:
        """Append ``event`` unless the inbox is full (False). Dropped if it was closed."""
        if self.full:
            return False
        if not self._closed:
            self.buffer.append(event)
            arrived = self._arrived
            if arrived is not None:
                self._arrived = None
                arrived.set()
        return True

    async def put(self, event: RealtimeEvent) -> None:
        """Append ``event``, waiting while the inbox is full (the reader is then parked)."""
        self.peak = self.size
        self._putting = True
        try:
            while not self.put_nowait(event):
                if self._room is None:
                    self._room = self._new_event()
                await self._room.wait()
        finally:
            self._putting = False

    @property
    def reader_waiting(self) -> bool:
        """The reader waits for room (a consumer that stopped reading, not a dead peer)."""
        return self._putting

    def end(self) -> None:
        """No more events will arrive: consumers see EndOfStream once the buffer is empty."""
        self._ended = True
        self._wake_consumers()

    # -- the consumers' side ----------------------------------------------------------

    def receive_nowait(self) -> RealtimeEvent:
        """The next event, without waiting.

        Raises:
            anyio.WouldBlock: no event is waiting.
            anyio.EndOfStream: the stream ended and every event was taken.
            anyio.ClosedResourceError: :meth:`aclose` was called.
        """
        if self.buffer:
            return self._take()
        if self._closed:
            raise anyio.ClosedResourceError
        if self._ended:
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    def _take(self) -> RealtimeEvent:
        event = self.buffer.popleft()
        room = self._room
        if room is not None:
            self._room = None
            room.set()
        return event

    async def get(self) -> RealtimeEvent:
        """The next event, waiting for it; not itself a checkpoint when one is waiting.

        Raises EndOfStream or ClosedResourceError as :meth:`receive_nowait`.
        """
        buffer = self.buffer
        while not buffer:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._ended:
                raise anyio.EndOfStream
            if self._arrived is None:
                self._arrived = self._new_event()
            await self._arrived.wait()
        return self._take()

    async def receive(self) -> RealtimeEvent:
        """The next event, waiting for it; always a checkpoint. Raises as :meth:`get`."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        return await self.get()

    def close(self) -> None:
        """Stop receiving: later events are dropped, receivers get ClosedResourceError."""
        self._closed = True
        self.buffer.clear()
        self._wake_consumers()
        room = self._room
        if room is not None:
            self._room = None
            room.set()

    async def aclose(self) -> None:
        """Close the inbox (see :meth:`close`), then checkpoint."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def _wake_consumers(self) -> None:
        arrived = self._arrived
        if arrived is not None:
            self._arrived = None
            arrived.set()
