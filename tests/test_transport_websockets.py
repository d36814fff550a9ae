"""The ``websockets`` transport against a raw server the test scripts byte by byte.

The server (:func:`raw_server`) listens on 127.0.0.1 port 0, performs the upgrade with
``websockets.server.ServerProtocol`` and then writes crafted bytes: fragments, control
frames between fragments, one byte per read, oversized and binary messages, bad UTF-8,
refused upgrades. Everything runs on both AnyIO backends: one implementation, the same
guarantees. Server and client share the event loop, so ``wait_all_tasks_blocked`` tells
when the client has consumed everything sent so far.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest
import trustme
from anyio.streams.tls import TLSStream
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime._transport import (
    ConnectRequest,
    FastTransport,
    Transport,
    TransportClosed,
    _websockets as adapter,
)
from trio_realtime._transport._conduit import Conduit
from trio_realtime._transport._websockets import open_websockets

from ._memory import created, text_delta
from .test_session_matrix import running_emulator

pytestmark = pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])

HOST = "127.0.0.1"


class RawPeer:
    """The server end of one upgraded connection, driven by the test."""

    def __init__(
        self, stream: anyio.abc.SocketStream, protocol: ServerProtocol, request: Request
    ) -> None:
        self.stream = stream
        self.protocol = protocol
        self.request = request
        self._frames: deque[Frame] = deque()
        self.eof = False

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def send_frame(self, opcode: Opcode, data: bytes | str, *, fin: bool = True) -> None:
        payload = data.encode() if isinstance(data, str) else data
        await self.send(Frame(opcode, payload, fin).serialize(mask=False))

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.send_frame(Opcode.TEXT, json.dumps(event))

    async def send_close(self, code: int, reason: str = "") -> None:
        self.protocol.send_close(code, reason)
        await self._write(self.protocol.data_to_send())

    async def receive_frame(self, *, answer: bool = True) -> Frame | None:
        """The client's next frame, or None at EOF.

        With ``answer``, what the protocol answers is written (pongs, the close reply,
        then EOF); without, pings stay unanswered.
        """
        while not self._frames:
            if self.eof:
                return None
            try:
                data = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                self.eof = True
                self.protocol.receive_eof()
            else:
                self.protocol.receive_data(data)
            self._frames.extend(
                event for event in self.protocol.events_received() if isinstance(event, Frame)
            )
            outgoing = self.protocol.data_to_send()
            if answer:
                await self._write(outgoing)
        return self._frames.popleft()

    async def expect_close(self) -> Close:
        """Read up to the client's close frame, answer it and close the TCP connection."""
        while (frame := await self.receive_frame()) is not None:
            if frame.opcode is Opcode.CLOSE:
                close = Close.parse(frame.data)
                await self.finish()
                return close
        raise AssertionError("the client closed the TCP connection without a close frame")

    async def finish(self) -> None:
        """Read until the client closes the TCP connection."""
        while await self.receive_frame() is not None:
            pass

    async def _write(self, outgoing: list[bytes]) -> None:
        for chunk in outgoing:
            if chunk:
                with contextlib.suppress(anyio.BrokenResourceError):
                    await self.stream.send(chunk)
            else:
                await self.stream.send_eof()


Handler = Callable[[RawPeer], Awaitable[None]]


def _realtime_if_offered(
    protocol: ServerProtocol, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    return Subprotocol("realtime") if "realtime" in offered else None


async def _upgrade(
    stream: anyio.abc.SocketStream, reject: int | None, byte_by_byte: bool, after: bytes = b""
) -> RawPeer | None:
    protocol = ServerProtocol(select_subprotocol=_realtime_if_offered, max_size=None)
    while not (events := protocol.events_received()):
        protocol.receive_data(await stream.receive())
    request = events[0]
    assert isinstance(request, Request)
    if reject is not None:
        protocol.send_response(protocol.reject(reject, "no"))
    else:
        protocol.send_response(protocol.accept(request))
    response = b"".join(protocol.data_to_send()) + after
    if byte_by_byte:
        await send_one_byte_at_a_time(stream, response)
    else:
        await stream.send(response)
    return None if reject is not None else RawPeer(stream, protocol, request)


async def send_one_byte_at_a_time(stream: anyio.abc.ByteStream, data: bytes) -> None:
    """Each byte in its own write (a TCP segment of its own: anyio sets TCP_NODELAY)."""
    for index in range(len(data)):
        await stream.send(data[index : index + 1])
        await anyio.lowlevel.checkpoint()


@asynccontextmanager
async def raw_server(
    handler: Handler,
    *,
    reject: int | None = None,
    byte_by_byte: bool = False,
    with_upgrade: bytes = b"",
) -> AsyncIterator[str]:
    """Serve ``handler`` on 127.0.0.1 port 0; yields the base URL (``ws://…/v1``).

    ``with_upgrade``: bytes written in the same write as the upgrade response.
    """

    active = 0
    idle = anyio.Event()

    async def serve(stream: anyio.abc.SocketStream) -> None:
        nonlocal active, idle
        active += 1
        try:
            async with stream:
                peer = await _upgrade(stream, reject, byte_by_byte, with_upgrade)
                if peer is not None:
                    await handler(peer)
        finally:
            active -= 1
            if not active:
                idle.set()

    async with (
        await anyio.create_tcp_listener(local_host=HOST, local_port=0) as listener,
        anyio.create_task_group() as tasks,
    ):
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        tasks.start_soon(listener.serve, serve)
        try:
            yield f"ws://{HOST}:{port}/v1"
        finally:
            with anyio.move_on_after(5, shield=True):
                while active:  # let the handlers see the client's close through
                    idle = anyio.Event()
                    await idle.wait()
            tasks.cancel_scope.cancel("the test is over")


def request_for(url: str, **options: Any) -> ConnectRequest:
    return ConnectRequest(url=f"{url}/realtime?model=gpt-realtime", **options)


def open_session(url: str, **options: Any) -> Any:
    options.setdefault("heartbeat", None)
    return rt.open_realtime_session("gpt-realtime", api_key="sk-test", url=url, **options)


async def drain(transport: Transport, into: list[str | bytes]) -> None:
    """Be the reader: receive until the connection closes."""
    with contextlib.suppress(TransportClosed):
        while True:
            into.append(await transport.receive())


# -- framing --------------------------------------------------------------------------


async def test_fragmented_messages_with_control_frames_between_fragments() -> None:
    pong: list[Frame | None] = []

    async def handler(peer: RawPeer) -> None:
        text = '{"delta": "caf\u00e9"}'.encode()
        split = text.index(b"\xa9")  # the two bytes of é end up in different frames
        await peer.send_frame(Opcode.TEXT, text[:5], fin=False)
        await peer.send_frame(Opcode.PING, b"between")
        await peer.send_frame(Opcode.CONT, text[5:split], fin=False)
        await peer.send_frame(Opcode.CONT, text[split:])
        await peer.send_frame(Opcode.BINARY, b"\x00\x01", fin=False)
        await peer.send_frame(Opcode.CONT, b"\x02")
        pong.append(await peer.receive_frame())
        await peer.expect_close()

    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        assert await transport.receive() == '{"delta": "caf\u00e9"}'
        assert await transport.receive() == b"\x00\x01\x02"
        await transport.aclose()
    assert pong[0] is not None
    assert (pong[0].opcode, pong[0].data) == (Opcode.PONG, b"between")


async def test_a_server_writing_one_byte_at_a_time() -> None:
    """Handshake, a 300-byte event (16-bit length), a ping and a close, byte by byte."""
    closes: list[Close] = []

    async def handler(peer: RawPeer) -> None:
        wire = b"".join(
            Frame(opcode, payload).serialize(mask=False)
            for opcode, payload in [
                (Opcode.TEXT, json.dumps(created()).encode()),
                (Opcode.PING, b"p"),
                (Opcode.TEXT, json.dumps(text_delta(1) | {"delta": "x" * 300}).encode()),
            ]
        )
        await send_one_byte_at_a_time(peer.stream, wire)
        closes.append(await peer.expect_close())

    async with raw_server(handler, byte_by_byte=True) as url, open_session(url) as session:
        assert session.session_id == "sess_test"
        assert isinstance(await session.receive(), ev.SessionCreatedEvent)
        delta = await session.receive()
        assert isinstance(delta, ev.ResponseTextDeltaEvent)
        assert delta.delta == "x" * 300
    assert closes[0].code == 1000


async def test_a_whole_conversation_through_reads_of_one_to_seven_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The emulator's conversation, with the client's socket reads cut to 1..7 bytes."""
    connect = adapter._connect

    async def trickling(*args: Any) -> Trickle:
        return Trickle(await connect(*args))

    monkeypatch.setattr(adapter, "_connect", trickling)
    async with running_emulator() as emulator:
        async with open_session(emulator.url, session={"output_modalities": ["text"]}) as s:
            await s.send_user_message("bit by bit")
            text = ""
            async for event in s:
                if isinstance(event, ev.ResponseTextDeltaEvent):
                    text += event.delta
                elif isinstance(event, ev.ResponseDoneEvent):
                    break
        assert "bit by bit" in text
        assert emulator.connections[0].received_close_code == 1000


class Trickle:
    """A conduit whose reads return 1, 2, … 7 bytes at most, in turn."""

    def __init__(self, conduit: Conduit) -> None:
        self._conduit = conduit
        self._buffer = b""
        self._size = 0

    @property
    def pending(self) -> bool:
        return self._conduit.pending

    async def receive(self) -> bytes:
        if not self._buffer:
            self._buffer = await self._conduit.receive()
        else:
            await anyio.lowlevel.checkpoint()
        self._size = self._size % 7 + 1
        chunk, self._buffer = self._buffer[: self._size], self._buffer[self._size :]
        return chunk

    def try_send(self, data: bytes) -> bool:
        return self._conduit.try_send(data)

    async def send(self, data: bytes) -> None:
        await self._conduit.send(data)

    async def aclose(self) -> None:
        await self._conduit.aclose()


# -- robustness of the parser path -----------------------------------------------------


@pytest.mark.parametrize("transport", ["websockets", "trio-websocket"])
@pytest.mark.parametrize("fragmented", [False, True], ids=["one-frame", "fragmented"])
async def test_an_oversized_message_closes_1009_and_raises_session_closed(
    fragmented: bool, transport: str, anyio_backend: str
) -> None:
    """SessionClosed(1009), as with trio-websocket: the code on the wire, a clear reason."""
    if transport == "trio-websocket" and anyio_backend != "trio":
        pytest.skip("trio-websocket runs on Trio")
    closes: list[Close] = []

    async def handler(peer: RawPeer) -> None:
        await peer.send_event(created())
        big = json.dumps(text_delta(1) | {"delta": "x" * 5000}).encode()
        if fragmented:  # each fragment is under the limit; the message is not
            for start in range(0, len(big), 1000):
                end = start + 1000
                opcode = Opcode.TEXT if start == 0 else Opcode.CONT
                await peer.send_frame(opcode, big[start:end], fin=end >= len(big))
        else:
            await peer.send_frame(Opcode.TEXT, big)
        closes.append(await peer.expect_close())

    async with raw_server(handler) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with open_session(url, max_message_size=4096, transport=transport) as session:
                async for _ in session:
                    pass
    assert info.value.code == 1009
    if transport == "websockets":
        assert "max_message_size (4096 bytes)" in info.value.reason
    assert not isinstance(info.value, BaseExceptionGroup)
    assert closes[0].code == 1009


async def test_a_binary_frame_is_counted_and_skipped() -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.send_event(created())
        await peer.send_frame(Opcode.BINARY, b"\x00" * 100)
        await peer.send_event(text_delta(1))
        await peer.send_close(1000)
        await peer.finish()

    async with raw_server(handler) as url, open_session(url) as session:
        kinds = [type(event).__name__ async for event in session]
        stats = session.statistics()
    assert kinds == ["SessionCreatedEvent", "ResponseTextDeltaEvent"]
    assert stats.frames_skipped == 1


async def test_invalid_utf8_in_a_text_message_closes_1007() -> None:
    closes: list[Close] = []

    async def handler(peer: RawPeer) -> None:
        await peer.send_event(created())
        await peer.send_frame(Opcode.TEXT, b'{"type": "\xff"}')
        closes.append(await peer.expect_close())

    async with raw_server(handler) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with open_session(url) as session:
                async for _ in session:
                    pass
    assert info.value.code == 1007
    assert closes[0].code == 1007


# -- opening ---------------------------------------------------------------------------


async def test_the_upgrade_carries_headers_and_subprotocols_and_no_compression() -> None:
    seen: list[Request] = []

    async def handler(peer: RawPeer) -> None:
        seen.append(peer.request)
        await peer.expect_close()

    async with raw_server(handler) as url:
        request = ConnectRequest(
            url=f"{url}/realtime?model=m",
            headers=[("Authorization", "Bearer sk-secret"), ("X-Trace", "1")],
            subprotocols=["realtime"],
        )
        async with open_websockets(request) as transport:
            await transport.aclose()
    headers = seen[0].headers
    assert seen[0].path == "/v1/realtime?model=m"
    assert headers["Authorization"] == "Bearer sk-secret"
    assert headers["X-Trace"] == "1"
    assert headers["Sec-WebSocket-Protocol"] == "realtime"
    assert "Sec-WebSocket-Extensions" not in headers


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, rt.AuthenticationError),
        (403, rt.AuthenticationError),
        (404, rt.ConnectError),
        (500, rt.ConnectError),
    ],
)
async def test_a_refused_upgrade(status: int, error: type[rt.ConnectError]) -> None:
    async def never(peer: RawPeer) -> None:
        raise AssertionError("no connection is upgraded")

    async with raw_server(never, reject=status) as url:
        with pytest.raises(error, match=f"HTTP {status}") as info:
            async with open_session(url):
                pytest.fail("the block must not run")
    assert type(info.value) is error
    assert info.value.__cause__ is not None


async def test_a_server_that_hangs_up_during_the_upgrade_is_connect_error() -> None:
    async with await anyio.create_tcp_listener(local_host=HOST, local_port=0) as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tasks:

            async def hang_up(stream: anyio.abc.SocketStream) -> None:
                await stream.receive()
                await stream.aclose()

            tasks.start_soon(listener.serve, hang_up)
            with pytest.raises(rt.ConnectError, match="handshake") as info:
                async with open_session(f"ws://{HOST}:{port}/v1"):
                    pytest.fail("the block must not run")
            assert not isinstance(info.value, rt.ConnectTimeout)
            tasks.cancel_scope.cancel()


@pytest.mark.deadline(5)
async def test_an_untrusted_certificate_fails_at_once() -> None:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(HOST).configure_cert(context)

    async def handshake(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(Exception):
                await TLSStream.wrap(stream, server_side=True, ssl_context=context)
                await anyio.sleep_forever()

    async with await anyio.create_tcp_listener(local_host=HOST, local_port=0) as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(listener.serve, handshake)
            start = anyio.current_time()
            with pytest.raises(rt.ConnectError, match="certificate") as info:
                async with open_session(f"wss://{HOST}:{port}/v1", connect_timeout=60):
                    pytest.fail("the block must not run")
            assert not isinstance(info.value, rt.ConnectTimeout)
            assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
            assert anyio.current_time() - start < 5
            tasks.cancel_scope.cancel()


async def test_a_refused_connection_names_the_cause() -> None:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    with pytest.raises(rt.ConnectError, match=f"could not connect to {HOST}:{port}") as info:
        async with open_websockets(request_for(f"ws://{HOST}:{port}/v1")):
            pytest.fail("the block must not run")
    assert isinstance(info.value.__cause__, OSError)


async def test_a_bad_url_is_connect_error_without_the_url() -> None:
    with pytest.raises(rt.ConnectError, match="scheme") as info:
        async with open_websockets(ConnectRequest(url="http://h/v1?api-key=sk-secret")):
            pytest.fail("the block must not run")
    assert "sk-secret" not in str(info.value)
    assert info.value.__cause__ is None


# -- pings, closes, backpressure -------------------------------------------------------


@pytest.mark.parametrize("pushing", [False, True], ids=["receive", "set_receiver"])
async def test_ping_returns_once_its_pong_is_read_and_a_pong_answers_earlier_pings(
    pushing: bool,
) -> None:
    """Also with messages handed over as they arrive (asyncio: the pong is read there)."""
    pings: list[bytes] = []
    answer = anyio.Event()

    async def handler(peer: RawPeer) -> None:
        while len(pings) < 2:
            frame = await peer.receive_frame(answer=False)
            assert frame is not None and frame.opcode is Opcode.PING
            pings.append(bytes(frame.data))
        await answer.wait()
        await peer.send_frame(Opcode.PONG, b"unsolicited")
        await peer.send_frame(Opcode.PONG, pings[1])  # answers the second: both are done
        await peer.expect_close()

    received: list[str | bytes] = []
    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        done: list[int] = []
        if pushing:
            assert isinstance(transport, FastTransport)
            transport.set_receiver(lambda message: received.append(message) is None)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(drain, transport, received)

            async def ping(n: int) -> None:
                await transport.ping()
                done.append(n)

            tasks.start_soon(ping, 1)
            await anyio.wait_all_tasks_blocked()
            tasks.start_soon(ping, 2)
            await anyio.wait_all_tasks_blocked()
            assert len(pings) == 2 and pings[0] != pings[1]
            assert done == []  # sent, not answered
            answer.set()
            with anyio.fail_after(5):
                while len(done) < 2:
                    await anyio.wait_all_tasks_blocked()
            await transport.aclose()
    assert sorted(done) == [1, 2]
    assert received == []


async def test_a_ping_still_waiting_when_the_connection_closes_raises() -> None:
    async def handler(peer: RawPeer) -> None:
        frame = await peer.receive_frame(answer=False)
        assert frame is not None and frame.opcode is Opcode.PING
        await peer.send_close(4000, "bye")
        await peer.finish()

    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(drain, transport, [])
            with pytest.raises(TransportClosed) as info:
                await transport.ping()
    assert (info.value.code, info.value.reason) == (4000, "bye")


async def test_the_reader_answers_server_pings() -> None:
    pongs: list[bytes] = []

    async def handler(peer: RawPeer) -> None:
        await peer.send_frame(Opcode.PING, b"are you there")
        await peer.send_event(text_delta(1))
        frame = await peer.receive_frame()
        assert frame is not None and frame.opcode is Opcode.PONG
        pongs.append(bytes(frame.data))
        await peer.expect_close()

    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        assert json.loads(await transport.receive())["delta"] == "d1 "
        await transport.aclose()
    assert pongs == [b"are you there"]


async def test_aclose_sends_code_and_reason_and_waits_for_the_peer() -> None:
    closes: list[Close] = []

    async def handler(peer: RawPeer) -> None:
        await peer.send_event(text_delta(1))  # arrives during the close: dropped
        closes.append(await peer.expect_close())

    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        await transport.aclose(1011, "heartbeat timeout")
        await transport.aclose()  # idempotent
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        with pytest.raises(TransportClosed):
            await transport.send_text("{}")
    assert (closes[0].code, closes[0].reason) == (1011, "heartbeat timeout")
    assert info.value.code == 1011


async def test_a_server_close_is_transport_closed_with_its_code_after_earlier_messages() -> None:
    echoed: list[Close] = []

    async def handler(peer: RawPeer) -> None:
        await peer.send_event(text_delta(1))
        await peer.send_close(4000, "invalid_request_error.x")
        while (frame := await peer.receive_frame()) is not None:
            if frame.opcode is Opcode.CLOSE:
                echoed.append(Close.parse(frame.data))

    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        assert "d1" in str(await transport.receive())
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        await transport.aclose()
    assert (info.value.code, info.value.reason) == (4000, "invalid_request_error.x")
    assert echoed[0].code == 4000


async def test_an_event_and_a_close_in_the_same_segment_as_the_upgrade() -> None:
    """What the service does with a refused key: upgrade, error event, close, at once."""
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad key"}}
    frames = Frame(Opcode.TEXT, json.dumps(error).encode()).serialize(mask=False)
    frames += Frame(Opcode.CLOSE, Close(3000, "invalid_api_key").serialize()).serialize(mask=False)

    async def handler(peer: RawPeer) -> None:
        while await peer.receive_frame(answer=False) is not None:
            pass  # the client's close echo, then its EOF

    async with (
        raw_server(handler, with_upgrade=frames) as url,
        open_websockets(request_for(url)) as transport,
    ):
        assert json.loads(await transport.receive()) == error
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
    assert (info.value.code, info.value.reason) == (3000, "invalid_api_key")


async def test_eof_without_a_close_frame_is_1006() -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.send_event(text_delta(1))
        await peer.stream.aclose()

    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        await transport.receive()
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        with pytest.raises(TransportClosed):
            await transport.ping()
    assert info.value.code == 1006


async def test_the_reader_never_waits_for_a_stuck_writer() -> None:
    """A writer stuck on a full socket holds the write lock; the reader keeps reading.

    Its pong waits in line and goes out right after the writer's frame.
    """
    go = anyio.Event()
    seen: list[Opcode] = []

    async def handler(peer: RawPeer) -> None:
        await go.wait()  # until then the server reads nothing: the client's writes pile up
        await peer.send_frame(Opcode.PING, b"during")
        await peer.send_event(text_delta(1))
        while (frame := await peer.receive_frame()) is not None:
            seen.append(frame.opcode)

    big = "x" * 262_144
    written = 0
    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        async with anyio.create_task_group() as tasks:

            async def write() -> None:
                nonlocal written
                for _ in range(64):  # 16 MB: more than the socket buffers hold
                    await transport.send_text(big)
                    written += 1

            tasks.start_soon(write)
            await anyio.wait_all_tasks_blocked()
            assert written < 64  # the writer is stuck in send
            go.set()
            with anyio.fail_after(5):
                assert json.loads(await transport.receive())["delta"] == "d1 "
        await transport.aclose()
    assert seen.count(Opcode.TEXT) == 64
    assert Opcode.PONG in seen
    assert seen[-1] is Opcode.CLOSE


async def test_nothing_is_read_while_nobody_receives() -> None:
    total = 400
    sent = 0
    finished = anyio.Event()

    async def handler(peer: RawPeer) -> None:
        nonlocal sent
        for n in range(total):  # ~6.5 MB: more than the kernel buffers hold
            await peer.send_event(text_delta(n) | {"delta": f"{n:05d}" + "x" * 16_000})
            sent += 1
        finished.set()
        await peer.expect_close()

    async with raw_server(handler) as url, open_websockets(request_for(url)) as transport:
        await anyio.wait_all_tasks_blocked()
        assert not finished.is_set()  # TCP pushed back: the server is stuck in send
        stalled_at = sent
        assert stalled_at < total
        for n in range(total):
            message = json.loads(await transport.receive())
            assert message["delta"].startswith(f"{n:05d}")
        await finished.wait()  # the server's last send returns once we read it
        await transport.aclose()


async def test_trio_websocket_on_asyncio_fails_at_once_with_advice(anyio_backend: str) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("trio-websocket runs on Trio")
    with pytest.raises(rt.ConnectError, match="transport='websockets'"):
        async with open_session("ws://127.0.0.1:9/v1", transport="trio-websocket"):
            pytest.fail("the block must not run")


async def test_importing_trio_realtime_loads_the_default_transport_only(
    anyio_backend: str,
) -> None:
    if anyio_backend != "trio":
        pytest.skip("one run is enough")
    code = (
        "import sys, trio_realtime; "
        "assert 'websockets.client' in sys.modules; "
        "assert 'trio_websocket' not in sys.modules"
    )
    await anyio.run_process([sys.executable, "-c", code])


async def test_order_pongs_and_the_close_survive_a_small_event_buffer() -> None:
    """Bursts, pings and a fragmented message at a slow consumer with room for 4 events.

    On asyncio, messages are handed over in the loop's callback while the inbox has room
    and wait for the reader task when it is full: the switches between the two must keep
    the order, answer every ping and deliver the close after everything before it.
    """
    total = 300
    pongs: list[bytes] = []

    async def handler(peer: RawPeer) -> None:
        await peer.send_event(created())
        for n in range(total):
            if n % 50 == 25:
                await peer.send_frame(Opcode.PING, f"ping {n}".encode())
            if n == 100:  # one event in three fragments
                text = json.dumps(text_delta(n))
                await peer.send_frame(Opcode.TEXT, text[:10], fin=False)
                await peer.send_frame(Opcode.CONT, text[10:20], fin=False)
                await peer.send_frame(Opcode.CONT, text[20:])
                continue
            await peer.send_event(text_delta(n))
        await peer.send_close(1000)
        while (frame := await peer.receive_frame()) is not None:
            if frame.opcode is Opcode.PONG:
                pongs.append(bytes(frame.data))

    seen: list[str] = []
    async with raw_server(handler) as url, open_session(url, event_buffer=4) as session:
        async for event in session:
            if isinstance(event, ev.ResponseTextDeltaEvent):
                seen.append(event.delta)
                if len(seen) % 7 == 0:
                    await anyio.wait_all_tasks_blocked()  # fall behind: the inbox fills
        stats = session.statistics()
    assert seen == [f"d{n} " for n in range(total)]
    assert pongs == [f"ping {n}".encode() for n in range(25, total, 50)]
    assert stats.peak_events_buffered == 4
    assert stats.events_received == total + 1  # and session.created
