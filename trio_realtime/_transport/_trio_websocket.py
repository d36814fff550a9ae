"""The trio-websocket adapter: the Trio-native transport."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import trio
import trio_websocket

from .._errors import AuthenticationError, ConnectError
from ._base import ConnectRequest, Transport, TransportClosed

__all__ = ["TrioWebSocketTransport", "open_trio_websocket"]


@contextmanager
def _closed_errors() -> Iterator[None]:
    try:
        yield
    except trio_websocket.ConnectionClosed as exc:
        reason = exc.reason
        if reason is None:
            raise TransportClosed(1006, "connection lost") from exc
        raise TransportClosed(reason.code, reason.reason or "") from exc
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise TransportClosed(1006, "connection lost") from exc


class TrioWebSocketTransport:
    """A :class:`Transport` over a ``trio_websocket.WebSocketConnection``."""

    def __init__(self, connection: trio_websocket.WebSocketConnection) -> None:
        self._ws = connection

    async def send_text(self, text: str) -> None:
        with _closed_errors():
            await self._ws.send_message(text)

    async def receive(self) -> str | bytes:
        with _closed_errors():
            return await self._ws.get_message()

    async def ping(self) -> None:
        with _closed_errors():
            await self._ws.ping()

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.aclose(code, reason or None)

    async def abort(self) -> None:
        await self._ws._stream.aclose()


def _ssl_context(url: str) -> ssl.SSLContext | None:
    return ssl.create_default_context() if url.startswith("wss://") else None


@asynccontextmanager
async def open_trio_websocket(request: ConnectRequest) -> AsyncIterator[Transport]:
    """Open a connection with trio-websocket; its background reader lives in our nursery.

    Raises:
        AuthenticationError: the server answered the upgrade with HTTP 401 or 403.
        ConnectError: DNS, TCP, TLS or the handshake failed.
    """
    async with trio.open_nursery() as nursery:
        try:
            connection = await trio_websocket.connect_websocket_url(
                nursery,
                request.url,
                _ssl_context(request.url),
                subprotocols=list(request.subprotocols) or None,
                extra_headers=[(k.encode(), v.encode()) for k, v in request.headers],
                max_message_size=request.max_message_size,
            )
        except trio_websocket.ConnectionRejected as exc:
            status = exc.status_code
            error = AuthenticationError if status in (401, 403) else ConnectError
            raise error(f"the server refused the WebSocket upgrade: HTTP {status}") from exc
        except trio_websocket.HandshakeError as exc:
            raise ConnectError(f"WebSocket handshake failed: {exc}") from exc
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS failed: {exc}") from exc
        except OSError as exc:
            raise ConnectError(f"could not connect to {_host(request.url)}: {exc}") from exc
        transport = TrioWebSocketTransport(connection)
        try:
            yield transport
        finally:
            with trio.CancelScope(shield=True):
                await transport.abort()
            nursery.cancel_scope.cancel()


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]
