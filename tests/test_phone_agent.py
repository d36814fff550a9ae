"""examples/phone_agent.py against the emulator: the whole phone flow, no phone needed.

The emulator rings the agent (a signed webhook), the agent accepts with instructions
and tools and joins the call's sideband; a simulated caller speaks, presses keys and
listens; the emulator reports what the caller heard. A forged webhook is refused;
shutting the server down hangs up live calls.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import hypercorn.config
import hypercorn.trio
import trio

import trio_realtime as rt
from tests._examples import EXAMPLES, load_example
from trio_realtime import webhooks
from trio_realtime.testing import Emulator, SimulatedCaller, open_emulator

SECRET = "whsec_" + "cGhvbmUtYWdlbnQtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ=="
KEY = "sk-phone-test-key"


phone_agent = load_example("phone_agent")


@asynccontextmanager
async def agent_server(emulator: Emulator) -> AsyncIterator[tuple[Any, str]]:
    """The example's app on hypercorn's Trio server (port 0); yields (agent, webhook URL)."""
    client = rt.RealtimeClient(api_key=KEY, base_url=emulator.url)
    agent = phone_agent.PhoneAgent(client=client, secret=SECRET)
    config = hypercorn.config.Config()
    config.bind = ["127.0.0.1:0"]
    config.loglevel = "WARNING"
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(hypercorn.trio.serve, agent, config, shutdown_trigger=shutdown.wait)
        )
        yield agent, f"{binds[0]}/webhook"
        shutdown.set()


async def test_the_whole_phone_flow() -> None:
    async def caller(phone: SimulatedCaller) -> None:
        greeting = await phone.wait_reply()
        assert "help" in greeting.transcript
        await phone.say("Can you check order status for my order")
        status = await phone.wait_reply()
        assert "shipped" in status.transcript
        await phone.press("1")
        hours = await phone.wait_reply()
        assert "9 am to 5 pm" in hours.transcript
        await phone.say("Please transfer to human")

    async with open_emulator(api_key=KEY) as emulator, agent_server(emulator) as (agent, url):
        call = await emulator.place_call(url, secret=SECRET, caller=caller)
        assert [d.status for d in call.deliveries] == [200]
        assert await call.wait_ended() == "referred"

    assert call.referred_to == phone_agent.HUMAN
    assert call.keys_pressed == "1"
    assert call.said == ["Can you check order status for my order", "Please transfer to human"]
    assert len(call.heard) == 3 and all(reply.audio_ms > 300 for reply in call.heard)
    assert not any(reply.interrupted for reply in call.heard)
    log = agent.calls[call.call_id]
    assert log.caller and "+14155550123" in log.caller
    assert log.keys == "1"
    assert log.tools == ["check_order_status", "transfer_to_human"]
    assert log.caller_said == call.said  # the caller's words, through input transcription
    assert log.outcome == f"transferred to {phone_agent.HUMAN}"
    assert call.session is not None and call.session["instructions"] == phone_agent.INSTRUCTIONS
    sideband = emulator.connections[0]
    assert sideband.query == {"call_id": call.call_id}
    types = [event["type"] for event in sideband.sent]
    assert "input_audio_buffer.dtmf_event_received" in types
    assert types.count("output_audio_buffer.started") == 3
    assert types.count("output_audio_buffer.stopped") == 3
    assert "response.output_audio.delta" not in types  # the audio went to the caller
    assert KEY not in str(sideband.headers)


async def test_the_agent_hangs_up_after_the_goodbye_has_played() -> None:
    async def caller(phone: SimulatedCaller) -> None:
        await phone.wait_reply()
        await phone.say("Thanks, please end call now")
        await phone.wait_reply()

    async with open_emulator(api_key=KEY) as emulator, agent_server(emulator) as (agent, url):
        call = await emulator.place_call(url, secret=SECRET, caller=caller)
        assert await call.wait_ended() == "ended"
    assert call.ended_by == "agent"
    assert agent.calls[call.call_id].outcome == "hung up"
    assert len(call.heard) == 2  # the greeting and the goodbye, both played out in full
    sent = [event["type"] for event in emulator.connections[0].sent]
    assert sent.index("output_audio_buffer.stopped") < len(sent)


async def test_a_forged_or_stale_webhook_is_refused_and_starts_no_call() -> None:
    async with open_emulator(api_key=KEY) as emulator, agent_server(emulator) as (agent, url):
        body = b'{"id": "evt_x", "type": "realtime.call.incoming", "created_at": 1,'
        body += b' "data": {"call_id": "rtc_forged", "sip_headers": []}}'
        forged = webhooks.sign(body, secret="whsec_" + "Zm9yZ2VkLXNlY3JldA==", webhook_id="w1")
        stale = webhooks.sign(body, secret=SECRET, webhook_id="w2", timestamp=1)
        async with httpx.AsyncClient() as http:
            for headers in (forged, stale, {}):
                response = await http.post(url, content=body, headers=headers)
                assert response.status_code == 400
            unknown = b'{"id": "evt_y", "type": "batch.completed", "created_at": 1, "data": {}}'
            headers = webhooks.sign(unknown, secret=SECRET, webhook_id="w3")
            assert (await http.post(url, content=unknown, headers=headers)).status_code == 200
        assert agent.calls == {}
        assert emulator.connections == []


async def test_retried_and_duplicate_webhooks_answer_the_call_once() -> None:
    answered = trio.Event()

    async def caller(phone: SimulatedCaller) -> None:
        await phone.wait_reply()
        answered.set()
        await phone.hang_up()

    async with open_emulator(api_key=KEY) as emulator, agent_server(emulator) as (agent, url):
        refused = await emulator.place_call(
            url.replace("/webhook", "/nowhere"), secret=SECRET, retry_delays=(0.01, 0.01)
        )
        assert [d.status for d in refused.deliveries] == [404, 404, 404]
        assert refused.state == "ended" and refused.ended_by == "webhook"
        call = await emulator.place_call(url, secret=SECRET, caller=caller, duplicate_delivery=True)
        assert [d.status for d in call.deliveries] == [200, 200]
        await answered.wait()
        assert await call.wait_ended() == "ended"
        await agent.calls[call.call_id].finished.wait()
    assert call.ended_by == "caller" and call.sidebands == 1
    assert agent.calls[call.call_id].outcome == "caller hung up"


async def test_shutting_the_server_down_hangs_up_live_calls() -> None:
    async def caller(phone: SimulatedCaller) -> None:
        await phone.wait_reply()
        await trio.sleep_forever()  # stays on the line

    async with open_emulator(api_key=KEY) as emulator:
        async with agent_server(emulator) as (agent, url):
            call = await emulator.place_call(url, secret=SECRET, caller=caller)
            await call.wait_heard(1)
        assert call.state == "ended" and call.ended_by == "agent"
        assert agent.calls[call.call_id].outcome == "hung up (shutdown)"
        await emulator.connections[0].closed.wait()
        assert emulator.connections[0].received_close_code == 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def running(command: list[str], env: dict[str, str]) -> AsyncIterator[Any]:
    """A child process with its stderr piped; killed if still running at the end."""
    process = await trio.lowlevel.open_process(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stderr.aclose()


async def read_until(process: Any, marker: bytes, seen: bytes = b"") -> bytes:
    """Everything the process wrote to stderr up to (and with) ``marker``."""
    while marker not in seen:
        data = await process.stderr.receive_some()
        assert data, f"the process exited before writing {marker!r}: {seen.decode()}"
        seen += data
    return seen


async def test_trio_realtime_serve_places_a_call_to_a_webhook_url() -> None:
    port = free_port()
    client = rt.RealtimeClient(api_key=KEY, base_url=f"ws://127.0.0.1:{port}/v1")
    agent = phone_agent.PhoneAgent(client=client, secret=SECRET)
    config = hypercorn.config.Config()
    config.bind = ["127.0.0.1:0"]
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(hypercorn.trio.serve, agent, config, shutdown_trigger=shutdown.wait)
        )
        command = [sys.executable, "-m", "trio_realtime", "serve", "--port", str(port)]
        command += ["--api-key", KEY, "--call", f"{binds[0]}/webhook"]
        command += ["--say", "1", "--say", "Please transfer to human"]
        async with running(command, {"OPENAI_WEBHOOK_SECRET": SECRET}) as process:
            errors = await read_until(process, b"caller pressed")
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 0
        shutdown.set()
    text = errors.decode()
    assert f"referred to {phone_agent.HUMAN} (by transfer)" in text
    assert "webhook attempts [200]" in text
    assert "caller heard: 'Hello! How can I help you today?'" in text
    assert "caller pressed: '1'" in text
    assert SECRET not in text and KEY not in text


async def test_ctrl_c_on_the_example_hangs_up_every_live_call() -> None:
    port = free_port()
    on_the_line = trio.Event()
    heard = 0

    async def caller(phone: SimulatedCaller) -> None:
        nonlocal heard
        await phone.wait_reply()
        heard += 1
        if heard == 2:  # both calls are past their greeting: their sessions are open
            on_the_line.set()
        await trio.sleep_forever()

    async with open_emulator(api_key=KEY) as emulator:
        env = {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": emulator.http_url,
            "OPENAI_WEBHOOK_SECRET": SECRET,
        }
        command = [sys.executable, str(EXAMPLES / "phone_agent.py"), "--bind", f"127.0.0.1:{port}"]
        async with running(command, env) as process:
            await read_until(process, b"Running on")
            url = f"http://127.0.0.1:{port}/webhook"
            calls = [await emulator.place_call(url, secret=SECRET, caller=caller) for _ in "ab"]
            await on_the_line.wait()
            for call in calls:
                await call.wait_state("accepted")
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 0
        for call in calls:
            assert await call.wait_ended() == "ended" and call.ended_by == "agent"
        for connection in emulator.connections:
            await connection.closed.wait()
            assert connection.received_close_code == 1000
