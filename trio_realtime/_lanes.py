"""The engine's outgoing lanes: bounded FIFOs of serialised frames.

Control frames wait in a lane bounded by count; audio in a lane bounded by duration.
Waiting for room is a checkpoint and atomic under cancellation: a cancelled caller
queues nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

__all__ = ["YIELD_EVERY", "AudioLane", "Frame", "Lane", "backend_cancel_point"]

YIELD_EVERY = 32
"""Hot paths that need not wait give other tasks a turn at least this often."""


def backend_cancel_point() -> Callable[[], Awaitable[None]]:
    """The running backend's own ``checkpoint_if_cancelled`` (saves a lookup per call)."""
    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.checkpoint_if_cancelled
    try:
        from anyio._core._eventloop import get_async_backend

        cancel_point: Callable[[], Awaitable[None]] = get_async_backend().checkpoint_if_cancelled
    except Exception:  # a private API of AnyIO's: fall back to the public one
        return anyio.lowlevel.checkpoint_if_cancelled
    return cancel_point


@dataclass(frozen=True)
class Frame:
    """One serialised client event waiting in a lane."""

    text: str
    barrier: int = 0
    """Control frames: how many audio-lane barriers (commit/clear) must be written first.

    Urgent frames (``response.cancel``, truncation) ignore it and go first of all.
    """
    audio_bytes: int = 0
    audio_ms: float = 0.0
    is_barrier: bool = False


class Lane:
    """A bounded FIFO of frames; waiting for room is a checkpoint and atomic under cancellation."""

    def __init__(self, capacity: int) -> None:
        self.frames: deque[Frame] = deque()
        self.capacity = capacity
        self._room = anyio.Semaphore(capacity, max_value=capacity)

    async def reserve(self) -> None:
        await self._room.acquire()

    def reserve_nowait(self) -> None:
        """Raises anyio.WouldBlock when the lane is full."""
        self._room.acquire_nowait()

    def popleft(self) -> Frame:
        frame = self.frames.popleft()
        self._room.release()
        return frame

    def drain(self) -> list[Frame]:
        frames = list(self.frames)
        while self.frames:
            self.popleft()
        return frames


class AudioLane:
    """A FIFO of audio frames bounded by duration, plus the commit/clear barriers among them.

    Room is measured in milliseconds: a caller waits until the queued audio plus its
    own fits in ``capacity_ms``. Barriers take room in the control lane instead.
    """

    def __init__(self, capacity_ms: float, control: Lane) -> None:
        self.frames: deque[Frame] = deque()
        self.capacity_ms = capacity_ms
        self.queued_ms = 0.0
        self.queued_bytes = 0
        self._control = control
        self._room = anyio.Event()
        self._cancel_point = backend_cancel_point()
        self._calls = 0

    def has_room(self, ms: float) -> bool:
        return self.queued_ms + ms <= self.capacity_ms

    async def wait_room(self, ms: float) -> None:
        """Wait until ``ms`` more fit. A cancel point; a schedule point when it waits (and
        every ``YIELD_EVERY`` calls, so a producer that never waits still lets others run)."""
        if self.has_room(ms):
            self._calls += 1
            if self._calls % YIELD_EVERY:
                await self._cancel_point()
            else:
                await anyio.lowlevel.checkpoint()
            return
        while not self.has_room(ms):
            self._room = anyio.Event()
            await self._room.wait()

    def push(self, frame: Frame) -> None:
        self.frames.append(frame)
        self.queued_ms += frame.audio_ms
        self.queued_bytes += frame.audio_bytes

    def _taken(self, frame: Frame) -> Frame:
        if frame.is_barrier:
            self._control._room.release()
        else:
            self.queued_ms -= frame.audio_ms
            self.queued_bytes -= frame.audio_bytes
            self._room.set()
        return frame

    def popleft(self) -> Frame:
        return self._taken(self.frames.popleft())

    def drop_unbarriered_tail(self) -> float:
        """Drop the audio queued after the last barrier; returns the milliseconds dropped."""
        dropped = 0.0
        while self.frames and not self.frames[-1].is_barrier:
            dropped += self._taken(self.frames.pop()).audio_ms
        return dropped

    def drain(self) -> list[Frame]:
        frames = list(self.frames)
        while self.frames:
            self.popleft()
        return frames
