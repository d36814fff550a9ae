"""Fault injection, pings, timers and the close handshake, seen from a raw Trio client.

Socket tests use loopback with real time and bound waits; anything about time runs on
the mock clock over an in-memory stream (``Emulator.serve_stream``), so it is instant.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection, wrap_client_stream

from trio_realtime.testing import Emulator, Faults, open_emulator
from trio_realtime.testing._wire import FrameSniffer

from .test_emulator_trio import AUTH, connect, expect_close, receive, send

URL_QUERY = "?model=gpt-realtime"


@asynccontextmanager
async def faulty(**faults: Any) -> AsyncIterator[tuple[Emulator, WebSocketConnection]]:
    async with (
        open_emulator(faults=Faults(**faults)) as emulator,
        connect(emulator.realtime_url + URL_QUERY) as ws,
    ):
        yield emulator, ws


# -- faults on a real socket ------------------------------------------------------------------


async def test_close_after_events() -> None:
    async with faulty(close_after_events=2, close_code=4321, close_reason="bye") as (em, ws):
        assert (await receive(ws))["type"] == "session.created"
        await send(ws, {"type": "session.update", "session": {"type": "realtime"}})
        assert (await receive(ws))["type"] == "session.updated"
        assert await expect_close(ws) == (4321, "bye")
        connection = em.connections[0]
    await connection.closed.wait()
    assert connection.received_close_code == 4321
    assert len(connection.sent) == 2


async def test_drop_after_events_aborts_without_close_frame() -> None:
    async with faulty(drop_after_events=1) as (em, ws):
        assert (await receive(ws))["type"] == "session.created"
        code, _ = await expect_close(ws)
        assert code == 1006
        connection = em.connections[0]
        await connection.closed.wait()
        assert connection.received_close_code is None


async def test_stall_stops_reading_pongs_and_sending() -> None:
    async with open_emulator(faults=Faults(stall_after_events=1)) as emulator:
        stream = await trio.open_tcp_stream("127.0.0.1", emulator.port)
        async with trio.open_nursery() as nursery:
            ws = await wrap_client_stream(
                nursery, stream, "127.0.0.1", "/v1/realtime" + URL_QUERY, extra_headers=AUTH
            )
            assert (await receive(ws))["type"] == "session.created"
            await send(ws, {"type": "session.update", "session": {"type": "realtime"}})
            connection = await emulator.wait_connection()
            await connection.wait_for(lambda event: event.type == "session.update")
            with trio.move_on_after(0.5) as ping_wait:
                await ws.ping()
            assert ping_wait.cancelled_caught, "a stalled server must not answer pings"
            chunk = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 16384})
            written = 0
            with trio.move_on_after(1.0) as write_wait:
                while True:
                    await ws.send_message(chunk)
                    written += 1
            assert write_wait.cancelled_caught, "writes to a stalled server must back up"
            assert written > 0
            assert connection.sent_types() == ["session.created", "session.updated"]
            # Give up the way a client with unsent data does: reset the connection.
            stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await trio.aclose_forcefully(stream)
            nursery.cancel_scope.cancel()
        await connection.closed.wait()


async def test_ignore_close_leaves_the_client_waiting() -> None:
    async with faulty(ignore_close=True) as (em, ws):
        await receive(ws)
        with trio.move_on_after(0.5) as close_wait:
            await ws.aclose(1000, "done")
        assert close_wait.cancelled_caught, "the close handshake must not complete"
        connection = em.connections[0]
        assert connection.received_close_code == 1000
        assert connection.received_close_reason == "done"
        assert not connection.closed.is_set()


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("malformed_after_events", lambda message: isinstance(message, str) and "{" in message),
        (
            "unknown_event_after",
            lambda message: json.loads(message)["type"] == "emulator.unknown_event",
        ),
        ("binary_after", lambda message: isinstance(message, bytes)),
    ],
)
async def test_injected_frames_then_the_session_goes_on(fault: str, check: Any) -> None:
    async with faulty(**{fault: 1}) as (em, ws):
        assert (await receive(ws))["type"] == "session.created"
        injected = await ws.get_message()
        assert check(injected)
        if fault == "malformed_after_events":
            with pytest.raises(ValueError):
                json.loads(injected)
        await send(ws, {"type": "session.update", "session": {"type": "realtime"}})
        assert (await receive(ws))["type"] == "session.updated"
        assert [event["type"] for event in em.connections[0].sent] == [
            "session.created",
            "session.updated",
        ]


# -- time, on the mock clock over in-memory streams ---------------------------------------


class _CountingStream(trio.abc.Stream):
    """Counts the server's pings on the client side of an in-memory stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.sniffer = FrameSniffer()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = await self.stream.receive_some(max_bytes)
        self.sniffer.feed(data)
        return bytes(data)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.stream.aclose()


@asynccontextmanager
async def in_memory(
    emulator: Emulator, resource: str = "/v1/realtime" + URL_QUERY
) -> AsyncIterator[tuple[WebSocketConnection, _CountingStream]]:
    client, server = trio.testing.memory_stream_pair()
    counting = _CountingStream(client)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emulator.serve_stream, server)
        ws = await wrap_client_stream(
            nursery,
            counting,
            "localhost",
            resource,
            extra_headers=AUTH,  # type: ignore[arg-type]
        )
        try:
            yield ws, counting
        finally:
            with trio.move_on_after(1):
                await ws.aclose()
            await counting.aclose()


async def events_until(ws: WebSocketConnection, last_type: str) -> list[dict[str, Any]]:
    events = []
    while True:
        event = await receive(ws)
        events.append(event)
        if event["type"] == last_type:
            return events


@pytest.mark.mock_clock
async def test_pings_every_interval_with_4_byte_payloads() -> None:
    async with open_emulator(ping_interval=1.0) as emulator, in_memory(emulator) as (ws, wire):
        await receive(ws)
        await trio.sleep(3.5)
        connection = emulator.connections[0]
        assert connection.pings_sent == 3
        assert wire.sniffer.pings == 3
        assert connection.pongs_received == 3


@pytest.mark.mock_clock
async def test_delay_before_each_frame() -> None:
    async with (
        open_emulator(faults=Faults(delay_s=2.0)) as emulator,
        in_memory(emulator) as (
            ws,
            _,
        ),
    ):
        start = trio.current_time()
        await receive(ws)
        assert trio.current_time() - start == pytest.approx(2.0)
        await send(ws, {"type": "session.update", "session": {"type": "realtime"}})
        await receive(ws)
        assert trio.current_time() - start == pytest.approx(4.0)


@pytest.mark.mock_clock
async def test_close_after_seconds() -> None:
    faults = Faults(close_after_s=5.0)
    async with (
        open_emulator(faults=faults, ping_interval=None) as emulator,
        in_memory(emulator) as (ws, _),
    ):
        start = trio.current_time()
        await receive(ws)
        assert await expect_close(ws) == (1011, None)
        assert trio.current_time() - start == pytest.approx(5.0)


@pytest.mark.mock_clock
@pytest.mark.deadline(7200)
@pytest.mark.parametrize(
    ("options", "seconds"),
    [({}, 3600.0), ({"faults": Faults(session_time_limit_s=30.0)}, 30.0)],
)
async def test_session_expires(options: dict[str, Any], seconds: float) -> None:
    async with (
        open_emulator(ping_interval=None, **options) as emulator,
        in_memory(emulator) as (
            ws,
            _,
        ),
    ):
        start = trio.current_time()
        await receive(ws)
        error = await receive(ws)
        assert trio.current_time() - start == pytest.approx(seconds)
        message = "Your session hit the maximum duration of 60 minutes."
        assert error["error"] == {
            "type": "invalid_request_error",
            "code": "session_expired",
            "message": message,
            "param": None,
            "event_id": None,
        }
        assert await expect_close(ws) == (1001, message)


@pytest.mark.mock_clock
async def test_idle_timeout_after_response_playback() -> None:
    async with open_emulator(ping_interval=None) as emulator, in_memory(emulator) as (ws, _):
        await receive(ws)
        await send(
            ws,
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}
                    },
                },
            },
        )
        await receive(ws)
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hi"}],
        }
        await send(ws, {"type": "conversation.item.create", "item": item})
        await send(ws, {"type": "response.create"})
        await events_until(ws, "response.done")
        done_at = trio.current_time()
        events = await events_until(ws, "response.done")
        types = [event["type"] for event in events]
        assert types[:5] == [
            "rate_limits.updated",
            "input_audio_buffer.timeout_triggered",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        assert types[5] == "response.created"
        playback_s = len("You said: Hi") * 0.065
        triggered = events[1]
        assert triggered["item_id"] == events[2]["item_id"]
        assert triggered["audio_start_ms"] == triggered["audio_end_ms"] == 0
        assert events[-1]["response"]["status"] == "completed"
        assert trio.current_time() - done_at == pytest.approx(playback_s + 5.0)
