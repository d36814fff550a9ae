"""The engine under every session, one idea a module.

- ``_lifecycle``: states, the first failure, and how the block learns of the end;
- ``_run``: running a session around the block, and the one exception out of it;
- ``_connections``: the connections one after another (resumption);
- ``_outbox``: outbound order, whole frames, direct writes, what went unsent;
- ``_room``: room for producers, granted in arrival order;
- ``_inbox``: inbound order, backpressure, the end of input after every event;
- ``_heartbeat``: dead peers;
- ``_replies``: requests waiting for their answers;
- ``_stats``: ``statistics()``;
- ``_options``: the session options, defined once;
- ``_resume``: when a session moves to a new connection, and how hard it tries;
- ``_backend``: the one place Trio and asyncio differ;
- ``_core``: the :class:`Engine` that composes them, and its reader.
"""

from ._backend import YIELD_EVERY, Backend, Pace, current_backend
from ._core import Engine
from ._heartbeat import Heartbeat
from ._inbox import Inbox
from ._lifecycle import NORMAL_CLOSE, Drop, Lifecycle, State
from ._options import (
    AUDIO_BUFFER_MS,
    AUDIO_CHUNK_MS,
    CLOSE_TIMEOUT,
    CONNECT_TIMEOUT,
    DRAIN_TIMEOUT,
    EVENT_BUFFER,
    MAX_MESSAGE_SIZE,
    ConversationOptions,
    SessionOptions,
    TranslationOptions,
    resolve,
)
from ._outbox import CONTROL_BUFFER, Frame, Outbox
from ._replies import Replies, Reply, ReplyTable
from ._resume import DEFAULT_RESUME_CODES, ResumePolicy, ResumeReason
from ._room import Room
from ._run import open_engine, run_engine
from ._stats import SessionStatistics

__all__ = [
    "DEFAULT_RESUME_CODES",
    "Drop",
    "ResumePolicy",
    "ResumeReason",
    "AUDIO_BUFFER_MS",
    "AUDIO_CHUNK_MS",
    "DRAIN_TIMEOUT",
    "ConversationOptions",
    "SessionOptions",
    "TranslationOptions",
    "resolve",
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
