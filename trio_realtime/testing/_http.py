"""Plain HTTP on the emulator's port: tell WebSocket upgrades from REST calls, answer these.

The first request on a connection is parsed with h11 before trio-websocket sees a byte:
an upgrade goes on to the WebSocket handshake (the bytes are put back), anything else is
answered here with a JSON body and ``Connection: close``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11
import trio

from ._apierrors import ApiError
from ._wire import TapStream

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "Opening",
    "error_response",
    "read_opening",
    "serve_http",
]

log = logging.getLogger("trio_realtime.testing")

_MAX_HEAD = 16 * 1024
_MAX_BODY = 1024 * 1024
_RECEIVE = 65536
_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    404: b"Not Found",
    413: b"Payload Too Large",
    426: b"Upgrade Required",
    500: b"Internal Server Error",
}


@dataclasses.dataclass(frozen=True)
class HttpRequest:
    """A plain HTTP request: method, path, query, lower-cased headers, body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = dataclasses.field(repr=False)
    body: bytes = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class HttpResponse:
    """A JSON response."""

    status: int
    body: dict[str, Any]


def error_response(status: int, error: ApiError) -> HttpResponse:
    """The service's REST error shape: ``{"error": {message, type, param, code}}``."""
    return HttpResponse(
        status,
        {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": error.param,
                "code": error.code,
            }
        },
    )


@dataclasses.dataclass
class Opening:
    """The first request of a connection, parsed, with every byte read so far."""

    connection: h11.Connection
    request: h11.Request
    received: bytes

    @property
    def websocket(self) -> bool:
        """Whether it asks for a WebSocket upgrade."""
        if self.request.method != b"GET":
            return False
        return any(
            name == b"upgrade" and b"websocket" in value.lower()
            for name, value in self.request.headers
        )


async def read_opening(tap: TapStream) -> Opening | None:
    """Read the first request's head; None if the peer closes before it or sends junk.

    Junk (not HTTP) gets a 400 before None is returned.
    """
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
    received = bytearray()
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as exc:
            await _send_raw_error(tap, 400, f"Invalid HTTP request: {exc}")
            return None
        if event is h11.NEED_DATA:
            try:
                data = await tap.receive_some(_RECEIVE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if not data:
                return None
            received += data
            connection.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            return Opening(connection, event, bytes(received))
        return None


async def serve_http(
    tap: TapStream,
    opening: Opening,
    handle: Callable[[HttpRequest], Awaitable[HttpResponse]],
) -> None:
    """Read the body of the opening request, answer it with ``handle``'s response."""
    connection = opening.connection
    body = bytearray()
    try:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await tap.receive_some(_RECEIVE)
                connection.receive_data(data)
                if not data and connection.their_state is not h11.DONE:
                    return
                continue
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > _MAX_BODY:
                    error = ApiError(None, f"The request body is larger than {_MAX_BODY} bytes.")
                    await _respond(tap, connection, error_response(413, error))
                    return
                continue
            if isinstance(event, h11.EndOfMessage):
                break
            return
    except h11.RemoteProtocolError as exc:
        await _send_raw_error(tap, 400, f"Invalid HTTP request: {exc}")
        return
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return
    request = opening.request
    target = request.target.decode("latin-1")
    split = urlsplit(target)
    http_request = HttpRequest(
        method=request.method.decode("latin-1"),
        path=split.path,
        query=dict(parse_qsl(split.query, keep_blank_values=True)),
        headers={
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in request.headers
        },
        body=bytes(body),
    )
    try:
        response = await handle(http_request)
    except Exception:
        log.exception("emulator: HTTP %s %s failed", http_request.method, http_request.path)
        response = error_response(
            500,
            ApiError(None, "The server had an error processing your request.", type="server_error"),
        )
    await _respond(tap, connection, response)


async def _respond(tap: TapStream, connection: h11.Connection, response: HttpResponse) -> None:
    body = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
    ]
    data = connection.send(
        h11.Response(
            status_code=response.status,
            headers=headers,
            reason=_REASONS.get(response.status, b""),
        )
    )
    data = (data or b"") + (connection.send(h11.Data(data=body)) or b"")
    data += connection.send(h11.EndOfMessage()) or b""
    try:
        await tap.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return


async def _send_raw_error(tap: TapStream, status: int, message: str) -> None:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
    ).encode("utf-8")
    reason = _REASONS.get(status, b"")
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % (status, reason, len(body))
    )
    try:
        await tap.send_all(head + body)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return
