"""trio_realtime: a Trio-first, structured-concurrency client for the OpenAI Realtime API."""

from __future__ import annotations

from . import events as events
from ._errors import ProtocolError as ProtocolError, RealtimeError as RealtimeError
from .events import (
    RealtimeEvent as RealtimeEvent,
    UnknownRealtimeEvent as UnknownRealtimeEvent,
    parse_client_event as parse_client_event,
    parse_server_event as parse_server_event,
    parse_translation_client_event as parse_translation_client_event,
    parse_translation_server_event as parse_translation_server_event,
)

__version__ = "0.1.0"

__all__ = [
    "ProtocolError",
    "RealtimeError",
    "RealtimeEvent",
    "UnknownRealtimeEvent",
    "__version__",
    "events",
    "parse_client_event",
    "parse_server_event",
    "parse_translation_client_event",
    "parse_translation_server_event",
]
