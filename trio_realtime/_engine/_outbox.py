"""The outbox: every frame a session sends, written whole and in the order the protocol needs.

User calls hand the outbox whole serialised frames. It writes a frame at once, from the
caller, when nothing waits before it (the cheap path for a 100 ms audio append); otherwise
the frame waits in a bounded lane that the writer task (:meth:`Outbox.run_writer`) drains.

Invariants, each kept in the one place named (tested in ``tests/test_outbox.py``):

1. **Whole frames.** A frame reaches the transport whole under any cancellation: a caller
   writes only through the transport's synchronous ``try_send_text`` (all or nothing), and
   the writer writes under a shield. A frame whose tail the socket has not taken yet is
   *in flight* and is finished before any other (:meth:`Outbox._write_frames`).
2. **Control before queued audio.** Urgent frames (``response.cancel``, truncation) go
   first of all; other control frames go ahead of queued audio unless they wait for a
   commit queued before them (:meth:`Outbox._next_frame`).
3. **A commit never overtakes audio appended before it.** Commits and clears are barriers
   in the audio lane, after that audio; a control frame counts the barriers queued before
   it and is not written before them (:meth:`Outbox._next_frame`).
4. **Direct writes only when nothing waits.** A caller writes its own frame only while no
   frame is queued or in flight, no send hook is installed and the outbox is open
   (:meth:`Outbox._write_direct`), so a direct write never overtakes anything.
5. **Every waiter that fits is woken, in arrival order.** Room (control frames by count,
   audio by milliseconds) is granted first come, first served: a newcomer never overtakes
   a waiter, and whenever room appears every waiter that now fits is granted
   (:class:`~trio_realtime._engine._room.Room`, which owns this rule).
6. **Nothing vanishes.** Once closed, what was not written is :meth:`Outbox.unsent`, in
   the order it would have been written, the frame in flight first.

Waiting for room is the only suspension in a send: a caller cancelled there queues
nothing, and one that got its room queues all of its frames without suspending again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import anyio

from .._transport import FastTransport, Transport, TransportClosed
from ._backend import LoopEvent
from ._room import Room

__all__ = ["CONTROL_BUFFER", "Frame", "Outbox", "wire_size"]

CONTROL_BUFFER = 64
"""Control frames queued (per lane: urgent, and control with commits) before ``send`` waits."""

SendHook = Callable[[str], Awaitable[str | None]]
"""Rewrites a frame just before the writer writes it (interceptors); None drops it."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One serialised client event on its way out."""

    text: str
    barrier: int = 0
    """Control frames: how many barriers (commit/clear) must be written before this one."""
    audio_bytes: int = 0
    audio_ms: float = 0.0
    is_barrier: bool = False


def wire_size(message: str | bytes) -> int:
    """The bytes of a message on the wire (text counts as its UTF-8 encoding)."""
    if type(message) is str and not message.isascii():
        return len(message.encode())
    return len(message)


class Outbox:
    """Everything a session sends: lanes, the frame in flight, barriers, direct writes.

    ``check_open`` raises when the session can no longer send (its failure, or
    ``anyio.ClosedResourceError``); the outbox calls it before a frame is queued.
    """

    def __init__(
        self,
        *,
        audio_capacity_ms: float,
        new_event: Callable[[], LoopEvent],
        check_open: Callable[[], None],
        control_capacity: int = CONTROL_BUFFER,
    ) -> None:
        self._check_open = check_open
        self._new_event = new_event
        self._urgent: deque[Frame] = deque()
        self._control: deque[Frame] = deque()
        self._audio: deque[Frame] = deque()
        self.urgent_room = Room(control_capacity, new_event)
        self.control_room = Room(control_capacity, new_event)
        """Shared by control frames and the barriers waiting in the audio lane."""
        self.audio_room = Room(audio_capacity_ms, new_event)
        self.audio_queued_ms = 0.0
        self._barriers_queued = 0
        self._barriers_sent = 0
        self._in_flight: Frame | None = None
        self._work: LoopEvent | None = None
        self._writer_done = anyio.Event()
        self._transport: Transport | None = None
        self._fast: FastTransport | None = None
        self._send_hook: SendHook | None = None
        self._closing = False
        self._flush = False
        self.frames_sent = 0
        self.bytes_sent = 0
        self.audio_sent_ms = 0.0

    def attach(self, transport: Transport, send_hook: SendHook | None) -> None:
        """Write to ``transport`` from now on (directly too, if it can and no hook rewrites)."""
        self._transport = transport
        self._send_hook = send_hook
        fast = transport if isinstance(transport, FastTransport) else None
        self._fast = fast if send_hook is None else None

    @property
    def audio_capacity_ms(self) -> float:
        """The most audio the lane holds, in milliseconds."""
        return self.audio_room.capacity

    # -- the callers' side ---------------------------------------------------------------

    async def send(self, text: str, *, urgent: bool = False) -> None:
        """Queue a control frame (urgent: ahead of all else), waiting for room in its lane."""
        self._check_open()
        room = self.urgent_room if urgent else self.control_room
        await room.take(1)
        self._queue_control(room, text, urgent)

    def send_nowait(self, text: str, *, urgent: bool = False) -> None:
        """Like :meth:`send`, without waiting. Raises anyio.WouldBlock when the lane is full."""
        self._check_open()
        room = self.urgent_room if urgent else self.control_room
        if not room.take_nowait(1):
            raise anyio.WouldBlock
        self._queue_control(room, text, urgent)

    def _queue_control(self, room: Room, text: str, urgent: bool) -> None:
        try:
            self._check_open()
        except BaseException:
            room.give_back(1)
            raise
        frame = Frame(text, barrier=self._barriers_queued)
        if self._write_direct(frame):
            room.give_back(1)
            return
        (self._urgent if urgent else self._control).append(frame)
        self._wake_writer()

    async def send_barrier(self, text: str, before: Callable[[], list[Frame]]) -> None:
        """Queue a commit/clear after all audio appended so far (``before()``: audio still
        held back by the caller, queued first). Waits for room in the control lane."""
        self._check_open()
        await self.control_room.take(1)
        self._queue_barrier(text, before)

    def send_barrier_nowait(self, text: str, before: Callable[[], list[Frame]]) -> None:
        """Like :meth:`send_barrier`, without waiting. Raises anyio.WouldBlock when full."""
        self._check_open()
        if not self.control_room.take_nowait(1):
            raise anyio.WouldBlock
        self._queue_barrier(text, before)

    def _queue_barrier(self, text: str, before: Callable[[], list[Frame]]) -> None:
        try:
            self._check_open()
            frames = before()
        except BaseException:
            self.control_room.give_back(1)
            raise
        self.queue_audio([*frames, Frame(text, is_barrier=True)], reserved_ms=0.0)

    async def reserve_audio(self, ms: float) -> None:
        """Wait until ``ms`` of audio fits, in turn with the other producers."""
        self._check_open()
        await self.audio_room.take(ms)

    def reserve_audio_nowait(self, ms: float) -> bool:
        """Take room for ``ms`` of audio if it fits now and no producer waits; else False."""
        self._check_open()
        return self.audio_room.take_nowait(ms)

    def queue_audio(self, frames: Iterable[Frame], *, reserved_ms: float) -> None:
        """Write or queue audio frames (and barriers) in order; ``reserved_ms``: the room the
        caller took for them, adjusted to what was queued. Never suspends."""
        queued_ms = 0.0
        queued = False
        for frame in frames:
            if frame.is_barrier:
                self._barriers_queued += 1
            if not queued and self._write_direct(frame):
                if frame.is_barrier:
                    self.control_room.give_back(1)
                continue
            queued = True
            self._audio.append(frame)
            queued_ms += frame.audio_ms
        self.audio_queued_ms += queued_ms
        self.audio_room.adjust(queued_ms - reserved_ms)
        if queued:
            self._wake_writer()

    def release_audio(self, ms: float) -> None:
        """Give back audio room a caller took and will not use."""
        self.audio_room.give_back(ms)

    def drop_unbarriered_audio(self) -> float:
        """Drop the audio queued after the last barrier; returns the milliseconds dropped."""
        dropped = 0.0
        audio = self._audio
        while audio and not audio[-1].is_barrier:
            dropped += audio.pop().audio_ms
        self.audio_queued_ms -= dropped
        self.audio_room.give_back(dropped)
        return dropped

    # -- writing -------------------------------------------------------------------------

    def _write_direct(self, frame: Frame) -> bool:
        """Write ``frame`` from the caller when nothing waits before it (invariant 4).

        The transport takes the frame whole or not at all; a tail it could not write yet
        stays in flight for the writer. False: queue the frame.
        """
        fast = self._fast
        if (
            fast is None
            or self._in_flight is not None
            or self._closing
            or self._urgent
            or self._control
            or self._audio
            or not fast.try_send_text(frame.text)
        ):
            return False
        if fast.send_pending:
            self._in_flight = frame
            self._wake_writer()
        else:
            self._count(frame, frame.text)
        return True

    def _count(self, frame: Frame, text: str) -> None:
        if frame.is_barrier:
            self._barriers_sent += 1
        self.frames_sent += 1
        self.bytes_sent += wire_size(text)
        self.audio_sent_ms += frame.audio_ms

    def _wake_writer(self) -> None:
        work = self._work
        if work is not None:
            self._work = None
            work.set()

    def _next_frame(self) -> Frame | None:
        """Take the frame to write next (invariants 2 and 3), freeing its room."""
        if self._urgent:
            self.urgent_room.give_back(1)
            return self._urgent.popleft()
        control = self._control
        if control and control[0].barrier <= self._barriers_sent:
            self.control_room.give_back(1)
            return control.popleft()
        if self._audio:
            frame = self._audio.popleft()
            if frame.is_barrier:
                self.control_room.give_back(1)
            else:
                self.audio_queued_ms -= frame.audio_ms
                self.audio_room.give_back(frame.audio_ms)
            return frame
        if control:
            self.control_room.give_back(1)
            return control.popleft()
        return None

    async def run_writer(self) -> None:
        """The writer task: write queued frames until closed (after flushing them when
        :meth:`close` asked) or until the connection closes under it.

        Shielded as a whole, so a frame is never cut in half; it leaves when
        :meth:`close` wakes it.
        """
        with anyio.CancelScope(shield=True):
            try:
                await self._write_frames()
            except TransportClosed:
                pass  # the reader reports why the connection ended
            finally:
                self._writer_done.set()

    async def _write_frames(self) -> None:
        transport = self._transport
        assert transport is not None, "attach() a transport first"
        hook = self._send_hook
        while not (self._closing and not self._flush):
            if self._in_flight is not None:  # written by a caller, its tail still pending
                assert self._fast is not None
                await self._fast.flush()
                self._count(self._in_flight, self._in_flight.text)
                self._in_flight = None
                continue
            frame = self._next_frame()
            if frame is None:
                if self._closing:
                    break
                self._work = work = self._new_event()
                await work.wait()
                continue
            self._in_flight = frame
            text = frame.text
            if hook is not None:
                rewritten = await hook(text)
                if rewritten is None:
                    self._in_flight = None
                    continue
                text = rewritten
            await transport.send_text(text)
            self._in_flight = None
            self._count(frame, text)

    async def wait_writer_done(self) -> None:
        """Wait until the writer task has ended."""
        await self._writer_done.wait()

    # -- the end ---------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """:meth:`close` was called: nothing more is queued."""
        return self._closing

    def close(self, *, flush: bool, failure: BaseException | None = None) -> None:
        """Stop taking frames; the writer writes what is queued first if ``flush``.

        Callers waiting for room get ``failure`` (or ``anyio.ClosedResourceError``).
        """
        if not self._closing:
            self._closing = True
            self._flush = flush
        elif not flush:
            self._flush = False
        ended = (
            failure if failure is not None else anyio.ClosedResourceError("the session is closed")
        )
        for room in (self.urgent_room, self.control_room, self.audio_room):
            room.fail(ended)
        self._wake_writer()

    def unsent(self) -> list[Frame]:
        """Take what was not written, in the order it would have been (invariant 6)."""
        frames = [self._in_flight] if self._in_flight is not None else []
        self._in_flight = None
        while (frame := self._next_frame()) is not None:
            if frame.is_barrier:
                self._barriers_sent += 1
            frames.append(frame)
        return frames

    @property
    def control_queued(self) -> int:
        """Control frames (urgent ones included) waiting for the writer."""
        return len(self._urgent) + len(self._control)

    @property
    def audio_queued_frames(self) -> int:
        """Audio frames and barriers waiting for the writer."""
        return len(self._audio)
