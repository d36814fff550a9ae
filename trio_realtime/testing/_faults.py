"""Switchable faults: how an emulated connection misbehaves on purpose."""

from __future__ import annotations

import dataclasses

__all__ = ["Faults"]


@dataclasses.dataclass
class Faults:
    """Faults applied to an emulated connection; all off by default.

    ``Emulator.faults`` is copied into every connection accepted from then on, and each
    connection's own copy (``EmulatorConnection.faults``) may be changed while it runs.
    Event counts are 1-based: ``close_after_events=3`` closes right after the third event
    the emulator sent, ``stall_after_events=2`` stalls after the second frame received.
    """

    close_after_events: int | None = None
    """Close the WebSocket (with ``close_code`` / ``close_reason``) after sending N events."""
    close_code: int = 1011
    """The close code used by ``close_after_events`` and ``close_after_s``."""
    close_reason: str = ""
    """The close reason used by ``close_after_events`` and ``close_after_s``."""
    close_after_s: float | None = None
    """Close the WebSocket this many seconds after the connection was accepted."""
    drop_after_events: int | None = None
    """Abort the TCP connection (no close frame) after sending N events."""
    stall_after_events: int | None = None
    """After receiving N client frames, stop reading from the socket and stop sending.

    Pings from the client go unanswered, no more events arrive, and once the kernel
    buffers are full the client's writes block: what a hung server looks like.
    """
    ignore_close: bool = False
    """Never answer the client's close frame (its close handshake must time out)."""
    delay_s: float = 0.0
    """Wait this long before sending each frame."""
    malformed_after_events: int | None = None
    """Send a text frame that is not valid JSON after sending N events."""
    unknown_event_after: int | None = None
    """Send an event of a type no client knows after sending N events."""
    binary_after: int | None = None
    """Send a binary frame after sending N events."""
    session_time_limit_s: float | None = None
    """Expire the session after this many seconds, as the service does at its maximum
    duration: an ``error`` with code ``session_expired``, then close 1001."""

    def copy(self) -> Faults:
        """Return an independent copy (what each new connection gets)."""
        return dataclasses.replace(self)
