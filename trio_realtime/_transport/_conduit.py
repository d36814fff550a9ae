"""Byte conduits under the ``websockets`` transport: where its frames meet the socket.

One small interface, one implementation per event loop, both writing synchronously
(:meth:`~Conduit.try_send`) so a caller can hand a frame to the kernel without a task
switch:

- :class:`SocketConduit` (Trio): the connected socket itself, read and written with
  non-blocking calls and Trio's ``wait_readable`` / ``wait_writable``, with TLS done here
  through an :class:`ssl.SSLObject` over memory buffers. Bytes the kernel did not take
  stay pending, in order, ahead of anything written later.
- :class:`AsyncioConduit` (asyncio, uvloop): an ``asyncio.BufferedProtocol`` on the loop's
  own transport (TLS by asyncio): arriving bytes go to ``on_data`` in the loop's callback
  when the transport can take them there, else into a small bounded buffer for ``receive()``
  (reading pauses above it, so TCP pushes back); writes go to the transport's buffer
  unless it asked to pause.

A conduit has no task and no lock: the transport serialises writes (one writer at a
time) and reads (one reader at a time).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol, cast

import anyio
from anyio.abc import ByteStream, SocketAttribute

__all__ = ["AsyncioConduit", "Conduit", "SocketConduit", "open_conduit"]

RECEIVE_SIZE = 256 * 1024
"""Bytes asked of the socket per read, as asyncio's own transports ask: one read usually
carries many events. Reads land in a buffer made once per connection."""
READ_BUFFER = RECEIVE_SIZE

_buffers = threading.local()


def read_buffer() -> memoryview:
    """The calling thread's buffer that socket reads land in, copied out at once.

    One per thread, not per connection: a read and its copy never yield in between, so
    every connection of a loop can share it (a ``recv`` of a new 256 KiB object per read
    costs five times more for a small read; a buffer per connection would keep 256 KiB
    resident per session).
    """
    try:
        return _buffers.into  # type: ignore[no-any-return]
    except AttributeError:
        _buffers.into = memoryview(bytearray(RECEIVE_SIZE))
        return _buffers.into  # type: ignore[no-any-return]


"""Bytes the asyncio conduit holds for its reader before it stops reading the socket."""


class Conduit(Protocol):
    """A connected byte pipe, read by one task and written by one task at a time."""

    @property
    def pending(self) -> bool:
        """Bytes accepted by :meth:`try_send` wait to be written (call :meth:`send`)."""
        ...

    async def receive(self) -> bytes:
        """Read what has arrived: at least one byte, or ``b""`` when woken by a nudge.

        Raises EndOfStream or OSError.
        """
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


class SocketConduit:
    """A non-blocking socket read and written directly, on Trio; TLS by ``ssl.SSLObject``.

    Made by :func:`open_conduit`. ``stream`` is the AnyIO stream that owns the socket
    (closing it closes the socket and wakes a task waiting on it).
    """

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
        self._sending = False
        """A task is in :meth:`send`, waiting to write ``_pending``."""
        self._drained = True
        """The last read took everything the kernel had: wait before the next one."""

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    # -- reading ------------------------------------------------------------------------

    async def _receive_raw(self) -> bytes:
        """Read at least one byte from the socket. Raises EndOfStream or OSError."""
        sock = self._sock
        try:
            if self._drained:
                await self._wait_readable(sock)
            else:
                await self._checkpoint()  # more may be waiting: let others run first
            while True:
                try:
                    into = read_buffer()
                    size = sock.recv_into(into)
                    break
                except BlockingIOError:
                    await self._wait_readable(sock)
        except self._closed_errors as exc:
            raise anyio.ClosedResourceError from exc
        if not size:
            raise anyio.EndOfStream
        self._drained = size < RECEIVE_SIZE
        return into[:size].tobytes()

    async def receive(self) -> bytes:
        tls = self._tls
        if tls is None:
            return await self._receive_raw()
        while True:
            chunks = []
            ended = False
            try:
                while data := tls.read(RECEIVE_SIZE):
                    chunks.append(data)
                ended = True  # b"": the peer's close_notify
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                ended = True
            if self._outgoing.pending:  # a key update the peer asked for, say
                self._write_tls_output()
            if chunks:
                return b"".join(chunks)
            if ended:
                raise anyio.EndOfStream
            self._incoming.write(await self._receive_raw())

    def _write_tls_output(self) -> None:
        """Queue what TLS produced by itself; write what the socket takes without waiting.

        The rest stays pending (the transport writes it before its next message).
        """
        self._pending += self._outgoing.read()
        if self._sending:
            return  # the writer is waiting to write the rest: it takes these bytes too
        try:
            sent = self._sock.send(self._pending)
        except BlockingIOError:
            return
        self._pending = self._pending[sent:]

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
        self._pending += self._encrypt(data)
        sock = self._sock
        self._sending = True
        try:
            while self._pending:
                try:
                    sent = sock.send(self._pending)
                except BlockingIOError:
                    await self._wait_writable(sock)
                    continue
                self._pending = self._pending[sent:]
        except self._closed_errors as exc:
            raise anyio.ClosedResourceError from exc
        finally:
            self._sending = False
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
        """Write what the TLS layer produced by itself during the handshake."""
        self._pending += self._outgoing.read()
        if self._pending:
            await self.send(b"")


class AsyncioConduit(asyncio.BufferedProtocol):
    """A connection as an ``asyncio.BufferedProtocol``; made by :func:`open_conduit` on asyncio.

    Buffered, so the loop reads into :func:`read_buffer` rather than into a new 256 KiB
    object per read (asyncio's own ``recv``; five times the cost of a small read).
    """

    pending = False  # the transport buffers whatever it is given

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._writing_paused = False
        self._eof = False
        self._lost: Exception | None = None
        self._closed = False
        self._readable: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._nudged = False
        self._into = read_buffer()  # the loop's thread: the only one reading for us
        self.on_data: Callable[[bytes], bool] | None = None
        """Takes arriving bytes in the loop's callback, if it can (True), instead of
        buffering them for :meth:`receive`: set by the transport to skip a task switch."""

    # -- asyncio.BufferedProtocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's are not asyncio.Transport subclasses)
        self._transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._into

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._into[:nbytes].tobytes())  # copied out before any other read

    def data_received(self, data: bytes) -> None:
        """Bytes arrived: to ``on_data`` if it takes them, else kept for :meth:`receive`."""
        on_data = self.on_data
        if on_data is not None and not self._chunks and on_data(data):
            return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= READ_BUFFER and not self._reading_paused:
            self._reading_paused = True
            assert self._transport is not None
            self._transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()

    def nudge(self) -> None:
        """Make a waiting :meth:`receive` return (with ``b""`` if nothing arrived)."""
        self._nudged = True
        self._wake_reader()

    def _wake_reader(self) -> None:
        waiter = self._readable
        if waiter is not None:
            self._readable = None
            if not waiter.done():
                waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter = self._drained
        if waiter is not None:
            self._drained = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the Conduit interface ----------------------------------------------------------

    async def receive(self) -> bytes:
        chunks = self._chunks
        if chunks:
            await asyncio.sleep(0)  # data was waiting: let others run, as a read would
        while not chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._nudged:
                self._nudged = False
                return b""
            if self._eof:
                if self._lost is not None:
                    raise anyio.BrokenResourceError from self._lost
                raise anyio.EndOfStream
            self._readable = asyncio.get_running_loop().create_future()
            await self._readable
        self._nudged = False
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    def _check_writable(self) -> asyncio.Transport:
        transport = self._transport
        if self._closed:
            raise anyio.ClosedResourceError
        if transport is None or self._lost is not None or transport.is_closing():
            raise BrokenPipeError("the connection is closed")
        return transport

    def try_send(self, data: bytes) -> bool:
        if self._writing_paused:
            return False
        self._check_writable().write(data)
        return True

    async def send(self, data: bytes) -> None:
        if data:
            self._check_writable().write(data)
        while self._writing_paused:
            self._check_writable()
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained
        await asyncio.sleep(0)

    async def aclose(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.abort()
        self._wake_reader()
        self._wake_writer()
        await asyncio.sleep(0)


async def open_conduit(
    host: str, port: int, *, tls: ssl.SSLContext | None, on_trio: bool
) -> Conduit:
    """Connect TCP (happy eyeballs), then TLS if ``tls`` is given.

    On Trio, a :class:`SocketConduit`; on asyncio, an :class:`AsyncioConduit`.

    Raises:
        OSError: the TCP connection failed.
        ssl.SSLError: the TLS handshake failed.
        anyio.EndOfStream, anyio.BrokenResourceError: the server hung up during TLS.
    """
    if not on_trio:
        loop = asyncio.get_running_loop()
        server_hostname = host if tls is not None else None
        protocol: AsyncioConduit
        if isinstance(loop, asyncio.BaseEventLoop):  # asyncio's own loop: Happy Eyeballs
            _, protocol = await loop.create_connection(
                AsyncioConduit,
                host,
                port,
                ssl=tls,
                server_hostname=server_hostname,
                happy_eyeballs_delay=0.25,
            )
        else:  # uvloop and other loops, which may not take happy_eyeballs_delay
            _, protocol = await loop.create_connection(
                AsyncioConduit, host, port, ssl=tls, server_hostname=server_hostname
            )
        return protocol
    tcp = await anyio.connect_tcp(host, port)
    conduit = SocketConduit(tcp, tcp.extra(SocketAttribute.raw_socket))
    if tls is not None:
        try:
            await conduit.start_tls(tls, host)
        except BaseException:
            await conduit.aclose()
            raise
    return conduit
