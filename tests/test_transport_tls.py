"""Whole sessions over ``wss://``: the default transport's own TLS, end to end.

The emulator speaks plain ``ws://``; :func:`tls_proxy` terminates TLS in front of it (an
AnyIO listener on 127.0.0.1 port 0, ``TLSStream`` with a certificate issued by a
``trustme`` authority, bytes pumped both ways to the emulator's port), and the client
trusts that authority through ``_tls_context``. On Trio that exercises
``SocketConduit`` (``ssl.SSLObject`` over memory BIOs, encrypted direct writes); on
asyncio the asyncio conduit's TLS. When the emulator closes its end, the proxy ends TLS
with a close_notify (or, with ``close_notify=False``, drops the TCP connection without
one), as a TLS-terminating load balancer does. Every test runs with both endings on both
backends.

A regression guard: ``ssl.SSLObject.read()`` returns ``b""`` (it does not raise
``SSLZeroReturnError``) once the peer's close_notify was read, and a read loop that
ignores that spins forever without a checkpoint: 100% CPU, no timeout or cancellation
can fire (``SocketConduit.receive`` once did). :func:`tls_spins` turns such a spin
into a test failure instead of a hang.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import numpy as np
import pytest
import sniffio
import trustme
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSAttribute, TLSStream

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime._transport import _websockets as adapter
from trio_realtime._transport._conduit import SocketConduit
from trio_realtime.testing import EmulatorConnection, Faults, Retention

from .test_session_matrix import running_emulator

UVLOOP = pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="no uvloop")
ENDINGS = [
    pytest.param("trio", True, id="trio-close_notify"),
    pytest.param("trio", False, id="trio-no_close_notify"),
    pytest.param("asyncio", True, id="asyncio-close_notify"),
    pytest.param("asyncio", False, id="asyncio-no_close_notify"),
    *(
        pytest.param(("asyncio", {"use_uvloop": True}), ending, id=f"uvloop-{name}", marks=UVLOOP)
        for ending, name in ((True, "close_notify"), (False, "no_close_notify"))
    ),
]
with_both_endings = pytest.mark.parametrize(("anyio_backend", "close_notify"), ENDINGS)

HOST = "127.0.0.1"
TEXT = ev.SessionConfig(output_modalities=["text"])
MANUAL = ev.SessionConfig.model_validate(
    {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": None}},
    }
)
_PEER_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(autouse=True)
def trust_the_test_authority(monkeypatch: pytest.MonkeyPatch, authority: trustme.CA) -> None:
    """The client's TLS context trusts the test authority (instead of the system store)."""
    context = ssl.create_default_context()
    authority.configure_trust(context)
    monkeypatch.setattr(adapter, "_tls_context", lambda: context)


@pytest.fixture(autouse=True)
def tls_spins(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and break out of) TLS read loops that keep reading nothing; tests assert none.

    ``ssl.SSLObject.read`` returns ``b""`` once the peer's close_notify was read. A loop
    that ignores that spins without yielding, so no deadline could end the test: after
    1000 empty reads in a row on one object, the read raises instead (the library's close
    path swallows that error, hence the record).
    """
    spins: list[str] = []
    original = ssl.SSLObject.read

    def read(self: ssl.SSLObject, *args: Any, **kwargs: Any) -> Any:
        data = original(self, *args, **kwargs)
        count = getattr(self, "_test_empty_reads", 0) + 1 if not data else 0
        self._test_empty_reads = count  # type: ignore[attr-defined]
        if count > 1000:
            spins.append(f"server_side={self.server_side}: 1000 reads of b'' in a row")
            raise AssertionError("a TLS read loop spins on b'' (the peer's close_notify)")
        return data

    monkeypatch.setattr(ssl.SSLObject, "read", read)
    return spins


@dataclass
class Proxy:
    port: int
    handshakes: list[str] = field(default_factory=list)
    """The TLS version of every completed handshake."""
    bytes_from_client: int = 0
    gate: anyio.Event | None = None
    """While set to an unset event, the proxy reads nothing more from the client."""

    @property
    def url(self) -> str:
        return f"wss://{HOST}:{self.port}/v1"


@asynccontextmanager
async def tls_proxy(
    authority: trustme.CA,
    target_port: int,
    *,
    close_notify: bool = True,
    receive_buffer: int | None = None,
) -> AsyncIterator[Proxy]:
    """Terminate TLS on 127.0.0.1 (port 0) and relay the plaintext to ``target_port``.

    ``receive_buffer``: SO_RCVBUF of the accepted sockets (a small TCP window toward
    the client, so its large writes are taken in parts).
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(HOST).configure_cert(context)

    async def relay(client: anyio.abc.SocketStream) -> None:
        async with client:
            try:
                tls = await TLSStream.wrap(client, server_side=True, ssl_context=context)
            except (ssl.SSLError, *_PEER_GONE):
                return
            proxy.handshakes.append(str(tls.extra(TLSAttribute.tls_version)))
            async with (
                await anyio.connect_tcp(HOST, target_port) as upstream,
                anyio.create_task_group() as pumps,
            ):

                async def to_upstream() -> None:
                    with contextlib.suppress(*_PEER_GONE):
                        while True:
                            if proxy.gate is not None:
                                await proxy.gate.wait()
                            chunk = await tls.receive()  # EndOfStream: the client's close_notify
                            proxy.bytes_from_client += len(chunk)
                            await upstream.send(chunk)
                    with contextlib.suppress(*_PEER_GONE):
                        await upstream.send_eof()

                pumps.start_soon(to_upstream)
                with contextlib.suppress(*_PEER_GONE):
                    async for chunk in upstream:
                        await tls.send(chunk)
                # The emulator closed its end: so does the proxy, toward the client.
                pumps.cancel_scope.cancel()
            if close_notify:
                # close_notify, then wait for the client to hang up (without a close_notify
                # of its own, so the wait may end with an error: expected).
                with contextlib.suppress(ssl.SSLError, *_PEER_GONE):
                    await tls.aclose()
            else:
                await anyio.aclose_forcefully(client)

    async with await anyio.create_tcp_listener(local_host=HOST, local_port=0) as listener:
        if receive_buffer is not None:  # inherited by the accepted sockets
            raw = listener.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        proxy = Proxy(listener.extra(SocketAttribute.local_port))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(listener.serve, relay)
            yield proxy
            tasks.cancel_scope.cancel()


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def open_session(url: str, **options: Any) -> Any:
    return rt.open_realtime_session("gpt-realtime", api_key="sk-test", url=url, **options)


def appended(connection: EmulatorConnection) -> bytes:
    return b"".join(
        base64.b64decode(event.audio)
        for event in connection.received
        if isinstance(event, ev.InputAudioBufferAppendEvent)
    )


# -- a conversation ---------------------------------------------------------------------


@with_both_endings
async def test_a_text_conversation_over_wss_closes_with_1000(
    authority: trustme.CA, close_notify: bool, tls_spins: list[str]
) -> None:
    message = "Say hello over TLS, caf\u00e9 \u2615"
    async with running_emulator() as emulator:
        port = port_of(emulator.url)
        async with tls_proxy(authority, port, close_notify=close_notify) as proxy:
            async with open_session(proxy.url, session=TEXT) as session:
                assert session.session_id is not None
                await session.send_user_message(message)
                deltas: list[str] = []
                async for event in session:
                    if isinstance(event, ev.ResponseTextDeltaEvent):
                        deltas.append(event.delta)
                    elif isinstance(event, ev.ResponseDoneEvent):
                        assert event.response.status == "completed"
                        break
                stats = session.statistics()
            connection = emulator.connections[0]
            assert "".join(deltas) == f"You said: {message}"
            assert len(deltas) > 1  # streamed, not one event
            assert connection.received_close_code == 1000
            assert stats.events_sent == len(connection.received)
            assert len(proxy.handshakes) == 1 and proxy.handshakes[0].startswith("TLSv1.")
            assert proxy.bytes_from_client > 0
    assert tls_spins == []


# -- audio: many large encrypted writes --------------------------------------------------


@with_both_endings
@pytest.mark.parametrize("chunk_ms", [20, 1000])
async def test_audio_over_wss_arrives_whole_and_in_order(
    authority: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
    chunk_ms: int,
    close_notify: bool,
    tls_spins: list[str],
) -> None:
    """Eight seconds of noise (no two frames alike): every byte arrives, in order.

    On Trio the client's socket has a small send buffer and the proxy stops reading from
    it (through a small TCP window) until an encrypted direct write leaves a tail
    pending, so ``send`` must finish that tail before the frames written after it; then
    the proxy reads everything.
    """
    seconds = 8
    pcm = np.random.default_rng(1234).integers(-32768, 32768, 24000 * seconds, dtype=np.int16)
    expected = pcm.astype("<i2").tobytes()
    on_trio = sniffio.current_async_library() == "trio"
    gate = anyio.Event()

    direct: list[tuple[int, bool]] = []
    """On Trio: (bytes, tail left pending) for every write SocketConduit.try_send took."""
    original = SocketConduit.try_send

    def spy(self: SocketConduit, data: bytes) -> bool:
        accepted = original(self, data)
        if accepted:
            direct.append((len(data), self.pending))
            if self.pending:
                gate.set()  # the kernel refused part of it: let the proxy read again
        return accepted

    monkeypatch.setattr(SocketConduit, "try_send", spy)
    make_conduit = SocketConduit.__init__

    def with_small_send_buffer(self: SocketConduit, stream: Any, sock: socket.socket) -> None:
        make_conduit(self, stream, sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)  # a slow uplink's

    monkeypatch.setattr(SocketConduit, "__init__", with_small_send_buffer)

    async with running_emulator(retention=Retention(audio=True)) as emulator:
        port = port_of(emulator.url)
        async with tls_proxy(
            authority, port, close_notify=close_notify, receive_buffer=4096
        ) as proxy:
            async with open_session(
                proxy.url, session=MANUAL, audio_chunk_ms=chunk_ms, audio_buffer_ms=2000
            ) as session:
                if on_trio:
                    proxy.gate = gate
                for start in range(0, len(expected), 4800 * 2 + 2):  # odd-sized pieces
                    await session.append_audio(expected[start : start + 4800 * 2 + 2])
                gate.set()
                await session.commit_audio()
                async for event in session:
                    if isinstance(event, ev.InputAudioBufferCommittedEvent):
                        break
            connection = emulator.connections[0]
            assert connection.received_close_code == 1000
            assert len(proxy.handshakes) == 1
    assert tls_spins == []
    received = appended(connection)
    assert len(received) == len(expected) == 48000 * seconds
    assert received == expected
    kinds = [event.type for event in connection.received]
    assert kinds.index("input_audio_buffer.commit") > max(
        i for i, kind in enumerate(kinds) if kind == "input_audio_buffer.append"
    )
    if on_trio:
        assert any(tail for _, tail in direct), "no direct write over TLS left a tail pending"


# -- the server ends the connection ------------------------------------------------------


async def _outcome(url: str) -> tuple[list[str], type[BaseException] | None, int | None, str]:
    """Open a session, ask something, read to the end: events seen, error type, code, reason.

    The faults strike mid-reply (after the fourth event), once the block is running.
    """
    seen: list[str] = []
    try:
        async with open_session(url, session=TEXT, close_timeout=5) as session:
            await session.send_user_message("hi")
            async for event in session:
                seen.append(type(event).__name__)
    except rt.SessionClosed as exc:
        return seen, type(exc), exc.code, exc.reason
    return seen, None, None, ""


FAULTS = [
    pytest.param(Faults(close_after_events=4, close_code=1000), id="close-1000"),
    pytest.param(
        Faults(close_after_events=4, close_code=1011, close_reason="server_error.boom"),
        id="close-1011",
    ),
    pytest.param(Faults(drop_after_events=4), id="drop"),
]


@with_both_endings
@pytest.mark.parametrize("faults", FAULTS)
async def test_the_server_ending_the_connection_over_tls_ends_the_session_as_over_ws(
    authority: trustme.CA, faults: Faults, close_notify: bool, tls_spins: list[str]
) -> None:
    async with running_emulator(faults=faults) as emulator:
        port = port_of(emulator.url)
        plain = await _outcome(emulator.url)
        async with tls_proxy(authority, port, close_notify=close_notify) as proxy:
            with anyio.fail_after(4):  # no close timeout: TLS's end is seen at once
                secure = await _outcome(proxy.url)
            assert len(proxy.handshakes) == 1
    assert tls_spins == []
    assert secure[1:] == plain[1:]  # the same end: error type, code and reason
    reply_start = [
        "SessionCreatedEvent",
        "SessionUpdatedEvent",
        "ConversationItemAddedEvent",
        "ConversationItemDoneEvent",
    ]
    for events in (plain[0], secure[0]):
        # A failing close cancels the block: events not yet read by then are not delivered
        # (on either scheme), so the block sees a prefix of what was sent; a 1000 close
        # ends the iteration after all of them.
        assert events == reply_start[: len(events)]
    events, error, code, reason = secure
    if faults.close_after_events is not None:
        assert [c.received_close_code for c in emulator.connections] == [faults.close_code] * 2
    if faults.drop_after_events is not None:
        assert (error, code) == (rt.SessionClosed, 1006)
    elif faults.close_code == 1000:
        assert error is None
        assert events == plain[0] == reply_start
    else:
        assert (error, code, reason) == (rt.SessionClosed, 1011, "server_error.boom")
