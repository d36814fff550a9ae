"""The session options, defined once: every ``open_*_session`` and ``RealtimeClient`` take them.

Each option is one entry of a ``TypedDict``: its type, its default (``Default(...)`` in the
annotation) and its docstring. The ``open_*`` functions take ``**options:
Unpack[ConversationOptions]`` (or ``TranslationOptions``), so type checkers and editors see
every option with its type; :func:`resolve` fills in the defaults and refuses unknown
names. A new option is one entry here.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict, TypeVar

from .._endpoint import AzureEndpoint, TokenProvider
from .._interceptors import InterceptorLike
from .._transport import TransportFactory
from ._heartbeat import Heartbeat
from ._resume import ResumePolicy

__all__ = [
    "AUDIO_BUFFER_MS",
    "AUDIO_CHUNK_MS",
    "CLOSE_TIMEOUT",
    "CONNECT_TIMEOUT",
    "DRAIN_TIMEOUT",
    "EVENT_BUFFER",
    "MAX_MESSAGE_SIZE",
    "ConversationOptions",
    "Default",
    "SessionOptions",
    "TranslationOptions",
    "resolve",
]

CONNECT_TIMEOUT = 30.0
"""Seconds to open the connection and receive ``session.created``."""
CLOSE_TIMEOUT = 5.0
"""Seconds a close may take before the socket is closed hard (the service may not answer)."""
EVENT_BUFFER = 256
"""Received events buffered for a consumer before the reader stops reading."""
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
"""Largest message accepted from the server (the service's events are at most 15 MiB)."""
AUDIO_BUFFER_MS = 5000
"""Milliseconds of audio queued locally before ``append_audio`` waits."""
AUDIO_CHUNK_MS = 100
"""Milliseconds of audio per append event sent to the service."""
DRAIN_TIMEOUT = 30.0
"""Seconds ``close_session()`` waits for ``session.closed`` (translation sessions)."""


@dataclass(frozen=True)
class Default:
    """An option's default value, given in its annotation: ``Annotated[float, Default(5.0)]``."""

    value: object


class SessionOptions(TypedDict, total=False):
    """Options of every session (``open_realtime_session``, ``open_translation_session``,
    ``open_transcription_session``) and of :class:`~trio_realtime.RealtimeClient`."""

    api_key: Annotated[str | TokenProvider | None, Default(None)]
    """The API key or an ephemeral ``ek_`` secret, or a callable (sync or async) returning one
    on every connect. Default: ``OPENAI_API_KEY``."""
    url: Annotated[str | None, Default(None)]
    """The WebSocket URL or base URL (a base URL gets ``/realtime`` appended; the emulator's
    ``emulator.url`` works as is). Default: ``OPENAI_WEBSOCKET_BASE_URL`` / ``OPENAI_BASE_URL``
    / ``wss://api.openai.com/v1``."""
    azure: Annotated[AzureEndpoint | None, Default(None)]
    """Connect to an Azure OpenAI deployment instead."""
    headers: Annotated[Mapping[str, str] | Sequence[tuple[str, str]] | None, Default(None)]
    """Extra HTTP headers for the upgrade request."""
    heartbeat: Annotated[Heartbeat | None, Default(Heartbeat())]
    """Ping interval and timeout (``Heartbeat()``: 20 s and 20 s); ``None`` turns pings off."""
    connect_timeout: Annotated[float, Default(CONNECT_TIMEOUT)]
    """Seconds to connect and receive ``session.created`` (and the ``session=`` update)."""
    close_timeout: Annotated[float, Default(CLOSE_TIMEOUT)]
    """Seconds the close may take; also how long a reading block may pause between events
    after a failure before it is cancelled."""
    event_buffer: Annotated[int, Default(EVENT_BUFFER)]
    """Received events held for the consumer before the reader stops reading."""
    max_message_size: Annotated[int, Default(MAX_MESSAGE_SIZE)]
    """The largest message accepted from the server, in bytes."""
    audio_buffer_ms: Annotated[int, Default(AUDIO_BUFFER_MS)]
    """Milliseconds of audio queued locally before ``append_audio`` waits."""
    transport: Annotated[str | TransportFactory | None, Default(None)]
    """``"websockets"`` (the default, Trio and asyncio), ``"trio-websocket"`` or a factory."""
    interceptors: Annotated[Sequence[InterceptorLike], Default(())]
    """Hooks into connect, send, receive and close (any object with some of the hooks)."""


class ConversationOptions(SessionOptions, total=False):
    """Options of conversation and transcription sessions."""

    audio_chunk_ms: Annotated[int, Default(AUDIO_CHUNK_MS)]
    """Milliseconds of audio per ``input_audio_buffer.append`` event."""
    call_id: Annotated[str | None, Default(None)]
    """Join the session of a live SIP or WebRTC call (the sideband: ``?call_id=``) instead
    of opening one for a model; audio travels on the call's media leg, not here."""
    resume: Annotated[ResumePolicy | None, Default(None)]
    """Move to a new connection after a drop or ahead of the 60-minute cap, with the
    configuration and conversation carried over (``ResumePolicy``); None: never."""


class TranslationOptions(SessionOptions, total=False):
    """Options of translation sessions."""

    drain_timeout: Annotated[float, Default(DRAIN_TIMEOUT)]
    """Seconds ``close_session()`` waits for ``session.closed``."""


_O = TypeVar("_O", SessionOptions, ConversationOptions, TranslationOptions)

_DEFAULTS: dict[type, dict[str, object]] = {}


def _defaults(kind: type) -> dict[str, object]:
    found = _DEFAULTS.get(kind)
    if found is None:
        hints = typing.get_type_hints(kind, include_extras=True)
        found = _DEFAULTS[kind] = {
            name: next(m.value for m in hint.__metadata__ if isinstance(m, Default))
            for name, hint in hints.items()
        }
    return found


def resolve(kind: type[_O], given: Mapping[str, Any]) -> _O:
    """Every option of ``kind``: the ``given`` ones, the defaults for the rest.

    Raises:
        TypeError: an option ``kind`` does not have (the message lists the valid ones).
    """
    defaults = _defaults(kind)
    unknown = given.keys() - defaults.keys()
    if unknown:
        raise TypeError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}; "
            f"the options are: {', '.join(sorted(defaults))}"
        )
    return typing.cast(_O, {**defaults, **given})
