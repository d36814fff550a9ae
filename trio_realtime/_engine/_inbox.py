"""The inbox: received events between the engine's reader and the session's consumers.

A bounded FIFO with the semantics of a Trio memory channel, made for the one hand-off every
received event goes through: a ``deque``, one event the consumers park on (made only when
one parks), and one the reader parks on when the inbox is full.

Invariant (tested in ``tests/test_inbox.py``): **nothing received is lost at the end.** The
end of input (a close of any code, a drop, a heartbeat timeout, a failure) is an item after
everything received before it, as when a memory channel closes: consumers take every event
that arrived before it, in order, and only then see the end. Only :meth:`Inbox.close` (the
session is over) takes the events nobody read, and hands them back to be reported.

An item may also be a message the reader handed over unparsed (the session observes
nothing of its kind): whoever takes it parses it, with the ``parse`` the engine gave, so
what comes out is the same typed events in the same order, and the event is made and
dropped by the consumer, not kept between the reader's step and the consumer's (fewer
garbage-collector passes with many sessions). A message ``parse`` rejects (None) is
skipped, as the reader would have skipped it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import anyio
from anyio.abc import ObjectReceiveStream

from ..events import RealtimeEvent
from ._backend import LoopEvent, current_backend

__all__ = ["Inbox"]


class Inbox(ObjectReceiveStream[RealtimeEvent]):
    """Received events, in order, at most ``size`` of them (``session.events``).

    An AnyIO object receive stream: ``receive()`` waits for the next event and raises
    ``anyio.EndOfStream`` once the reader ended and every event was taken, and
    ``anyio.ClosedResourceError`` after :meth:`aclose`. Several tasks may receive; each
    event goes to one of them.
    """

    def __init__(
        self,
        size: int,
        new_event: Callable[[], LoopEvent] | None = None,
        parse: Callable[[str], RealtimeEvent | None] | None = None,
    ) -> None:
        self.size = size
        self.buffer: deque[RealtimeEvent | str] = deque()
        """Events, and messages to parse when taken (only with ``parse``)."""
        self._parse = parse
        self.peak: int = 0
        """The most events seen waiting at once (sampled by the reader; exact when full)."""
        self._new_event = new_event or current_backend().new_event
        self._arrived: LoopEvent | None = None
        """Set when an event arrives or the stream ends; exists while a consumer waits."""
        self._room: LoopEvent | None = None
        """Set when a consumer takes an event; exists while the reader waits for room."""
        self._ended = False
        self._closed = False
        self._putting = False
        self.end_seen: bool = False
        """A consumer took everything and saw the end."""
        self._took: LoopEvent | None = None
        """Set when a consumer takes an event or sees the end; exists while someone waits."""

    # -- the reader's side ------------------------------------------------------------

    @property
    def full(self) -> bool:
        """No room for another event (a closed inbox is never full: it drops them)."""
        return len(self.buffer) >= self.size and not self._closed

    def put_nowait(self, event: RealtimeEvent | str) -> bool:
        """Append ``event`` (or a message to parse when taken) unless the inbox is full
        (False). Dropped if it was closed."""
        if self.full:
            return False
        if not self._closed:
            self.buffer.append(event)
            arrived = self._arrived
            if arrived is not None:
                self._arrived = None
                arrived.set()
        return True

    async def put(self, event: RealtimeEvent | str) -> None:
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
    def consumer_waiting(self) -> bool:
        """A consumer is parked waiting for an event."""
        return self._arrived is not None

    @property
    def reader_waiting(self) -> bool:
        """The reader waits for room (a consumer that stopped reading, not a dead peer)."""
        return self._putting

    @property
    def ended(self) -> bool:
        """The end is in the inbox (behind any events still waiting)."""
        return self._ended

    def end(self) -> None:
        """No more events will arrive: the end goes in after every event already in.

        Consumers see EndOfStream once they took those events.
        """
        self._ended = True
        self._wake_consumers()

    async def wait_take(self) -> None:
        """Wait until a consumer takes an event or sees the end (used after the end)."""
        if self._took is None:
            self._took = self._new_event()
        await self._took.wait()

    def _taken(self) -> None:
        took = self._took
        if took is not None:
            self._took = None
            took.set()

    # -- the consumers' side ----------------------------------------------------------

    def receive_nowait(self) -> RealtimeEvent:
        """The next event, without waiting.

        Raises:
            anyio.WouldBlock: no event is waiting.
            anyio.EndOfStream: the stream ended and every event was taken.
            anyio.ClosedResourceError: :meth:`aclose` was called.
        """
        while self.buffer:
            event = self._take()
            if event is not None:
                return event
        if self._closed:
            raise anyio.ClosedResourceError
        if self._ended:
            self._saw_end()
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    def _take(self) -> RealtimeEvent | None:
        """The next item as an event (None: a message ``parse`` rejected)."""
        item = self.buffer.popleft()
        room = self._room
        if room is not None:
            self._room = None
            room.set()
        if self._took is not None:
            self._taken()
        return self._event_of(item)

    def _event_of(self, item: RealtimeEvent | str) -> RealtimeEvent | None:
        if not isinstance(item, str):
            return item
        parse = self._parse
        assert parse is not None, "a message in an inbox without a parser"
        return parse(item)

    def _saw_end(self) -> None:
        self.end_seen = True
        self._taken()

    async def get(self) -> RealtimeEvent:
        """The next event, waiting for it; not itself a checkpoint when one is waiting.

        Raises EndOfStream or ClosedResourceError as :meth:`receive_nowait`.
        """
        buffer = self.buffer
        while True:
            while not buffer:
                if self._closed:
                    raise anyio.ClosedResourceError
                if self._ended:
                    self._saw_end()
                    raise anyio.EndOfStream
                if self._arrived is None:
                    self._arrived = self._new_event()
                await self._arrived.wait()
            event = self._take()
            if event is not None:
                return event

    async def receive(self) -> RealtimeEvent:
        """The next event, waiting for it; always a checkpoint. Raises as :meth:`get`."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        return await self.get()

    def close(self) -> list[RealtimeEvent]:
        """Stop receiving: later events are dropped, receivers get ClosedResourceError.

        Returns the events nobody took, in order (the session reports them as unread).
        """
        self._closed = True
        unread = [event for event in map(self._event_of, self.buffer) if event is not None]
        self.buffer.clear()
        self._wake_consumers()
        self._taken()
        room = self._room
        if room is not None:
            self._room = None
            room.set()
        return unread

    async def aclose(self) -> None:
        """Close the inbox (see :meth:`close`), then checkpoint."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def _wake_consumers(self) -> None:
        arrived = self._arrived
        if arrived is not None:
            self._arrived = None
            arrived.set()
