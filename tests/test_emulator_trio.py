"""The emulator from Trio, with trio-websocket as a raw client: routing, auth, the API."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    wrap_client_stream,
)

from trio_realtime.events import InputAudioBufferAppendEvent, SessionUpdateEvent
from trio_realtime.testing import Emulator, EmulatorConnection, Faults, open_emulator

AUTH = [(b"Authorization", b"Bearer sk-test")]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with open_emulator() as emulator:
        yield emulator


@asynccontextmanager
async def connect(
    url: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    subprotocols: list[str] | None = None,
) -> AsyncIterator[WebSocketConnection]:
    """A trio-websocket client that always closes its socket.

    (trio-websocket's own client leaks its socket when the server starts the close.)
    """
    split = urlsplit(url)
    assert split.hostname is not None and split.port is not None
    resource = split.path + (f"?{split.query}" if split.query else "")
    stream = await trio.open_tcp_stream(split.hostname, split.port)
    try:
        async with trio.open_nursery() as nursery:
            ws = await wrap_client_stream(
                nursery,
                stream,
                f"{split.hostname}:{split.port}",
                resource,
                subprotocols=subprotocols,
                extra_headers=AUTH if headers is None else headers,
                max_message_size=2**24,
            )
            try:
                yield ws
            finally:
                with trio.move_on_after(2):
                    await ws.aclose()
                await stream.aclose()
    finally:
        await stream.aclose()


async def receive(ws: WebSocketConnection) -> dict[str, Any]:
    message = await ws.get_message()
    assert isinstance(message, str)
    event: dict[str, Any] = json.loads(message)
    return event


async def send(ws: WebSocketConnection, event: dict[str, Any]) -> None:
    await ws.send_message(json.dumps(event))


async def expect_close(ws: WebSocketConnection) -> tuple[int, str | None]:
    with pytest.raises(ConnectionClosed) as closed:
        await ws.get_message()
    reason = closed.value.reason
    assert reason is not None
    return reason.code, reason.reason


# -- admission ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "headers", "code", "error_code", "close_reason"),
    [
        (
            "/realtime?model=gpt-realtime",
            [],
            3000,
            None,
            "invalid_request_error",
        ),
        (
            "/realtime?model=gpt-realtime",
            [(b"Authorization", b"Bearer sk-wrong")],
            3000,
            "invalid_api_key",
            "invalid_request_error.invalid_api_key",
        ),
        ("/realtime", AUTH, 4000, "missing_model", "invalid_request_error.missing_model"),
        (
            "/realtime?model=llama-3",
            AUTH,
            4000,
            "invalid_model",
            "invalid_request_error.invalid_model",
        ),
        (
            "/realtime?model=gpt-realtime-whisper",
            AUTH,
            4000,
            "invalid_model",
            "invalid_request_error.invalid_model",
        ),
        (
            "/realtime?model=gpt-realtime",
            [*AUTH, (b"OpenAI-Beta", b"realtime=v1")],
            4000,
            "beta_api_shape_disabled",
            "invalid_request_error.beta_api_shape_disabled",
        ),
        (
            "/realtime/translations",
            AUTH,
            4000,
            "missing_model",
            "invalid_request_error.missing_model",
        ),
    ],
)
async def test_admission_errors_then_close(
    target: str,
    headers: list[tuple[bytes, bytes]],
    code: int,
    error_code: str | None,
    close_reason: str,
) -> None:
    async with (
        open_emulator(api_key="sk-test") as emulator,
        connect(emulator.url + target, headers) as ws,
    ):
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["error"]["code"] == error_code
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["event_id"] is None
        assert "sk-test" not in json.dumps(error) and "sk-wrong" not in json.dumps(error)
        assert await expect_close(ws) == (code, close_reason)
        connection = emulator.connections[0]
        assert not connection.admitted
        assert connection.session is None


async def test_missing_auth_message(emulator: Emulator) -> None:
    async with connect(emulator.realtime_url + "?model=gpt-realtime", []) as ws:
        error = await receive(ws)
        assert error["error"]["message"] == "Missing bearer or basic authentication in header"


@pytest.mark.parametrize(
    ("target", "headers", "subprotocols", "model"),
    [
        ("/v1/realtime?model=gpt-realtime-2", AUTH, None, "gpt-realtime-2"),
        (
            "/v1/realtime?model=gpt-4o-mini-realtime-preview",
            AUTH,
            None,
            "gpt-4o-mini-realtime-preview",
        ),
        (
            "/v1/realtime?model=gpt-realtime",
            [],
            ["realtime", "openai-insecure-api-key.sk-test"],
            "gpt-realtime",
        ),
        (
            "/openai/realtime?api-version=2025-04-01-preview&deployment=my-voice",
            [(b"api-key", b"azure-key")],
            None,
            "my-voice",
        ),
        (
            "/openai/v1/realtime?model=my-deployment",
            [(b"api-key", b"azure-key")],
            None,
            "my-deployment",
        ),
    ],
)
async def test_accepted_connection_forms(
    target: str,
    headers: list[tuple[bytes, bytes]],
    subprotocols: list[str] | None,
    model: str,
) -> None:
    async with open_emulator() as emulator:
        url = f"ws://127.0.0.1:{emulator.port}{target}"
        async with connect(url, headers, subprotocols) as ws:
            created = await receive(ws)
            assert created["type"] == "session.created"
            assert created["session"]["model"] == model
            if subprotocols:
                assert ws.subprotocol == "realtime"
        connection = emulator.connections[0]
        assert connection.admitted
        assert "sk-test" not in repr(connection.subprotocols)
        assert "azure-key" not in json.dumps(connection.headers)


async def test_unknown_path_is_rejected_before_the_upgrade(emulator: Emulator) -> None:
    with pytest.RaisesGroup(ConnectionRejected) as rejected:
        async with connect(f"ws://127.0.0.1:{emulator.port}/v1/chat"):
            pass
    assert rejected.value.exceptions[0].status_code == 404
    assert emulator.connections == []


async def test_session_defaults_and_update(emulator: Emulator) -> None:
    async with connect(emulator.realtime_url + "?model=gpt-realtime") as ws:
        session = (await receive(ws))["session"]
        assert session["object"] == "realtime.session"
        assert session["audio"]["input"]["turn_detection"] == {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
            "idle_timeout_ms": None,
            "create_response": True,
            "interrupt_response": True,
        }
        assert session["audio"]["output"] == {
            "format": {"type": "audio/pcm", "rate": 24000},
            "voice": "alloy",
            "speed": 1.0,
        }
        assert session["expires_at"] > 0 and session["instructions"]
        await send(
            ws,
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "instructions": "Be brief.",
                    "audio": {
                        "input": {"turn_detection": {"type": "semantic_vad"}},
                        "output": {"voice": "marin"},
                    },
                },
            },
        )
        updated = (await receive(ws))["session"]
        assert updated["instructions"] == "Be brief."
        assert updated["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        assert updated["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert updated["audio"]["output"]["voice"] == "marin"
        assert updated["id"] == session["id"]


async def test_rejected_update_changes_nothing(emulator: Emulator) -> None:
    async with connect(emulator.realtime_url + "?model=gpt-realtime") as ws:
        await receive(ws)
        await send(
            ws,
            {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": "new", "tool_choice": "sometimes"},
            },
        )
        error = (await receive(ws))["error"]
        assert (error["code"], error["param"]) == ("invalid_value", "session.tool_choice")
        connection = emulator.connections[0]
        assert connection.session is not None
        assert connection.session.to_dict()["instructions"] != "new"


async def test_conversation_items_in_order(emulator: Emulator) -> None:
    def message(item_id: str, text: str) -> dict[str, Any]:
        content = [{"type": "input_text", "text": text}]
        return {"id": item_id, "type": "message", "role": "user", "content": content}

    async with connect(emulator.realtime_url + "?model=gpt-realtime") as ws:
        await receive(ws)
        for item_id, previous in [
            ("item_a", None),
            ("item_b", None),
            ("item_0", "root"),
            ("item_c", "item_a"),
        ]:
            event: dict[str, Any] = {
                "type": "conversation.item.create",
                "item": message(item_id, item_id),
            }
            if previous:
                event["previous_item_id"] = previous
            await send(ws, event)
            added = await receive(ws)
            done = await receive(ws)
            assert (added["type"], done["type"]) == (
                "conversation.item.added",
                "conversation.item.done",
            )
            assert added["item"]["status"] == "completed"
        assert added["previous_item_id"] == "item_a"
        await send(ws, {"type": "conversation.item.delete", "item_id": "item_b"})
        assert await receive(ws) == {
            "type": "conversation.item.deleted",
            "event_id": (await _last_sent(emulator))["event_id"],
            "item_id": "item_b",
        }
        await send(ws, {"type": "conversation.item.retrieve", "item_id": "item_c"})
        retrieved = await receive(ws)
        assert retrieved["item"]["content"][0]["text"] == "item_c"


async def _last_sent(emulator: Emulator) -> dict[str, Any]:
    connection = emulator.connections[0]
    await trio.lowlevel.checkpoint()
    return connection.sent[-1]


async def test_wait_for_and_wait_connection(emulator: Emulator) -> None:
    async with trio.open_nursery() as nursery:
        waiter: list[EmulatorConnection] = []

        async def wait_second() -> None:
            waiter.append(await emulator.wait_connection(2))

        nursery.start_soon(wait_second)
        url = emulator.realtime_url + "?model=gpt-realtime"
        async with connect(url) as first, connect(url) as second:
            await receive(first)
            await receive(second)
            connection = await emulator.wait_connection(2)
            for _ in range(3):
                await send(second, {"type": "input_audio_buffer.append", "audio": "AAAA"})
            appended = await connection.wait_for(InputAudioBufferAppendEvent, count=3)
            assert appended.audio == "AAAA"
            await send(second, {"type": "session.update", "session": {"type": "realtime"}})
            update = await connection.wait_for(lambda event: event.type == "session.update")
            assert isinstance(update, SessionUpdateEvent)
            assert connection.input_audio_bytes == 9
            assert [event.type for event in connection.received][-1] == "session.update"
        assert waiter == [connection]
    await connection.closed.wait()
    with pytest.raises(trio.BrokenResourceError):
        await connection.wait_for(SessionUpdateEvent, count=2)
    assert connection.received_close_code == 1000


async def test_client_close_code_and_reason_are_recorded(emulator: Emulator) -> None:
    async with connect(emulator.realtime_url + "?model=gpt-realtime") as ws:
        await receive(ws)
        await ws.aclose(4001, "client going away")
    connection = emulator.connections[0]
    await connection.closed.wait()
    assert (connection.received_close_code, connection.received_close_reason) == (
        4001,
        "client going away",
    )


async def test_faults_apply_to_connections_accepted_later(emulator: Emulator) -> None:
    url = emulator.realtime_url + "?model=gpt-realtime"
    async with connect(url) as ws:
        await receive(ws)
    emulator.faults.close_after_events = 1
    emulator.faults.close_code = 4500
    async with connect(url) as ws:
        await receive(ws)
        assert await expect_close(ws) == (4500, None)
    assert emulator.connections[0].faults == Faults()
    assert emulator.connections[1].faults.close_after_events == 1


async def test_translation_rejects_other_updates_and_unknown_events(emulator: Emulator) -> None:
    async with connect(emulator.translation_url + "?model=gpt-realtime-translate") as ws:
        created = await receive(ws)
        assert created["session"]["type"] == "translation"
        await send(ws, {"type": "session.update", "session": {"model": "gpt-other"}})
        assert (await receive(ws))["error"]["param"] == "session.model"
        await send(ws, {"type": "session.update", "session": {"audio": {"output": {"voice": "x"}}}})
        error = (await receive(ws))["error"]
        assert (error["code"], error["param"]) == (
            "unknown_parameter",
            "session.audio.output.voice",
        )
        await send(ws, {"type": "response.create"})
        assert (await receive(ws))["error"]["code"] == "invalid_value"
        await ws.send_message(b"\x00")
        assert (await receive(ws))["error"]["code"] == "invalid_event"
        await send(ws, {"type": "session.close"})
        assert (await receive(ws))["type"] == "session.closed"
        assert await expect_close(ws) == (1000, None)


_FUZZ_TYPES = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
    "session.close",
    "nope",
]
_FUZZ_FIELDS = [
    "session",
    "type",
    "audio",
    "item",
    "item_id",
    "previous_item_id",
    "content_index",
    "audio_end_ms",
    "response",
    "response_id",
    "input",
    "tools",
    "output_modalities",
    "turn_detection",
    "format",
    "content",
    "role",
    "call_id",
    "conversation",
]
_FUZZ_SCALARS: list[Any] = [
    None,
    0,
    -1,
    7,
    1.5,
    True,
    "",
    "x",
    "root",
    "AAAA",
    "realtime",
    "message",
]


def _fuzz_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice(_FUZZ_SCALARS)
    if roll < 0.65:
        return [_fuzz_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(_FUZZ_FIELDS): _fuzz_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


async def test_random_client_events_never_break_the_session(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20251)
    async with connect(emulator.realtime_url + "?model=gpt-realtime") as ws:
        await receive(ws)
        for index in range(400):
            event = {name: _fuzz_value(rng) for name in rng.sample(_FUZZ_FIELDS, rng.randint(0, 4))}
            event["type"] = rng.choice(_FUZZ_TYPES)
            event["event_id"] = f"fuzz_{index}"
            await ws.send_message(json.dumps(event))
        await send(ws, {"type": "conversation.item.delete", "item_id": "none", "event_id": "end"})
        while True:
            event = await receive(ws)
            if event["type"] == "error" and event["error"]["event_id"] == "end":
                break
        connection = emulator.connections[0]
        assert len(connection.received) == 401
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


@pytest.mark.parametrize("error", [ValueError("mine"), KeyboardInterrupt()])
def test_an_exception_from_the_block_leaves_unchanged(error: BaseException) -> None:
    async def main() -> None:
        async with open_emulator():
            raise error

    with pytest.raises(type(error)) as info:
        trio.run(main)
    assert info.value is error
