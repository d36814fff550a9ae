"""The trio-websocket adapter: the Trio-native transport."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlsplit

import trio
import trio_websocket

from .._errors import ConnectError
from ._base import ConnectRequest, Transport, TransportClosed, upgrade_refused

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


@asynccontextmanager
async def open_trio_websocket(request: ConnectRequest) -> AsyncIterator[Transport]:
    """Open a connection with trio-websocket; its background reader lives in our nursery.

    TCP and TLS are set up here, before trio-websocket sees the stream, so that a
    refused connection or an untrusted certificate fails at once (trio-websocket's own
    connect waits for a handshake that never comes when TLS fails).

    Raises:
        AuthenticationError: the server answered the upgrade with HTTP 401 or 403.
        ConnectError: DNS, TCP, TLS or the handshake failed.
    """
    url = urlsplit(request.url)
    secure = url.scheme == "wss"
    host = url.hostname or ""
    port = url.port or (443 if secure else 80)
    host_header = host if url.port is None else f"{host}:{port}"
    resource = (url.path or "/") + (f"?{url.query}" if url.query else "")
    rejected: list[trio_websocket.ConnectionRejected] = []
    connecting = trio.CancelScope()
    async with trio.open_nursery() as outer:
        nursery: trio.Nursery = await outer.start(_service_nursery, rejected, connecting)
        try:
            try:
                stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]
                stream = await trio.open_tcp_stream(host, port)
                try:
                    if secure:
                        stream = trio.SSLStream(
                            stream,
                            ssl.create_default_context(),
                            server_hostname=host,
                            https_compatible=True,
                        )
                        await stream.do_handshake()
                    with connecting:
                        connection = await trio_websocket.wrap_client_stream(
                            nursery,
                            stream,
                            host_header,
                            resource,
                            subprotocols=list(request.subprotocols) or None,
                            extra_headers=[(k.encode(), v.encode()) for k, v in request.headers],
                            max_message_size=request.max_message_size,
                            receive_buffer_size=65536,
                        )
                    if rejected:  # raised in trio-websocket's reader task, not here
                        raise rejected[0]
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
            except trio_websocket.ConnectionRejected as exc:
                raise upgrade_refused(exc.status_code, exc.body) from exc
            except trio_websocket.HandshakeError as exc:
                raise ConnectError(f"WebSocket handshake failed: {exc}") from exc
            except trio.BrokenResourceError as exc:
                cause = exc.__cause__ or exc
                raise ConnectError(f"TLS failed with {host_header}: {cause}") from exc
            except OSError as exc:
                raise ConnectError(f"could not connect to {host_header}: {exc}") from exc
            transport = TrioWebSocketTransport(connection)
            try:
                yield transport
            finally:
                with trio.CancelScope(shield=True):
                    await transport.abort()
        finally:
            nursery.cancel_scope.cancel()


async def _service_nursery(
    rejected: list[trio_websocket.ConnectionRejected],
    connecting: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[trio.Nursery],
) -> None:
    """Host trio-websocket's reader task in a nursery that outer cancellation does not reach.

    The session's close runs after a cancellation from outside, and trio-websocket's
    reader must keep reading to see the peer's close reply. The adapter cancels this
    nursery itself when the connection is done. An HTTP status at the upgrade is raised
    by that reader (and the handshake waiter is never woken): it is kept in ``rejected``
    and the waiter cancelled, so the adapter raises the library's error, not a group.
    """
    try:
        async with trio.open_nursery() as nursery:
            nursery.cancel_scope.shield = True
            task_status.started(nursery)
            await trio.sleep_forever()
    except* trio_websocket.ConnectionRejected as group:
        first = group.exceptions[0]
        assert isinstance(first, trio_websocket.ConnectionRejected)
        rejected.append(first)
        connecting.cancel()
