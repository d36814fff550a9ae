"""Ephemeral client secrets on the emulator: mint over HTTP, open sessions with them.

What a user relies on: ``POST /v1/realtime/client_secrets`` (and the translation one)
answers as the service does (the official client parses it), a minted ``ek_`` secret
opens a session configured as minted, and a bad, unknown or expired secret is refused
the way the service refuses a bad key. Expiry runs on the mock clock over in-memory
streams; everything else over loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import h11
import httpx
import openai
import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection, wrap_client_stream

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import Emulator, open_emulator, run_emulator_in_thread

from .test_emulator_trio import connect, expect_close, receive

AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with open_emulator(ping_interval=None) as emulator:
        yield emulator


async def mint(
    emulator: Emulator,
    body: Any = None,
    *,
    path: str = "/v1/realtime/client_secrets",
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    method: str = "POST",
) -> httpx.Response:
    url = f"http://127.0.0.1:{emulator.port}{path}"
    async with httpx.AsyncClient() as client:
        return await client.request(
            method,
            url,
            headers=AUTH if headers is None else headers,
            json=body if content is None else None,
            content=content,
        )


def bearer(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"Authorization", f"Bearer {secret}".encode())]


# -- minting ---------------------------------------------------------------------------------


async def test_mint_a_realtime_secret_and_open_a_session_with_it(emulator: Emulator) -> None:
    session = {
        "type": "realtime",
        "model": "gpt-realtime-mini",
        "instructions": "Talk like a pirate.",
        "output_modalities": ["text"],
        "audio": {"output": {"voice": "marin"}},
    }
    before = time.time()
    response = await mint(emulator, {"expires_after": {"seconds": 120}, "session": session})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    minted = response.json()
    assert minted["value"].startswith("ek_") and len(minted["value"]) > 20
    assert before + 119 <= minted["expires_at"] <= time.time() + 121
    returned = minted["session"]
    assert returned["type"] == "realtime"
    assert returned["object"] == "realtime.session"
    assert returned["id"].startswith("sess_")
    assert returned["model"] == "gpt-realtime-mini"
    assert returned["instructions"] == "Talk like a pirate."
    assert returned["output_modalities"] == ["text"]
    assert returned["audio"]["output"]["voice"] == "marin"
    assert returned["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert returned["tools"] == [] and returned["tool_choice"] == "auto"

    async with rt.open_realtime_session(url=emulator.url, api_key=minted["value"]) as live:
        assert isinstance(live.config, ev.SessionConfig)
        assert live.config.instructions == "Talk like a pirate."
        assert live.config.output_modalities == ["text"]
        assert live.config.model == "gpt-realtime-mini"
        assert live.session_id is not None and live.session_id.startswith("sess_")
        await live.send_user_message("Ahoy")
        async for event in live:
            if isinstance(event, ev.ResponseDoneEvent):
                assert event.response.status == "completed"
                break
    connection = emulator.connections[0]
    assert connection.admitted and connection.client_secret
    assert connection.headers["authorization"] == "Bearer <redacted>"
    created = connection.sent[0]
    assert created["type"] == "session.created"
    assert created["session"]["instructions"] == "Talk like a pirate."


async def test_a_secret_opens_several_sessions(emulator: Emulator) -> None:
    value = (await mint(emulator, {"session": {"type": "realtime"}})).json()["value"]
    for _ in range(2):
        async with connect(emulator.realtime_url, headers=bearer(value)) as ws:
            created = await receive(ws)
            assert created["type"] == "session.created"
            assert created["session"]["model"] == "gpt-realtime"
    first, second = (connection.sent[0]["session"]["id"] for connection in emulator.connections)
    assert first != second


async def test_defaults_without_a_body_and_on_the_azure_path(emulator: Emulator) -> None:
    response = await mint(emulator, path="/openai/v1/realtime/client_secrets", content=b"")
    assert response.status_code == 200
    minted = response.json()
    assert minted["session"]["type"] == "realtime"
    assert minted["expires_at"] == pytest.approx(time.time() + 600, abs=5)


async def test_a_transcription_secret_opens_a_transcription_session(emulator: Emulator) -> None:
    session = {
        "type": "transcription",
        "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe", "language": "fr"}}},
    }
    minted = (await mint(emulator, {"session": session})).json()
    assert minted["session"]["object"] == "realtime.transcription_session"
    assert minted["session"]["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
    # Without ?intent the secret's session type decides, as on the service.
    async with connect(emulator.realtime_url, headers=bearer(minted["value"])) as ws:
        created = await receive(ws)
    assert created["session"]["type"] == "transcription"
    assert created["session"]["audio"]["input"]["transcription"]["language"] == "fr"
    assert emulator.connections[0].kind == "transcription"


async def test_translation_secrets(emulator: Emulator) -> None:
    body = {
        "session": {
            "model": "gpt-realtime-translate",
            "audio": {
                "output": {"language": "es"},
                "input": {"transcription": {"model": "gpt-realtime-whisper"}},
            },
        }
    }
    response = await mint(emulator, body, path="/v1/realtime/translations/client_secrets")
    assert response.status_code == 200
    minted = response.json()
    assert minted["session"]["type"] == "translation"
    assert minted["session"]["model"] == "gpt-realtime-translate"
    assert minted["session"]["audio"]["output"]["language"] == "es"
    async with connect(emulator.translation_url, headers=bearer(minted["value"])) as ws:
        created = await receive(ws)
        assert created["type"] == "session.created"
        assert created["session"]["type"] == "translation"
        assert created["session"]["audio"]["output"]["language"] == "es"
        assert created["session"]["audio"]["input"]["transcription"] == {
            "model": "gpt-realtime-whisper"
        }
    # A translation secret does not open a conversation, nor the reverse.
    async with connect(
        emulator.realtime_url + "?model=gpt-realtime", bearer(minted["value"])
    ) as ws:
        error = await receive(ws)
        assert error["error"]["code"] == "invalid_value"
        assert "translation" in error["error"]["message"]
        assert (await expect_close(ws))[0] == 4000
    missing = await mint(emulator, {"session": {}}, path="/v1/realtime/translations/client_secrets")
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "session.model"
    bad = await mint(
        emulator,
        {"session": {"model": "gpt-realtime-translate", "audio": {"output": {"voice": "x"}}}},
        path="/v1/realtime/translations/client_secrets",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "unknown_parameter"
    assert bad.json()["error"]["param"] == "session.audio.output.voice"


def test_the_official_client_mints_and_connects_with_a_secret() -> None:
    async def main(emulator: Emulator) -> tuple[Any, Any, Any]:
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=emulator.http_url)
        secret = await client.realtime.client_secrets.create(
            session={"type": "realtime", "instructions": "Be terse.", "output_modalities": ["text"]}
        )
        translation = await client.realtime.translations.client_secrets.create(
            session={"model": "gpt-realtime-translate", "audio": {"output": {"language": "fr"}}}
        )
        ephemeral = openai.AsyncOpenAI(api_key=secret.value, websocket_base_url=emulator.url)
        async with ephemeral.realtime.connect(model="gpt-realtime") as connection:
            created = await connection.recv()
        await client.close()
        await ephemeral.close()
        return secret, translation, created

    with run_emulator_in_thread(api_key="sk-test", ping_interval=None) as emulator:
        secret, translation, created = asyncio.run(main(emulator))
    assert secret.value.startswith("ek_")
    assert secret.session.type == "realtime"
    assert secret.session.instructions == "Be terse."
    assert translation.session.type == "translation"
    assert translation.session.audio.output.language == "fr"
    assert created.type == "session.created"
    assert created.session.instructions == "Be terse."


# -- refusals over HTTP ------------------------------------------------------------------------


async def test_http_auth_is_the_services() -> None:
    async with open_emulator(api_key="sk-right", ping_interval=None) as emulator:
        missing = await mint(emulator, {}, headers={})
        assert missing.status_code == 401
        error = missing.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] is None and error["param"] is None
        assert error["message"].startswith("You didn't provide an API key.")
        wrong = await mint(emulator, {}, headers={"Authorization": "Bearer sk-wrong"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_api_key"
        assert "sk-wrong" not in wrong.text
        right = await mint(emulator, {}, headers={"Authorization": "Bearer sk-right"})
        assert right.status_code == 200
        azure = await mint(emulator, {}, headers={"api-key": "sk-right"})
        assert azure.status_code == 200
        ephemeral = await mint(
            emulator, {}, headers={"Authorization": f"Bearer {right.json()['value']}"}
        )
        assert ephemeral.status_code == 401
        assert ephemeral.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"session": {"type": "realtime", "bogus": 1}}, "unknown_parameter", "session.bogus"),
        ({"nope": True}, "unknown_parameter", "nope"),
        ({"expires_after": {"seconds": 9}}, "integer_below_min_value", "expires_after.seconds"),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 7201}},
            "integer_above_max_value",
            "expires_after.seconds",
        ),
        ({"expires_after": {"anchor": "now"}}, "invalid_value", "expires_after.anchor"),
        ({"expires_after": {"seconds": "ten"}}, "invalid_type", "expires_after.seconds"),
        ({"session": {"instructions": "hi"}}, "missing_required_parameter", "session.type"),
        ({"session": {"type": "translation"}}, "invalid_value", "session.type"),
        ({"session": {"type": "realtime", "model": "gpt-4o-transcribe"}}, "invalid_model", None),
        (
            {"session": {"type": "realtime", "audio": {"input": {"format": {"rate": 16000}}}}},
            "integer_below_min_value",
            "session.audio.input.format.rate",
        ),
        ([1, 2], "invalid_type", "body"),
    ],
)
async def test_bad_requests_are_400_with_the_services_error(
    emulator: Emulator, body: Any, code: str, param: str | None
) -> None:
    response = await mint(emulator, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert error["message"]


async def test_the_range_of_seconds_is_inclusive(emulator: Emulator) -> None:
    for seconds in (10, 7200):
        response = await mint(emulator, {"expires_after": {"seconds": seconds}})
        assert response.status_code == 200
        assert response.json()["expires_at"] == pytest.approx(time.time() + seconds, abs=5)


async def test_bad_json_and_unknown_paths(emulator: Emulator) -> None:
    broken = await mint(emulator, content=b'{"session": ', headers=AUTH)
    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("We could not parse the JSON body")
    for method, path in (("GET", "/v1/models"), ("POST", "/v1/chat/completions")):
        response = await mint(emulator, {}, path=path, method=method)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == f"Invalid URL ({method} {path})"
    listed = await mint(emulator, path="/v1/realtime/client_secrets", method="GET")
    assert listed.status_code == 404
    plain = await mint(emulator, path="/v1/realtime?model=gpt-realtime", method="GET")
    assert plain.status_code == 426
    assert "WebSocket" in plain.json()["error"]["message"]
    assert emulator.connections == []


# -- refusals over the WebSocket -----------------------------------------------------------------


async def test_an_unknown_secret_is_refused_like_a_bad_key(emulator: Emulator) -> None:
    async with connect(emulator.realtime_url + "?model=gpt-realtime", bearer("ek_nope")) as ws:
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["code"] == "invalid_api_key"
        assert "ek_nope" not in json.dumps(error)
        assert await expect_close(ws) == (3000, "invalid_request_error.invalid_api_key")
    assert not emulator.connections[0].admitted


async def test_a_secret_works_when_the_emulator_requires_a_key() -> None:
    async with open_emulator(api_key="sk-right", ping_interval=None) as emulator:
        value = (await mint(emulator, {}, headers={"Authorization": "Bearer sk-right"})).json()[
            "value"
        ]
        async with connect(emulator.realtime_url, headers=bearer(value)) as ws:
            assert (await receive(ws))["type"] == "session.created"


# -- expiry, on the mock clock over in-memory streams -----------------------------------------


async def http_over(emulator: Emulator, method: str, target: str, body: Any) -> tuple[int, Any]:
    """One HTTP request to ``serve_stream`` over an in-memory stream, with h11."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    data = json.dumps(body).encode()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emulator.serve_stream, server_stream)
        connection = h11.Connection(h11.CLIENT)
        headers = [
            ("host", "emulator"),
            ("authorization", "Bearer sk-test"),
            ("content-type", "application/json"),
            ("content-length", str(len(data))),
        ]
        request = h11.Request(method=method, target=target, headers=headers)
        await client_stream.send_all(
            connection.send(request)
            + connection.send(h11.Data(data=data))
            + connection.send(h11.EndOfMessage())
        )
        status = 0
        body_bytes = b""
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(bytes(await client_stream.receive_some()))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body_bytes += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
        await client_stream.aclose()
    return status, json.loads(body_bytes)


@asynccontextmanager
async def ws_over(emulator: Emulator, secret: str) -> AsyncIterator[WebSocketConnection]:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emulator.serve_stream, server_stream)
        ws = await wrap_client_stream(
            nursery,
            client_stream,  # type: ignore[arg-type]
            "emulator",
            "/v1/realtime?model=gpt-realtime",
            extra_headers=bearer(secret),
        )
        try:
            yield ws
        finally:
            with trio.move_on_after(1):
                await ws.aclose()
            await client_stream.aclose()


@pytest.mark.mock_clock
@pytest.mark.deadline(600)
async def test_a_secret_expires_on_the_emulators_clock() -> None:
    async with open_emulator(ping_interval=None) as emulator:
        status, minted = await http_over(
            emulator,
            "POST",
            "/v1/realtime/client_secrets",
            {"expires_after": {"seconds": 10}, "session": {"type": "realtime"}},
        )
        assert status == 200
        wall = time.time()
        assert minted["expires_at"] == pytest.approx(wall + 10, abs=2)
        await trio.sleep(9.5)
        async with ws_over(emulator, minted["value"]) as ws:
            assert (await receive(ws))["type"] == "session.created"
            await trio.sleep(60)  # a session outlives its secret
            await ws.ping()
        await trio.sleep(0.5)
        async with ws_over(emulator, minted["value"]) as ws:
            error = await receive(ws)
            assert error["error"]["code"] == "invalid_api_key"
            assert await expect_close(ws) == (3000, "invalid_request_error.invalid_api_key")
        first, second = emulator.connections
        assert first.admitted and first.client_secret
        assert not second.admitted
        # A new secret minted now expires 10 s from the emulator's now, not the wall clock's.
        status, again = await http_over(
            emulator, "POST", "/v1/realtime/client_secrets", {"expires_after": {"seconds": 10}}
        )
        assert status == 200
        assert again["expires_at"] == pytest.approx(wall + 70 + 10, abs=2)
