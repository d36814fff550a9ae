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
from collections.abc import Iterator
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


def read_recording(path: str | Path) -> Recording:
    """Read a recording written by :class:`~trio_realtime.RecordingInterceptor`.

    Raises:
        ValueError: the file is not a trio_realtime recording (the message says which
            line is wrong).
    """
    with open(path, encoding="utf-8") as file:
        lines = iter(enumerate(file, start=1))
        header = _header(path, lines)
        entries = list(_entries(path, lines))
    return Recording(header=header, entries=entries)


def _header(path: str | Path, lines: Iterator[tuple[int, str]]) -> dict[str, Any]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            header = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: expected a JSON header line: {exc}") from exc
        if not isinstance(header, dict) or header.get("trio_realtime_recording") != FORMAT_VERSION:
            raise ValueError(
                f"{path}:{number}: not a trio_realtime recording (expected a header with "
                f'"trio_realtime_recording": {FORMAT_VERSION})'
            )
        return header
    raise ValueError(f"{path}: empty file, expected a trio_realtime recording")


def _entries(path: str | Path, lines: Iterator[tuple[int, str]]) -> Iterator[RecordingEntry]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            direction = raw["dir"]
            if direction not in ("send", "recv") or not isinstance(raw["event"], dict):
                raise ValueError("'dir' must be 'send' or 'recv' and 'event' an object")
            yield RecordingEntry(
                t=float(raw["t"]),
                dir=direction,
                event=raw["event"],
                session_id=raw.get("session_id"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a recording entry: {exc}") from exc
