"""Events the library itself puts in a session's stream (never sent by the service).

Their ``type`` starts with ``trio_realtime.``, so it never collides with the service's
event names; they are not parsed from the wire.
"""

# Annotations are evaluated here, not postponed (no `from __future__ import annotations`):
# pydantic would otherwise evaluate every annotation string while building the classes,
# a third of their cost at import.
from typing import Literal

from ._base import RealtimeEvent

__all__ = ["SessionResumedEvent"]


class SessionResumedEvent(RealtimeEvent):
    """The session moved to a new connection (``resume=ResumePolicy(...)``), in the same
    ``async for``: why, how long it took, and what went over.

    Every event before this one came from the old connection, every one after from the
    new. A response that was streaming when the old connection ended is not re-run: its
    id is in ``interrupted_response_id`` (ask for a new one if you want it).
    """

    type: Literal["trio_realtime.session.resumed"] = "trio_realtime.session.resumed"
    reason: Literal["close", "session_expired", "rollover", "heartbeat"]
    """Why: the server closed or dropped the connection, the session hit its maximum
    duration, the client moved ahead of it, or the peer stopped answering pings."""
    close_code: int
    """The old connection's close code (1006: no close frame; 1000 for a rollover)."""
    attempt: int
    """Which connect attempt succeeded (1: the first)."""
    gap_ms: float
    """From the end of the old connection to the new one being ready, in milliseconds."""
    previous_session_id: str | None = None
    session_id: str | None = None
    items_carried: int = 0
    """Conversation items recreated on the new connection (with their ids)."""
    items_dropped: int = 0
    """Items left behind: over the carry budget, without text, or incomplete."""
    replayed_events: int = 0
    """Client events queued or in flight at the switch, sent once on the new connection."""
    replayed_audio_ms: float = 0.0
    """The audio among them, in milliseconds."""
    interrupted_response_id: str | None = None
    """The response that was in progress when the old connection ended, if any."""
