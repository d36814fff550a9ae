"""The ``websockets`` adapter: websockets' sans-I/O protocol over a byte conduit.

One implementation for every AnyIO backend, and no task of its own; the bytes go
through a conduit (``_conduit.py``): the socket itself on Trio, an asyncio Protocol on
asyncio.

- the engine's reader is the only reader. :meth:`WebSocketsTransport.receive` reads up to
  256 KiB at a time; ``_framing`` splits it into frames, decodes the data frames and
  gives the others to :class:`websockets.client.ClientProtocol`; the transport writes
  what the protocol must answer (pongs, the close reply) and hands out the messages one
  by one (a small deque; no task, no second queue). Nothing is read while nobody calls
  ``receive()``, so a consumer that stops reading pushes back on the server through TCP;
- the messages it sends are framed by ``_framing`` too (the protocol frames pings and
  the close);
- every socket write (the writer's frames, pings, automatic replies, the close frame)
  goes through one lock; whoever holds it writes everything pending before releasing
  it, so the reader never waits for the writer to answer a ping;
- :meth:`~WebSocketsTransport.try_send_text` writes a message synchronously when no
  write is in progress or pending: the engine uses it to write from the caller when its
  writer is idle;
- ``ping()`` waits until a reader has processed the matching pong (a pong acknowledges
  every earlier ping); it may wait forever: the engine bounds it.

Errors are translated at the edge: a refused upgrade (HTTP 401/403) is
``AuthenticationError``, any other connect failure (DNS, TCP, TLS, handshake)
``ConnectError`` with the original as ``__cause__``, and the end of the connection
``TransportClosed`` with the close frame's code and reason (1006: none came).
"""

from __future__ import annotations

import functools
import logging
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import anyio
import sniffio
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus, InvalidURI, PayloadTooBig
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import WebSocketURI, parse_uri

from .._errors import ConnectError
from ._base import ConnectRequest, Transport, TransportClosed, upgrade_refused
from ._conduit import RECEIVE_SIZE, AsyncioConduit, Conduit, open_conduit
from ._framing import Framing, text_frame

__all__ = ["RECEIVE_SIZE", "WebSocketsTransport", "open_websockets"]

logger = logging.getLogger("trio_realtime.transport")

_OPEN = State.OPEN
_CLOSED = State.CLOSED
_STREAM_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


def _cancel_point() -> Callable[[], Awaitable[None]] | None:
    """What ``receive()`` awaits when a message is already parsed (no read needed).

    On Trio, a cancel point (Trio's own, 0.2 µs; anyio's costs three times as much):
    every Trio operation is one. A schedule point per message would double the cost of
    receiving: reads of the socket are the schedule points, at least one per 256 KiB. On
    asyncio nothing, as ``asyncio.Queue.get()``: a ready result does not suspend (anyio's
    cancel-scope check costs 0.8 µs an event); the next read is at most 256 KiB away.
    """
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.checkpoint_if_cancelled
    return None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system trust store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are honoured)."""
    return ssl.create_default_context()


class WebSocketsTransport:
    """One WebSocket connection: ``websockets``' sans-I/O protocol over a conduit.

    Made by :func:`open_websockets`. One task receives (the engine's reader) and one
    sends at a time (the writer, or a caller through ``try_send_text``); ``ping`` and
    ``aclose`` may run beside them.
    """

    def __init__(self, conduit: Conduit, protocol: ClientProtocol, max_size: int) -> None:
        self._conduit = conduit
        self._protocol = protocol
        self._max_size = max_size
        self._framing = Framing(protocol, max_size, self._acknowledge)
        self._messages = self._framing.messages
        """Whole messages parsed from the chunks read, not yet handed out."""
        self._outgoing: list[bytes] = []
        """Bytes the protocol produced that are not written yet (written under the lock)."""
        self._send_lock = anyio.Lock(fast_acquire=True)
        self._reading = False
        """A task is reading (the engine's reader, or ``aclose``): the others wait."""
        self._read_done: anyio.Event | None = None
        self._pings: dict[bytes, anyio.Event] = {}
        """Unanswered pings by payload, oldest first."""
        self._eof = False
        self._lost: BaseException | None = None
        """Why the byte stream broke, if it did (the cause of a 1006)."""
        self._send_broken = False
        """A write was interrupted part-way: the stream may hold half a frame."""
        self._cancel_point = _cancel_point()
        self._receiver: Callable[[str | bytes], bool] | None = None

    # -- the Transport protocol ---------------------------------------------------------

    async def receive(self) -> str | bytes:
        """Receive one whole message (``str`` for text, ``bytes`` for binary).

        Reads only when no message parsed earlier is waiting. Cancellation loses
        nothing: a read either completes (its messages are kept) or does not happen.

        Raises:
            TransportClosed: the connection closed (after every message received before
                the close was handed out).
        """
        messages = self._messages
        if messages:
            if self._cancel_point is not None:
                await self._cancel_point()
            return messages.popleft()
        while True:
            if self._protocol.state is not _OPEN:
                raise self._close_error()
            await self._read_some()
            if messages:
                return messages.popleft()

    async def send_text(self, text: str) -> None:
        """Send one text message.

        Raises:
            TransportClosed: the connection is closed or closing.
        """
        async with self._send_lock:
            if self._protocol.state is not _OPEN or self._send_broken:
                raise self._close_error()
            self._collect()  # anything the protocol owes goes first
            self._outgoing.append(text_frame(text.encode()))
            await self._write_pending()

    def try_send_text(self, text: str) -> bool:
        """Send one text message now, if that needs no waiting; False: nothing was sent.

        Declines while another write is in progress or pending, so messages keep their
        order. True: the message is written, or its tail is pending (:attr:`send_pending`)
        and must be finished with :meth:`flush` before anything else is sent.
        """
        if (
            self._outgoing
            or self._conduit.pending
            or self._send_lock.locked()
            or self._protocol.state is not _OPEN
            or self._send_broken
        ):
            return False
        data = text_frame(text.encode())
        try:
            if self._conduit.try_send(data):
                return True
        except _STREAM_ERRORS as exc:
            self._send_broken = True
            self._lost = self._lost or exc
            return False
        self._outgoing.append(data)  # framed already: pending until flush()
        return True

    @property
    def send_pending(self) -> bool:
        """Part of a message accepted by :meth:`try_send_text` is still to be written."""
        return bool(self._outgoing) or self._conduit.pending

    async def flush(self) -> None:
        """Finish writing what :meth:`try_send_text` accepted.

        Raises:
            TransportClosed: the connection broke.
        """
        async with self._send_lock:
            await self._write_pending()

    async def ping(self) -> None:
        """Send a ping with a random payload; return once its pong has been read.

        Waits forever if no pong comes (callers bound it). The pong is processed by
        whoever reads (the engine's reader), so this does not return while nobody reads.

        Raises:
            TransportClosed: the connection closed first.
        """
        payload = secrets.token_bytes(4)
        while payload in self._pings:
            payload = secrets.token_bytes(4)
        answered = anyio.Event()
        try:
            async with self._send_lock:
                if self._protocol.state is not _OPEN or self._send_broken:
                    raise self._close_error()
                self._pings[payload] = answered
                self._protocol.send_ping(payload)
                self._collect()
                await self._write_pending()
            await answered.wait()
            if payload in self._pings:
                raise self._close_error()
        finally:
            self._pings.pop(payload, None)

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (unless one was sent) and read until the peer closed.

        Messages that arrive meanwhile are dropped. Returns when the server closed the
        TCP connection; waits for it as long as it takes (callers bound it), then the
        caller aborts. Idempotent.
        """
        protocol = self._protocol
        if protocol.state is _OPEN:
            async with self._send_lock:
                if protocol.state is _OPEN and not self._send_broken:
                    protocol.send_close(code, reason)
                    self._collect()
                    try:
                        await self._write_pending()
                    except TransportClosed:
                        return
        while not self._eof:
            await self._read_some()
            self._messages.clear()

    async def abort(self) -> None:
        """Close the byte stream at once, without a close handshake."""
        self._send_broken = True
        self._outgoing.clear()
        await self._conduit.aclose()
        self._wake_pings()

    def set_receiver(self, receiver: Callable[[str | bytes], bool] | None) -> None:
        """Hand messages to ``receiver`` as the bytes arrive, where the loop allows it.

        On asyncio the bytes arrive in a callback of the loop's: the messages they hold
        go to ``receiver`` there and then, in order, sparing the reading task a wake-up.
        ``receiver`` returns False when it cannot take a message now; that message and
        the ones after it then wait for :meth:`receive`, as every message does while a
        backlog waits, and on Trio. None stops it.
        """
        self._receiver = receiver
        conduit = self._conduit
        if isinstance(conduit, AsyncioConduit):
            conduit.on_data = self._push if receiver is not None else None

    def _push(self, data: bytes) -> bool:
        """Bytes from the loop's callback: parse them and hand out their messages now.

        Declines (False: the conduit buffers them for :meth:`receive`) while earlier
        messages wait, so the order holds. Whatever it cannot finish here (a message the
        receiver refused, a reply that cannot be written without waiting, the close) it
        leaves to the reading task, which it wakes.
        """
        protocol = self._protocol
        receiver = self._receiver
        messages = self._messages
        if receiver is None or messages or protocol.state is not _OPEN:
            return False
        self._framing.feed(data)
        while messages and receiver(messages[0]):
            messages.popleft()
        self._collect()
        outgoing = self._outgoing
        if outgoing and not self._send_lock.locked() and not self._send_broken:
            try:
                if self._conduit.try_send(b"".join(outgoing)):
                    outgoing.clear()
            except _STREAM_ERRORS as exc:
                self._send_broken = True
                self._lost = self._lost or exc
        if messages or outgoing or protocol.state is not _OPEN:
            if protocol.state is not _OPEN:
                self._wake_pings()
            assert isinstance(self._conduit, AsyncioConduit)
            self._conduit.nudge()
        return True

    # -- reading ------------------------------------------------------------------------

    async def _read_some(self) -> None:
        """Read one chunk, feed it to the protocol, answer what must be, parse messages."""
        while self._reading:  # aclose() reads beside the engine's reader: one at a time
            if self._read_done is None:
                self._read_done = anyio.Event()
            await self._read_done.wait()
        self._reading = True
        try:
            if self._eof:
                return
            protocol = self._protocol
            try:
                data = await self._conduit.receive()
            except anyio.EndOfStream:
                self._eof = True
                self._framing.feed_eof()
            except _STREAM_ERRORS as exc:
                self._eof = True
                self._lost = exc
                self._framing.feed_eof()
            else:
                if data:  # b"": woken to finish what a pushed chunk left
                    self._framing.feed(data)
            self._collect()
            if (self._outgoing or self._conduit.pending) and not self._send_lock.locked():
                try:
                    async with self._send_lock:
                        await self._write_pending()
                except TransportClosed:
                    pass  # the connection is gone; the next read finds out
            if protocol.state is not _OPEN:
                self._wake_pings()
        finally:
            self._reading = False
            if self._read_done is not None:
                self._read_done.set()
                self._read_done = None

    def _acknowledge(self, payload: bytes) -> None:
        """A pong acknowledges its ping and every earlier one."""
        if payload not in self._pings:
            return
        for pending in list(self._pings):
            self._pings.pop(pending).set()
            if pending == payload:
                return

    def _wake_pings(self) -> None:
        """Wake every ping waiter; those still listed in ``_pings`` were not answered."""
        for answered in self._pings.values():
            answered.set()

    # -- writing ------------------------------------------------------------------------

    def _collect(self) -> None:
        """Move the protocol's output to ``_outgoing`` (EOF markers are not written)."""
        for data in self._protocol.data_to_send():
            if data:
                self._outgoing.append(data)

    async def _write_pending(self) -> None:
        """Write everything pending; the caller holds the send lock.

        Raises:
            TransportClosed: the write failed (1006), or the stream is unusable.
        """
        outgoing = self._outgoing
        while outgoing or self._conduit.pending:
            data = outgoing[0] if len(outgoing) == 1 else b"".join(outgoing)
            outgoing.clear()
            if self._send_broken:
                raise self._close_error()
            try:
                await self._conduit.send(data)
            except _STREAM_ERRORS as exc:
                self._send_broken = True
                self._lost = self._lost or exc
                raise TransportClosed(1006, "connection lost") from exc
            except BaseException:
                self._send_broken = True  # cancelled mid-write: maybe half a frame out
                raise

    # -- closing ------------------------------------------------------------------------

    def _close_error(self) -> TransportClosed:
        """The close as the engine sees it: the peer's close frame, else ours, else 1006."""
        protocol = self._protocol
        close = protocol.close_rcvd or protocol.close_sent
        cause: BaseException | None = protocol.parser_exc or self._lost
        if close is None:
            error = TransportClosed(1006, "connection lost")
        elif protocol.close_rcvd is None and isinstance(cause, PayloadTooBig):
            error = TransportClosed(
                close.code,
                f"a message from the server exceeds max_message_size ({self._max_size} bytes)",
            )
        else:
            error = TransportClosed(close.code, close.reason)
        if protocol.state is _CLOSED:
            closed = protocol.close_exc
            if self._lost is not None:
                closed.__cause__ = self._lost
            cause = closed
        error.__cause__ = cause
        return error

    # -- opening ------------------------------------------------------------------------

    async def _handshake(self, headers: Sequence[tuple[str, str]], where: str) -> None:
        """Send the upgrade request and read the response (and any frames after it)."""
        protocol = self._protocol
        request = protocol.connect()
        for name, value in headers:
            request.headers[name] = value
        protocol.send_request(request)
        self._collect()
        try:
            await self._write_pending()
        except TransportClosed as exc:
            raise ConnectError(f"the connection to {where} was lost during the upgrade") from exc
        while True:
            try:
                data = await self._conduit.receive()
            except anyio.EndOfStream:
                if self._eof:
                    raise ConnectError(
                        f"{where} closed the connection during the upgrade"
                    ) from None
                self._eof = True
                self._framing.feed_eof()
            except _STREAM_ERRORS as exc:
                raise ConnectError(
                    f"the connection to {where} was lost during the upgrade"
                ) from exc
            else:
                self._framing.feed(data)
            failure = protocol.handshake_exc
            if failure is not None:
                if isinstance(failure, InvalidStatus):
                    response = failure.response
                    raise upgrade_refused(response.status_code, bytes(response.body)) from failure
                raise ConnectError(f"WebSocket handshake with {where} failed: {failure}") from (
                    failure
                )
            if protocol.state is _OPEN:
                self._collect()
                await self._write_pending()
                return


def _address(uri: WebSocketURI) -> str:
    default = 443 if uri.secure else 80
    return uri.host if uri.port == default else f"{uri.host}:{uri.port}"


async def _connect(uri: WebSocketURI, where: str) -> Conduit:
    """TCP (happy eyeballs) and, for ``wss``, TLS with the system trust store."""
    try:
        return await open_conduit(
            uri.host,
            uri.port,
            tls=_tls_context() if uri.secure else None,
            on_trio=sniffio.current_async_library() == "trio",
        )
    except ssl.SSLError as exc:
        raise ConnectError(f"TLS failed with {where}: {exc}") from exc
    except OSError as exc:
        detail = f"{exc} ({exc.__cause__})" if exc.__cause__ is not None else str(exc)
        raise ConnectError(f"could not connect to {where}: {detail}") from exc
    except (anyio.BrokenResourceError, anyio.EndOfStream) as exc:
        raise ConnectError(f"TLS failed with {where}: the server closed the connection") from exc


@asynccontextmanager
async def open_websockets(request: ConnectRequest) -> AsyncIterator[Transport]:
    """Open a connection with ``websockets``' sans-I/O protocol over a socket.

    Works on every AnyIO backend: on Trio the socket is used directly, on asyncio through
    an asyncio Protocol; either way a message can be written without a task switch (see
    ``try_send_text``). No compression, no proxy. The protocol's debug
    logging is off (it would log the ``Authorization`` header and payloads). Leaving
    the block closes the socket at once (the engine does the close handshake first).

    Raises:
        AuthenticationError: the server answered the upgrade with HTTP 401 or 403.
        ConnectError: a bad URL; DNS, TCP, TLS or the handshake failed.
    """
    try:
        uri = parse_uri(request.url)
    except InvalidURI as exc:
        raise ConnectError(f"not a WebSocket URL: {exc.msg}") from None  # the URL may hold a key
    where = _address(uri)
    conduit = await _connect(uri, where)
    try:
        protocol = ClientProtocol(
            uri,
            subprotocols=[Subprotocol(name) for name in request.subprotocols] or None,
            max_size=request.max_message_size,
            logger=logger,
        )
        protocol.debug = False
        transport = WebSocketsTransport(conduit, protocol, request.max_message_size)
        await transport._handshake(request.headers, where)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await conduit.aclose()
        raise
    try:
        yield transport
    finally:
        with anyio.CancelScope(shield=True):
            await transport.abort()
