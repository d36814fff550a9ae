"""The audio side of a session: a backpressured ingestion lane and a thread-safe feed.

Shared by conversation and translation sessions: what differs is the append event's
``type`` and the frame duration.
"""

from __future__ import annotations

import base64
import contextlib
import math
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import anyio

from . import audio
from ._audio_input import AudioEncoder, EncodedFrame
from ._engine import AUDIO_BUFFER_MS, AUDIO_CHUNK_MS, Engine, Frame, SessionOptions
from ._errors import RealtimeError
from .events import RealtimeEvent

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["AUDIO_BUFFER_MS", "AUDIO_CHUNK_MS", "AudioSession"]

THREAD_FEED_MS = 2000
"""Milliseconds of audio the thread-safe feed holds before it drops the oldest."""


class _ThreadFeed:
    """Audio handed over by a foreign thread: bounded, never blocks, drops the oldest."""

    def __init__(self, capacity_ms: float) -> None:
        self.capacity_ms = capacity_ms
        self.chunks: deque[tuple[npt.NDArray[np.int16], float, float]] = deque()
        self.queued_ms = 0.0
        self.dropped_ms = 0.0
        self.lock = threading.Lock()

    def put(self, pcm: npt.NDArray[np.int16], rate: float) -> None:
        ms = len(pcm) * 1000 / rate
        with self.lock:
            self.chunks.append((pcm, rate, ms))
            self.queued_ms += ms
            while self.queued_ms > self.capacity_ms and len(self.chunks) > 1:
                _, _, old_ms = self.chunks.popleft()
                self.queued_ms -= old_ms
                self.dropped_ms += old_ms

    def next_ms(self) -> float | None:
        with self.lock:
            return self.chunks[0][2] if self.chunks else None

    def take_one(self) -> tuple[npt.NDArray[np.int16], float] | None:
        with self.lock:
            if not self.chunks:
                return None
            pcm, rate, ms = self.chunks.popleft()
            self.queued_ms -= ms
        return pcm, rate

    def take_all(self) -> list[tuple[npt.NDArray[np.int16], float, float]]:
        with self.lock:
            chunks = list(self.chunks)
            self.chunks.clear()
            self.queued_ms = 0.0
        return chunks


class AudioSession(Engine):
    """An engine with an audio lane: conversion, resampling, framing, backpressure."""

    _append_type = "input_audio_buffer.append"

    def __init__(
        self,
        *,
        parse: Callable[[str | bytes], Any],
        classes: tuple[type[RealtimeEvent], ...],
        options: SessionOptions,
        audio_chunk_ms: int,
    ) -> None:
        if options["audio_buffer_ms"] < audio_chunk_ms:
            raise ValueError("audio_buffer_ms must hold at least one audio_chunk_ms frame")
        super().__init__(parse=parse, classes=classes, options=options)
        self._audio_chunk_ms = audio_chunk_ms
        self._encoder = AudioEncoder(chunk_ms=audio_chunk_ms)
        self._feed = _ThreadFeed(THREAD_FEED_MS)
        self._feed_wake = anyio.Event()
        self._wake_from_thread: Callable[[], None] | None = None

    def _input_format(self) -> str:
        """The wire format audio is encoded to (subclasses read it from the session)."""
        return "audio/pcm"

    def _encoder_for_session(self) -> AudioEncoder:
        fmt = self._input_format()
        if fmt != self._encoder.format:
            self._encoder = AudioEncoder(format=fmt, chunk_ms=self._audio_chunk_ms)
        return self._encoder

    def _frame(self, encoded: EncodedFrame) -> Frame:
        payload = base64.b64encode(encoded.data).decode("ascii")
        return Frame(
            f'{{"type":"{self._append_type}","audio":"{payload}"}}',
            audio_bytes=len(encoded.data),
            audio_ms=encoded.ms,
        )

    def _audio_before_barrier(self) -> list[Frame]:
        """Everything appended so far, thread-fed audio included, ready to precede a commit."""
        encoder = self._encoder_for_session()
        encoded = []
        for pcm, rate, _ in self._feed.take_all():
            encoded += encoder.encode(pcm, rate)
        return [self._frame(frame) for frame in encoded + encoder.flush()]

    def _piece_samples(self, sample_rate: float) -> int:
        piece_ms = (self._outbox.audio_capacity_ms - self._audio_chunk_ms) / 2
        return max(1, int(piece_ms * sample_rate / 1000))

    async def append_audio(self, samples: audio.PCMInput, *, sample_rate: float = 24000) -> None:
        """Queue audio for the service: converted, resampled and encoded as the session needs.

        ``samples``: PCM16 little-endian bytes, or a numpy array of int16, float32 or
        float64 (floats in [-1, 1], clipped), mono ``(n,)`` or ``(n, channels)``
        (mixed down). Other rates are resampled (soxr, streaming: consecutive calls
        equal one call on the concatenation); sessions configured for ``audio/pcmu`` /
        ``audio/pcma`` get 8 kHz G.711. Waits while more than ``audio_buffer_ms`` is
        queued, in turn with other producers (every one is woken when its audio fits, in
        the order they came). A cancel point on every call; a schedule point when it
        waits and on every 32nd call. If cancelled while waiting, a prefix of the audio
        (whole pieces of half the buffer) may have been queued; ``statistics()`` shows it.

        Raises:
            TypeError: not bytes or a numpy array of int16/float32/float64.
            ValueError: an odd byte count, NaN/inf, a 3-D array, a sample rate <= 0.
        """
        await self._pace()
        encoder = self._encoder_for_session()
        pcm = encoder.convert(samples, sample_rate)
        step = self._piece_samples(sample_rate)
        outbox = self._outbox
        for start in range(0, len(pcm), step):
            piece = pcm[start : start + step]
            ms = len(piece) * 1000 / sample_rate + encoder.pending_ms
            await outbox.reserve_audio(ms)
            try:
                self._check_open()
                encoder = self._encoder_for_session()
                frames = [self._frame(f) for f in encoder.encode(piece, sample_rate)]
            except BaseException:
                outbox.release_audio(ms)
                raise
            outbox.queue_audio(frames, reserved_ms=ms)
        if encoder.pending_ms:
            self._feed_wake.set()  # the pump restarts its partial-frame timer

    def append_audio_nowait(self, samples: audio.PCMInput, *, sample_rate: float = 24000) -> None:
        """Like :meth:`append_audio`, without waiting: all of the audio, or none of it.

        Raises:
            anyio.WouldBlock: the audio lane has no room for it now.
            ValueError: more audio than the lane can ever hold at once; or as
                :meth:`append_audio`.
            TypeError: as :meth:`append_audio`.
        """
        encoder = self._encoder_for_session()
        pcm = encoder.convert(samples, sample_rate)
        self._check_open()
        ms = len(pcm) * 1000 / sample_rate
        capacity = self._outbox.audio_capacity_ms
        if ms + self._audio_chunk_ms > capacity:
            raise ValueError(
                f"{ms:.0f} ms of audio can never fit the {capacity:.0f} ms "
                "audio buffer at once: use append_audio(), which waits and splits it"
            )
        need = ms + encoder.pending_ms
        if not self._outbox.reserve_audio_nowait(need):
            raise anyio.WouldBlock
        frames = [self._frame(f) for f in encoder.encode(pcm, sample_rate)]
        self._outbox.queue_audio(frames, reserved_ms=need)
        if encoder.pending_ms:
            self._feed_wake.set()

    def append_audio_threadsafe(
        self, samples: audio.PCMInput, *, sample_rate: float = 24000
    ) -> None:
        """Hand over audio from another thread (a sounddevice/PortAudio callback).

        Never blocks the calling thread: the audio waits in a small buffer
        (``THREAD_FEED_MS``) that the session's audio pump moves into the audio lane;
        when the lane stays full, the oldest audio in that buffer is dropped and
        counted in ``statistics().audio_dropped_ms``. Call it only while the session is
        open. Raises TypeError/ValueError like :meth:`append_audio`.
        """
        pcm = self._encoder.convert(samples, sample_rate)
        self._feed.put(pcm.copy(), sample_rate)
        wake = self._wake_from_thread
        if wake is not None:
            wake()

    def _discard_local_audio(self) -> None:
        self._outbox.drop_unbarriered_audio()
        self._encoder.clear()
        self._feed.take_all()

    async def _audio_pump(self) -> None:
        """Move audio from the thread feed into the audio lane, with backpressure; send a
        partial frame once no audio came for ``audio_chunk_ms`` (so none is held back)."""
        self._wake_from_thread = self._backend.thread_waker(self._wake_feed)
        with contextlib.suppress(anyio.ClosedResourceError, RealtimeError):
            await self._pump_audio()

    async def _pump_audio(self) -> None:
        while True:
            idle_s = self._audio_chunk_ms / 1000 if self._encoder.pending_ms else math.inf
            with anyio.move_on_after(idle_s):
                await self._feed_wake.wait()
            if self._feed_wake.is_set():
                self._feed_wake = anyio.Event()
                # One chunk at a time, taken only once it fits: what waits stays in the
                # feed (which drops the oldest), and a commit can flush it in order.
                while (ms := self._feed.next_ms()) is not None:
                    need = ms + self._encoder.pending_ms
                    await self._outbox.reserve_audio(need)
                    chunk = self._feed.take_one()
                    encoder = self._encoder_for_session()
                    frames = [] if chunk is None else encoder.encode(*chunk)
                    self._outbox.queue_audio(map(self._frame, frames), reserved_ms=need)
            elif not self._outbox.closing:
                partial = self._encoder.take_partial()
                if partial is not None:
                    self._outbox.queue_audio([self._frame(partial)], reserved_ms=0.0)

    def _wake_feed(self) -> None:
        self._feed_wake.set()

    def _audio_dropped_ms(self) -> float:
        return self._feed.dropped_ms

    def _session_tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        return [*super()._session_tasks(), self._audio_pump]
