"""REST calls to the Realtime API over httpx (AnyIO: Trio and asyncio alike).

One place turns a base URL, credentials and interceptors into a POST, and an HTTP
answer into a value or an exception of the library's hierarchy. The key travels in a
header only; no URL, log line or exception carries it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ._endpoint import AzureEndpoint, TokenProvider, _call, _ws_scheme, default_base_url
from ._errors import (
    APIStatusError,
    AuthenticationError,
    ConflictError,
    ConnectError,
    InterceptorError,
    NotFoundError,
)
from ._interceptors import InterceptorChain, InterceptorLike
from ._transport import ConnectRequest

__all__ = ["RestTarget", "http_base_url", "post_json"]

log = logging.getLogger("trio_realtime.rest")


def http_base_url(base_url: str | None, azure: AzureEndpoint | None) -> str:
    """The HTTP base (``https://api.openai.com/v1``) for a client's base URL or Azure resource."""
    if base_url is None and azure is not None:
        base = azure.endpoint.rstrip("/")
        if "://" not in base:
            base = "https://" + base
        base = f"{base}/openai/v1"
    else:
        base = _ws_scheme((base_url or default_base_url()).rstrip("/"))
    if base.startswith("wss://"):
        return "https://" + base[len("wss://") :]
    if base.startswith("ws://"):
        return "http://" + base[len("ws://") :]
    return base


class RestTarget:
    """Where and how a client's REST calls go: base URL, credentials, headers, hooks."""

    def __init__(
        self,
        *,
        api_key: str | TokenProvider | None,
        base_url: str | None,
        azure: AzureEndpoint | None,
        headers: Mapping[str, str],
        interceptors: Sequence[InterceptorLike],
        timeout: float,
    ) -> None:
        self._api_key = api_key
        self.base: str = http_base_url(base_url, azure)
        self._azure = azure
        self._headers = dict(headers)
        self._interceptors = InterceptorChain(interceptors)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<RestTarget {self.base}>"

    async def _authorization(self) -> list[tuple[str, str]]:
        if self._azure is not None:
            return list(await self._azure.headers())
        key = self._api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise AuthenticationError("no API key: pass api_key= or set OPENAI_API_KEY")
        secret = key if isinstance(key, str) else await _call(key)
        return [("Authorization", f"Bearer {secret}")]

    async def request(self, path: str) -> ConnectRequest:
        """The URL and headers for ``path``, after the interceptors' ``on_connect`` hooks.

        Raises:
            AuthenticationError: no API key is given or found in ``OPENAI_API_KEY``.
            InterceptorError: an ``on_connect`` hook raised.
        """
        headers = [*await self._authorization(), *self._headers.items()]
        request = ConnectRequest(url=f"{self.base}/{path}", headers=tuple(headers))
        if not self._interceptors.connect_hooks:
            return request
        try:
            return await self._interceptors.connect(request)
        except Exception as exc:
            raise InterceptorError(f"an interceptor raised {type(exc).__name__}: {exc}") from exc


async def post_json(target: RestTarget, path: str, body: Mapping[str, Any] | None) -> Any:
    """POST ``body`` as JSON to ``<base>/<path>``; the decoded answer (None when empty).

    Safe to cancel (the request is abandoned; the service may still have acted on it).

    Raises:
        AuthenticationError: HTTP 401/403, or no credentials.
        NotFoundError: HTTP 404. ConflictError: HTTP 409.
        APIStatusError: any other HTTP error status (its ``status_code`` and message).
        ConnectError: the service could not be reached.
        InterceptorError: an interceptor's ``on_connect`` hook raised.
    """
    import httpx  # here, not at import: `import trio_realtime` stays fast

    request = await target.request(path)
    try:
        async with httpx.AsyncClient(timeout=target.timeout) as http:
            response = await http.post(
                request.url,
                json=None if body is None else dict(body),
                headers=list(request.headers),
            )
    except httpx.HTTPError as exc:
        raise ConnectError(f"could not reach {target.base}: {type(exc).__name__}: {exc}") from exc
    log.debug("POST %s -> %d", path, response.status_code)
    data: Any = None
    if response.content.strip():
        try:
            data = response.json()
        except ValueError:
            data = None
    status = response.status_code
    if status < 400:
        return data
    error = data.get("error") if isinstance(data, dict) else None
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or response.reason_phrase or "error")
    if status in (401, 403):
        raise AuthenticationError(f"HTTP {status}: {message}")
    kind = {404: NotFoundError, 409: ConflictError}.get(status, APIStatusError)
    raise kind(
        message,
        status_code=status,
        type=str(error.get("type") or ""),
        code=error.get("code") if isinstance(error.get("code"), str) else None,
        param=error.get("param") if isinstance(error.get("param"), str) else None,
    )
