"""What a test sees of one emulated connection: what arrived, what was sent, how it ended."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import trio

from .._recording import Recording, RecordingEntry, RecordingWriter
from ..events import RealtimeEvent, WireModel
from ._faults import Faults
from ._wire import FrameSniffer

__all__ = ["ConnectionKind", "EmulatorConnection"]

ConnectionKind = Literal["realtime", "transcription", "translation"]
_E = TypeVar("_E", bound=RealtimeEvent)


class EmulatorConnection:
    """One WebSocket connection the emulator accepted, as seen from the server side.

    Everything here is filled in by the emulator while the connection runs; tests read it
    (from the Trio thread, or from another thread when the emulator runs in one).
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
    ) -> None:
        self.number = number
        """1-based position in ``Emulator.connections``."""
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
        self.received: list[RealtimeEvent] = []
        """Every client event, parsed, in order; unknown ones as ``UnknownRealtimeEvent``."""
        self.sent: list[dict[str, Any]] = []
        """Every event the emulator sent, as JSON objects, in order."""
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
        self._sniffer: FrameSniffer | None = None
        self._session_config: Callable[[], WireModel] | None = None
        self._changed = trio.Event()
        self._started = trio.current_time()
        self._started_wall = time.time()
        self._timeline: list[tuple[float, Literal["send", "recv"], int]] = []

    def __repr__(self) -> str:
        return (
            f"<EmulatorConnection #{self.number} {self.kind} {self.path}"
            f" received={len(self.received)} sent={len(self.sent)}"
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
    def pongs_received(self) -> int:
        """WebSocket pongs the client sent."""
        return 0 if self._sniffer is None else self._sniffer.pongs

    @property
    def session(self) -> WireModel | None:
        """The current session configuration, as ``session.updated`` would report it.

        A :class:`~trio_realtime.events.SessionConfig`,
        :class:`~trio_realtime.events.TranscriptionSessionConfig` or
        :class:`~trio_realtime.events.TranslationSession`; None before admission.
        """
        return None if self._session_config is None else self._session_config()

    def recording(self) -> Recording:
        """Both directions of this connection so far, as a recording (client's view).

        ``"send"`` entries are the client's events (``received``), ``"recv"`` ones the
        emulator's (``sent``), interleaved in the order the emulator handled them, with
        ``t`` in seconds since the connection was accepted (on the Trio clock). Replay
        it with ``open_emulator(replay=connection.recording())``. Empty when the
        emulator runs with ``record=False``.
        """
        entries: list[RecordingEntry] = []
        session_id: str | None = None
        for t, direction, index in self._timeline:
            if direction == "send":
                event = self.received[index].to_dict()
            else:
                event = self.sent[index]
                session = event.get("session")
                if event.get("type") == "session.created" and isinstance(session, dict):
                    session_id = session.get("id") or session_id
            entries.append(RecordingEntry(t=t, dir=direction, event=event, session_id=session_id))
        query = "&".join(f"{key}={value}" for key, value in self.query.items())
        header = {
            "trio_realtime_recording": 1,
            "kind": self.kind,
            "url": f"ws://emulator{self.path}" + (f"?{query}" if query else ""),
            "started_at": self._started_wall,
        }
        return Recording(header=header, entries=entries)

    def write_recording(self, path: str | Path) -> None:
        """Write :meth:`recording` to a JSONL file (``trio_realtime._recording``'s format)."""
        recording = self.recording()
        with open(path, "w", encoding="utf-8") as file:
            writer = RecordingWriter(
                file,
                kind=recording.kind,
                url=str(recording.header["url"]),
                started_at=float(recording.header["started_at"]),
            )
            for entry in recording.entries:
                writer.write(entry.t, entry.dir, entry.event, entry.session_id)

    def sent_types(self) -> list[str]:
        """The ``type`` of every event sent, in order (handy in assertions)."""
        return [str(event.get("type")) for event in self.sent]

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
        """Wait until ``received`` holds ``count`` matching events; return the last match.

        ``predicate`` is an event class or a function of an event. Returns at once if they
        already arrived.

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
        seen = 0
        index = 0
        while True:
            while index < len(self.received):
                event = self.received[index]
                index += 1
                if matches(event):
                    seen += 1
                    if seen >= count:
                        await trio.lowlevel.checkpoint()
                        return event
            if self.closed.is_set():
                raise trio.BrokenResourceError(
                    f"connection #{self.number} ended after {seen} of {count} matching events"
                )
            await self._changed.wait()

    # -- used by the emulator -------------------------------------------------------------

    def _add_received(self, event: RealtimeEvent) -> None:
        self._timeline.append((trio.current_time() - self._started, "send", len(self.received)))
        self.received.append(event)
        self._notify()

    def _add_sent(self, data: dict[str, Any]) -> None:
        self._timeline.append((trio.current_time() - self._started, "recv", len(self.sent)))
        self.sent.append(data)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _finished(self) -> None:
        """The handler finished and the socket is closed."""
        self.closed.set()
        self._notify()
