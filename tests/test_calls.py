"""Call control and sideband sessions against the emulator: what a telephony app relies on.

``client.calls`` maps every HTTP failure to the library's errors (401, 404 unknown or
ended call, 409 wrong state, 400 bad body) and never shows the key; a sideband session
joins by ``call_id`` (Trio and asyncio), carries the call's events typed, and refuses
the audio helpers; the emulator refuses a sideband for an unknown call; the official
client's ``realtime.calls.accept`` and ``realtime.connect(call_id=...)`` work too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import hypercorn.config
import hypercorn.trio
import numpy as np
import pytest
import trio

import trio_realtime as rt
from trio_realtime import events as ev, webhooks
from trio_realtime.testing import EmulatedCall, Emulator, open_emulator, run_emulator_in_thread

SECRET = "whsec_" + "Y2FsbHMtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFi"
KEY = "sk-calls-test-key-0123456789"


class Inbox:
    """A webhook receiver that verifies and keeps every incoming call (an ASGI app)."""

    def __init__(self) -> None:
        self.events: list[webhooks.WebhookEvent] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            for answer in ("lifespan.startup.complete", "lifespan.shutdown.complete"):
                await receive()
                await send({"type": answer})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.events.append(webhooks.unwrap(body, scope["headers"], secret=SECRET))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def ringing(**options: Any) -> AsyncIterator[tuple[Emulator, EmulatedCall, Inbox]]:
    """An emulator with one call ringing at a webhook receiver."""
    inbox = Inbox()
    config = hypercorn.config.Config()
    config.bind = ["127.0.0.1:0"]
    shutdown = trio.Event()
    async with open_emulator(api_key=KEY, **options) as emulator, trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(hypercorn.trio.serve, inbox, config, shutdown_trigger=shutdown.wait)
        )
        call = await emulator.place_call(binds[0], secret=SECRET)
        yield emulator, call, inbox
        shutdown.set()


def client_for(emulator: Emulator, key: str = KEY) -> rt.RealtimeClient:
    return rt.RealtimeClient(api_key=key, base_url=emulator.url)


async def test_the_webhook_carries_the_call_and_its_sip_headers() -> None:
    async with ringing() as (_, call, inbox):
        (event,) = inbox.events
        assert isinstance(event, webhooks.RealtimeCallIncomingEvent)
        assert event.data.call_id == call.call_id and call.call_id.startswith("rtc_")
        assert [(h.name, h.value) for h in event.data.sip_headers] == call.sip_headers
        assert event.data.header("To") == "<sip:+18005550199@sip.api.openai.com>"
        assert event.data.sip_media_security == "srtp"


async def test_rest_errors_map_to_the_library_hierarchy(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with ringing() as (emulator, call, _):
        calls = client_for(emulator).calls
        with pytest.raises(rt.NotFoundError) as unknown:
            await calls.accept("rtc_nope")
        assert unknown.value.status_code == 404 and "rtc_nope" in unknown.value.message
        with pytest.raises(rt.ConflictError) as early:
            await calls.refer(call.call_id, "tel:+14155550100")
        assert early.value.status_code == 409 and "ringing" in early.value.message
        with pytest.raises(rt.AuthenticationError) as refused:
            await client_for(emulator, "sk-wrong-key-9876").calls.accept(call.call_id)
        assert "sk-wrong-key-9876" not in str(refused.value)
        with pytest.raises(rt.APIStatusError) as bad:
            await calls.accept(call.call_id, session={"type": "transcription"})
        assert bad.value.status_code == 400
        await calls.accept(call.call_id, instructions="Be brief.")
        assert call.state == "accepted" and call.session is not None
        assert call.session["instructions"] == "Be brief."
        with pytest.raises(rt.ConflictError, match="accepted"):
            await calls.accept(call.call_id)
        with pytest.raises(rt.APIStatusError) as no_target:
            await calls.refer(call.call_id, "mailto:someone")
        assert no_target.value.status_code == 400
        await calls.hangup(call.call_id)
        assert call.state == "ended" and call.ended_by == "agent"
        with pytest.raises(rt.NotFoundError, match="ended"):
            await calls.hangup(call.call_id)
        with pytest.raises(ValueError, match="call_id"):
            await calls.accept("")
    assert KEY not in repr(client_for(emulator)) + repr(calls)
    assert KEY not in caplog.text and SECRET not in caplog.text


def test_rest_requests_use_the_clients_endpoint_credentials_and_interceptors() -> None:
    class Tracing(rt.Interceptor):
        def on_connect(self, request: rt.ConnectRequest) -> rt.ConnectRequest:
            return dataclasses.replace(request, headers=[*request.headers, ("X-Trace", "t1")])

    class Broken(rt.Interceptor):
        def on_connect(self, request: rt.ConnectRequest) -> rt.ConnectRequest:
            raise RuntimeError("no tracing today")

    azure = rt.AzureEndpoint("https://res.openai.azure.com", "gpt-rt", api_key="az-key-123")
    client = rt.RealtimeClient(azure=azure, interceptors=[Tracing()], project="proj_1")
    request = trio.run(client._rest().request, "realtime/calls/rtc_1/accept")
    assert request.url == "https://res.openai.azure.com/openai/v1/realtime/calls/rtc_1/accept"
    assert ("api-key", "az-key-123") in request.headers
    assert ("X-Trace", "t1") in request.headers and ("OpenAI-Project", "proj_1") in request.headers
    plain = rt.RealtimeClient(api_key=KEY, base_url="wss://gateway.example.com/v1")
    request = trio.run(plain._rest().request, "realtime/calls/rtc_1/hangup")
    assert request.url == "https://gateway.example.com/v1/realtime/calls/rtc_1/hangup"
    assert ("Authorization", f"Bearer {KEY}") in request.headers
    assert KEY not in repr(request) + repr(plain._rest())
    broken = plain.with_options(interceptors=[Broken()])
    with pytest.raises(rt.InterceptorError, match="no tracing today"):
        trio.run(broken.calls.hangup, "rtc_1")


async def test_reject_with_a_sip_status_and_accept_after_the_caller_hung_up() -> None:
    async with ringing() as (emulator, call, _):
        await client_for(emulator).calls.reject(call.call_id, status_code=486)
        assert call.state == "rejected" and call.reject_status == 486
    async with ringing() as (emulator, call, _):
        await call.hang_up()
        with pytest.raises(rt.NotFoundError, match="hung up"):
            await client_for(emulator).calls.accept(call.call_id)


async def test_a_sideband_session_controls_the_call_without_its_audio() -> None:
    async def caller(phone: Any) -> None:
        await phone.press("4#")
        await phone.say("Hello there")

    async with ringing() as (emulator, call, _):
        call.caller = caller
        client = client_for(emulator)
        await client.calls.accept(call.call_id, session=ev.SessionConfig(instructions="Hi."))
        async with client.connect(call_id=call.call_id) as session:
            assert isinstance(session, rt.SidebandSession) and session.call_id == call.call_id
            assert session.config is not None and session.config.instructions == "Hi."
            for helper in (session.append_audio, session.append_audio_nowait):
                with pytest.raises(rt.RealtimeError, match="media leg"):
                    await helper(np.zeros(2400, np.int16))  # type: ignore[misc]
            with pytest.raises(rt.RealtimeError, match="sideband"):
                session.append_audio_threadsafe(np.zeros(2400, np.int16))
            keys = ""
            seen: list[str] = []
            async for event in session:
                seen.append(event.type)
                if isinstance(event, ev.InputAudioBufferDtmfEventReceivedEvent):
                    keys += event.event
                    assert event.event_id is None and event.received_at > 0
                elif isinstance(event, ev.OutputAudioBufferStoppedEvent):
                    break
            assert keys == "4#"
            assert "input_audio_buffer.speech_started" in seen
            assert "output_audio_buffer.started" in seen
            assert "response.output_audio.delta" not in seen
            await client.calls.hangup(call.call_id)
            async for _ in session:  # the service closes the sideband (1000) after a hangup
                pass
    assert call.heard[0].transcript == "You said: Hello there"  # the model heard the words


async def test_the_caller_is_heard_through_input_transcription() -> None:
    async def caller(phone: Any) -> None:
        await phone.say("What time do you open")

    async with ringing() as (emulator, call, _):
        call.caller = caller
        client = client_for(emulator)
        config = {"audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}}}
        await client.calls.accept(call.call_id, session=config)
        async with client.connect(call_id=call.call_id) as session:
            async for event in session:
                if isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
                    assert event.transcript == "What time do you open"
                    break
        await client.calls.hangup(call.call_id)


async def test_a_sideband_for_an_unknown_or_unanswered_call_is_refused() -> None:
    async with ringing() as (emulator, call, _):
        client = client_for(emulator)
        for call_id in ("rtc_unknown", call.call_id):
            with pytest.raises(rt.SessionClosed) as refused:
                async with client.connect(call_id=call_id):
                    pass
            assert refused.value.code == 4000
        assert "call_not_found" in emulator.connections[0].sent[0]["error"]["code"]
        assert "call_not_active" in emulator.connections[1].sent[0]["error"]["code"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_sideband_joins_on_asyncio_and_the_official_client_controls_calls() -> None:
    import openai

    inbox = Inbox()

    async def ring(emulator: Any, url: str) -> EmulatedCall:
        call: EmulatedCall = await emulator.place_call(url, secret=SECRET)
        return call

    with run_emulator_in_thread(api_key=KEY) as emulator:
        import hypercorn.asyncio

        config = hypercorn.config.Config()
        config.bind = ["127.0.0.1:0"]
        shutdown = anyio.Event()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/webhook"
        config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns (and closes) it
        async with anyio.create_task_group() as group:
            group.start_soon(
                partial(hypercorn.asyncio.serve, inbox, config, shutdown_trigger=shutdown.wait)
            )
            call = await anyio.to_thread.run_sync(
                lambda: trio.from_thread.run(
                    ring, emulator.emulator, url, trio_token=emulator.trio_token
                )
            )
            official = openai.AsyncOpenAI(
                api_key=KEY, base_url=emulator.http_url, websocket_base_url=emulator.url
            )
            await official.realtime.calls.accept(
                call.call_id, type="realtime", instructions="From the official client."
            )
            async with official.realtime.connect(call_id=call.call_id) as connection:
                created = await connection.recv()
                assert created.type == "session.created"
            async with client_for(emulator).connect(call_id=call.call_id) as session:
                assert session.config is not None
                assert session.config.instructions == "From the official client."
            await client_for(emulator).calls.hangup(call.call_id)  # httpx on asyncio
            with pytest.raises(openai.NotFoundError):
                await official.realtime.calls.hangup(call.call_id)
            shutdown.set()
    assert call.state == "ended" and call.sidebands == 2
    assert json.loads(json.dumps(inbox.events[0].to_dict()))["data"]["call_id"] == call.call_id


async def test_a_caller_who_talks_over_a_reply_clears_it() -> None:
    async def caller(phone: Any) -> None:
        await phone.wait_playing()  # the greeting has begun
        await phone.say("Sorry to interrupt")

    async with ringing(audio_pace=4.0) as (emulator, call, _):
        call.caller = caller
        client = client_for(emulator)
        await client.calls.accept(call.call_id)
        async with client.connect(call_id=call.call_id) as session:
            await session.create_response(instructions="Greet the caller at length.")
            cleared = None
            async for event in session:
                if isinstance(event, ev.OutputAudioBufferClearedEvent):
                    cleared = event
                elif isinstance(event, ev.OutputAudioBufferStoppedEvent):
                    break  # the answer to the interruption played out
        await client.calls.hangup(call.call_id)
    greeting, answer = call.heard
    assert cleared is not None and cleared.response_id == greeting.response_id
    assert greeting.interrupted and not answer.interrupted
    assert 0 < greeting.audio_ms < 2000  # cut short: the full greeting lasts longer
    assert answer.transcript == "You said: Sorry to interrupt"
