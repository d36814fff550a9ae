"""The transport seam: one small Protocol that every WebSocket adapter implements.

The engine never imports a WebSocket library: it speaks to a :class:`Transport`,
opened by a :data:`TransportFactory`. Adapters translate their library's
exceptions into ours at the edge. No method takes a timeout: the engine uses cancel
scopes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .._errors import AuthenticationError, ConnectError

__all__ = [
    "ConnectRequest",
    "upgrade_refused",
    "FastTransport",
    "Transport",
    "TransportClosed",
    "TransportFactory",
]


def upgrade_refused(status: int, body: bytes | str | None) -> ConnectError:
    """The error for an HTTP status in answer to the WebSocket upgrade, the same for every
    transport: :class:`AuthenticationError` for 401/403, :class:`ConnectError` otherwise,
    with ``status`` set and the body's error message (``{"error": {"message": ...}}`` as the
    service sends it, else its text) in the message."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
    detail = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        pass
    else:
        if isinstance(data, dict):
            error = data.get("error", data)
            message = error.get("message") if isinstance(error, dict) else error
            if isinstance(message, str):
                detail = message
    if len(detail) > 300:
        detail = detail[:300] + "…"
    kind = AuthenticationError if status in (401, 403) else ConnectError
    failure = kind(
        f"the server refused the WebSocket upgrade: HTTP {status}"
        + (f": {detail}" if detail else "")
    )
    failure.status = status
    return failure


class TransportClosed(Exception):
    """The WebSocket is closed: the code and reason of the close frame (1006: none came)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class ConnectRequest:
    """Everything a transport needs to open one connection.

    ``headers`` may carry credentials: never log or repr them.
    """

    url: str
    headers: Sequence[tuple[str, str]] = field(default=(), repr=False)
    subprotocols: Sequence[str] = ()
    max_message_size: int = 16 * 1024 * 1024


class Transport(Protocol):
    """One open WebSocket connection, as the engine sees it.

    Only one task receives (the engine's reader) and one sends at a time (the writer, or
    a caller writing directly through :class:`FastTransport` while the writer is idle);
    ``ping`` may run beside them.
    """

    async def send_text(self, text: str) -> None:
        """Send one text message. Raises TransportClosed if the connection is closed."""
        ...

    async def receive(self) -> str | bytes:
        """Receive one whole message. Raises TransportClosed when the connection closes."""
        ...

    async def ping(self) -> None:
        """Send a ping and wait for its pong. Raises TransportClosed if closed."""
        ...

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and wait for the peer's; callers bound it with a timeout."""
        ...

    async def abort(self) -> None:
        """Close the underlying socket at once, without a close handshake."""
        ...


@runtime_checkable
class FastTransport(Transport, Protocol):
    """A transport that can also write and deliver without a task switch (optional).

    The engine checks for these once per connection: with them, a send helper writes
    its frame itself while the writer is idle, and received messages may be handed over
    as they arrive; without them, everything goes through the writer and the reader.
    """

    def try_send_text(self, text: str) -> bool:
        """Send one text message now, without waiting, if that can be done; else False.

        False means nothing was sent (use :meth:`send_text`). True means the message is
        taken whole: written, or its tail pending (:attr:`send_pending`) until
        :meth:`flush`, before anything else is sent.
        """
        ...

    @property
    def send_pending(self) -> bool:
        """A message taken by :meth:`try_send_text` is not fully written yet."""
        ...

    async def flush(self) -> None:
        """Finish writing what :meth:`try_send_text` took. Raises TransportClosed."""
        ...

    def set_receiver(self, receiver: Callable[[str | bytes], bool] | None) -> None:
        """Hand messages to ``receiver`` as they arrive, where the adapter can (or ignore it).

        ``receiver`` returns False when it cannot take a message: that one and the rest
        then wait for :meth:`receive`, in order. :meth:`receive` alone is always enough.
        """
        ...


TransportFactory = Callable[[ConnectRequest], AbstractAsyncContextManager[Transport]]
"""Opens a connection for a request; the context manager owns whatever tasks it needs.

Raises ConnectError / AuthenticationError (from trio_realtime) when it cannot connect.
"""
