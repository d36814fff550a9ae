"""Byte conduits under the ``websockets`` transport: where its frames meet the socket.

Two kinds, one small interface:

- :class:`SocketConduit` (Trio): the connected socket itself, read and written with
  non-blocking calls and Trio's ``wait_readable`` / ``wait_writable``, with TLS done here
  through an :class:`ssl.SSLObject` over memory buffers. :meth:`~SocketConduit.try_send`
  writes synchronously, so a caller can hand a frame to the kernel without a task switch;
  bytes the kernel did not take stay pending, in order, ahead of anything written later.
- :class:`StreamConduit` (any AnyIO backend): an AnyIO byte stream; ``try_send`` always
  declines, so every write goes through the async path.

A conduit has no task and no lock: the transport serialises writes (one writer at a
time) and reads (one reader at a time).
"""

from __future__ import annotations

import socket
import ssl
from typing import Protocol

import anyio
from anyio.abc import ByteStream, SocketAttribute

__all__ = ["Conduit", "SocketConduit", "StreamConduit", "open_conduit"]

RECEIVE_SIZE = 65536
"""Bytes asked of the socket per read: one read usually carries many events."""


class Conduit(Protocol):
    """A connected byte pipe, read by one task and written by one task at a time."""

    writes_directly: bool
    """:meth:`try_send` can write (else it always declines)."""

    @property
    def pending(self) -> bool:
        """Bytes accepted by :meth:`try_send` wait to be written (call :meth:`send`)."""
        ...

    async def receive(self) -> bytes:
        """Read what has arrived (at least one byte). Raises EndOfStream or OSError."""
        ...

    def try_send(self, data: bytes) -> bool:
        """Write ``data`` without waiting; False (nothing written) if that cannot start now.

        True: ``data`` is accepted whole; what the kernel did not take is pending, and goes
        out before anything sent later. Raises OSError if the connection broke.
        """
        ...

    async def send(self, data: bytes) -> None:
        """Write what is pending, then ``data``. Cancellation keeps the rest pending."""
        ...

    async def aclose(self) -> None:
        """Close the connection at once."""
        ...


class StreamConduit:
    """An AnyIO byte stream as a conduit (every backend; TLS by AnyIO's ``TLSStream``)."""

    pending = False
    writes_directly = False

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream

    async def receive(self) -> bytes:
        return await self._stream.receive(RECEIVE_SIZE)

    def try_send(self, data: bytes) -> bool:
        return False

    async def send(self, data: bytes) -> None:
        await self._stream.send(data)

    async def aclose(self) -> None:
        await anyio.aclose_forcefully(self._stream)


class SocketConduit:
    """A non-blocking socket read and written directly, on Trio; TLS by ``ssl.SSLObject``.

    Made by :func:`open_conduit`. ``stream`` is the AnyIO stream that owns the socket
    (closing it closes the socket and wakes a task waiting on it).
    """

    writes_directly = True

    def __init__(self, stream: ByteStream, sock: socket.socket) -> None:
        import trio

        self._stream = stream
        self._sock = sock
        self._wait_readable = trio.lowlevel.wait_readable
        self._wait_writable = trio.lowlevel.wait_writable
        self._checkpoint = trio.lowlevel.checkpoint
        self._closed_errors = (trio.ClosedResourceError, anyio.ClosedResourceError)
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._pending = b""
        self._drained = True
        """The last read took everything the kernel had: wait before the next one."""

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    # -- reading ------------------------------------------------------------------------

    async def _receive_raw(self) -> bytes:
        """Read at least one byte from the socket. Raises EndOfStream or OSError."""
        sock = self._sock
        waited = self._drained
        try:
            if waited:
                await self._wait_readable(sock)
            while True:
                try:
                    data = sock.recv(RECEIVE_SIZE)
                except BlockingIOError:
                    await self._wait_readable(sock)
                    waited = True
                    continue
                if not waited:
                    await self._checkpoint()  # a read that did not wait: let others run
                break
        except self._closed_errors as exc:
            raise anyio.ClosedResourceError from exc
        if not data:
            raise anyio.EndOfStream
        self._drained = len(data) < RECEIVE_SIZE
        return data

    async def receive(self) -> bytes:
        tls = self._tls
        if tls is None:
            return await self._receive_raw()
        while True:
            chunks = []
            try:
                while True:
                    chunks.append(tls.read(RECEIVE_SIZE))
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                if not chunks:
                    raise anyio.EndOfStream from None
            if self._outgoing.pending:  # a key update the peer asked for
                await self._send_tls_output()
            if chunks:
                return b"".join(chunks)
            self._incoming.write(await self._receive_raw())

    # -- writing ------------------------------------------------------------------------

    def _encrypt(self, data: bytes) -> bytes:
        tls = self._tls
        if tls is None:
            return data
        tls.write(data)
        return self._outgoing.read()

    def try_send(self, data: bytes) -> bool:
        if self._pending:
            return False
        data = self._encrypt(data)
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        self._pending = data[sent:]
        return True

    async def send(self, data: bytes) -> None:
        pending = self._pending + self._encrypt(data)
        self._pending = pending
        sock = self._sock
        try:
            while pending:
                try:
                    sent = sock.send(pending)
                except BlockingIOError:
                    await self._wait_writable(sock)
                    continue
                pending = self._pending = pending[sent:]
        except self._closed_errors as exc:
            raise anyio.ClosedResourceError from exc
        await self._checkpoint()

    async def aclose(self) -> None:
        self._pending = b""
        await anyio.aclose_forcefully(self._stream)

    # -- TLS ----------------------------------------------------------------------------

    async def start_tls(self, context: ssl.SSLContext, hostname: str) -> None:
        """Do the TLS handshake; from then on everything is encrypted.

        Raises:
            ssl.SSLError: the handshake failed (a certificate that does not verify, ...).
            anyio.EndOfStream: the server closed the connection during the handshake.
        """
        tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._send_tls_output()
                self._incoming.write(await self._receive_raw())
        await self._send_tls_output()
        self._tls = tls

    async def _send_tls_output(self) -> None:
        """Write what the TLS layer produced by itself (handshake, key updates)."""
        self._pending += self._outgoing.read()
        if self._pending:
            await self.send(b"")


async def open_conduit(
    host: str, port: int, *, tls: ssl.SSLContext | None, on_trio: bool
) -> Conduit:
    """Connect TCP (happy eyeballs), then TLS if ``tls`` is given.

    On Trio, a :class:`SocketConduit`; elsewhere a :class:`StreamConduit`.

    Raises:
        OSError: the TCP connection failed.
        ssl.SSLError: the TLS handshake failed.
        anyio.EndOfStream, anyio.BrokenResourceError: the server hung up during TLS.
    """
    if not on_trio:
        if tls is None:
            return StreamConduit(await anyio.connect_tcp(host, port))
        stream = await anyio.connect_tcp(
            host, port, ssl_context=tls, tls_hostname=host, tls_standard_compatible=False
        )
        return StreamConduit(stream)
    tcp = await anyio.connect_tcp(host, port)
    conduit = SocketConduit(tcp, tcp.extra(SocketAttribute.raw_socket))
    if tls is not None:
        try:
            await conduit.start_tls(tls, host)
        except BaseException:
            await conduit.aclose()
            raise
    return conduit
