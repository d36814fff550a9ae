"""What a test sees of one emulated connection: what arrived, what was sent, how it ended."""

from __future__ import annotations

import dataclasses
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar, overload

import trio

from .._recording import (
    FORMAT_VERSION,
    ClosedBy,
    Recording,
    RecordingEntry,
)
from ..events import RealtimeEvent, WireModel
from ._faults import Faults
from ._retention import DEFAULT_RETENTION, Retention
from ._wire import FrameSniffer

__all__ = [
    "ConnectionKind",
    "ConnectionStatistics",
    "EmulatorConnection",
    "TimelineEntry",
]

ConnectionKind = Literal["realtime", "transcription", "translation"]
_E = TypeVar("_E", bound=RealtimeEvent)
_SEND, _RECV = 0, 1
_DIRECTIONS: tuple[Literal["send"], Literal["recv"]] = ("send", "recv")


class TimelineEntry(NamedTuple):
    """One event of a connection's timeline (kept without its payload)."""

    t: float
    """Seconds since the connection was accepted (Trio clock)."""
    dir: Literal["send", "recv"]
    """``"send"``: the client sent it; ``"recv"``: the emulator sent it (client's view)."""
    type: str
    """The event's ``type``."""
    size: int
    """Characters of JSON on the wire."""


@dataclasses.dataclass(frozen=True)
class ConnectionStatistics:
    """Counts of one connection, whatever the retention (:meth:`EmulatorConnection.statistics`)."""

    events_received: int
    """Client events received (frames that parsed as JSON objects)."""
    events_sent: int
    """Events the emulator sent."""
    bytes_received: int
    """Characters of JSON in the events received."""
    bytes_sent: int
    """Characters of JSON in the events sent."""
    input_audio_bytes: int
    """Bytes of input audio appended (in the session's input format)."""
    pings_sent: int
    pongs_received: int


class _Waiter:
    """One ``wait_for`` call: counts matching events as they arrive."""

    def __init__(self, matches: Callable[[RealtimeEvent], bool], count: int) -> None:
        self.matches = matches
        self.count = count
        self.seen = 0
        self.result: RealtimeEvent | None = None
        self.done = trio.Event()

    def offer(self, event: RealtimeEvent) -> bool:
        if self.result is None and self.matches(event):
            self.seen += 1
            if self.seen >= self.count:
                self.result = event
                self.done.set()
        return self.result is not None


class EmulatorConnection:
    """One WebSocket connection the emulator accepted, as seen from the server side.

    Everything here is filled in by the emulator while the connection runs; tests read it
    (from the Trio thread, or from another thread when the emulator runs in one). What
    is kept depends on the emulator's :class:`Retention`.
    """

    def __init__(
        self,
        *,
        number: int,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        subprotocols: tuple[str, ...],
        kind: ConnectionKind,
        faults: Faults,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self.number = number
        """1-based: the n-th connection this emulator accepted."""
        self.path = path
        """The request path, without the query (``/v1/realtime``)."""
        self.query = query
        """The query parameters (``{"model": "gpt-realtime"}``); a key is redacted."""
        self.headers = headers
        """The request headers, names lower-cased, with credentials redacted."""
        self.subprotocols = subprotocols
        """The WebSocket subprotocols the client offered, with a key redacted."""
        self.kind: ConnectionKind = kind
        """``"realtime"``, ``"transcription"`` (``?intent=transcription``) or ``"translation"``."""
        self.faults = faults
        """This connection's faults; changes apply from the next frame on."""
        self.retention = retention
        """What this connection keeps (the emulator's :class:`Retention`)."""
        self.received: list[RealtimeEvent] = []
        """Every client event, parsed, in order; unknown ones as ``UnknownRealtimeEvent``
        (empty unless ``retention.events``; audio as sizes unless ``retention.audio``)."""
        self.sent: list[dict[str, Any]] = []
        """Every event the emulator sent, as JSON objects, in order (same retention)."""
        self.closed: trio.Event = trio.Event()
        """Set once the connection is fully gone (handler finished, TCP closed)."""
        self.input_audio_bytes = 0
        """Bytes of input audio appended (in the session's input format)."""
        self.pings_sent = 0
        """WebSocket pings the emulator sent."""
        self.admitted = False
        """True once auth and model were accepted and the session was created."""
        self.client_secret = False
        """True when the client authenticated with an ephemeral ``ek_`` client secret."""
        self.replay_mismatches: list[str] = []
        """When replaying a recording: every divergence of the client from it, in order."""
        self.sent_close_code: int | None = None
        """The code of the close the emulator started (1006: it cut the TCP connection);
        None if it started none (its answer to the client's close frame is not one)."""
        self.sent_close_reason: str | None = None
        """The reason of the close the emulator started; None if it started none."""
        self._sniffer: FrameSniffer | None = None
        self._session_config: Callable[[], WireModel] | None = None
        self._conversation: Callable[[], list[dict[str, Any]]] | None = None
        self._final_session: WireModel | None = None
        self._waiters: list[_Waiter] = []
        self._started = trio.current_time()
        self._started_wall = time.time()
        self._close: RecordingEntry | None = None
        self._events_received = 0
        self._events_sent = 0
        self._bytes_received = 0
        self._bytes_sent = 0
        self._timeline_t = array("d")
        self._timeline_dir = bytearray()
        self._timeline_type = array("I")
        self._timeline_size = array("I")
        self._types: list[str] = []
        self._type_numbers: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"<EmulatorConnection #{self.number} {self.kind} {self.path}"
            f" received={self._events_received} sent={self._events_sent}"
            f"{' closed' if self.closed.is_set() else ''}>"
        )

    @property
    def received_close_code(self) -> int | None:
        """The code of the client's close frame (1005 if it had none); None if none came."""
        return None if self._sniffer is None else self._sniffer.close_code

    @property
    def received_close_reason(self) -> str | None:
        """The reason of the client's close frame; None if no close frame came."""
        return None if self._sniffer is None else self._sniffer.close_reason

    @property
    def closed_by(self) -> ClosedBy | None:
        """Who closed the WebSocket first: ``"server"``, ``"client"``; None while open, or
        when the TCP connection ended without a close frame (or the emulator stopped)."""
        return None if self._close is None else self._close.event["by"]

    @property
    def pongs_received(self) -> int:
        """WebSocket pongs the client sent."""
        return 0 if self._sniffer is None else self._sniffer.pongs

    @property
    def session(self) -> WireModel | None:
        """The current session configuration, as ``session.updated`` would report it.

        A :class:`~trio_realtime.events.SessionConfig`,
        :class:`~trio_realtime.events.TranscriptionSessionConfig` or
        :class:`~trio_realtime.events.TranslationSession`; None before admission. Once
        the connection is closed, the last configuration.
        """
        if self._session_config is not None:
            return self._session_config()
        return self._final_session

    def conversation(self) -> list[dict[str, Any]]:
        """The items the session's conversation holds now, in order, in their wire form
        (audio bytes left out); empty for translation sessions and once the session ended."""
        return [] if self._conversation is None else self._conversation()

    def statistics(self) -> ConnectionStatistics:
        """The connection's counts so far (kept whatever the retention)."""
        return ConnectionStatistics(
            events_received=self._events_received,
            events_sent=self._events_sent,
            bytes_received=self._bytes_received,
            bytes_sent=self._bytes_sent,
            input_audio_bytes=self.input_audio_bytes,
            pings_sent=self.pings_sent,
            pongs_received=self.pongs_received,
        )

    def timeline(self) -> list[TimelineEntry]:
        """Every event both ways, in the order handled, without payloads (any retention)."""
        types = self._types
        return [
            TimelineEntry(t, _DIRECTIONS[direction], types[number], size)
            for t, direction, number, size in zip(
                self._timeline_t,
                self._timeline_dir,
                self._timeline_type,
                self._timeline_size,
                strict=True,
            )
        ]

    def recording(self) -> Recording:
        """Both directions of this connection so far, as a recording (client's view).

        ``"send"`` entries are the client's events (``received``), ``"recv"`` ones the
        emulator's (``sent``), interleaved in the order the emulator handled them, with
        ``t`` in seconds since the connection was accepted (on the Trio clock), and a last
        ``"close"`` entry once a close frame went either way. Replay it with
        ``open_emulator(replay=connection.recording())``. Audio is there as sizes unless
        the retention kept it (a replay sends silence of the same size).

        Raises:
            LookupError: the emulator's retention keeps no events (``events=False``).
        """
        if not self.retention.events:
            raise LookupError(
                f"connection #{self.number} kept no events to record: the emulator runs"
                " with Retention(events=False)"
            )
        entries: list[RecordingEntry] = []
        session_id: str | None = None
        indexes = [0, 0]
        for t, direction in zip(self._timeline_t, self._timeline_dir, strict=True):
            index = indexes[direction]
            indexes[direction] += 1
            if direction == _SEND:
                event = self.received[index].to_dict()
            else:
                event = self.sent[index]
                session = event.get("session")
                if event.get("type") == "session.created" and isinstance(session, dict):
                    session_id = session.get("id") or session_id
            entries.append(
                RecordingEntry(t=t, dir=_DIRECTIONS[direction], event=event, session_id=session_id)
            )
        if self._close is not None:
            entries.append(dataclasses.replace(self._close, session_id=session_id))
        query = "&".join(f"{key}={value}" for key, value in self.query.items())
        header = {
            "trio_realtime_recording": FORMAT_VERSION,
            "kind": self.kind,
            "url": f"ws://emulator{self.path}" + (f"?{query}" if query else ""),
            "started_at": self._started_wall,
        }
        return Recording(header=header, entries=entries)

    def write_recording(self, path: str | Path) -> None:
        """Write :meth:`recording` to a JSONL file (``trio_realtime.read_recording`` reads it).

        Raises:
            LookupError: the emulator's retention keeps no events (``events=False``).
        """
        self.recording().write(path)

    def sent_types(self) -> list[str]:
        """The ``type`` of every event sent, in order (any retention)."""
        types = self._types
        return [
            types[number]
            for direction, number in zip(self._timeline_dir, self._timeline_type, strict=True)
            if direction == _RECV
        ]

    @overload
    async def wait_for(self, predicate: type[_E], *, count: int = 1) -> _E: ...

    @overload
    async def wait_for(
        self, predicate: Callable[[RealtimeEvent], bool], *, count: int = 1
    ) -> RealtimeEvent: ...

    async def wait_for(
        self,
        predicate: type[RealtimeEvent] | Callable[[RealtimeEvent], bool],
        *,
        count: int = 1,
    ) -> RealtimeEvent:
        """Wait until ``count`` matching client events arrived; return the last match.

        ``predicate`` is an event class or a function of an event. Events already in
        ``received`` count, so it returns at once if they already arrived; with
        ``Retention(events=False)`` only events arriving from now on count.

        Raises:
            trio.BrokenResourceError: the connection ended first.
        """
        matches: Callable[[RealtimeEvent], bool]
        if isinstance(predicate, type):
            cls = predicate

            def matches(event: RealtimeEvent) -> bool:
                return isinstance(event, cls)

        else:
            matches = predicate
        waiter = _Waiter(matches, count)
        if any(waiter.offer(event) for event in self.received):
            await trio.lowlevel.checkpoint()
            return self._result(waiter)
        if self.closed.is_set():
            await trio.lowlevel.checkpoint()
            return self._result(waiter)
        self._waiters.append(waiter)
        try:
            await waiter.done.wait()
        finally:
            self._waiters.remove(waiter)
        await trio.lowlevel.checkpoint()  # the emulator's reply to it gets a turn first
        return self._result(waiter)

    def _result(self, waiter: _Waiter) -> RealtimeEvent:
        if waiter.result is None:
            raise trio.BrokenResourceError(
                f"connection #{self.number} ended after {waiter.seen} of {waiter.count}"
                " matching events"
            )
        return waiter.result

    # -- used by the emulator -------------------------------------------------------------

    def _add_to_timeline(self, direction: int, kind: str, size: int) -> None:
        number = self._type_numbers.get(kind)
        if number is None:
            number = self._type_numbers[kind] = len(self._types)
            self._types.append(kind)
        self._timeline_t.append(trio.current_time() - self._started)
        self._timeline_dir.append(direction)
        self._timeline_type.append(number)
        self._timeline_size.append(size)

    def _add_received(self, event: RealtimeEvent, size: int, kept: RealtimeEvent | None) -> None:
        """A client event arrived (``kept``: what to keep of it, None for nothing)."""
        self._add_to_timeline(_SEND, event.type, size)
        self._events_received += 1
        self._bytes_received += size
        if kept is not None:
            self.received.append(kept)
        for waiter in self._waiters:
            waiter.offer(event)

    def _add_sent(self, kind: str, size: int, kept: dict[str, Any] | None) -> None:
        """The emulator sent an event (``kept``: what to keep of it, None for nothing)."""
        self._add_to_timeline(_RECV, kind, size)
        self._events_sent += 1
        self._bytes_sent += size
        if kept is not None:
            self.sent.append(kept)

    def _add_close(self, code: int, reason: str, by: ClosedBy) -> None:
        """A close frame went one way (or the emulator cut the TCP connection: 1006)."""
        if by == "server":
            self.sent_close_code, self.sent_close_reason = code, reason
        if self._close is None:
            t = trio.current_time() - self._started
            self._close = RecordingEntry.for_close(t, code, reason, by)

    def _session_ended(self) -> None:
        """The session is over: keep its last configuration, let go of its state."""
        if self._session_config is not None:
            self._final_session = self._session_config()
            self._session_config = None
        self._conversation = None

    def _finished(self) -> None:
        """The handler finished and the socket is closed."""
        self._session_ended()
        self.closed.set()
        for waiter in self._waiters:
            waiter.done.set()
