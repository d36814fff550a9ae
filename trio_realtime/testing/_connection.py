"""What a test sees of one emulated connection: what arrived, what was sent, how it ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

import trio

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
        self.closed = trio.Event()
        """Set once the connection is fully gone (handler finished, TCP closed)."""
        self.input_audio_bytes = 0
        """Bytes of input audio appended (in the session's input format)."""
        self.pings_sent = 0
        """WebSocket pings the emulator sent."""
        self.admitted = False
        """True once auth and model were accepted and the session was created."""
        self._sniffer: FrameSniffer | None = None
        self._session_config: Callable[[], WireModel] | None = None
        self._changed = trio.Event()

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

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _finished(self) -> None:
        """The handler finished and the socket is closed."""
        self.closed.set()
        self._notify()
