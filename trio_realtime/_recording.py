"""The recording format: every frame of a session, both ways, as JSON Lines.

Line 1 is a header; every other line is one frame::

    {"trio_realtime_recording": 1, "kind": "realtime", "url": "wss://…/v1/realtime?model=…",
     "started_at": 1763770000.12}
    {"t": 0.003, "dir": "recv", "session_id": null, "event": {"type": "session.created", …}}
    {"t": 0.010, "dir": "send", "session_id": "sess_…", "event": {"type": "session.update", …}}

``t`` is monotonic seconds since the session started; ``dir`` is ``"send"`` (client to
server) or ``"recv"`` (server to client); ``event`` is the wire object exactly as sent or
received, audio included, so a call can be reproduced. Credentials are never written:
the URL keeps only its query's non-secret parameters, and headers are not recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "FORMAT_VERSION",
    "Recording",
    "RecordingEntry",
    "RecordingWriter",
    "read_recording",
    "redact_url",
]

FORMAT_VERSION = 1
_SECRET_PARAMS = frozenset({"api-key", "api_key", "key", "token", "access_token"})

Direction = Literal["send", "recv"]


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
    session_id: str | None = None


@dataclass(frozen=True)
class Recording:
    """A recorded session: its header and frames, in order."""

    header: dict[str, Any]
    entries: list[RecordingEntry] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The kind of session recorded: ``realtime``, ``transcription`` or ``translation``."""
        return str(self.header.get("kind", "realtime"))


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
                if raw["trio_realtime_recording"] != FORMAT_VERSION:
                    raise ValueError(
                        f"{path}:{number}: recording format {raw['trio_realtime_recording']!r}"
                        f" is not supported (expected {FORMAT_VERSION})"
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
        if direction not in ("send", "recv") or not isinstance(raw["event"], dict):
            raise ValueError("'dir' must be 'send' or 'recv' and 'event' an object")
        return RecordingEntry(
            t=float(raw["t"]), dir=direction, event=raw["event"], session_id=raw.get("session_id")
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}:{number}: not a recording entry: {exc}") from exc
