"""The recording format: every frame of a session, both ways, as JSON Lines.

Line 1 is a header; every other line is one frame::

    {"trio_realtime_recording": 1, "kind": "realtime", "url": "wss://…/v1/realtime?model=…",
     "started_at": 1763770000.12}
    {"t": 0.003, "dir": "recv", "session_id": null, "event": {"type": "session.created", …}}
    {"t": 0.010, "dir": "send", "session_id": "sess_…", "event": {"type": "session.update", …}}

    {"t": 9.870, "dir": "close", "session_id": "sess_…", "event": {"code": 4000, "reason": "…",
     "by": "server"}}

``t`` is monotonic seconds since the session started; ``dir`` is ``"send"`` (client to
server), ``"recv"`` (server to client) or ``"close"`` (the close frame that ended the
session: its code, reason and who sent it first, ``"server"``, ``"client"`` or ``null``
when the recorder could not tell; code 1006 means the TCP connection was cut without one).
``event`` is the wire object exactly as sent or received, so a call can be reproduced;
audio is included unless the recorder left it out, in which case each base64 payload is
replaced by a marker giving its size (``"<4800 bytes of audio omitted>"``) and a replay
sends silence of that size. Credentials are never written: the URL keeps only its query's
non-secret parameters, and headers are not recorded.

Format 2 added the ``"close"`` lines; format 1 files (without them) still load.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "FORMAT_VERSION",
    "Recording",
    "RecordingEntry",
    "RecordingWriter",
    "omit_audio",
    "omitted_audio_bytes",
    "read_recording",
    "redact_url",
    "restore_audio",
]

FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_SECRET_PARAMS = frozenset({"api-key", "api_key", "key", "token", "access_token"})

Direction = Literal["send", "recv", "close"]
ClosedBy = Literal["server", "client"]


def redact_url(url: str) -> str:
    """The URL without credentials in its query (browser-style ``api-key=`` and the like)."""
    parts = urlsplit(url)
    query = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query)]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))


@dataclass(frozen=True)
class RecordingEntry:
    """One recorded frame."""

    t: float
    dir: Direction
    event: dict[str, Any]
    """The wire object; for a ``"close"`` entry ``{"code", "reason", "by"}``."""
    session_id: str | None = None

    @classmethod
    def for_close(
        cls, t: float, code: int, reason: str, by: ClosedBy | None, session_id: str | None = None
    ) -> RecordingEntry:
        """The entry of a close frame: ``by`` is who sent it first (None: unknown)."""
        return cls(t, "close", {"code": code, "reason": reason, "by": by}, session_id)


@dataclass(frozen=True)
class Recording:
    """A recorded session: its header and frames, in order."""

    header: dict[str, Any]
    entries: list[RecordingEntry] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The kind of session recorded: ``realtime``, ``transcription`` or ``translation``."""
        return str(self.header.get("kind", "realtime"))

    @property
    def close(self) -> RecordingEntry | None:
        """The close that ended the session, if one was recorded (format 2)."""
        return next((entry for entry in reversed(self.entries) if entry.dir == "close"), None)

    def write(self, path: str | Path) -> None:
        """Write the recording to a JSONL file (read it back with :func:`read_recording`)."""
        with open(path, "w", encoding="utf-8") as file:
            writer = RecordingWriter(
                file,
                kind=self.kind,
                url=str(self.header.get("url", "")),
                started_at=float(self.header.get("started_at", 0.0)),
            )
            for entry in self.entries:
                writer.write(entry.t, entry.dir, entry.event, entry.session_id)


class RecordingWriter:
    """Appends a session's frames to a JSONL file as they happen."""

    def __init__(self, file: TextIO, *, kind: str, url: str, started_at: float) -> None:
        self._file = file
        header = {
            "trio_realtime_recording": FORMAT_VERSION,
            "kind": kind,
            "url": redact_url(url),
            "started_at": started_at,
        }
        self._write(header)

    def write(
        self, t: float, direction: Direction, event: dict[str, Any], session_id: str | None
    ) -> None:
        self._write({"t": round(t, 6), "dir": direction, "session_id": session_id, "event": event})

    def _write(self, line: dict[str, Any]) -> None:
        self._file.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
        self._file.flush()


def read_recording(path: str | Path, *, session: int = 1) -> Recording:
    """Read a recording written by :class:`~trio_realtime.RecordingInterceptor`.

    A file may hold several sessions one after the other (each starts with a header
    line); ``session`` picks one, counting from 1.

    Raises:
        ValueError: the file is not a trio_realtime recording, or has fewer sessions
            (the message says which line is wrong).
    """
    sessions: list[Recording] = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: expected a JSON line: {exc}") from exc
            if isinstance(raw, dict) and "trio_realtime_recording" in raw:
                if raw["trio_realtime_recording"] not in _READABLE_VERSIONS:
                    raise ValueError(
                        f"{path}:{number}: recording format {raw['trio_realtime_recording']!r}"
                        f" is not supported (expected one of {_READABLE_VERSIONS})"
                    )
                sessions.append(Recording(header=raw))
            elif not sessions:
                raise ValueError(
                    f"{path}:{number}: not a trio_realtime recording (expected a header with "
                    f'"trio_realtime_recording": {FORMAT_VERSION})'
                )
            else:
                sessions[-1].entries.append(_entry(path, number, raw))
    if not sessions:
        raise ValueError(f"{path}: empty file, expected a trio_realtime recording")
    if not 1 <= session <= len(sessions):
        raise ValueError(f"{path}: has {len(sessions)} session(s), not a session {session}")
    return sessions[session - 1]


def _entry(path: str | Path, number: int, raw: Any) -> RecordingEntry:
    try:
        direction = raw["dir"]
        if direction not in ("send", "recv", "close") or not isinstance(raw["event"], dict):
            raise ValueError("'dir' must be 'send', 'recv' or 'close' and 'event' an object")
        if direction == "close":
            event = raw["event"]
            by = event.get("by")
            if not isinstance(event.get("code"), int) or by not in ("server", "client", None):
                raise ValueError("a close needs an integer 'code' and 'by' server, client or null")
            return RecordingEntry.for_close(
                float(raw["t"]),
                event["code"],
                str(event.get("reason") or ""),
                by,
                raw.get("session_id"),
            )
        return RecordingEntry(
            t=float(raw["t"]), dir=direction, event=raw["event"], session_id=raw.get("session_id")
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}:{number}: not a recording entry: {exc}") from exc


# -- audio left out ---------------------------------------------------------------------

_AUDIO_FIELDS = {
    "input_audio_buffer.append": "audio",
    "session.input_audio_buffer.append": "audio",
    "response.output_audio.delta": "delta",
    "session.output_audio.delta": "delta",
}
"""Events whose one top-level field is a base64 audio payload."""
_OMITTED = re.compile(r"<(\d+) bytes of audio omitted>")


def _base64_size(value: str) -> int:
    return len(value.rstrip("=")) * 3 // 4


def omitted_audio_bytes(value: Any) -> int | None:
    """The size a marker left by :func:`omit_audio` stands for; None for anything else."""
    if isinstance(value, str) and value.startswith("<"):
        match = _OMITTED.fullmatch(value)
        if match is not None:
            return int(match.group(1))
    return None


def omit_audio(event: dict[str, Any]) -> dict[str, Any]:
    """The event with every base64 audio payload replaced by a marker of its size.

    Payloads: appends' ``audio``, audio deltas' ``delta`` and the ``audio`` of content
    parts in an ``item`` or a ``response``'s ``output``/``input``. The event itself is
    returned when it carries none; otherwise a copy (only the changed parts are copied).
    """
    field_name = _AUDIO_FIELDS.get(str(event.get("type")))
    changed: dict[str, Any] = {}
    if field_name is not None:
        payload = event.get(field_name)
        if isinstance(payload, str) and omitted_audio_bytes(payload) is None:
            changed[field_name] = f"<{_base64_size(payload)} bytes of audio omitted>"
    item = event.get("item")
    if isinstance(item, dict):
        new_item = _item_without_audio(item)
        if new_item is not item:
            changed["item"] = new_item
    response = event.get("response")
    if isinstance(response, dict):
        lists: dict[str, list[Any]] = {}
        for key in ("output", "input"):
            items = response.get(key)
            if isinstance(items, list):
                new_items = [_item_without_audio(x) if isinstance(x, dict) else x for x in items]
                if any(new is not old for new, old in zip(new_items, items, strict=True)):
                    lists[key] = new_items
        if lists:
            changed["response"] = {**response, **lists}
    return {**event, **changed} if changed else event


def _item_without_audio(item: dict[str, Any]) -> dict[str, Any]:
    content = item.get("content")
    if not isinstance(content, list):
        return item
    parts: list[Any] = []
    changed = False
    for part in content:
        audio = part.get("audio") if isinstance(part, dict) else None
        if isinstance(audio, str) and audio and omitted_audio_bytes(audio) is None:
            part = {**part, "audio": f"<{_base64_size(audio)} bytes of audio omitted>"}
            changed = True
        parts.append(part)
    return {**item, "content": parts} if changed else item


def restore_audio(event: dict[str, Any], fill: bytes = b"\x00") -> dict[str, Any]:
    """The event with each top-level marker of :func:`omit_audio` replaced by silence.

    ``fill`` is one byte of silence in the audio's format (0x00 for PCM16, 0xFF for
    G.711 u-law, 0xD5 for A-law). The event itself is returned when it has no marker.
    """
    field_name = _AUDIO_FIELDS.get(str(event.get("type")))
    size = None if field_name is None else omitted_audio_bytes(event.get(field_name))
    if field_name is None or size is None:
        return event
    silence = base64.b64encode(fill * size).decode("ascii")
    return {**event, field_name: silence}
