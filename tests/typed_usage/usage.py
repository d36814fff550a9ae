"""User code as a user writes it, checked by mypy --strict and pyright strict.

``tests/test_typed_usage.py`` type-checks this file from outside the project (as an
installed package is seen) and runs it against the emulator. Each ``assert_type`` is
what a user's editor must show; under pyright strict a partially unknown type anywhere
in the public API is an error here. Add what users newly rely on.
"""

# pyright: strict

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any, assert_type

import numpy as np
import numpy.typing as npt
import trio

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime.testing import Emulator, EmulatorConnection, open_emulator


# -- README: "The shape" --------------------------------------------------------------
async def the_shape(url: str | None = None, api_key: str | None = None) -> str:
    text: list[str] = []
    async with rt.open_realtime_session(
        "gpt-realtime",
        url=url,
        api_key=api_key,
        session=ev.SessionConfig(output_modalities=["text"]),
    ) as session:
        assert_type(session, rt.RealtimeSession)
        await session.send_user_message("Say hello")
        async for event in session:
            assert_type(event, rt.RealtimeEvent)
            if isinstance(event, ev.ResponseTextDeltaEvent):
                assert_type(event.delta, str)
                text.append(event.delta)
            elif isinstance(event, ev.ResponseDoneEvent):
                assert_type(event.response.id, str | None)
                break
        stats = session.statistics()
        assert_type(stats, rt.SessionStatistics)
        assert_type(stats.last_ping_rtt, float | None)
        assert stats.events_received > 0
    return "".join(text)


# -- an interceptor: sync and async hooks, dropping events ------------------------------
class TextDeltaCounter(rt.Interceptor):
    """Counts text deltas, hides rate-limit events, adds a header on connect."""

    def __init__(self) -> None:
        self.deltas = 0
        self.closed_with: int | None = None

    def on_connect(self, request: rt.ConnectRequest) -> rt.ConnectRequest:
        """Add a header to the handshake."""
        headers = [*request.headers, ("X-App", "typed-usage")]
        return rt.ConnectRequest(request.url, headers, request.subprotocols)

    async def on_receive(self, event: rt.RealtimeEvent) -> rt.RealtimeEvent | None:
        """Count the text deltas, hide the rate limits (an async hook)."""
        await trio.lowlevel.checkpoint()
        if isinstance(event, ev.ResponseTextDeltaEvent):
            self.deltas += 1
        return None if isinstance(event, ev.RateLimitsUpdatedEvent) else event

    def on_close(self, code: int, reason: str) -> None:
        """Remember the close code."""
        self.closed_with = code


# -- README: "Many sessions: the client form", with a function call ---------------------
WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def client_form(emulator: Emulator, recording: Path) -> None:
    counter = TextDeltaCounter()
    metrics = rt.MetricsInterceptor()
    client = rt.RealtimeClient(
        api_key="sk-local",
        base_url=emulator.url,
        interceptors=[counter, metrics, rt.RecordingInterceptor(recording)],
    )
    config = ev.SessionConfig.model_validate(
        {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER]}
    )
    async with client.connect("gpt-realtime", session=config) as call:
        assert_type(call, rt.RealtimeSession)
        await call.send_user_message("Use get_weather: the weather in Paris?")
        calls: list[ev.FunctionCallItem] = []
        async for event in call:
            if isinstance(event, ev.ResponseDoneEvent):
                output = event.response.output or []
                calls = [item for item in output if isinstance(item, ev.FunctionCallItem)]
                break
        assert calls, "the emulator calls a tool it is given when asked to"
        for fn in calls:
            arguments: dict[str, Any] = json.loads(fn.arguments)
            result = {"city": arguments.get("city"), "sky": "clear"}
            await call.send_function_output(fn.call_id or "", result, create_response=True)
        async for event in call:  # the model's answer, with the tool's result
            if isinstance(event, ev.ResponseDoneEvent):
                status: str | None = event.response.status  # an open Literal
                assert status == "completed"
                break
        try:
            await call.update_session(ev.SessionConfig(instructions="Be brief."))
        except rt.ServerError as error:
            assert_type(error.code, str | None)
        connection = await emulator.wait_connection(2)  # the_shape's was the first
        assert_type(connection, EmulatorConnection)
        assert connection.headers["x-app"] == "typed-usage"
    assert_type(metrics.turns, list[rt.TurnMetrics])
    assert len(metrics.turns) == 2
    assert_type(metrics.statistics().median_first_text_ms, float | None)
    assert counter.deltas > 0 and counter.closed_with == 1000
    saved = rt.read_recording(recording)
    assert_type(saved, rt.Recording)
    assert saved.entries

    # Usage and cost: per session, per client, per turn.
    usage = client.usage()
    assert_type(usage, rt.SessionUsage)
    assert_type(usage.by_model["gpt-realtime"].output_text_tokens, int)
    assert_type(usage.responses[0].usage, rt.TokenUsage)
    assert_type(metrics.turns[0].usage, rt.TokenUsage)
    prices = {"gpt-realtime": rt.ModelPrice(text_input=4.0, text_output=16.0)}
    estimate = usage.cost(prices)
    assert_type(estimate, rt.CostEstimate)
    assert_type(estimate.unpriced, tuple[str, ...])
    assert estimate.usd > 0 and estimate.complete

    translation = {"audio": {"output": {"language": "es"}}}
    async with client.connect_translation(session=translation) as t:
        assert_type(t, rt.RealtimeTranslationSession)
        updated = await t.set_language("fr")
        assert_type(updated, ev.TranslationSession)

    secret = await client.create_client_secret(config, expires_after=600)
    assert_type(secret, rt.ClientSecret)
    assert secret.value.startswith("ek_")


# -- README: "Audio" ------------------------------------------------------------------
async def audio_turn(emulator: Emulator) -> npt.NDArray[np.int16]:
    tracker = audio.PlaybackTracker()
    received: list[npt.NDArray[np.int16]] = []
    speech = audio.voice_like(800, sample_rate=48000)
    async with rt.open_realtime_session(url=emulator.url, api_key="sk-local") as session:
        await session.append_audio(speech, sample_rate=48000)
        await session.append_audio(audio.silence(1000, sample_rate=48000), sample_rate=48000)
        async for event in session:
            if isinstance(event, ev.ResponseAudioDeltaEvent):
                pcm = session.decode_audio(event)
                assert_type(pcm, npt.NDArray[np.int16])
                tracker.on_audio_received(event.item_id, event.content_index, pcm.nbytes)
                received.append(pcm)
            elif isinstance(event, ev.ResponseDoneEvent):
                break
        assert_type(tracker.truncate_point(), tuple[str, int, int] | None)
    return np.concatenate(received)


# -- README: "The typed protocol" ---------------------------------------------------------
def typed_protocol(frame: str | bytes) -> dict[str, Any]:
    event = rt.parse_server_event(frame)
    assert_type(event, ev.ServerEvent | rt.UnknownRealtimeEvent)
    if isinstance(event, rt.events.ResponseTextDeltaEvent):
        assert_type(event.response_id, str)
    elif isinstance(event, rt.UnknownRealtimeEvent):
        assert_type(event.raw, dict[str, Any])
    return event.to_dict()


# -- docs: "Tools (function calling)" -------------------------------------------------------
tools = rt.Tools()


@tools.function
def get_weather(city: Annotated[str, "The city"], unit: str = "celsius") -> dict[str, Any]:
    """The current weather in a city."""
    return {"city": city, "temp_c": 18, "unit": unit}


@tools.function(timeout=5)
async def get_time(zone: str) -> str:
    """The time in a zone."""
    return f"12:00 in {zone}"


async def tool_turn(emulator: Emulator) -> rt.ToolRunnerStatistics:
    assert_type(get_weather("Paris"), dict[str, Any])  # the decorators keep the types
    assert_type(tools.get("get_time"), rt.ToolSpec | None)
    finished: list[rt.ToolFinished] = []

    def on_event(event: rt.ToolEvent) -> None:
        if isinstance(event, rt.ToolFinished):
            assert_type(event.outcome, rt.ToolOutcome)
            finished.append(event)

    config = ev.SessionConfig(output_modalities=["text"], tools=tools.definitions())
    policy = rt.ToolPolicy(on_interrupt="finish", timeout=30)
    async with (
        rt.open_realtime_session(url=emulator.url, api_key="sk-local", session=config) as session,
        rt.open_tool_runner(session, tools, policy=policy, on_event=on_event) as runner,
    ):
        assert_type(runner, rt.ToolRunner)
        await session.send_user_message("Use get_weather: the weather in Paris?")
        done = 0
        async for event in session:
            if isinstance(event, ev.ResponseDoneEvent):
                done += 1
                if done == 2:  # the call, then the answer after its output
                    break
        await runner.wait_idle()
        stats = runner.statistics()
    assert [event.call.name for event in finished] == ["get_weather"]
    return stats


async def main() -> None:
    with trio.fail_after(30), tempfile.TemporaryDirectory() as tmp:
        async with open_emulator() as emulator:
            assert "Say hello" in await the_shape(emulator.url, api_key="sk-local")
            await client_form(emulator, Path(tmp) / "call.jsonl")
            assert len(await audio_turn(emulator)) > 0
            assert (await tool_turn(emulator)).follow_ups == 1
    frame = '{"type": "response.output_text.delta", "response_id": "r", "item_id": "i",'
    frame += ' "output_index": 0, "content_index": 0, "delta": "hi"}'
    assert typed_protocol(frame)["delta"] == "hi"
    assert typed_protocol(b'{"type": "brand.new"}') == {"type": "brand.new"}


if __name__ == "__main__":
    trio.run(main)
