"""The engine under every session: the reader, and the parts it composes.

Shared by every kind of session (conversation, transcription, translation). The engine
knows frames and lifecycles; the session classes built on it know the protocol's helpers.
Each rule lives with its owner: outbound order in the outbox (``_outbox``), inbound order
and the end of input in the inbox (``_inbox``), failure and closing in ``_lifecycle``,
dead peers in ``_heartbeat``, replies in ``_replies``, figures in ``_stats``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

from .._errors import (
    AuthenticationError,
    HeartbeatTimeout,
    InterceptorError,
    ProtocolError,
    RealtimeError,
    SessionClosed,
    Unsent,
)
from .._interceptors import InterceptorChain
from .._transport import FastTransport, Transport, TransportClosed
from ..events import ErrorEvent, RealtimeEvent, UnknownRealtimeEvent, parse_client_event
from ._backend import Pace, current_backend
from ._deferral import Deferral
from ._heartbeat import run_heartbeat
from ._inbox import Inbox
from ._lifecycle import NORMAL_CLOSE, Drop, Lifecycle
from ._options import SessionOptions
from ._outbox import Frame, Outbox, wire_size
from ._replies import Replies
from ._resume import ResumePolicy, ResumeReason
from ._stats import PEAK_SAMPLE_EVERY, ReceiveCounters, SessionStatistics, snapshot

__all__ = ["Engine"]

logger = logging.getLogger("trio_realtime.session")


class Engine:
    """The machinery under every session: tasks, outbox, inbox, failure and close.

    Subclasses implement :meth:`_observe` (track state from each event before it is
    delivered) and pass their protocol's parser and the event classes it gives.

    The reader leaves some messages for the consumer to parse (``_deferral``).
    """

    def __init__(
        self,
        *,
        parse: Callable[[str | bytes], RealtimeEvent],
        classes: tuple[type[RealtimeEvent], ...],
        options: SessionOptions,
    ) -> None:
        event_buffer = options["event_buffer"]
        if event_buffer < 1:
            raise ValueError("event_buffer must be at least 1")
        backend = current_backend()
        self._backend = backend
        self._parse = parse
        chain = InterceptorChain(options["interceptors"])
        self._chain = chain if chain.interceptors else None
        self._heartbeat_config = options["heartbeat"]
        self._connect_timeout = options["connect_timeout"]
        self._resume: ResumePolicy | None = None
        """How this session survives drops and the time cap (None: it does not)."""
        self._life = Lifecycle(options["close_timeout"])
        self._deferral = Deferral(classes)
        self.events: Inbox = Inbox(event_buffer, backend.new_event, self._parse_taken)
        """The received events, in order (a bounded AnyIO receive stream).

        Prefer ``async for event in session``: iterating ``events`` itself ends quietly
        when the session fails, where the session raises the failure."""
        self._outbox = Outbox(
            audio_capacity_ms=options["audio_buffer_ms"],
            new_event=backend.new_event,
            check_open=self._life.check_open,
        )
        self._replies = Replies()
        self._counters = ReceiveCounters()
        self._pace = Pace(backend.cancel_point)
        self._transport: Transport | None = None
        self._last_error: ErrorEvent | None = None
        self.session_id: str | None = None
        """The id of the session (``sess_...``), from ``session.created``."""
        self._id_prefix = "trio_" + secrets.token_hex(4) + "_"
        self._next_id = 0
        self._set_observed(self._observed)

    # -- receiving ------------------------------------------------------------------------

    async def receive(self) -> RealtimeEvent:
        """Wait for the next event.

        Raises:
            anyio.EndOfStream: the server closed the session normally (code 1000).
            RealtimeError: the session failed (the same exception the ``async with``
                raises), once every event received before the failure was taken.
        """
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise anyio.EndOfStream from None

    def __aiter__(self) -> Engine:
        return self

    async def __anext__(self) -> RealtimeEvent:
        # Pace(), spelled out: a cancel point on every call, a schedule point when it
        # waits and every YIELD_EVERY-th call; the check comes first, so cancellation
        # loses nothing.
        pace = self._pace
        if pace.due():
            await anyio.lowlevel.checkpoint()
        elif pace.cancel_point is not None:
            await pace.cancel_point()
        try:
            return await self.events.get()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            failure = self._life.failure
            if failure is not None:
                raise failure from failure.__cause__
            raise StopAsyncIteration from None

    # -- sending --------------------------------------------------------------------------

    def _check_open(self) -> None:
        self._life.check_open()

    async def _send_frame(self, text: str, *, urgent: bool = False) -> None:
        await self._outbox.send(text, urgent=urgent)

    def _send_frame_nowait(self, text: str, *, urgent: bool = False) -> None:
        self._outbox.send_nowait(text, urgent=urgent)

    async def _send_barrier(self, text: str) -> None:
        """Queue a commit/clear in the audio lane, in order with the audio before it."""
        await self._outbox.send_barrier(text, self._audio_before_barrier)

    def _send_barrier_nowait(self, text: str) -> None:
        self._outbox.send_barrier_nowait(text, self._audio_before_barrier)

    def _audio_before_barrier(self) -> list[Frame]:
        """Audio held back by the session that a barrier must not overtake (subclasses)."""
        return []

    async def _send_hook(self, text: str) -> str | None:
        """The interceptors' ``on_send``, run by the writer just before a frame is written."""
        assert self._chain is not None
        event = await self._intercept(self._chain.send, parse_client_event(text))
        return None if event is None else event.to_json()

    # -- the reader -----------------------------------------------------------------------

    async def _reader(self) -> None:
        transport = self._transport
        assert transport is not None
        inbox = self.events
        put_nowait = inbox.put_nowait
        intercepting = self._chain is not None and bool(self._chain.receive_hooks)
        fast = transport if isinstance(transport, FastTransport) else None
        if fast is not None and not intercepting:
            fast.set_receiver(self._take_pushed)
        try:
            while True:
                frame = await transport.receive()
                try:
                    event = self._parse_frame(frame)
                    if event is None:
                        continue
                    if intercepting:  # nothing is deferred (_deferral)
                        assert self._chain is not None and not isinstance(event, str)
                        intercepted = await self._intercept(self._chain.receive, event)
                        if intercepted is None:
                            continue
                        event = intercepted
                    if not self._accept(event):
                        continue
                except TransportClosed:
                    raise
                except Exception as exc:
                    self._fail_handling(exc)
                    return
                # A closed inbox (nobody listens any more) drops the event: keep reading
                # so pings and closes flow. A full one parks the reader: TCP pushes back.
                if not put_nowait(event):
                    await inbox.put(event)
        except TransportClosed as exc:
            if not self._outbox.closing and self._life.drop is None:
                self._on_server_close(exc)
        finally:
            if fast is not None:
                fast.set_receiver(None)
            if self._life.drop is None:
                inbox.end()  # else the session moves on to a new connection
            self._life.connection_over()

    def _take_pushed(self, frame: str | bytes) -> bool:
        """The reader's work on a message the transport hands over as it arrives (asyncio).

        False, before touching it, when the inbox is full or the reader task holds an
        event waiting for room: the message then waits for the reader task, in order.
        An exception here would surface in the loop's data callback as a dropped
        connection; it ends the session with a library error carrying it instead.
        """
        inbox = self.events
        if inbox.reader_waiting or inbox.full:
            return False  # the reader holds an earlier event, or no room: it goes first
        try:
            event = self._parse_frame(frame)
            if event is not None and self._accept(event):
                inbox.put_nowait(event)
        except Exception as exc:
            self._fail_handling(exc)
        return True

    def _fail_handling(self, exc: Exception) -> None:
        """Handling a received message raised (a bug): end the session with a library error."""
        failure = RealtimeError(
            f"handling a received message raised {type(exc).__name__}: {exc} (a bug in "
            "trio_realtime or in a session subclass; the cause has the traceback)"
        )
        failure.__cause__ = exc
        self._fail(failure, code=1011, reason="internal error")

    def _parse_frame(self, frame: str | bytes) -> RealtimeEvent | str | None:
        """Count a received message and parse it; None: skipped (binary, not an event).

        A message the reader may leave unparsed (``_deferral``) comes back as it is.
        """
        counters = self._counters
        counters.bytes_received += wire_size(frame)
        if type(frame) is not str:
            counters.frames_skipped += 1
            logger.warning("skipped a binary frame of %d bytes", len(frame))
            return None
        if self._deferral.applies(frame):
            return frame
        return self._parse_or_skip(frame)

    def _parse_or_skip(self, frame: str) -> RealtimeEvent | None:
        try:
            return self._parse(frame)
        except ProtocolError as exc:
            self._counters.frames_skipped += 1
            logger.warning("skipped a frame that is not an event: %s", exc)
            return None

    def _parse_taken(self, frame: str) -> RealtimeEvent | None:
        """Parse a message the reader deferred, as a consumer takes it (counted then)."""
        event = self._parse_or_skip(frame)
        if event is None:
            self._counters.events_received -= 1  # counted as an event when it arrived
        elif type(event) is UnknownRealtimeEvent:
            self._counters.unknown_events += 1  # a known type whose payload did not fit
        return event

    def _set_observed(self, kinds: frozenset[type[RealtimeEvent]]) -> None:
        """What :meth:`_observe` sees (the reader leaves other known kinds unparsed)."""
        self._observed = kinds
        intercepted = self._chain is not None and bool(self._chain.receive_hooks)
        self._deferral.update(kinds, intercepted=intercepted)

    def _accept(self, event: RealtimeEvent | str) -> bool:
        """Track state from an event about to be delivered, and count it; False: hide it.

        A deferred message (``str``) is only counted: nothing observes its kind.
        """
        kind = type(event)
        if kind is str:
            pass
        elif kind is UnknownRealtimeEvent:
            self._counters.unknown_events += 1
        elif kind is ErrorEvent:
            self._last_error = event  # type: ignore[assignment]
            self._replies.on_error(event)  # type: ignore[arg-type]
            if self._resume is not None and event.error.code == "session_expired":  # type: ignore[union-attr]
                self._outbox.stop_writing()  # the close follows: keep the rest for the next
        if kind in self._observed and self._observe(event) is False:  # type: ignore[arg-type]
            return False
        counters = self._counters
        counters.events_received += 1
        if not counters.events_received % PEAK_SAMPLE_EVERY:
            inbox = self.events
            inbox.peak = max(inbox.peak, len(inbox.buffer) + 1)
        return True

    async def _intercept(
        self,
        hook: Callable[[RealtimeEvent], Coroutine[Any, Any, RealtimeEvent | None]],
        event: RealtimeEvent,
    ) -> RealtimeEvent | None:
        try:
            return await hook(event)
        except Exception as exc:
            failure = InterceptorError(f"an interceptor raised {type(exc).__name__}: {exc}")
            failure.__cause__ = exc
            self._fail(failure, code=1011, reason="interceptor error")
            raise TransportClosed(1011, "interceptor error") from exc

    # -- state ----------------------------------------------------------------------------

    _observed: frozenset[type[RealtimeEvent]] = frozenset()
    """The event classes :meth:`_observe` wants to see (the others skip it)."""

    def _observe(self, event: RealtimeEvent) -> bool | None:
        """Track session state from ``event`` before it is delivered (subclasses); return
        False to keep it from the application (a reply to the session's own request)."""
        return None

    def _note_session_id(self, session_id: str | None) -> None:
        """The server named the session (``session.created``, a resumed connection's too)."""
        self.session_id = session_id or self.session_id

    def _session_reported(
        self, session_id: str | None, *, created: bool, event: RealtimeEvent
    ) -> None:
        """``session.created`` opens the session; ``session.updated`` answers an update."""
        self._note_session_id(session_id)
        if created:
            self._life.opened()
        else:
            self._replies.answered_in_order(event)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.session_id or 'connecting'}>"

    def _new_event_id(self) -> str:
        """A fresh ``event_id`` for a request whose error must be matched to it."""
        self._next_id += 1
        return f"{self._id_prefix}{self._next_id}"

    async def _request_update(self, event: RealtimeEvent, event_id: str) -> Any:
        """Send a ``session.update`` and wait for its ``session.updated`` (or its error).

        The server answers updates in order and echoes no id in ``session.updated``, so
        replies are matched first in, first out; an update's error removes it.
        """
        reply = self._replies.in_order(event_id)
        try:
            await self._send_frame(event.to_json())
            return await reply.wait()
        finally:
            self._replies.forget_in_order(event_id, reply)

    # -- failure and close ------------------------------------------------------------------

    def _on_server_close(self, exc: TransportClosed) -> None:
        self._life.server_closed(exc.code, exc.reason)
        if exc.code == NORMAL_CLOSE and self._life.is_open:
            return  # the events stream ends; iteration stops
        error = self._last_error.error if self._last_error is not None else None
        policy = self._resume
        if policy is not None and self._life.is_open:
            error_code = error.code if error is not None else None
            if policy.resumes_close(exc.code, error_code):
                why: ResumeReason = "close"
                if error_code == "session_expired":
                    why = "session_expired"
                self._life.dropped(Drop(why, exc.code, exc.reason))
                return
        reason = exc.reason or (f"{error.type}.{error.code}" if error is not None else "")
        failure: RealtimeError
        if (error is not None and error.code == "invalid_api_key") or exc.code == 3000:
            message = error.message if error is not None else reason
            failure = AuthenticationError(f"the service refused the credentials: {message}")
        else:
            failure = SessionClosed(exc.code, reason)
            if error is not None and not self._life.is_open:
                failure.add_note(f"last error from the server: {error.message}")
        failure.__cause__ = exc
        self._fail(failure, code=NORMAL_CLOSE)

    def _on_dead_peer(self, timeout: float) -> None:
        policy = self._resume
        if policy is not None and policy.on_heartbeat_timeout and self._life.is_open:
            self._life.dropped(Drop("heartbeat", 1006, f"no pong within {timeout:g} s"))
            return
        self._fail(
            HeartbeatTimeout(f"no pong within {timeout:g} s: the peer is gone"),
            code=1011,
            reason="heartbeat timeout",
        )

    def _fail(self, failure: RealtimeError, *, code: int = 1011, reason: str = "") -> None:
        """Record the first failure and end the session's parts (see ``_lifecycle``)."""
        if not self._life.fail(failure, code, reason):
            return
        failure = self._life.failure or failure
        self._outbox.close(flush=False, failure=failure)
        self._replies.fail(failure)
        self.events.end()
        self._life.stop_tasks(self.events, self._counters.events_received)

    def unsent(self) -> Unsent:
        """What was queued but never written, once the session has closed (else empty)."""
        return self._life.unsent

    def _collect_unsent(self) -> Unsent:
        frames = self._outbox.unsent()
        return Unsent(
            events=tuple(parse_client_event(frame.text) for frame in frames),
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
        life = self._life
        if not life.begin_close():
            return
        outbox = self._outbox
        outbox.close(flush=flush and life.failure is None, failure=life.failure)
        transport = self._transport
        with anyio.CancelScope(shield=True):
            if transport is not None:
                with anyio.move_on_after(life.close_timeout):
                    await outbox.wait_writer_done()
                    try:
                        await transport.aclose(life.close_code, life.close_reason)
                    except Exception:  # the connection may already be gone
                        logger.debug("close handshake failed", exc_info=True)
                await transport.abort()
            life.closed(self._collect_unsent())
            await self._report_close(*life.reported_close)
        life.stop_background()

    async def _report_close(self, code: int, reason: str) -> None:
        if self._chain is None:
            return
        try:
            await self._chain.close(code, reason)
        except Exception as exc:
            failure = InterceptorError(f"an interceptor raised {type(exc).__name__}: {exc}")
            failure.__cause__ = exc
            self._life.fail(failure, 1011, "interceptor error")

    def _statistics(self) -> SessionStatistics:
        return snapshot(
            self._counters,
            self.events,
            self._outbox,
            self._audio_dropped_ms(),
            self._life.resumptions,
        )

    def _audio_dropped_ms(self) -> float:
        return 0.0

    def statistics(self) -> SessionStatistics:
        """A frozen snapshot of counters and queue depths."""
        return self._statistics()

    def _session_tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        """Tasks that live as long as the session, across connections (subclasses)."""
        return []

    async def _resume_on(self, transport: Transport, drop: Drop, attempt: int) -> None:
        """Bring a new connection up to where the last one was (sessions that resume)."""
        raise NotImplementedError(f"{type(self).__name__} does not resume")

    def _connection_tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        """The tasks of one connection: reader, writer, heartbeat (subclasses add theirs)."""
        tasks: list[Callable[[], Coroutine[Any, Any, None]]] = [
            self._reader,
            self._outbox.run_writer,
        ]
        config = self._heartbeat_config
        transport = self._transport
        if config is not None and transport is not None:

            async def heartbeat() -> None:
                await run_heartbeat(
                    config, transport, self.events, self._counters, self._on_dead_peer
                )

            tasks.append(heartbeat)
        return tasks

    def _attach(self, transport: Transport) -> None:
        """Use ``transport`` for this connection: receive on it, and write to it."""
        self._transport = transport
        hook = self._send_hook if self._chain is not None and self._chain.send_hooks else None
        self._outbox.attach(transport, hook)
