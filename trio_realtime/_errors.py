"""The one exception hierarchy of trio_realtime.

Every error the library raises on purpose derives from :class:`RealtimeError`.
Any other exception escaping from the library is a bug.
"""

from __future__ import annotations

__all__ = ["ProtocolError", "RealtimeError"]


class RealtimeError(Exception):
    """Base class of every error trio_realtime raises on purpose."""


class ProtocolError(RealtimeError):
    """The peer sent something that is not a Realtime protocol frame (not a JSON object).

    Unknown event types and events whose payload does not validate are *not* errors:
    they arrive as :class:`trio_realtime.events.UnknownRealtimeEvent`.
    """
