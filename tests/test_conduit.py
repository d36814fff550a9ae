"""Byte conduits under the ``websockets`` transport, against a real loopback TCP server.

:class:`SocketConduit` (Trio) writes the socket directly: ``try_send`` hands bytes to the
kernel without waiting and keeps what the kernel refused ``pending``, written first by
the next ``send``; a cancelled ``send`` keeps its unwritten rest pending. Its reads take
up to 256 KiB and skip the readiness wait after a full read. On asyncio ``open_conduit``
gives another conduit; only the interface is tested for it. The server listens on
127.0.0.1 port 0; to fill the pipe, the client's send buffer and the server's receive
buffer are shrunk and the server does not read until the test lets it. Server and client
share the event loop, so ``wait_all_tasks_blocked`` tells when a write is stuck on a full
socket. TLS has its own tests (test_transport_tls.py).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute

from trio_realtime._transport._conduit import (
    RECEIVE_SIZE,
    AsyncioConduit,
    Conduit,
    SocketConduit,
    open_conduit,
    read_buffer,
)

HOST = "127.0.0.1"
SMALL_BUFFER = 4096
"""SO_SNDBUF/SO_RCVBUF asked for when the pipe must fill (the kernel doubles it)."""
LARGE = 1 << 20
"""Far more than a shrunk pipe holds."""

on_trio = pytest.mark.parametrize("anyio_backend", ["trio"])
on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])


def _payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


class Pipe:
    """A conduit connected to a server stream the test drives."""

    def __init__(self, conduit: Conduit, server: anyio.abc.SocketStream) -> None:
        self.conduit = conduit
        self.server = server
        self.received = bytearray()

    async def read_exactly(self, count: int) -> bytes:
        """What the server receives until it has ``count`` bytes (fails at EOF)."""
        while len(self.received) < count:
            self.received += await self.server.receive()
        return bytes(self.received)

    async def conduit_read_exactly(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            data += await self.conduit.receive()
        return bytes(data)


async def _read_to_end(conduit: Conduit) -> bytes:
    data = bytearray()
    while True:
        try:
            data += await conduit.receive()
        except anyio.EndOfStream:
            return bytes(data)


@asynccontextmanager
async def socket_pipe(*, small_buffers: bool = False) -> AsyncIterator[Pipe]:
    """A :class:`SocketConduit` on a fresh connection (Trio), built as open_conduit does."""
    async with await anyio.create_tcp_listener(local_host=HOST, local_port=0) as listeners:
        [listener] = listeners.listeners
        if small_buffers:  # inherited by the accepted socket; set before the handshake
            raw = listener.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
        port = listener.extra(SocketAttribute.local_port)
        tcp = await anyio.connect_tcp(HOST, port)
        sock = tcp.extra(SocketAttribute.raw_socket)
        if small_buffers:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
        conduit = SocketConduit(tcp, sock)
        try:
            server = await listener.accept()
        except BaseException:
            await conduit.aclose()
            raise
        async with server:
            try:
                yield Pipe(conduit, server)
            finally:
                await conduit.aclose()


@asynccontextmanager
async def opened_pipe(*, trio_conduit: bool) -> AsyncIterator[Pipe]:
    """A conduit from :func:`open_conduit` itself."""
    async with await anyio.create_tcp_listener(local_host=HOST, local_port=0) as listeners:
        [listener] = listeners.listeners
        port = listener.extra(SocketAttribute.local_port)
        conduit = await open_conduit(HOST, port, tls=None, on_trio=trio_conduit)
        try:
            server = await listener.accept()
        except BaseException:
            await conduit.aclose()
            raise
        async with server:
            try:
                yield Pipe(conduit, server)
            finally:
                await conduit.aclose()


def _socket(pipe: Pipe) -> socket.socket:
    assert isinstance(pipe.conduit, SocketConduit)
    return pipe.conduit._sock


# -- writing --------------------------------------------------------------------------


@on_trio
async def test_try_send_writes_a_small_frame_at_once() -> None:
    async with socket_pipe() as pipe:
        assert pipe.conduit.try_send(b"hello") is True
        assert pipe.conduit.pending is False
        assert await pipe.read_exactly(5) == b"hello"


@on_trio
async def test_try_send_keeps_what_the_kernel_refused_and_send_writes_it_first() -> None:
    payload = _payload(LARGE)
    async with socket_pipe(small_buffers=True) as pipe:
        conduit = pipe.conduit
        assert conduit.try_send(payload) is True  # accepted whole, mostly pending
        assert conduit.pending is True
        assert conduit.try_send(b"x") is False  # declined: nothing written, nothing kept
        assert conduit.pending is True

        async with anyio.create_task_group() as tg:
            tg.start_soon(pipe.read_exactly, LARGE + 4)
            await conduit.send(b"more")
            assert conduit.pending is False
    assert bytes(pipe.received) == payload + b"more"


@on_trio
async def test_try_send_is_declined_until_send_flushes_the_pending_bytes() -> None:
    payload = _payload(LARGE)
    async with socket_pipe(small_buffers=True) as pipe:
        conduit = pipe.conduit
        assert conduit.try_send(payload)
        assert conduit.try_send(b"declined") is False
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipe.read_exactly, LARGE + 6)
            await conduit.send(b"")
            assert conduit.pending is False
            assert conduit.try_send(b"direct") is True  # accepted again
            await conduit.send(b"")  # whatever the still busy socket refused
    assert bytes(pipe.received) == payload + b"direct"


async def _send_under(
    scope: anyio.CancelScope, conduit: SocketConduit, data: bytes, finished: anyio.Event
) -> None:
    with scope:
        await conduit.send(data)
        finished.set()


@on_trio
async def test_a_cancelled_send_keeps_the_unwritten_rest_pending() -> None:
    """Nothing lost, nothing written twice, even across two cancelled sends."""
    first, second = _payload(LARGE, seed=1), _payload(LARGE // 2, seed=2)
    async with socket_pipe(small_buffers=True) as pipe:
        conduit = pipe.conduit
        for data in (first, second):
            finished = anyio.Event()
            scope = anyio.CancelScope()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_send_under, scope, conduit, data, finished)
                await anyio.wait_all_tasks_blocked()
                assert not finished.is_set()  # stuck on the full socket
                assert conduit.pending is True
                scope.cancel()
            assert scope.cancelled_caught
            assert not finished.is_set()
            assert conduit.pending is True
            assert conduit.try_send(b"x") is False
        assert pipe.received == b""

        total = len(first) + len(second)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipe.read_exactly, total)
            await conduit.send(b"")
            assert conduit.pending is False
    assert bytes(pipe.received) == first + second


@on_trio
async def test_aclose_forgets_pending_bytes() -> None:
    async with socket_pipe(small_buffers=True) as pipe:
        assert pipe.conduit.try_send(_payload(LARGE))
        assert pipe.conduit.pending is True
        await pipe.conduit.aclose()
        assert pipe.conduit.pending is False


# -- reading --------------------------------------------------------------------------


@on_trio
async def test_receive_returns_what_arrived_then_end_of_stream() -> None:
    async with socket_pipe() as pipe:
        await pipe.server.send(b"hello")
        assert await pipe.conduit_read_exactly(5) == b"hello"
        await pipe.server.send(b"bye")
        await pipe.server.aclose()
        assert await pipe.conduit_read_exactly(3) == b"bye"
        for _ in range(2):
            with pytest.raises(anyio.EndOfStream):
                await pipe.conduit.receive()


@on_trio
async def test_receive_waits_for_data() -> None:
    async with socket_pipe() as pipe:
        got: list[bytes] = []

        async def reader() -> None:
            got.append(await pipe.conduit.receive())

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()
            assert got == []
            await pipe.server.send(b"late")
        assert got == [b"late"]


def _wait_for_more_than_a_chunk(sock: socket.socket) -> None:
    """Readiness only once more than RECEIVE_SIZE bytes wait: the first read is full."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, RECEIVE_SIZE + 1)


@on_trio
async def test_a_full_chunk_then_the_rest_without_waiting() -> None:
    """After a read of a whole 256 KiB chunk the next read does not wait first."""
    data = _payload(RECEIVE_SIZE + 5000)
    async with socket_pipe() as pipe:
        sock = _socket(pipe)
        _wait_for_more_than_a_chunk(sock)
        await pipe.server.send(data)
        first = await pipe.conduit.receive()
        assert len(first) == RECEIVE_SIZE
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        rest = await pipe.conduit_read_exactly(len(data) - RECEIVE_SIZE)
        assert first + rest == data
        await pipe.server.aclose()
        with pytest.raises(anyio.EndOfStream):
            await pipe.conduit.receive()


@on_trio
async def test_a_full_chunk_that_was_everything_then_a_read_that_must_wait() -> None:
    """The read after a full chunk finds nothing (would block): it waits for more."""
    data = _payload(RECEIVE_SIZE)
    async with socket_pipe() as pipe:
        sock = _socket(pipe)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, RECEIVE_SIZE)
        await pipe.server.send(data)
        assert await pipe.conduit.receive() == data
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        got: list[bytes] = []

        async def reader() -> None:
            got.append(await pipe.conduit.receive())

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()
            assert got == []
            await pipe.server.send(b"next")
        assert got == [b"next"]


@on_trio
async def test_a_cancelled_receive_after_a_full_chunk_loses_no_bytes() -> None:
    data = _payload(RECEIVE_SIZE + 5000)
    async with socket_pipe() as pipe:
        sock = _socket(pipe)
        _wait_for_more_than_a_chunk(sock)
        await pipe.server.send(data)
        first = await pipe.conduit.receive()
        assert len(first) == RECEIVE_SIZE
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await pipe.conduit.receive()
        assert scope.cancelled_caught
        await pipe.server.send(b"end")
        await pipe.server.aclose()
        rest = await _read_to_end(pipe.conduit)
        assert first + rest == data + b"end"


@on_trio
async def test_a_cancelled_waiting_receive_loses_no_bytes() -> None:
    async with socket_pipe() as pipe:
        scope = anyio.CancelScope()

        async def reader() -> None:
            with scope:
                await pipe.conduit.receive()

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
        assert scope.cancelled_caught
        await pipe.server.send(b"kept")
        assert await pipe.conduit_read_exactly(4) == b"kept"


@on_trio
async def test_aclose_wakes_a_waiting_receive_with_closed_resource_error() -> None:
    async with socket_pipe() as pipe:
        outcome: list[BaseException] = []

        async def reader() -> None:
            try:
                await pipe.conduit.receive()
            except anyio.ClosedResourceError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()
            await pipe.conduit.aclose()
        assert len(outcome) == 1


@on_trio
async def test_a_reset_connection_is_an_os_error() -> None:
    async with socket_pipe() as pipe:
        raw = pipe.server.extra(SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await pipe.server.aclose()  # RST instead of FIN
        with pytest.raises(OSError):
            await pipe.conduit.receive()
        with pytest.raises(OSError):
            pipe.conduit.try_send(b"x")


# -- open_conduit ---------------------------------------------------------------------


@on_trio
async def test_open_conduit_on_trio_is_a_socket_conduit() -> None:
    async with opened_pipe(trio_conduit=True) as pipe:
        conduit = pipe.conduit
        assert isinstance(conduit, SocketConduit)
        assert conduit.pending is False
        assert conduit.try_send(b"ping") is True
        assert await pipe.read_exactly(4) == b"ping"
        await pipe.server.send(b"pong")
        assert await pipe.conduit_read_exactly(4) == b"pong"


@on_asyncio
async def test_open_conduit_on_asyncio_is_a_protocol_that_writes_directly() -> None:
    async with opened_pipe(trio_conduit=False) as pipe:
        conduit = pipe.conduit
        assert isinstance(conduit, AsyncioConduit)
        assert conduit.pending is False
        assert conduit.try_send(b"first") is True
        await conduit.send(b"+second")
        assert conduit.pending is False
        assert await pipe.read_exactly(12) == b"first+second"
        await pipe.server.send(b"pong")
        assert await pipe.conduit_read_exactly(4) == b"pong"
        await pipe.server.aclose()
        with pytest.raises(anyio.EndOfStream):
            await conduit.receive()


@on_asyncio
async def test_open_conduit_on_asyncio_aclose_wakes_a_waiting_receive() -> None:
    async with opened_pipe(trio_conduit=False) as pipe:
        outcome: list[BaseException] = []

        async def reader() -> None:
            try:
                await pipe.conduit.receive()
            except anyio.ClosedResourceError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()
            await pipe.conduit.aclose()
        assert len(outcome) == 1


@pytest.mark.parametrize(("anyio_backend", "trio_conduit"), [("trio", True), ("asyncio", False)])
async def test_open_conduit_reports_a_refused_connection(trio_conduit: bool) -> None:
    async with await anyio.create_tcp_listener(local_host=HOST, local_port=0) as listeners:
        port = listeners.extra(SocketAttribute.local_port)
    with pytest.raises(OSError):
        await open_conduit(HOST, port, tls=None, on_trio=trio_conduit)


@on_asyncio
async def test_asyncio_declines_direct_writes_while_the_loop_asks_to_pause() -> None:
    """Above the transport's high-water mark try_send declines; send() waits for the drain."""
    async with opened_pipe(trio_conduit=False) as pipe:
        conduit = pipe.conduit
        assert isinstance(conduit, AsyncioConduit)
        big = _payload(8 * 1024 * 1024)
        assert conduit.try_send(big) is True  # more than the kernel takes: the loop pauses us
        assert conduit.try_send(b"x") is False  # declined: nothing written
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(conduit.send, b"tail")
            await anyio.wait_all_tasks_blocked()
            assert await pipe.read_exactly(len(big) + 4) == big + b"tail"
        assert conduit.try_send(b"!") is True
        assert await pipe.read_exactly(len(big) + 5) == big + b"tail!"


@pytest.mark.parametrize(("anyio_backend", "trio_conduit"), [("trio", True), ("asyncio", False)])
async def test_connections_reading_in_turn_through_the_shared_buffer_keep_their_bytes(
    trio_conduit: bool,
) -> None:
    """Reads of one loop share one buffer (read_buffer); what each returns is its own."""
    async with (
        opened_pipe(trio_conduit=trio_conduit) as first,
        opened_pipe(trio_conduit=trio_conduit) as second,
    ):
        a, b = _payload(50_000, seed=1), _payload(70_000, seed=2)
        await first.server.send(a)
        await second.server.send(b)
        got_a, got_b = bytearray(), bytearray()
        while len(got_a) < len(a) or len(got_b) < len(b):  # interleaved reads
            if len(got_a) < len(a):
                got_a += await first.conduit.receive()
            if len(got_b) < len(b):
                got_b += await second.conduit.receive()
        assert (bytes(got_a), bytes(got_b)) == (a, b)


def test_each_thread_reads_into_a_buffer_of_its_own() -> None:
    seen: list[memoryview] = []
    thread = threading.Thread(target=lambda: seen.append(read_buffer()))
    thread.start()
    thread.join()
    assert read_buffer() is read_buffer()  # made once per thread
    assert seen[0] is not read_buffer()
    assert len(read_buffer()) == RECEIVE_SIZE
