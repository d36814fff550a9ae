"""One emulated connection at run time: the writer, faults, pings, timers and close.

Every server event goes through one bounded outbox to one writer task, so events leave
in the order they were produced, faults counted in events apply exactly, and a client
that stops reading pushes back on whatever produces events.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import pydantic
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from .._errors import ProtocolError
from .._recording import Recording, omit_audio
from ..events import (
    ErrorEvent,
    RealtimeEvent,
    ServerEventBase,
    UnknownRealtimeEvent,
    WireModel,
)
from ._apierrors import SUPPORTED_CLIENT_EVENTS, ApiError
from ._brain import Brain
from ._connection import EmulatorConnection
from ._ids import IdFactory
from ._retention import DEFAULT_RETENTION, Retention
from ._wire import TapStream

__all__ = ["CLOSE_TIMEOUT", "DROPPED", "EmulatorOptions", "Link", "Session"]

log = logging.getLogger("trio_realtime.testing")

CLOSE_TIMEOUT = 5.0
"""Seconds the emulator waits for the client's answer to its close frame."""
DROPPED = 1006
"""The close code of a connection cut without a close frame (never sent on the wire)."""
_OUTBOX_SIZE = 64
_MALFORMED_FRAME = '{"type": "response.output_text.delta", "delta": "cut off'
_BINARY_FRAME = b"\x00\x01\x02\x03binary"
_MAX_DEPTH = 64
"""Deeper client JSON is refused (pydantic cannot echo arbitrarily deep objects)."""

_S = TypeVar("_S", bound=ServerEventBase)


@dataclasses.dataclass(frozen=True)
class EmulatorOptions:
    """Behaviour shared by every connection of one emulator."""

    api_key: str | None = dataclasses.field(default=None, repr=False)
    brain: Brain | None = None
    ping_interval: float | None = 20.0
    audio_pace: float | None = None
    session_max_s: float = 3600.0
    retention: Retention = DEFAULT_RETENTION
    replay: Recording | None = dataclasses.field(default=None, repr=False)
    replay_speed: float = 0.0


class Session(Protocol):
    """A session state machine: realtime, transcription or translation."""

    supported: frozenset[str]
    checks_events: bool
    """False: every parsed client event goes to ``handle`` unchecked (replay)."""

    def parse(self, obj: dict[str, Any]) -> RealtimeEvent: ...

    def config_model(self) -> WireModel: ...

    async def start(self) -> None: ...

    async def handle(self, event: RealtimeEvent, raw: dict[str, Any]) -> None: ...


@dataclasses.dataclass(frozen=True)
class _Outgoing:
    text: str
    type: str
    kept: dict[str, Any] | None
    """What the connection keeps of the event (None: nothing but the timeline)."""


@dataclasses.dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Link:
    """The server side of one accepted WebSocket, from session.created to the last frame."""

    def __init__(
        self,
        ws: WebSocketConnection,
        tap: TapStream,
        record: EmulatorConnection,
        options: EmulatorOptions,
        *,
        model: str | None,
    ) -> None:
        self.ws = ws
        self.tap = tap
        self.record = record
        self.options = options
        self.model = model
        self.ids = IdFactory(f"connection-{record.number}")
        self.session: Session | None = None
        self._nursery: trio.Nursery | None = None
        self._outbox_send, self._outbox_receive = trio.open_memory_channel[_Outgoing | _Close](
            _OUTBOX_SIZE
        )
        self._closing = False
        self._close_done = trio.Event()
        self._queued = 0
        self._sent = 0
        self._stall_at: int | None = None
        """Events queued when the stall began: the writer sends those, then no more."""

    @property
    def nursery(self) -> trio.Nursery:
        """The connection's nursery: tasks started here end with the connection."""
        assert self._nursery is not None
        return self._nursery

    # -- running ------------------------------------------------------------------------

    async def run(
        self,
        make_session: Callable[[Link], Session],
        rejection: tuple[ApiError, int] | None,
    ) -> None:
        """Serve the connection until either side closes it or the emulator stops."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._writer)
            if self.options.ping_interval:
                nursery.start_soon(self._ping_loop, self.options.ping_interval)
            if self.record.faults.close_after_s is not None:
                nursery.start_soon(self._close_after, self.record.faults.close_after_s)
            if rejection is not None:
                error, code = rejection
                await self.emit(ErrorEvent, error=error.details(None))
                await self.close(code, error.close_reason)
            else:
                self.session = make_session(self)
                self.record._session_config = self.session.config_model
                self.record._conversation = getattr(self.session, "conversation_items", None)
                self.record.admitted = True
                await self.session.start()
                limit = self.options.session_max_s
                fault_limit = self.record.faults.session_time_limit_s
                if fault_limit is not None:
                    limit = min(limit, fault_limit)
                if math.isfinite(limit):
                    nursery.start_soon(self._expire_after, limit)
            try:
                await self._receive_loop()
            finally:
                self.record._session_ended()
                sniffer = self.tap.sniffer
                if sniffer.close_code is not None:  # after ours, if we closed first
                    self.record._add_close(sniffer.close_code, sniffer.close_reason or "", "client")

    async def _receive_loop(self) -> None:
        received = 0
        while True:
            stall = self.record.faults.stall_after_events
            if stall is not None and received >= stall:
                await self._stall()
                return
            try:
                message = await self.ws.get_message()
            except ConnectionClosed:
                break
            received += 1
            await self._dispatch(message)
        if self._closing:
            await self._close_done.wait()
        self._end("the client closed the connection")

    async def _dispatch(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            await self.send_error(
                ApiError(
                    "invalid_event",
                    "Expected a text WebSocket message; binary frames are not supported.",
                )
            )
            return
        try:
            obj = json.loads(message)
        except (ValueError, RecursionError) as exc:
            await self.send_error(
                ApiError("invalid_json", f"Invalid event: failed to parse JSON value. {exc}")
            )
            return
        if not isinstance(obj, dict):
            await self.send_error(
                ApiError("invalid_event", "Invalid event: expected a JSON object.")
            )
            return
        if _too_deep(obj):
            await self.send_error(
                ApiError(
                    "invalid_event",
                    f"Invalid event: JSON nested deeper than {_MAX_DEPTH} levels.",
                )
            )
            return
        client_event_id = obj.get("event_id")
        if not isinstance(client_event_id, str):
            client_event_id = None
        session = self.session
        try:
            event = (
                session.parse(obj)
                if session is not None
                else UnknownRealtimeEvent(type=str(obj.get("type", "")), raw=obj)
            )
        except ProtocolError as exc:
            await self.send_error(ApiError("invalid_event", f"Invalid event: {exc}"))
            return
        self.record._add_received(event, len(message), self._kept_received(event, obj))
        if session is None:
            return
        try:
            if session.checks_events:
                if "type" not in obj:
                    raise ApiError("invalid_event", "The 'type' field is missing.")
                if event.type not in session.supported:
                    raise ApiError.invalid_value(obj["type"], SUPPORTED_CLIENT_EVENTS, "type")
                if isinstance(event, UnknownRealtimeEvent):
                    raise _validation_error(obj, event.error)
            await session.handle(event, obj)
        except ApiError as error:
            await self.send_error(error, client_event_id)

    def _kept_received(self, event: RealtimeEvent, obj: dict[str, Any]) -> RealtimeEvent | None:
        retention = self.options.retention
        if not retention.events:
            return None
        if retention.audio:
            return event
        without_audio = omit_audio(obj)
        if without_audio is obj:
            return event
        if self.session is None:
            return UnknownRealtimeEvent(type=event.type, raw=without_audio)
        try:
            return self.session.parse(without_audio)
        except ProtocolError:
            return event

    def _kept_sent(self, data: dict[str, Any]) -> dict[str, Any]:
        return data if self.options.retention.audio else omit_audio(data)

    # -- sending ------------------------------------------------------------------------

    def event(self, cls: type[_S], **fields: Any) -> _S:
        """Build a server event with a fresh ``event_id``."""
        return cls(event_id=self.ids.event(), **fields)

    async def emit(self, cls: type[ServerEventBase], **fields: Any) -> None:
        """Build a server event and queue it for sending (blocks while the outbox is full)."""
        await self.send(self.event(cls, **fields))

    async def send(self, event: ServerEventBase) -> None:
        """Queue an event for sending (blocks while the outbox is full)."""
        kept = self._kept_sent(event.to_dict()) if self.options.retention.events else None
        await self._queue(_Outgoing(event.to_json(), event.type, kept))

    async def send_raw(self, data: dict[str, Any]) -> None:
        """Queue a JSON object for sending exactly as given (a replayed event)."""
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        kept = self._kept_sent(data) if self.options.retention.events else None
        await self._queue(_Outgoing(text, str(data.get("type")), kept))

    async def _queue(self, item: _Outgoing) -> None:
        try:
            await self._outbox_send.send(item)
            self._queued += 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._end("the connection is gone")
            await trio.lowlevel.checkpoint()

    async def send_error(self, error: ApiError, client_event_id: str | None = None) -> None:
        """Queue an ``error`` event naming the client event that caused it."""
        await self.emit(ErrorEvent, error=error.details(client_event_id))

    async def close(self, code: int, reason: str) -> None:
        """Close the WebSocket once every event queued before has been sent.

        ``code`` :data:`DROPPED` (1006) cuts the TCP connection without a close frame.
        """
        try:
            await self._outbox_send.send(_Close(code, reason))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await trio.lowlevel.checkpoint()

    async def _writer(self) -> None:
        async with self._outbox_receive:
            async for item in self._outbox_receive:
                if isinstance(item, _Close):
                    await self._close_now(item.code, item.reason)
                    return
                if self._stall_at is not None and self._sent >= self._stall_at:
                    await trio.sleep_forever()
                delay = self.record.faults.delay_s
                if delay > 0:
                    await trio.sleep(delay)
                self._sent += 1
                self.record._add_sent(item.type, len(item.text), item.kept)
                try:
                    await self.ws.send_message(item.text)
                except ConnectionClosed:
                    self._end("the connection closed while sending")
                    return
                await self._after_sent(self._sent)

    async def _after_sent(self, count: int) -> None:
        faults = self.record.faults
        try:
            if faults.malformed_after_events == count:
                await self.ws.send_message(_MALFORMED_FRAME)
            if faults.unknown_event_after == count:
                unknown = {"type": "emulator.unknown_event", "event_id": self.ids.event()}
                await self.ws.send_message(json.dumps(unknown))
            if faults.binary_after == count:
                await self.ws.send_message(_BINARY_FRAME)
        except ConnectionClosed:
            self._end("the connection closed while sending")
            return
        if faults.close_after_events == count:
            await self._close_now(faults.close_code, faults.close_reason)
        if faults.drop_after_events == count:
            await self._close_now(DROPPED, "")

    # -- closing, stalling, timers -------------------------------------------------------

    async def _close_now(self, code: int, reason: str) -> None:
        if self._closing:
            await self._close_done.wait()
            return
        self._closing = True
        self.record._add_close(code, reason, "server")
        if code == DROPPED:
            await self.tap.abort()
        else:
            with trio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await self.ws.aclose(code, reason)
        self._close_done.set()
        self._end("dropped on purpose" if code == DROPPED else f"closed with {code}")

    def _end(self, why: str) -> None:
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel(why)

    async def _stall(self) -> None:
        log.debug("connection #%d stalls on purpose", self.record.number)
        self._stall_at = self._queued
        self.tap.stall()
        await self.tap.wait_peer_gone()
        self._end("the stalled connection's peer went away")

    async def _ping_loop(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            if self.tap.stalled or self._closing:
                return
            self.nursery.start_soon(self._ping_once, max(interval * 2, CLOSE_TIMEOUT))

    async def _ping_once(self, patience: float) -> None:
        self.record.pings_sent += 1
        with trio.move_on_after(patience):
            try:
                await self.ws.ping()
            except ConnectionClosed:
                return

    async def _close_after(self, seconds: float) -> None:
        await trio.sleep(seconds)
        faults = self.record.faults
        await self._close_now(faults.close_code, faults.close_reason)

    async def _expire_after(self, seconds: float) -> None:
        await trio.sleep(seconds)
        minutes = round(self.options.session_max_s / 60)
        message = f"Your session hit the maximum duration of {minutes} minutes."
        await self.send_error(ApiError("session_expired", message))
        await self.close(1001, message)


def _validation_error(obj: dict[str, Any], error: pydantic.ValidationError | None) -> ApiError:
    """Turn pydantic's complaint about a known event into the service's error."""
    if error is None or not error.errors():
        return ApiError("invalid_event", "The event could not be parsed.")
    first = error.errors()[0]
    location: list[str] = []
    value: Any = obj
    loc = list(first["loc"])
    for position, segment in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(value, dict) and segment in value:
            location.append(str(segment))
            value = value[segment]
        elif isinstance(value, list) and isinstance(segment, int) and segment < len(value):
            location[-1] = f"{location[-1]}[{segment}]" if location else f"[{segment}]"
            value = value[segment]
        elif last and first["type"] == "missing":
            location.append(str(segment))
    param = ".".join(location) or None
    if first["type"] == "missing" and param:
        return ApiError.missing_parameter(param)
    if param:
        return ApiError(
            "invalid_type" if "type" in first["type"] else "invalid_value",
            f"Invalid value for '{param}': {first['msg']}.",
            param,
        )
    return ApiError("invalid_event", f"Invalid event: {first['msg']}.")


def _too_deep(obj: Any) -> bool:
    """Whether a decoded JSON value nests deeper than ``_MAX_DEPTH`` (no recursion)."""
    level: list[Any] = [obj]
    for _ in range(_MAX_DEPTH):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True
