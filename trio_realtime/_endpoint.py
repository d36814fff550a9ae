"""URL, headers and credentials for OpenAI, Azure and custom endpoints.

Nothing here does I/O except calling a user's async token provider. Keys live in
headers only; reprs redact them.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._errors import AuthenticationError
from ._transport import ConnectRequest

__all__ = ["DEFAULT_BASE_URL", "AzureEndpoint", "build_connect_request"]

DEFAULT_BASE_URL = "wss://api.openai.com/v1"
"""The WebSocket base URL of the OpenAI API."""

TokenProvider = Callable[[], str | Awaitable[str]]
"""Returns an API key or bearer token; called on every connect (sync or async)."""


@dataclass(frozen=True)
class AzureEndpoint:
    """An Azure OpenAI resource and deployment.

    ``endpoint`` is the resource URL (``https://<resource>.openai.azure.com``). Without
    ``api_version`` the GA form ``/openai/v1/realtime?model=<deployment>`` is used; with
    it, the legacy ``/openai/realtime?api-version=...&deployment=...``. Authenticate with
    ``api_key`` (sent as the ``api-key`` header; defaults to ``AZURE_OPENAI_API_KEY``) or a
    ``token_provider`` returning an Entra bearer token, called on every connect.
    """

    endpoint: str
    deployment: str
    api_version: str | None = None
    api_key: str | None = field(default=None, repr=False)
    token_provider: TokenProvider | None = field(default=None, repr=False)

    def url(self, path: str = "realtime") -> str:
        """The WebSocket URL for ``path`` (``realtime`` or ``realtime/translations``)."""
        base = _ws_scheme(self.endpoint.rstrip("/"))
        if "://" not in base:
            base = "wss://" + base
        if self.api_version is None:
            return _with_query(f"{base}/openai/v1/{path}", {"model": self.deployment})
        query = {"api-version": self.api_version, "deployment": self.deployment}
        return _with_query(f"{base}/openai/{path}", query)

    async def headers(self) -> list[tuple[str, str]]:
        """The authentication header for one connect."""
        if self.token_provider is not None:
            return [("Authorization", f"Bearer {await _call(self.token_provider)}")]
        key = self.api_key or os.environ.get("AZURE_OPENAI_API_KEY")
        if not key:
            raise AuthenticationError(
                "no Azure credentials: pass AzureEndpoint(api_key=...) or token_provider=, "
                "or set AZURE_OPENAI_API_KEY"
            )
        return [("api-key", key)]


async def _call(provider: TokenProvider) -> str:
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    return value


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _ws_scheme(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def default_base_url() -> str:
    """The WebSocket base URL from the environment, as the official client derives it."""
    explicit = os.environ.get("OPENAI_WEBSOCKET_BASE_URL")
    if explicit:
        return explicit.rstrip("/")
    base = os.environ.get("OPENAI_BASE_URL")
    if base:
        return _ws_scheme(base.rstrip("/"))
    return DEFAULT_BASE_URL


def endpoint_url(url: str | None, path: str) -> str:
    """A full endpoint URL: ``url`` as given when it already ends in ``path``, else base + path."""
    base = _ws_scheme((url or default_base_url()).rstrip("/"))
    parts = urlsplit(base)
    if parts.path.rstrip("/").endswith("/" + path):
        return base
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + path))


async def build_connect_request(
    *,
    path: str,
    query: Mapping[str, str | None],
    api_key: str | TokenProvider | None,
    url: str | None,
    azure: AzureEndpoint | None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
    max_message_size: int,
) -> ConnectRequest:
    """Resolve where to connect and with which headers.

    Raises:
        AuthenticationError: no API key is given or found in ``OPENAI_API_KEY``.
    """
    params = {name: value for name, value in query.items() if value is not None}
    wire_headers: list[tuple[str, str]] = []
    if azure is not None and url is None:
        target = _with_query(azure.url(path), {k: v for k, v in params.items() if k != "model"})
        wire_headers += await azure.headers()
    else:
        target = _with_query(endpoint_url(url, path), params)
        key: str | TokenProvider | None = api_key or os.environ.get("OPENAI_API_KEY")
        if azure is not None:
            wire_headers += await azure.headers()
        elif not key:
            raise AuthenticationError("no API key: pass api_key= or set OPENAI_API_KEY")
        else:
            secret = key if isinstance(key, str) else await _call(key)
            wire_headers.append(("Authorization", f"Bearer {secret}"))
        given = {
            name.lower()
            for name, _ in (headers.items() if isinstance(headers, Mapping) else headers or ())
        }
        for name, env in (
            ("OpenAI-Organization", "OPENAI_ORG_ID"),
            ("OpenAI-Project", "OPENAI_PROJECT_ID"),
        ):
            value = os.environ.get(env)
            if value and name.lower() not in given:
                wire_headers.append((name, value))
    if headers:
        items = headers.items() if isinstance(headers, Mapping) else headers
        wire_headers += [(str(name), str(value)) for name, value in items]
    return ConnectRequest(
        url=target, headers=tuple(wire_headers), max_message_size=max_message_size
    )
