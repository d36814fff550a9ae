"""The session engine: one task group with reader, writer and heartbeat tasks.

Shared by every kind of session (conversation, transcription, translation). The
engine knows frames, lanes and lifecycles; the session classes built on it know the
protocol's helpers.

Rules (ARCHITECTURE.md, "The engine"): user calls put whole, serialised frames into
bounded lanes (atomic under cancellation) that the writer drains; control frames go
ahead of queued audio. When the writer is idle and nothing is queued, the caller writes
its frame itself, synchronously (``_write_direct``: the same order and whole frames,
without a task switch per frame). Inbound events flow through one bounded inbox, and
when the user does not consume, the reader stops reading so TCP pushes back; background
tasks never raise for expected failures, they record the first one and cancel the group.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskGroup

from ._endpoint import AzureEndpoint, TokenProvider, build_connect_request
from ._errors import (
    AuthenticationError,
    ConnectTimeout,
    HeartbeatTimeout,
    InterceptorError,
    ProtocolError,
    RealtimeError,
    SessionClosed,
    Unsent,
)
from ._inbox import Inbox
from ._interceptors import InterceptorChain
from ._lanes import YIELD_EVERY, AudioLane, Frame, Lane, backend_cancel_point
from ._transport import (
    ConnectRequest,
    FastTransport,
    Transport,
    TransportClosed,
    TransportFactory,
    select_transport,
)
from .events import ErrorEvent, RealtimeEvent, UnknownRealtimeEvent, parse_client_event

__all__ = [
    "CLOSE_TIMEOUT",
    "CONNECT_TIMEOUT",
    "EVENT_BUFFER",
    "MAX_MESSAGE_SIZE",
    "Heartbeat",
    "SessionStatistics",
]

logger = logging.getLogger("trio_realtime.session")

CONNECT_TIMEOUT = 30.0
"""Seconds to open the connection and receive ``session.created``."""
CLOSE_TIMEOUT = 5.0
"""Seconds a close may take before the socket is closed hard (the service may not answer)."""
EVENT_BUFFER = 256
"""Received events buffered for a consumer before the reader stops reading."""
CONTROL_BUFFER = 64
"""Control frames queued before ``send`` waits."""
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
"""Largest message accepted from the server (the service's events are at most 15 MiB)."""

_NORMAL_CLOSE = 1000
_PEAK_SAMPLE_EVERY = 16
_E = TypeVar("_E", bound=RealtimeEvent)


@dataclass(frozen=True)
class Heartbeat:
    """Ping the server every ``interval`` seconds; a pong later than ``timeout`` is a dead peer.

    A consumer that does not read events never trips the heartbeat: while the reader
    waits for room in the events stream, pings are not counted against the peer.
    """

    interval: float = 20.0
    timeout: float = 20.0

    def __post_init__(self) -> None:
        if not (self.interval > 0 and self.timeout > 0):
            raise ValueError("heartbeat interval and timeout must be positive seconds")


@dataclass(frozen=True)
class SessionStatistics:
    """A snapshot of a session's counters and queue depths (from ``statistics()``)."""

    events_received: int
    """Events delivered to the events stream (unknown events included)."""
    events_sent: int
    """Client frames written to the socket."""
    bytes_received: int
    """Bytes of the messages received (after WebSocket framing)."""
    bytes_sent: int
    """Bytes of the messages written."""
    frames_skipped: int
    """Frames dropped because they were not JSON objects, or were binary."""
    unknown_events: int
    """Events delivered as ``UnknownRealtimeEvent``."""
    events_buffered: int
    """Events received but not yet consumed."""
    event_buffer_size: int
    """The bound of the events stream (``event_buffer``)."""
    peak_events_buffered: int
    """The most events seen waiting for the consumer at once (sampled; exact when full)."""
    control_queued: int
    """Control frames waiting for the writer."""
    audio_queued_frames: int
    """Audio frames (and commits/clears) waiting for the writer."""
    audio_queued_ms: float
    """Milliseconds of audio waiting for the writer."""
    audio_sent_ms: float
    """Milliseconds of audio written to the socket."""
    audio_dropped_ms: float
    """Audio the thread-safe feed dropped because the audio lane stayed full."""
    pings_sent: int
    """Heartbeat pings sent (skipped while the consumer is slow)."""
    last_ping_rtt: float | None
    """Round trip of the last answered ping, in seconds."""


class _Reply(Generic[_E]):
    """A reply a helper waits for: an event, or a ``ServerError`` for its request."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.event: _E | None = None
        self.error: RealtimeError | None = None

    def resolve(self, event: _E | None = None, error: RealtimeError | None = None) -> None:
        if not self.done.is_set():
            self.event, self.error = event, error
            self.done.set()

    async def wait(self) -> _E:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.event is not None
        return self.event


class Engine:
    """The machinery under every session: lanes, tasks, failure and close.

    Subclasses implement :meth:`_observe` (track state from each event before it is
    delivered) and pass their protocol's parser.
    """

    def __init__(
        self,
        *,
        parse: Callable[[str | bytes], RealtimeEvent],
        heartbeat: Heartbeat | None,
        close_timeout: float,
        event_buffer: int,
        audio_buffer_ms: float,
        interceptors: InterceptorChain | None = None,
    ) -> None:
        if event_buffer < 1:
            raise ValueError("event_buffer must be at least 1")
        self._parse = parse
        self._chain = (
            interceptors if interceptors is not None and interceptors.interceptors else None
        )
        self._direct = self._chain is None or not self._chain.send_hooks
        """Frames may be written by the caller when the writer is idle (no send hooks)."""
        self._close_reported = False
        self._heartbeat_config = heartbeat
        self._close_timeout = close_timeout
        self.events: Inbox = Inbox(event_buffer)
        """The received events, in order (a bounded AnyIO receive stream).

        Prefer ``async for event in session``: iterating ``events`` itself ends quietly
        when the session fails, where the session raises the failure."""
        self._control = Lane(CONTROL_BUFFER)
        self._urgent = Lane(CONTROL_BUFFER)
        self._audio = AudioLane(audio_buffer_ms, self._control)
        self._barriers_queued = 0
        self._barriers_sent = 0
        self._work = anyio.Event()
        self._in_flight: Frame | None = None
        self._transport: Transport | None = None
        self._fast: FastTransport | None = None
        """The transport, when it can write and deliver without a task switch."""
        self._task_group: TaskGroup | None = None
        self._background = anyio.CancelScope()
        self._writer_done = anyio.Event()
        self._closing = False
        self._server_close: tuple[int, str] | None = None
        self._flush = False
        self._closed = False
        self._close_code = _NORMAL_CLOSE
        self._close_reason = ""
        self._failure: RealtimeError | None = None
        self._unsent = Unsent()
        self._receives = 0
        self._cancel_point = backend_cancel_point()
        self._opened = anyio.Event()
        self._last_error: ErrorEvent | None = None
        self._error_waiters: dict[str, _Reply[Any]] = {}
        self._updates: deque[_Reply[Any]] = deque()
        self.session_id: str | None = None
        """The id of the session (``sess_...``), from ``session.created``."""
        self._id_prefix = "trio_" + secrets.token_hex(4) + "_"
        self._next_id = 0
        # counters
        self._events_received = 0
        self._events_sent = 0
        self._bytes_received = 0
        self._bytes_sent = 0
        self._frames_skipped = 0
        self._unknown_events = 0
        self._audio_sent_ms = 0.0
        self._pings_sent = 0
        self._last_rtt: float | None = None

    # -- receiving ------------------------------------------------------------------

    async def receive(self) -> RealtimeEvent:
        """Wait for the next event.

        Raises:
            anyio.EndOfStream: the server closed the session normally (code 1000).
            RealtimeError: the session failed (the same exception the ``async with``
                raises).
        """
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise anyio.EndOfStream from None

    def __aiter__(self) -> Engine:
        return self

    async def __anext__(self) -> RealtimeEvent:
        # The hot path (``async for event in session``): a cancel point on every call, a
        # full schedule point every YIELD_EVERY calls, and no suspension while events
        # are waiting. The checkpoint comes first, so a cancellation never loses an event.
        self._receives += 1
        if self._receives % YIELD_EVERY:
            await self._cancel_point()
        else:
            await anyio.lowlevel.checkpoint()
        try:
            return await self.events.get()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self._failure is not None:
                raise self._failure from self._failure.__cause__
            raise StopAsyncIteration from None

    # -- sending --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closing:
            raise anyio.ClosedResourceError("the session is closed")

    def _control_lane(self, urgent: bool) -> Lane:
        return self._urgent if urgent else self._control

    def _write_direct(self, frame: Frame) -> bool:
        """Write ``frame`` from the caller, when nothing is queued or in flight before it.

        What the writer would do, without waking it: the transport writes synchronously
        (a whole frame or none, so cancellation cannot cut one) and order is kept, as
        nothing waits ahead. A frame whose tail the socket did not take stays in flight
        and the writer finishes it. False: queue the frame for the writer.
        """
        transport = self._fast
        if (
            not self._direct
            or transport is None
            or self._in_flight is not None
            or self._closing
            or self._urgent.frames
            or self._control.frames
            or self._audio.frames
            or not transport.try_send_text(frame.text)
        ):
            return False
        if transport.send_pending:
            self._in_flight = frame
            self._work.set()
        else:
            self._written(frame)
        return True

    def _written(self, frame: Frame, text: str | None = None) -> None:
        """Count ``frame`` as written (``text``: what a send hook made of it, if one did)."""
        if frame.is_barrier:
            self._barriers_sent += 1
        self._events_sent += 1
        self._bytes_sent += _wire_size(frame.text if text is None else text)
        self._audio_sent_ms += frame.audio_ms

    def _queue(self, lane: Lane, frame: Frame) -> None:
        """Write ``frame`` now if the writer is idle, else queue it (room reserved)."""
        if self._write_direct(frame):
            lane._room.release()
            return
        lane.frames.append(frame)
        self._work.set()

    def _queue_audio(self, frames: list[Frame]) -> None:
        """Write or queue audio frames and barriers, in order (room already checked)."""
        queued = False
        for frame in frames:
            if frame.is_barrier:
                self._barriers_queued += 1
            if not queued and self._write_direct(frame):
                if frame.is_barrier:
                    self._control._room.release()  # a barrier holds control room until sent
                continue
            queued = True
            self._audio.push(frame)
        if queued:
            self._work.set()

    async def _send_frame(self, text: str, *, urgent: bool = False) -> None:
        self._check_open()
        lane = self._control_lane(urgent)
        await lane.reserve()
        try:
            self._check_open()
        except BaseException:
            lane._room.release()
            raise
        self._queue(lane, Frame(text, barrier=self._barriers_queued))

    def _send_frame_nowait(self, text: str, *, urgent: bool = False) -> None:
        self._check_open()
        lane = self._control_lane(urgent)
        lane.reserve_nowait()
        self._queue(lane, Frame(text, barrier=self._barriers_queued))

    async def _send_barrier(self, text: str) -> None:
        """Queue a commit/clear in the audio lane, in order with the audio before it."""
        self._check_open()
        await self._control.reserve()
        try:
            self._check_open()
        except BaseException:
            self._control._room.release()
            raise
        self._queue_audio([*self._audio_before_barrier(), Frame(text, is_barrier=True)])

    def _send_barrier_nowait(self, text: str) -> None:
        self._check_open()
        self._control.reserve_nowait()
        self._queue_audio([*self._audio_before_barrier(), Frame(text, is_barrier=True)])

    def _audio_before_barrier(self) -> list[Frame]:
        """Audio held back by the session that a barrier must not overtake (subclasses)."""
        return []

    def _next_frame(self) -> Frame | None:
        if self._urgent.frames:
            return self._urgent.popleft()
        control = self._control.frames
        if control and control[0].barrier <= self._barriers_sent:
            return self._control.popleft()
        if self._audio.frames:
            return self._audio.popleft()
        if control:
            return self._control.popleft()
        return None

    # -- the tasks ------------------------------------------------------------------

    async def _writer(self) -> None:
        # Shielded as a whole, so a frame is never cut in half: the writer leaves when
        # _shutdown sets _closing and wakes it, or when the transport fails under it.
        transport = self._transport
        assert transport is not None
        with anyio.CancelScope(shield=True):
            try:
                await self._write_frames(transport)
            except TransportClosed:
                pass  # the reader reports why the connection ended
            finally:
                self._writer_done.set()

    async def _write_frames(self, transport: Transport) -> None:
        while not (self._closing and not self._flush):
            if self._in_flight is not None:  # written by a caller, its tail still pending
                assert self._fast is not None
                await self._fast.flush()
                self._written(self._in_flight)
                self._in_flight = None
                continue
            frame = self._next_frame()
            if frame is None:
                if self._closing:
                    break
                self._work = anyio.Event()
                await self._work.wait()
                continue
            self._in_flight = frame
            text = frame.text
            if self._chain is not None and self._chain.send_hooks:
                intercepted = await self._intercept(self._chain.send, parse_client_event(text))
                if intercepted is None:
                    self._in_flight = None
                    continue
                text = intercepted.to_json()
            await transport.send_text(text)
            self._in_flight = None
            self._written(frame, text)

    async def _reader(self) -> None:
        transport = self._transport
        assert transport is not None
        inbox = self.events
        put_nowait = inbox.put_nowait
        intercepting = self._chain is not None and bool(self._chain.receive_hooks)
        fast = self._fast
        if fast is not None and not intercepting:
            fast.set_receiver(self._take_pushed)
        try:
            while True:
                event = self._parse_frame(await transport.receive())
                if event is None:
                    continue
                if intercepting:
                    assert self._chain is not None
                    intercepted = await self._intercept(self._chain.receive, event)
                    if intercepted is None:
                        continue
                    event = intercepted
                self._accept(event)
                # A closed inbox (nobody listens any more) drops the event: keep reading
                # so pings and closes flow. A full one parks the reader: TCP pushes back.
                if not put_nowait(event):
                    await inbox.put(event)
        except TransportClosed as exc:
            if not self._closing:
                self._on_server_close(exc)
        finally:
            if fast is not None:
                fast.set_receiver(None)
            inbox.end()

    def _take_pushed(self, frame: str | bytes) -> bool:
        """The reader's work on a message the transport hands over as it arrives (asyncio).

        False, before touching it, when the inbox is full or the reader task holds an
        event waiting for room: the message then waits for the reader task, in order.
        """
        inbox = self.events
        if inbox.reader_waiting or inbox.full:
            return False  # the reader holds an earlier event, or no room: it goes first
        event = self._parse_frame(frame)
        if event is not None:
            self._accept(event)
            inbox.put_nowait(event)
        return True

    def _parse_frame(self, frame: str | bytes) -> RealtimeEvent | None:
        """Count a received message and parse it; None: skipped (binary, not an event)."""
        self._bytes_received += _wire_size(frame)
        if type(frame) is not str:
            self._frames_skipped += 1
            logger.warning("skipped a binary frame of %d bytes", len(frame))
            return None
        try:
            return self._parse(frame)
        except ProtocolError as exc:
            self._frames_skipped += 1
            logger.warning("skipped a frame that is not an event: %s", exc)
            return None

    def _accept(self, event: RealtimeEvent) -> None:
        """Track state from an event about to be delivered, and count it."""
        kind = type(event)
        if kind is UnknownRealtimeEvent:
            self._unknown_events += 1
        elif kind is ErrorEvent:
            self._on_error(event)  # type: ignore[arg-type]
        if kind in self._observed:
            self._observe(event)
        self._events_received += 1
        if not self._events_received % _PEAK_SAMPLE_EVERY:
            inbox = self.events
            inbox.peak = max(inbox.peak, len(inbox.buffer) + 1)

    async def _heartbeat(self, config: Heartbeat) -> None:
        transport = self._transport
        assert transport is not None
        while True:
            await anyio.sleep(config.interval)
            if self.events.reader_waiting:
                continue
            start = anyio.current_time()
            self._pings_sent += 1
            with anyio.move_on_after(config.timeout) as scope:
                try:
                    await transport.ping()
                except TransportClosed:
                    return
            if scope.cancelled_caught:
                if self.events.reader_waiting:
                    continue
                self._fail(
                    HeartbeatTimeout(f"no pong within {config.timeout:g} s: the peer is gone"),
                    code=1011,
                    reason="heartbeat timeout",
                )
                return
            self._last_rtt = anyio.current_time() - start

    async def _intercept(
        self, hook: Callable[[RealtimeEvent], Awaitable[RealtimeEvent | None]], event: RealtimeEvent
    ) -> RealtimeEvent | None:
        try:
            return await hook(event)
        except Exception as exc:
            failure = InterceptorError(f"an interceptor raised {type(exc).__name__}: {exc}")
            failure.__cause__ = exc
            self._fail(failure, code=1011, reason="interceptor error")
            raise TransportClosed(1011, "interceptor error") from exc

    async def _report_close(self, code: int, reason: str) -> None:
        if self._chain is None or self._close_reported:
            return
        self._close_reported = True
        try:
            await self._chain.close(code, reason)
        except Exception as exc:
            if self._failure is None:
                failure = InterceptorError(f"an interceptor raised {type(exc).__name__}: {exc}")
                failure.__cause__ = exc
                self._failure = failure

    # -- state, failure, close ------------------------------------------------------

    _observed: frozenset[type[RealtimeEvent]] = frozenset()
    """The event classes :meth:`_observe` wants to see (the others skip it)."""

    def _observe(self, event: RealtimeEvent) -> None:
        """Track session state from ``event`` before it is delivered (subclasses)."""

    def _session_reported(
        self, session_id: str | None, *, created: bool, event: RealtimeEvent
    ) -> None:
        """``session.created`` opens the session; ``session.updated`` answers an update."""
        self.session_id = session_id or self.session_id
        if created:
            self._opened.set()
        else:
            self._update_arrived(event)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.session_id or 'connecting'}>"

    def _new_event_id(self) -> str:
        """A fresh ``event_id`` for a request whose error must be matched to it."""
        self._next_id += 1
        return f"{self._id_prefix}{self._next_id}"

    def _expect_error(self, event_id: str, reply: _Reply[Any]) -> None:
        self._error_waiters[event_id] = reply

    async def _request_update(self, event: RealtimeEvent, event_id: str) -> Any:
        """Send a ``session.update`` and wait for its ``session.updated`` (or its error).

        The server answers updates in order and echoes no id in ``session.updated``, so
        replies are matched first in, first out; an update's error removes it.
        """
        reply: _Reply[Any] = _Reply()
        self._expect_error(event_id, reply)
        self._updates.append(reply)
        try:
            await self._send_frame(event.to_json())
            return await reply.wait()
        finally:
            self._error_waiters.pop(event_id, None)
            if reply in self._updates:
                self._updates.remove(reply)

    def _update_arrived(self, event: RealtimeEvent) -> None:
        """A ``session.updated`` arrived: it answers the oldest update still waiting."""
        if self._updates:
            self._updates.popleft().resolve(event)

    def _on_error(self, event: ErrorEvent) -> None:
        self._last_error = event
        request_id = event.error.event_id
        waiter = self._error_waiters.pop(request_id, None) if request_id else None
        if waiter is not None:
            from ._errors import ServerError

            details = event.error
            waiter.resolve(
                error=ServerError(
                    details.message,
                    type=details.type,
                    code=details.code,
                    param=details.param,
                    event_id=request_id,
                )
            )

    def _on_server_close(self, exc: TransportClosed) -> None:
        self._server_close = (exc.code, exc.reason)
        if exc.code == _NORMAL_CLOSE and self._opened.is_set():
            return  # the events stream ends; iteration stops
        error = self._last_error.error if self._last_error is not None else None
        reason = exc.reason or (f"{error.type}.{error.code}" if error is not None else "")
        failure: RealtimeError
        if (error is not None and error.code == "invalid_api_key") or exc.code == 3000:
            message = error.message if error is not None else reason
            failure = AuthenticationError(f"the service refused the credentials: {message}")
        else:
            failure = SessionClosed(exc.code, reason)
            if error is not None and not self._opened.is_set():
                failure.add_note(f"last error from the server: {error.message}")
        failure.__cause__ = exc
        self._fail(failure, code=_NORMAL_CLOSE)

    def _fail(self, failure: RealtimeError, *, code: int = 1011, reason: str = "") -> None:
        """Record the first failure, end the events stream and cancel the session."""
        if self._failure is None and not self._closed:
            self._failure = failure
            self._close_code, self._close_reason = code, reason
        self.events.end()
        for waiter in self._error_waiters.values():
            waiter.resolve(error=failure)
        self._error_waiters.clear()
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()

    def unsent(self) -> Unsent:
        """What was queued but never written, once the session has closed (else empty)."""
        return self._unsent

    def _collect_unsent(self) -> Unsent:
        frames = [self._in_flight] if self._in_flight is not None else []
        frames += self._urgent.drain() + self._control.drain() + self._audio.drain()
        events = tuple(parse_client_event(frame.text) for frame in frames)
        return Unsent(
            events=events,
            audio_bytes=sum(frame.audio_bytes for frame in frames),
            audio_ms=sum(frame.audio_ms for frame in frames),
        )

    async def aclose(self) -> None:
        """Close the session: write what is queued, then a close frame with 1000.

        Bounded by ``close_timeout``: what could not be written by then is dropped and
        kept in ``unsent()``. Idempotent. The events already received stay readable.
        Leaving the ``async with`` normally does the same; leaving it by an exception or
        a cancellation skips the queued frames (they are in ``unsent()``).
        """
        await self._shutdown(flush=True)

    async def _shutdown(self, *, flush: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing = True
        self._flush = flush and self._failure is None
        self._work.set()
        transport = self._transport
        with anyio.CancelScope(shield=True):
            if transport is not None:
                with anyio.move_on_after(self._close_timeout):
                    await self._writer_done.wait()
                    try:
                        await transport.aclose(self._close_code, self._close_reason)
                    except Exception:  # the connection may already be gone
                        logger.debug("close handshake failed", exc_info=True)
                await transport.abort()
            self._unsent = self._collect_unsent()
            code, reason = self._server_close or (self._close_code, self._close_reason)
            await self._report_close(code, reason)
        if self._failure is not None:
            self._failure.unsent = self._unsent
        self._background.cancel()

    def _statistics(self) -> SessionStatistics:
        return SessionStatistics(
            events_received=self._events_received,
            events_sent=self._events_sent,
            bytes_received=self._bytes_received,
            bytes_sent=self._bytes_sent,
            frames_skipped=self._frames_skipped,
            unknown_events=self._unknown_events,
            events_buffered=len(self.events.buffer),
            event_buffer_size=self.events.size,
            peak_events_buffered=self.events.peak,
            control_queued=len(self._control.frames) + len(self._urgent.frames),
            audio_queued_frames=len(self._audio.frames),
            audio_queued_ms=self._audio.queued_ms,
            audio_sent_ms=self._audio_sent_ms,
            audio_dropped_ms=self._audio_dropped_ms(),
            pings_sent=self._pings_sent,
            last_ping_rtt=self._last_rtt,
        )

    def _audio_dropped_ms(self) -> float:
        return 0.0

    def statistics(self) -> SessionStatistics:
        """A frozen snapshot of counters and queue depths."""
        return self._statistics()

    def _background_tasks(self) -> list[Callable[[], Any]]:
        """The session's tasks: reader, writer, heartbeat (subclasses add theirs)."""
        tasks: list[Callable[[], Any]] = [self._reader, self._writer]
        config = self._heartbeat_config
        if config is not None:
            tasks.append(lambda: self._heartbeat(config))
        return tasks

    async def _run_background(self) -> None:
        with self._background:
            async with anyio.create_task_group() as tasks:
                for task in self._background_tasks():
                    tasks.start_soon(task)

    async def _wait_opened(self) -> None:
        await self._opened.wait()


_S = TypeVar("_S", bound=Engine)


def _wire_size(message: str | bytes) -> int:
    """The bytes of a message on the wire (text counts as its UTF-8 encoding)."""
    if type(message) is str and not message.isascii():
        return len(message.encode())
    return len(message)


def _is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, anyio.get_cancelled_exc_class())


def _first_leaf(exc: BaseException) -> BaseException:
    """One exception out of a group: the first that is not a cancellation, if any."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [_first_leaf(inner) for inner in exc.exceptions]
        for leaf in leaves:
            if not _is_cancellation(leaf):
                return leaf
        return leaves[0] if leaves else exc
    return exc


@asynccontextmanager
async def run_engine(
    engine: _S,
    factory: TransportFactory,
    request: ConnectRequest,
    *,
    connect_timeout: float,
    opening: Callable[[_S], Any] | None = None,
) -> AsyncIterator[_S]:
    """Connect ``engine``, run its tasks around the caller's block, and close it.

    The block starts once the server's first event arrived (and ``opening``, an async
    callable run with the engine, returned). Raises exactly one exception: the caller's
    own unchanged, a cancellation from outside unchanged, or one ``RealtimeError``.
    """
    user_exc: BaseException | None = None
    raised: BaseException | None = None
    opened = False
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + connect_timeout) as connect_scope:
            if engine._chain is not None:
                request = await engine._chain.connect(request)
            async with factory(request) as transport:
                engine._transport = transport
                engine._fast = transport if isinstance(transport, FastTransport) else None
                async with anyio.create_task_group() as task_group:
                    engine._task_group = task_group
                    task_group.start_soon(engine._run_background)
                    try:
                        await engine._wait_opened()
                        if opening is not None:
                            await opening(engine)
                        connect_scope.deadline = math.inf
                        opened = True
                        try:
                            yield engine
                        except BaseException as exc:
                            user_exc = exc
                    finally:
                        await engine._shutdown(flush=opened and user_exc is None)
    except BaseException as exc:
        raised = exc
    finally:
        engine.events.end()
        engine.events.close()
    if user_exc is not None and not _is_cancellation(user_exc):
        raise user_exc
    if engine._failure is not None:
        raise engine._failure
    if raised is not None:
        leaf = _first_leaf(raised)
        if _is_cancellation(leaf) and user_exc is not None:
            raise user_exc
        raise leaf
    if connect_scope.cancelled_caught and not opened:
        raise ConnectTimeout(f"no session within the connect timeout ({connect_timeout:g} s)")
    if user_exc is not None:
        raise user_exc


@asynccontextmanager
async def open_engine(
    make_engine: Callable[[], _S],
    *,
    path: str,
    query: Mapping[str, str | None],
    session: Any,
    api_key: str | TokenProvider | None,
    url: str | None,
    azure: AzureEndpoint | None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
    max_message_size: int,
    connect_timeout: float,
    transport: str | TransportFactory | None,
) -> AsyncIterator[_S]:
    """What every ``open_*_session`` does: resolve the endpoint, make the engine, run it.

    ``session``, when not None, is sent with the engine's ``update_session`` before the
    caller's block starts.
    """
    factory = select_transport(transport)
    request = await build_connect_request(
        path=path,
        query=query,
        api_key=api_key,
        url=url,
        azure=azure,
        headers=headers,
        max_message_size=max_message_size,
    )
    engine = make_engine()

    async def configure(opened: _S) -> None:
        if session is not None:
            await opened.update_session(session)  # type: ignore[attr-defined]

    async with run_engine(
        engine, factory, request, connect_timeout=connect_timeout, opening=configure
    ) as opened:
        yield opened
