"""The engine under every session, one idea a module.

- ``_lifecycle``: states, failure, close, and the one exception out of the block;
- ``_outbox``: outbound order, whole frames, room for producers, what went unsent;
- ``_inbox``: inbound order, backpressure, the end of input after every event;
- ``_heartbeat``: dead peers;
- ``_replies``: requests waiting for their answers;
- ``_stats``: ``statistics()``;
- ``_backend``: the one place Trio and asyncio differ;
- ``_core``: the :class:`Engine` that composes them, and its reader.
"""

from ._backend import YIELD_EVERY, Backend, Pace, current_backend
from ._core import Engine
from ._heartbeat import Heartbeat
from ._inbox import Inbox
from ._lifecycle import NORMAL_CLOSE, Lifecycle, State, open_engine, run_engine
from ._outbox import CONTROL_BUFFER, Frame, Outbox, Room
from ._replies import Replies, Reply, ReplyTable
from ._stats import SessionStatistics

__all__ = [
    "CLOSE_TIMEOUT",
    "CONNECT_TIMEOUT",
    "CONTROL_BUFFER",
    "EVENT_BUFFER",
    "MAX_MESSAGE_SIZE",
    "NORMAL_CLOSE",
    "YIELD_EVERY",
    "Backend",
    "Engine",
    "Frame",
    "Heartbeat",
    "Inbox",
    "Lifecycle",
    "Outbox",
    "Pace",
    "Replies",
    "Reply",
    "ReplyTable",
    "Room",
    "SessionStatistics",
    "State",
    "current_backend",
    "open_engine",
    "run_engine",
]

CONNECT_TIMEOUT = 30.0
"""Seconds to open the connection and receive ``session.created``."""
CLOSE_TIMEOUT = 5.0
"""Seconds a close may take before the socket is closed hard (the service may not answer)."""
EVENT_BUFFER = 256
"""Received events buffered for a consumer before the reader stops reading."""
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
"""Largest message accepted from the server (the service's events are at most 15 MiB)."""
