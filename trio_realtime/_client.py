"""``RealtimeClient``: configure once, connect often (the design's resource on a client).

One immutable configuration from which sessions are opened; every ``connect*`` is a thin
call into the same ``open_*_session`` functions (one implementation, two doors).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from ._calls import RealtimeCalls
from ._endpoint import AzureEndpoint, TokenProvider
from ._engine import CLOSE_TIMEOUT, CONNECT_TIMEOUT, Heartbeat
from ._errors import ServerError
from ._interceptors import Interceptor
from ._rest import RestTarget, post_json
from ._session import (
    RealtimeSession,
    SessionInput,
    TranscriptionSession,
    open_realtime_session,
    open_transcription_session,
)
from ._translation import (
    DEFAULT_TRANSLATION_MODEL,
    RealtimeTranslationSession,
    TranslationInput,
    open_translation_session,
)
from ._transport import TransportFactory
from .events import (
    SessionConfig,
    SessionObject,
    TranscriptionSessionConfig,
    TranslationSession,
    TranslationSessionConfig,
)

__all__ = ["ClientSecret", "RealtimeClient"]


@dataclass(frozen=True)
class ClientSecret:
    """An ephemeral key (``ek_...``) for a browser or phone app, its expiry and session."""

    value: str = field(repr=False)
    expires_at: int
    session: SessionObject | TranslationSession | None

    def __repr__(self) -> str:
        return f"ClientSecret(value='ek_***', expires_at={self.expires_at})"


@dataclass(frozen=True)
class RealtimeClient:
    """A configured client from which sessions are opened.

    Defaults come from the environment when a session connects, as for
    :func:`~trio_realtime.open_realtime_session` (``OPENAI_API_KEY``,
    ``OPENAI_BASE_URL`` / ``OPENAI_WEBSOCKET_BASE_URL``, ``OPENAI_ORG_ID``,
    ``OPENAI_PROJECT_ID``). ``api_key`` may be a callable (sync or async) returning the
    key or a bearer token: it is called on every connect, so rotating tokens work.
    The repr never shows the key.
    """

    api_key: str | TokenProvider | None = field(default=None, repr=False)
    base_url: str | None = None
    azure: AzureEndpoint | None = None
    organization: str | None = None
    project: str | None = None
    headers: Mapping[str, str] | None = None
    transport: str | TransportFactory | None = None
    heartbeat: Heartbeat | None = Heartbeat()  # noqa: RUF009 - frozen
    connect_timeout: float = CONNECT_TIMEOUT
    close_timeout: float = CLOSE_TIMEOUT
    interceptors: Sequence[Interceptor] = ()

    def with_options(self, **changes: Any) -> RealtimeClient:
        """A copy with some options changed (e.g. ``client.with_options(connect_timeout=5)``)."""
        return dataclasses.replace(self, **changes)

    def _headers(self) -> dict[str, str]:
        headers = dict(self.headers or {})
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def _options(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {
            "api_key": self.api_key,
            "url": self.base_url,
            "azure": self.azure,
            "headers": self._headers(),
            "transport": self.transport,
            "heartbeat": self.heartbeat,
            "connect_timeout": self.connect_timeout,
            "close_timeout": self.close_timeout,
            "interceptors": tuple(self.interceptors),
        }
        changes = dict(overrides)
        options["interceptors"] += tuple(changes.pop("interceptors", ()))
        options.update(changes)
        return options

    def connect(
        self,
        model: str | None = None,
        *,
        session: SessionInput | None = None,
        call_id: str | None = None,
        **overrides: Any,
    ) -> AbstractAsyncContextManager[RealtimeSession]:
        """Open a conversation session: exactly :func:`~trio_realtime.open_realtime_session`.

        ``call_id`` joins an accepted SIP/WebRTC call as its sideband session instead
        of starting a conversation. ``overrides`` change any of its options for this
        session only (``interceptors`` are added after the client's).
        """
        return open_realtime_session(
            model, session=session, call_id=call_id, **self._options(overrides)
        )

    def connect_translation(
        self,
        model: str = DEFAULT_TRANSLATION_MODEL,
        *,
        session: TranslationInput | None = None,
        **overrides: Any,
    ) -> AbstractAsyncContextManager[RealtimeTranslationSession]:
        """Open a translation session: exactly :func:`~trio_realtime.open_translation_session`."""
        return open_translation_session(model, session=session, **self._options(overrides))

    def connect_transcription(
        self, *, session: SessionInput | None = None, **overrides: Any
    ) -> AbstractAsyncContextManager[TranscriptionSession]:
        """Open a transcription session: :func:`~trio_realtime.open_transcription_session`."""
        return open_transcription_session(session=session, **self._options(overrides))

    # -- REST: call control (telephony) --------------------------------------------

    def _rest(self) -> RestTarget:
        return RestTarget(
            api_key=self.api_key,
            base_url=self.base_url,
            azure=self.azure,
            headers=self._headers(),
            interceptors=self.interceptors,
            timeout=self.connect_timeout,
        )

    @property
    def calls(self) -> RealtimeCalls:
        """Accept, reject, transfer and hang up SIP calls (``/v1/realtime/calls/...``)."""
        return RealtimeCalls(self._rest())

    async def create_client_secret(
        self,
        session: SessionConfig | TranscriptionSessionConfig | Mapping[str, Any] | None = None,
        *,
        expires_after: int | None = None,
    ) -> ClientSecret:
        """Mint an ephemeral key for a realtime or transcription session.

        ``POST /v1/realtime/client_secrets``; ``expires_after`` in seconds (10 to 7200,
        the service defaults to 600).

        Raises:
            AuthenticationError: the service refused the API key.
            ServerError: the service rejected the request (its message and code).
            ConnectError: the service could not be reached.
        """
        body = _secret_body(session, expires_after, default_type="realtime")
        data = await self._post("realtime/client_secrets", body)
        raw_session = data.get("session")
        parsed: SessionObject | None = None
        if isinstance(raw_session, dict):
            model = (
                TranscriptionSessionConfig
                if raw_session.get("type") == "transcription"
                else SessionConfig
            )
            parsed = model.model_validate(raw_session)
        return ClientSecret(str(data["value"]), int(data["expires_at"]), parsed)

    async def create_translation_client_secret(
        self,
        session: TranslationSessionConfig | Mapping[str, Any] | None = None,
        *,
        model: str = DEFAULT_TRANSLATION_MODEL,
        expires_after: int | None = None,
    ) -> ClientSecret:
        """Mint an ephemeral key for a translation session
        (``POST /v1/realtime/translations/client_secrets``). Raises as
        :meth:`create_client_secret`."""
        body = _secret_body(session, expires_after, default_type=None)
        body["session"].setdefault("model", model)
        data = await self._post("realtime/translations/client_secrets", body)
        raw_session = data.get("session")
        parsed = (
            TranslationSession.model_validate(raw_session)
            if isinstance(raw_session, dict)
            else None
        )
        return ClientSecret(str(data["value"]), int(data["expires_at"]), parsed)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = await post_json(self._rest(), path, body)
        if not isinstance(data, dict):
            raise ServerError(f"the service answered {path} with no JSON object")
        return data


def _secret_body(
    session: Any, expires_after: int | None, *, default_type: str | None
) -> dict[str, Any]:
    config = session.to_dict() if hasattr(session, "model_dump") else dict(session or {})
    if default_type is not None:
        config.setdefault("type", default_type)
    body: dict[str, Any] = {"session": config}
    if expires_after is not None:
        body["expires_after"] = {"anchor": "created_at", "seconds": expires_after}
    return body
