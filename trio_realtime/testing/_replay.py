"""Replay: serve a recorded session as the brain, so a call becomes a regression test.

A recording alternates client turns (runs of ``"send"`` entries) and the server events
that followed them (``"recv"`` entries). A replaying connection sends the server events
recorded before the first client event, then for each turn waits for the live client's
matching events and sends the server events that followed, with their recorded gaps
divided by ``replay_speed`` (0: no waiting).

Matching is by event type in order, then by the fields that steer the conversation:
for ``conversation.item.create`` the item's type, role, content types, text, call_id,
name, arguments and output; for appends only the amount of audio (a run of appends is
one block, however the live client chunks it; extra audio is carried over to the next
block); for other events every field but ``event_id`` (and the naturally varying
``audio_end_ms`` of a truncate and ``response_id`` of a cancel).

On a mismatch the client gets an ``error`` (``invalid_request_error``,
``replay_mismatch``, naming the turn, the event and the field, expected vs got) and the
message is added to ``EmulatorConnection.replay_mismatches``. A different field value
(or too little audio) is reported and the replay goes on as if the event had matched:
the conversation keeps its shape, so the recorded replies still fit it. A different
event type, or an event past the end of the recording, stops the replay: which
recorded replies would still apply is unknowable, and sending them anyway would show the
client a conversation that never happened. After a stop every further client event
(but audio) gets a ``replay_mismatch`` error so that helpers waiting for a reply fail
at once instead of timing out.

A recorded close that the server sent (``"close"`` entries, format 2) is reproduced
after the server events before it: the same code and reason, or a cut TCP connection
for 1006. A close whose sender is unknown (a client recording) counts as the server's
unless its code is 1000, which is how clients end sessions; the client's own close is
not replayed. Audio the recording left out (a size marker) is sent as silence of that
size.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

import pydantic
import trio

from .._recording import Recording, RecordingEntry, omitted_audio_bytes, restore_audio
from ..events import (
    RealtimeEvent,
    SessionConfig,
    TranscriptionSessionConfig,
    TranslationSession,
    WireModel,
    parse_client_event,
    parse_translation_client_event,
)
from ._apierrors import ApiError
from ._config import default_realtime_session, default_transcription_session
from ._connection import ConnectionKind
from ._formats import bytes_per_ms
from ._link import Link
from ._translation import default_translation_session

__all__ = ["ReplayScript", "ReplaySession"]

_APPENDS = frozenset({"input_audio_buffer.append", "session.input_audio_buffer.append"})
_AUDIO_TOLERANCE_MS = 20
"""Less audio than recorded, by at most this much, still matches (resampling rounding)."""
_IGNORED_FIELDS: dict[str, frozenset[str]] = {
    "conversation.item.truncate": frozenset({"audio_end_ms"}),
    "response.cancel": frozenset({"response_id"}),
}
_ITEM_FIELDS = ("type", "role", "call_id", "name", "arguments", "output")
_TEXT_PARTS = ("input_text", "output_text", "text")
_MAX_SHOWN = 80
_ABSENT = object()
_SILENCE = {"audio/pcm": b"\x00", "audio/pcmu": b"\xff", "audio/pcma": b"\xd5"}
"""One byte of silence per audio format."""


@dataclasses.dataclass(frozen=True)
class _Expected:
    """One expected client event, or a run of appends merged into one block of audio."""

    index: int
    """1-based position in its turn of the (first) recorded event."""
    event: dict[str, Any]
    audio_bytes: int = 0
    appends: int = 0

    @property
    def type(self) -> str:
        return str(self.event.get("type"))

    @property
    def is_audio(self) -> bool:
        return self.appends > 0


@dataclasses.dataclass(frozen=True)
class _Turn:
    number: int
    """1-based."""
    expected: tuple[_Expected, ...]
    size: int
    """Recorded client events in the turn."""
    last_t: float
    """When the turn's last client event was recorded."""
    replies: tuple[RecordingEntry, ...]


@dataclasses.dataclass(frozen=True)
class ReplayScript:
    """A recording cut into the server's opening events and the client's turns."""

    kind: ConnectionKind
    preamble: tuple[RecordingEntry, ...]
    turns: tuple[_Turn, ...]
    initial_session: dict[str, Any] | None
    closes: bool = False
    """The server's close is in the recording (it ends the replay)."""

    @classmethod
    def from_recording(cls, recording: Recording) -> ReplayScript:
        """Cut a recording into turns (its kind must be realtime, transcription or translation)."""
        runs: list[tuple[str, list[RecordingEntry]]] = []
        closes = False
        for entry in recording.entries:
            side = entry.dir
            if side == "close":
                if not _servers_close(entry):
                    continue
                side = "recv"
                closes = True
            if runs and runs[-1][0] == side:
                runs[-1][1].append(entry)
            else:
                runs.append((side, [entry]))
        preamble: list[RecordingEntry] = []
        if runs and runs[0][0] == "recv":
            preamble = runs.pop(0)[1]
        turns: list[_Turn] = []
        for position in range(0, len(runs), 2):
            sends = runs[position][1]
            replies = runs[position + 1][1] if position + 1 < len(runs) else []
            turns.append(
                _Turn(
                    number=len(turns) + 1,
                    expected=_expectations(sends),
                    size=len(sends),
                    last_t=sends[-1].t,
                    replies=tuple(replies),
                )
            )
        initial = next(
            (
                entry.event["session"]
                for entry in recording.entries
                if entry.dir == "recv"
                and entry.event.get("type") in ("session.created", "session.updated")
                and isinstance(entry.event.get("session"), dict)
            ),
            None,
        )
        return cls(
            kind=cast(ConnectionKind, recording.kind),
            preamble=tuple(preamble),
            turns=tuple(turns),
            initial_session=initial,
            closes=closes,
        )


def _servers_close(entry: RecordingEntry) -> bool:
    """Whether a recorded close is the server's to reproduce."""
    by = entry.event.get("by")
    return by == "server" or (by is None and entry.event.get("code") != 1000)


def _expectations(sends: list[RecordingEntry]) -> tuple[_Expected, ...]:
    expected: list[_Expected] = []
    for index, entry in enumerate(sends, start=1):
        event = entry.event
        if event.get("type") in _APPENDS:
            size = _audio_size(event)
            if expected and expected[-1].is_audio:
                last = expected[-1]
                expected[-1] = dataclasses.replace(
                    last, audio_bytes=last.audio_bytes + size, appends=last.appends + 1
                )
                continue
            expected.append(_Expected(index, event, audio_bytes=size, appends=1))
        else:
            expected.append(_Expected(index, event))
    return tuple(expected)


def _audio_size(event: dict[str, Any]) -> int:
    """Bytes of audio in an append, from its base64 length (no decoding)."""
    audio = event.get("audio")
    if not isinstance(audio, str):
        return 0
    omitted = omitted_audio_bytes(audio)
    if omitted is not None:
        return omitted
    return len(audio.rstrip("=")) * 3 // 4


class ReplaySession:
    """The session of a connection that replays a :class:`ReplayScript`."""

    supported: frozenset[str] = frozenset()
    checks_events = False

    def __init__(self, link: Link, script: ReplayScript) -> None:
        self.link = link
        self.script = script
        self._turn = 0
        self._position = 0
        self._credit = 0
        self._stopped_at: int | None = None
        self._session = script.initial_session
        self._input_format = "audio/pcm"
        self._output_format = "audio/pcm"
        self._completed_send, self._completed_receive = trio.open_memory_channel[tuple[int, float]](
            max(1, len(script.turns))
        )

    # -- the Session protocol ----------------------------------------------------------

    def parse(self, obj: dict[str, Any]) -> RealtimeEvent:
        if self.script.kind == "translation":
            return parse_translation_client_event(obj)
        return parse_client_event(obj)

    def config_model(self) -> WireModel:
        kind = self.script.kind
        model: type[WireModel] = (
            TranslationSession
            if kind == "translation"
            else TranscriptionSessionConfig
            if kind == "transcription"
            else SessionConfig
        )
        session = self._session
        if session is None:
            if kind == "translation":
                session = default_translation_session("sess_replay", "gpt-realtime-translate", 0)
            elif kind == "transcription":
                session = default_transcription_session("sess_replay", 0)
            else:
                session = default_realtime_session("sess_replay", "gpt-realtime", 0)
        try:
            return model.model_validate(session)
        except pydantic.ValidationError:
            return model.model_construct(**session)

    async def start(self) -> None:
        self.link.nursery.start_soon(self._play)
        await trio.lowlevel.checkpoint()

    async def handle(self, event: RealtimeEvent, raw: dict[str, Any]) -> None:
        client_event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
        kind = str(raw.get("type"))
        if kind in _APPENDS:
            size = _audio_size(raw)
            self.link.record.input_audio_bytes += size
            if self._stopped_at is None:
                self._credit += size
                self._advance()
            await trio.lowlevel.checkpoint()
            return
        if self._stopped_at is not None:
            message = (
                f"Replay stopped at turn {self._stopped_at} after a mismatch; this"
                f" '{kind}' event gets no reply."
            )
            await self.link.send_error(ApiError("replay_mismatch", message), client_event_id)
            return
        self._advance()
        expected = self._expected()
        if expected is not None and expected.is_audio:
            turn = self.script.turns[self._turn]
            if self._credit == 0:
                await self._stop(
                    f"expected '{expected.type}' (audio), got '{kind}'",
                    turn,
                    expected,
                    client_event_id,
                )
                return
            shortfall = expected.audio_bytes - self._credit
            if shortfall > _AUDIO_TOLERANCE_MS * bytes_per_ms(self._input_format):
                await self._mismatch(
                    turn,
                    expected,
                    "audio",
                    self._describe_audio(expected.audio_bytes, expected.appends),
                    self._describe_audio(self._credit),
                    client_event_id,
                    raw=True,
                )
            self._credit = 0
            self._position += 1
            self._advance()
            expected = self._expected()
        if expected is None:
            await self._stop(
                f"the recording has no more client events, got '{kind}'",
                None,
                None,
                client_event_id,
            )
            return
        turn = self.script.turns[self._turn]
        if expected.is_audio or expected.type != kind:
            await self._stop(
                f"expected '{expected.type}', got '{kind}'", turn, expected, client_event_id
            )
            return
        difference = _difference(expected.event, raw)
        if difference is not None:
            field, want, got = difference
            await self._mismatch(turn, expected, field, _shown(want), _shown(got), client_event_id)
        self._position += 1
        self._advance()

    # -- matching ------------------------------------------------------------------------

    def _expected(self) -> _Expected | None:
        if self._turn >= len(self.script.turns):
            return None
        return self.script.turns[self._turn].expected[self._position]

    def _advance(self) -> None:
        """Consume audio blocks the credit covers; hand every completed turn to the player."""
        turns = self.script.turns
        while self._turn < len(turns):
            expected = turns[self._turn].expected
            while self._position < len(expected):
                block = expected[self._position]
                if not block.is_audio or self._credit < block.audio_bytes:
                    return
                self._credit -= block.audio_bytes
                self._position += 1
            self._completed_send.send_nowait((self._turn, trio.current_time()))
            self._turn += 1
            self._position = 0

    async def _mismatch(
        self,
        turn: _Turn,
        expected: _Expected,
        field: str,
        want: str,
        got: str,
        client_event_id: str | None,
        *,
        raw: bool = False,
    ) -> None:
        where = self._where(turn, expected)
        if raw:
            message = f"Replay mismatch in {where}: {field}: expected {want}, got {got}."
        else:
            message = f"Replay mismatch in {where}: field '{field}': expected {want}, got {got}."
        await self._report(message, field, client_event_id)

    async def _stop(
        self,
        what: str,
        turn: _Turn | None,
        expected: _Expected | None,
        client_event_id: str | None,
    ) -> None:
        if turn is None or expected is None:
            number = len(self.script.turns) + 1
            where = f"turn {number}, event 1 (past the end of the recording)"
        else:
            number = turn.number
            where = self._where(turn, expected)
        self._stopped_at = number
        message = f"Replay mismatch in {where}: field 'type': {what}; the replay stopped."
        await self._report(message, "type", client_event_id)

    async def _report(self, message: str, field: str, client_event_id: str | None) -> None:
        self.link.record.replay_mismatches.append(message)
        await self.link.send_error(ApiError("replay_mismatch", message, field), client_event_id)

    def _where(self, turn: _Turn, expected: _Expected) -> str:
        if expected.is_audio and expected.appends > 1:
            last = expected.index + expected.appends - 1
            events = f"events {expected.index}-{last}"
        else:
            events = f"event {expected.index}"
        return f"turn {turn.number}, {events} of {turn.size} ('{expected.type}')"

    def _describe_audio(self, size: int, appends: int | None = None) -> str:
        ms = size / bytes_per_ms(self._input_format)
        described = f"{ms:.0f} ms of audio ({size} bytes"
        if appends is not None:
            described += f" in {appends} append{'s' if appends != 1 else ''}"
        return described + ")"

    # -- playing -------------------------------------------------------------------------

    async def _play(self) -> None:
        started = self.link.record._started
        await self._send_entries(self.script.preamble, started, 0.0)
        async with self._completed_receive:
            async for index, completed_at in self._completed_receive:
                turn = self.script.turns[index]
                await self._send_entries(turn.replies, completed_at, turn.last_t)

    async def _send_entries(
        self, entries: tuple[RecordingEntry, ...], anchor: float, base_t: float
    ) -> None:
        speed = self.link.options.replay_speed
        for entry in entries:
            if speed > 0:
                await trio.sleep_until(anchor + max(0.0, entry.t - base_t) / speed)
            event = entry.event
            if entry.dir == "close":
                await self.link.close(int(event["code"]), str(event.get("reason") or ""))
                return
            self._observe(event)
            fill = _SILENCE.get(self._output_format, b"\x00")
            await self.link.send_raw(restore_audio(event, fill))
            if (
                self.script.kind == "translation"
                and event.get("type") == "session.closed"
                and not self.script.closes
            ):
                await self.link.close(1000, "")

    def _observe(self, event: dict[str, Any]) -> None:
        if event.get("type") not in ("session.created", "session.updated"):
            return
        session = event.get("session")
        if not isinstance(session, dict):
            return
        self._session = session
        self._input_format = _format(session, "input") or self._input_format
        self._output_format = _format(session, "output") or self._output_format


def _format(session: dict[str, Any], direction: str) -> str | None:
    """``session.audio.<direction>.format.type``, if the session has it."""
    audio = session.get("audio")
    side = audio.get(direction) if isinstance(audio, dict) else None
    formats = side.get("format") if isinstance(side, dict) else None
    kind = formats.get("type") if isinstance(formats, dict) else None
    return kind if isinstance(kind, str) else None


# -- comparing events ---------------------------------------------------------------------


def _difference(expected: dict[str, Any], got: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """The first field that differs between a recorded and a live client event, if any."""
    kind = expected.get("type")
    if kind == "conversation.item.create":
        return _first_difference(
            _item_summary(expected.get("item")), _item_summary(got.get("item")), "item"
        )
    ignored = _IGNORED_FIELDS.get(str(kind), frozenset()) | {"event_id"}
    return _first_difference(
        {key: value for key, value in expected.items() if key not in ignored},
        {key: value for key, value in got.items() if key not in ignored},
        "",
    )


def _item_summary(item: Any) -> Any:
    """What of a created item steers the conversation (no ids)."""
    if not isinstance(item, dict):
        return item
    summary: dict[str, Any] = {key: item[key] for key in _ITEM_FIELDS if key in item}
    content = item.get("content")
    if isinstance(content, list):
        parts = [part for part in content if isinstance(part, dict)]
        summary["content_types"] = [part.get("type") for part in parts]
        texts = [
            str(part.get("text") or part.get("transcript") or "")
            for part in parts
            if part.get("type") in _TEXT_PARTS
        ]
        if texts:
            summary["text"] = "\n".join(texts)
    return summary


def _first_difference(expected: Any, got: Any, path: str) -> tuple[str, Any, Any] | None:
    if isinstance(expected, dict) and isinstance(got, dict):
        keys = list(expected) + [key for key in got if key not in expected]
        for key in keys:
            inner = f"{path}.{key}" if path else str(key)
            found = _first_difference(expected.get(key, _ABSENT), got.get(key, _ABSENT), inner)
            if found is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for index in range(max(len(expected), len(got))):
            found = _first_difference(
                expected[index] if index < len(expected) else _ABSENT,
                got[index] if index < len(got) else _ABSENT,
                f"{path}[{index}]",
            )
            if found is not None:
                return found
        return None
    if type(expected) is not type(got) and not (
        isinstance(expected, int | float)
        and isinstance(got, int | float)
        and not isinstance(expected, bool)
        and not isinstance(got, bool)
    ):
        return path or "event", expected, got
    if expected != got:
        return path or "event", expected, got
    return None


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return text
