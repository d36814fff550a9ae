"""The one exception hierarchy of trio_realtime.

Every error the library raises on purpose derives from :class:`RealtimeError`.
Any other exception escaping from the library is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import RealtimeEvent

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "ConflictError",
    "ConnectError",
    "ConnectTimeout",
    "HeartbeatTimeout",
    "InterceptorError",
    "NotFoundError",
    "ProtocolError",
    "RealtimeError",
    "ResumeExhausted",
    "ServerError",
    "SessionClosed",
    "Unsent",
    "WebhookError",
    "WebhookSignatureError",
    "WebhookTimestampError",
]


@dataclass(frozen=True)
class Unsent:
    """What a session had queued but never wrote to the socket.

    ``events`` are the client events in the order they were queued (audio appends
    included); ``audio_ms`` and ``audio_bytes`` total the audio among them, so an
    application can replay it on a new session.
    """

    events: Sequence[RealtimeEvent] = field(default_factory=tuple)
    audio_bytes: int = 0
    audio_ms: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.events)


class RealtimeError(Exception):
    """Base class of every error trio_realtime raises on purpose.

    ``unsent`` holds what the session had queued but never wrote when it ended, and
    ``unread`` the events it had received that the application never took (both empty
    when nothing was lost).
    """

    unsent: Unsent = Unsent()
    unread: tuple[RealtimeEvent, ...] = ()


class ProtocolError(RealtimeError):
    """The peer sent something that is not a Realtime protocol frame (not a JSON object).

    Unknown event types and events whose payload does not validate are *not* errors:
    they arrive as :class:`trio_realtime.events.UnknownRealtimeEvent`.
    """


class ConnectError(RealtimeError):
    """The connection could not be opened: DNS, TCP, TLS or the WebSocket handshake failed.

    ``status`` is the HTTP status when the server answered the upgrade with one (401, 404,
    429, 5xx), else None; the message then carries the error message of the response body.
    """

    status: int | None = None


class ConnectTimeout(ConnectError):
    """Opening the connection (up to ``session.created``) took longer than ``connect_timeout``."""


class AuthenticationError(ConnectError):
    """The service refused the credentials (HTTP 401/403, or ``invalid_api_key``)."""


class SessionClosed(RealtimeError):
    """The session closed with a code other than 1000 (normal closure).

    ``code`` and ``reason`` are the WebSocket close frame's (``reason`` is
    ``"<error.type>.<error.code>"`` on the service); ``code`` is 1006 when the
    connection died without a close frame.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        detail = f", {reason}" if reason else ""
        super().__init__(f"the session closed with code {code}{detail}")
        self.code: int = code
        self.reason: str = reason


class ResumeExhausted(SessionClosed):
    """The session could not move to a new connection within the resume policy's attempts
    and time; ``code`` is the close that started it, ``__cause__`` the last attempt's error."""

    def __init__(self, code: int, message: str) -> None:
        RealtimeError.__init__(self, message)
        self.code = code
        self.reason = ""


class HeartbeatTimeout(RealtimeError):
    """The peer did not answer a ping within the heartbeat timeout: the connection is dead."""


class InterceptorError(RealtimeError):
    """An interceptor's hook raised; the session ended. The hook's exception is the cause."""


class ServerError(RealtimeError):
    """The server answered a request with an ``error`` event carrying its ``event_id``."""

    def __init__(
        self,
        message: str,
        *,
        type: str = "",
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        detail = ", ".join(
            f"{name}={value!r}"
            for name, value in (("type", type), ("code", code), ("param", param))
            if value
        )
        super().__init__(f"{message} ({detail})" if detail else message)
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.event_id = event_id


# -- REST calls and webhooks (telephony) ------------------------------------------------


class APIStatusError(ServerError):
    """A REST call was answered with an HTTP error status.

    ``status_code`` is the HTTP status; ``message`` (and ``type``, ``code``, ``param``)
    come from the service's ``{"error": {...}}`` body.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str = "",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(f"HTTP {status_code}: {message}", type=type, code=code, param=param)
        self.message = message
        self.status_code = status_code


class NotFoundError(APIStatusError):
    """HTTP 404: the resource does not exist (e.g. an unknown or already ended call id)."""


class ConflictError(APIStatusError):
    """HTTP 409: the resource is not in a state that allows the request (e.g. a call
    that was already accepted)."""


class WebhookError(RealtimeError):
    """A webhook request could not be verified or its body is not a webhook event."""


class WebhookSignatureError(WebhookError):
    """The webhook's signature headers are missing, malformed or match no signature made
    with the secret: the request did not come from the service (or the secret is wrong)."""


class WebhookTimestampError(WebhookError):
    """The webhook's timestamp is outside the tolerance (a stale or replayed request).

    ``age_s`` is how old the request is (negative: from the future).
    """

    def __init__(self, message: str, *, age_s: float) -> None:
        super().__init__(message)
        self.age_s = age_s
