"""``RealtimeClient``: configure once, connect often (the design's resource on a client).

One immutable configuration from which sessions are opened; every ``connect*`` is a thin
call into the same ``open_*_session`` functions (one implementation, two doors).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Unpack

from ._calls import RealtimeCalls
from ._connect import open_realtime_session, open_transcription_session
from ._endpoint import AzureEndpoint, TokenProvider
from ._engine import ConversationOptions, SessionOptions, TranslationOptions, resolve
from ._errors import ServerError
from ._rest import RestTarget, post_json
from ._session import RealtimeSession, SessionInput, TranscriptionSession
from ._translation import (
    DEFAULT_TRANSLATION_MODEL,
    RealtimeTranslationSession,
    TranslationInput,
    open_translation_session,
)
from ._usage import SessionUsage, UsageTally
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


class _Unset:
    """The marker of an argument not given (``None`` is a value there)."""


_UNSET = _Unset()


class RealtimeClient:
    """A configured client from which sessions are opened.

    Takes every session option (:class:`~trio_realtime.SessionOptions`; ``base_url`` is
    its ``url``) plus the organization and project headers. Defaults come from the
    environment when a session connects, as for
    :func:`~trio_realtime.open_realtime_session` (``OPENAI_API_KEY``,
    ``OPENAI_BASE_URL`` / ``OPENAI_WEBSOCKET_BASE_URL``, ``OPENAI_ORG_ID``,
    ``OPENAI_PROJECT_ID``). ``api_key`` may be a callable (sync or async) returning the
    key or a bearer token: it is called on every connect, so rotating tokens work.
    Immutable; the repr never shows the key.

    Raises:
        TypeError: an unknown option (or ``url=``: the client's is ``base_url=``).
    """

    __slots__ = ("_base_url", "_given", "_organization", "_project", "_tally")

    def __init__(
        self,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        **options: Unpack[SessionOptions],
    ) -> None:
        if "url" in options:
            raise TypeError("RealtimeClient takes base_url=, not url=")
        resolve(SessionOptions, options)
        self._base_url = base_url
        self._organization = organization
        self._project = project
        self._given: dict[str, Any] = dict(options)
        self._tally = UsageTally()

    @property
    def base_url(self) -> str | None:
        """The base URL sessions and REST calls use (None: from the environment)."""
        return self._base_url

    @property
    def organization(self) -> str | None:
        """Sent as ``OpenAI-Organization``."""
        return self._organization

    @property
    def project(self) -> str | None:
        """Sent as ``OpenAI-Project``."""
        return self._project

    @property
    def options(self) -> SessionOptions:
        """Every session option as a session of this client gets it (defaults filled in)."""
        options = resolve(SessionOptions, {**self._given, "url": self._base_url})
        options["headers"] = self._headers()
        options["interceptors"] = tuple(options["interceptors"])
        return options

    @property
    def api_key(self) -> str | TokenProvider | None:
        """The key or key provider (None: ``OPENAI_API_KEY``)."""
        return self.options["api_key"]

    @property
    def azure(self) -> AzureEndpoint | None:
        """The Azure deployment, if any."""
        return self.options["azure"]

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._given.items() if k != "api_key"}
        fields = [f"base_url={self._base_url!r}", *(f"{k}={v!r}" for k, v in shown.items())]
        return f"RealtimeClient({', '.join(fields)})"

    def with_options(
        self,
        *,
        base_url: str | _Unset | None = _UNSET,
        organization: str | _Unset | None = _UNSET,
        project: str | _Unset | None = _UNSET,
        **changes: Unpack[SessionOptions],
    ) -> RealtimeClient:
        """A copy with some options changed (e.g. ``client.with_options(connect_timeout=5)``).

        The copy shares this client's :meth:`usage` tally.
        """
        copy = RealtimeClient(
            base_url=self._base_url if isinstance(base_url, _Unset) else base_url,
            organization=self._organization if isinstance(organization, _Unset) else organization,
            project=self._project if isinstance(project, _Unset) else project,
            **{**self._given, **changes},
        )
        copy._tally = self._tally
        return copy

    def usage(self) -> SessionUsage:
        """The usage of every session this client (or a ``with_options`` copy) opened.

        Closed sessions count as they ended, open ones as they stand now; see
        :meth:`RealtimeSession.usage`.
        """
        return self._tally.usage()

    def _headers(self) -> dict[str, str]:
        headers = dict(self._given.get("headers") or {})
        if self._organization:
            headers["OpenAI-Organization"] = self._organization
        if self._project:
            headers["OpenAI-Project"] = self._project
        return headers

    def _options(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The options of one session: the client's, then ``overrides`` (interceptors added)."""
        options: dict[str, Any] = dict(self.options)
        changes = dict(overrides)
        options["interceptors"] += tuple(changes.pop("interceptors", ()))
        options.update(changes)
        return options

    def connect(
        self,
        model: str | None = None,
        *,
        session: SessionInput | None = None,
        **overrides: Unpack[ConversationOptions],
    ) -> AbstractAsyncContextManager[RealtimeSession]:
        """Open a conversation session: exactly :func:`~trio_realtime.open_realtime_session`.

        ``call_id`` joins an accepted SIP/WebRTC call as its sideband session instead
        of starting a conversation. ``overrides`` change any of its options for this
        session only (``interceptors`` are added after the client's).
        """
        return self._tally.track(
            open_realtime_session(model, session=session, **self._options(overrides))
        )

    def connect_translation(
        self,
        model: str = DEFAULT_TRANSLATION_MODEL,
        *,
        session: TranslationInput | None = None,
        **overrides: Unpack[TranslationOptions],
    ) -> AbstractAsyncContextManager[RealtimeTranslationSession]:
        """Open a translation session: exactly :func:`~trio_realtime.open_translation_session`."""
        return self._tally.track(
            open_translation_session(model, session=session, **self._options(overrides))
        )

    def connect_transcription(
        self, *, session: SessionInput | None = None, **overrides: Unpack[ConversationOptions]
    ) -> AbstractAsyncContextManager[TranscriptionSession]:
        """Open a transcription session: :func:`~trio_realtime.open_transcription_session`."""
        return self._tally.track(
            open_transcription_session(session=session, **self._options(overrides))
        )

    # -- REST: call control (telephony) --------------------------------------------

    def _rest(self) -> RestTarget:
        return RestTarget(
            api_key=self.api_key,
            base_url=self.base_url,
            azure=self.azure,
            headers=self._headers(),
            interceptors=self.options["interceptors"],
            timeout=self.options["connect_timeout"],
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
