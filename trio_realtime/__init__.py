"""trio_realtime: a Trio-first, structured-concurrency client for the OpenAI Realtime API.

``async with open_realtime_session(model=...) as session:`` owns a task group with a
reader, a writer and a heartbeat; typed events (:mod:`trio_realtime.events`) arrive
through a bounded stream; everything the library raises derives from
:class:`RealtimeError`.
"""

from __future__ import annotations

from . import events as events, webhooks as webhooks
from ._calls import RealtimeCalls as RealtimeCalls
from ._client import ClientSecret as ClientSecret, RealtimeClient as RealtimeClient
from ._endpoint import AzureEndpoint as AzureEndpoint
from ._engine import Heartbeat as Heartbeat, SessionStatistics as SessionStatistics
from ._errors import (
    APIStatusError as APIStatusError,
    AuthenticationError as AuthenticationError,
    ConflictError as ConflictError,
    ConnectError as ConnectError,
    ConnectTimeout as ConnectTimeout,
    HeartbeatTimeout as HeartbeatTimeout,
    InterceptorError as InterceptorError,
    NotFoundError as NotFoundError,
    ProtocolError as ProtocolError,
    RealtimeError as RealtimeError,
    ServerError as ServerError,
    SessionClosed as SessionClosed,
    Unsent as Unsent,
    WebhookError as WebhookError,
    WebhookSignatureError as WebhookSignatureError,
    WebhookTimestampError as WebhookTimestampError,
)
from ._interceptors import (
    Interceptor as Interceptor,
    LoggingInterceptor as LoggingInterceptor,
    MetricsInterceptor as MetricsInterceptor,
    MetricsSummary as MetricsSummary,
    RecordingInterceptor as RecordingInterceptor,
    TurnMetrics as TurnMetrics,
)
from ._recording import (
    Recording as Recording,
    RecordingEntry as RecordingEntry,
    read_recording as read_recording,
)
from ._session import (
    RealtimeSession as RealtimeSession,
    SidebandSession as SidebandSession,
    TranscriptionSession as TranscriptionSession,
    open_realtime_session as open_realtime_session,
    open_transcription_session as open_transcription_session,
)
from ._translation import (
    RealtimeTranslationSession as RealtimeTranslationSession,
    TranslationResult as TranslationResult,
    TranslationSegment as TranslationSegment,
    open_translation_session as open_translation_session,
)
from ._transport import (
    ConnectRequest as ConnectRequest,
    FastTransport as FastTransport,
    Transport as Transport,
    TransportClosed as TransportClosed,
    TransportFactory as TransportFactory,
)
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
    "APIStatusError",
    "AuthenticationError",
    "AzureEndpoint",
    "ClientSecret",
    "ConflictError",
    "ConnectError",
    "ConnectRequest",
    "ConnectTimeout",
    "FastTransport",
    "Heartbeat",
    "HeartbeatTimeout",
    "Interceptor",
    "InterceptorError",
    "LoggingInterceptor",
    "MetricsInterceptor",
    "MetricsSummary",
    "NotFoundError",
    "ProtocolError",
    "RealtimeCalls",
    "RealtimeClient",
    "RealtimeError",
    "RealtimeEvent",
    "RealtimeSession",
    "RealtimeTranslationSession",
    "Recording",
    "RecordingEntry",
    "RecordingInterceptor",
    "ServerError",
    "SessionClosed",
    "SessionStatistics",
    "SidebandSession",
    "TranscriptionSession",
    "TranslationResult",
    "TranslationSegment",
    "Transport",
    "TransportClosed",
    "TransportFactory",
    "TurnMetrics",
    "UnknownRealtimeEvent",
    "Unsent",
    "WebhookError",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "events",
    "open_realtime_session",
    "open_transcription_session",
    "open_translation_session",
    "parse_client_event",
    "parse_server_event",
    "parse_translation_client_event",
    "parse_translation_server_event",
    "read_recording",
    "webhooks",
    "__version__",
]
