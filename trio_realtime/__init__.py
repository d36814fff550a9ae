"""trio_realtime: a Trio-first, structured-concurrency client for the OpenAI Realtime API.

``async with open_realtime_session(model=...) as session:`` owns a task group with a
reader, a writer and a heartbeat; typed events (:mod:`trio_realtime.events`) arrive
through a bounded stream; everything the library raises derives from
:class:`RealtimeError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

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
    "CostEstimate",
    "FastTransport",
    "ConversationOptions",
    "Heartbeat",
    "HeartbeatTimeout",
    "Interceptor",
    "InterceptorLike",
    "InterceptorError",
    "LoggingInterceptor",
    "MetricsInterceptor",
    "MetricsSummary",
    "ModelPrice",
    "NotFoundError",
    "ProtocolError",
    "RealtimeCalls",
    "RealtimeClient",
    "RealtimeError",
    "ResumeExhausted",
    "ResumePolicy",
    "RealtimeEvent",
    "RealtimeSession",
    "RealtimeTranslationSession",
    "Recording",
    "RecordingEntry",
    "RecordingInterceptor",
    "ResponseUsage",
    "ServerError",
    "SessionClosed",
    "SessionOptions",
    "SessionStatistics",
    "SessionUsage",
    "TokenUsage",
    "ToolArgumentsError",
    "ToolCall",
    "ToolEvent",
    "ToolFinished",
    "ToolOutcome",
    "ToolPolicy",
    "ToolRunner",
    "ToolRunnerStatistics",
    "ToolSpec",
    "ToolStarted",
    "Tools",
    "TranslationOptions",
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
    "open_tool_runner",
    "open_transcription_session",
    "open_translation_session",
    "parse_client_event",
    "parse_server_event",
    "parse_translation_client_event",
    "parse_translation_server_event",
    "read_price_table",
    "read_recording",
    "webhooks",
    "__version__",
]

# The session path (sessions, engine, events and the server events' validator) loads with
# the package, so that the first session opens as fast as the next ones; every other name
# loads with its first use (numpy with the audio helpers, httpx with the REST client,
# standardwebhooks with the webhooks, the tool runner, translation...). The imports are for
# type checkers and the docs, the table for Python; tests/test_startup.py keeps them equal.
if TYPE_CHECKING:
    from . import events as events, webhooks as webhooks
    from ._calls import RealtimeCalls as RealtimeCalls
    from ._client import ClientSecret as ClientSecret, RealtimeClient as RealtimeClient
    from ._connect import (
        open_realtime_session as open_realtime_session,
        open_transcription_session as open_transcription_session,
    )
    from ._endpoint import AzureEndpoint as AzureEndpoint
    from ._engine import (
        ConversationOptions as ConversationOptions,
        Heartbeat as Heartbeat,
        ResumePolicy as ResumePolicy,
        SessionOptions as SessionOptions,
        SessionStatistics as SessionStatistics,
        TranslationOptions as TranslationOptions,
    )
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
        ResumeExhausted as ResumeExhausted,
        ServerError as ServerError,
        SessionClosed as SessionClosed,
        Unsent as Unsent,
        WebhookError as WebhookError,
        WebhookSignatureError as WebhookSignatureError,
        WebhookTimestampError as WebhookTimestampError,
    )
    from ._interceptors import (
        Interceptor as Interceptor,
        InterceptorLike as InterceptorLike,
        LoggingInterceptor as LoggingInterceptor,
        MetricsInterceptor as MetricsInterceptor,
        MetricsSummary as MetricsSummary,
        RecordingInterceptor as RecordingInterceptor,
        TurnMetrics as TurnMetrics,
    )
    from ._prices import (
        CostEstimate as CostEstimate,
        ModelPrice as ModelPrice,
        read_price_table as read_price_table,
    )
    from ._recording import (
        Recording as Recording,
        RecordingEntry as RecordingEntry,
        read_recording as read_recording,
    )
    from ._session import (
        RealtimeSession as RealtimeSession,
        TranscriptionSession as TranscriptionSession,
    )
    from ._sideband import SidebandSession as SidebandSession
    from ._tools import (
        ToolArgumentsError as ToolArgumentsError,
        ToolCall as ToolCall,
        ToolEvent as ToolEvent,
        ToolFinished as ToolFinished,
        ToolOutcome as ToolOutcome,
        ToolPolicy as ToolPolicy,
        ToolRunner as ToolRunner,
        ToolRunnerStatistics as ToolRunnerStatistics,
        Tools as Tools,
        ToolSpec as ToolSpec,
        ToolStarted as ToolStarted,
        open_tool_runner as open_tool_runner,
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
    from ._usage import (
        ResponseUsage as ResponseUsage,
        SessionUsage as SessionUsage,
        TokenUsage as TokenUsage,
    )
    from .events import (
        RealtimeEvent as RealtimeEvent,
        UnknownRealtimeEvent as UnknownRealtimeEvent,
        parse_client_event as parse_client_event,
        parse_server_event as parse_server_event,
        parse_translation_client_event as parse_translation_client_event,
        parse_translation_server_event as parse_translation_server_event,
    )
else:
    __getattr__, __dir__ = lazy_attributes(
        __name__,
        {
            "events": ".events",
            "webhooks": ".webhooks",
            "RealtimeCalls": "._calls",
            "ClientSecret": "._client",
            "RealtimeClient": "._client",
            "open_realtime_session": "._connect",
            "open_transcription_session": "._connect",
            "AzureEndpoint": "._endpoint",
            "ConversationOptions": "._engine",
            "Heartbeat": "._engine",
            "ResumePolicy": "._engine",
            "SessionOptions": "._engine",
            "SessionStatistics": "._engine",
            "TranslationOptions": "._engine",
            "APIStatusError": "._errors",
            "AuthenticationError": "._errors",
            "ConflictError": "._errors",
            "ConnectError": "._errors",
            "ConnectTimeout": "._errors",
            "HeartbeatTimeout": "._errors",
            "InterceptorError": "._errors",
            "NotFoundError": "._errors",
            "ProtocolError": "._errors",
            "RealtimeError": "._errors",
            "ResumeExhausted": "._errors",
            "ServerError": "._errors",
            "SessionClosed": "._errors",
            "Unsent": "._errors",
            "WebhookError": "._errors",
            "WebhookSignatureError": "._errors",
            "WebhookTimestampError": "._errors",
            "Interceptor": "._interceptors",
            "InterceptorLike": "._interceptors",
            "LoggingInterceptor": "._interceptors",
            "MetricsInterceptor": "._interceptors",
            "MetricsSummary": "._interceptors",
            "RecordingInterceptor": "._interceptors",
            "TurnMetrics": "._interceptors",
            "CostEstimate": "._prices",
            "ModelPrice": "._prices",
            "read_price_table": "._prices",
            "Recording": "._recording",
            "RecordingEntry": "._recording",
            "read_recording": "._recording",
            "RealtimeSession": "._session",
            "TranscriptionSession": "._session",
            "SidebandSession": "._sideband",
            "ToolArgumentsError": "._tools",
            "ToolCall": "._tools",
            "ToolEvent": "._tools",
            "ToolFinished": "._tools",
            "ToolOutcome": "._tools",
            "ToolPolicy": "._tools",
            "ToolRunner": "._tools",
            "ToolRunnerStatistics": "._tools",
            "Tools": "._tools",
            "ToolSpec": "._tools",
            "ToolStarted": "._tools",
            "open_tool_runner": "._tools",
            "RealtimeTranslationSession": "._translation",
            "TranslationResult": "._translation",
            "TranslationSegment": "._translation",
            "open_translation_session": "._translation",
            "ConnectRequest": "._transport",
            "FastTransport": "._transport",
            "Transport": "._transport",
            "TransportClosed": "._transport",
            "TransportFactory": "._transport",
            "ResponseUsage": "._usage",
            "SessionUsage": "._usage",
            "TokenUsage": "._usage",
            "RealtimeEvent": ".events",
            "UnknownRealtimeEvent": ".events",
            "parse_client_event": ".events",
            "parse_server_event": ".events",
            "parse_translation_client_event": ".events",
            "parse_translation_server_event": ".events",
        },
    )
    from . import _connect  # noqa: F401  (the session path, see above)
