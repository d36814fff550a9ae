"""What ``statistics()`` reports: the frozen snapshot, and the receive-side counters.

The send-side counters live in the outbox and the queue depths in the inbox and the
outbox; :func:`snapshot` reads them all at once, so nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._inbox import Inbox
from ._outbox import Outbox

__all__ = ["PEAK_SAMPLE_EVERY", "ReceiveCounters", "SessionStatistics", "snapshot"]

PEAK_SAMPLE_EVERY = 16
"""The reader samples the inbox's depth for ``peak_events_buffered`` every this many events."""


@dataclass(frozen=True)
class SessionStatistics:
    """A snapshot of a session's counters and queue depths (from ``statistics()``)."""

    events_received: int
    """Events delivered to the events stream (unknown events included)."""
    events_sent: int
    """Client frames written to the socket."""
    bytes_received: int
    """Bytes of the messages received (after WebSocket framing)."""
    bytes_sent: int
    """Bytes of the messages written."""
    frames_skipped: int
    """Frames dropped because they were not JSON objects, or were binary."""
    unknown_events: int
    """Events delivered as ``UnknownRealtimeEvent``."""
    events_buffered: int
    """Events received but not yet consumed."""
    event_buffer_size: int
    """The bound of the events stream (``event_buffer``)."""
    peak_events_buffered: int
    """The most events seen waiting for the consumer at once (sampled; exact when full)."""
    control_queued: int
    """Control frames waiting for the writer."""
    audio_queued_frames: int
    """Audio frames (and commits/clears) waiting for the writer."""
    audio_queued_ms: float
    """Milliseconds of audio waiting for the writer."""
    audio_sent_ms: float
    """Milliseconds of audio written to the socket."""
    audio_dropped_ms: float
    """Audio the thread-safe feed dropped because the audio lane stayed full."""
    pings_sent: int
    """Heartbeat pings sent (skipped while the consumer is slow)."""
    last_ping_rtt: float | None
    """Round trip of the last answered ping, in seconds."""


class ReceiveCounters:
    """The reader's and the heartbeat's counters (plain attributes: the reader is hot)."""

    __slots__ = (
        "bytes_received",
        "events_received",
        "frames_skipped",
        "last_ping_rtt",
        "pings_sent",
        "unknown_events",
    )

    def __init__(self) -> None:
        self.events_received = 0
        self.bytes_received = 0
        self.frames_skipped = 0
        self.unknown_events = 0
        self.pings_sent = 0
        self.last_ping_rtt: float | None = None


def snapshot(
    counters: ReceiveCounters, inbox: Inbox, outbox: Outbox, audio_dropped_ms: float
) -> SessionStatistics:
    """One frozen :class:`SessionStatistics` from the session's parts."""
    return SessionStatistics(
        events_received=counters.events_received,
        events_sent=outbox.frames_sent,
        bytes_received=counters.bytes_received,
        bytes_sent=outbox.bytes_sent,
        frames_skipped=counters.frames_skipped,
        unknown_events=counters.unknown_events,
        events_buffered=len(inbox.buffer),
        event_buffer_size=inbox.size,
        peak_events_buffered=inbox.peak,
        control_queued=outbox.control_queued,
        audio_queued_frames=outbox.audio_queued_frames,
        audio_queued_ms=outbox.audio_queued_ms,
        audio_sent_ms=outbox.audio_sent_ms,
        audio_dropped_ms=audio_dropped_ms,
        pings_sent=counters.pings_sent,
        last_ping_rtt=counters.last_ping_rtt,
    )
