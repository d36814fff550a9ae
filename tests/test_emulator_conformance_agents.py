"""Conformance: the emulator driven by openai-agents' realtime model, unmodified.

``RealtimeRunner`` with ``OpenAIRealtimeWebSocketModel`` (the SDK's default) connects to
the emulator through its model config ``url``; the SDK validates every server frame
against the official ``openai`` models and logs (and emits an ``error`` event) when one
does not fit. Each scene asserts that its goal was reached, that the emulator sent no
``error`` frame, that the session emitted no ``error`` event and that nothing was
logged at WARNING or above. The emulator runs on its own Trio loop in a thread; the SDK
runs under ``asyncio.run`` with a deadline. Tracing is disabled, so nothing leaves the
machine.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import agents
import numpy as np
import pytest
from agents import function_tool
from agents.realtime import RealtimeAgent, RealtimeRunner, RealtimeSession

from trio_realtime.audio import pcm16_bytes, silence, voice_like
from trio_realtime.testing import Emulator, Retention, run_emulator_in_thread

from .test_emulator import DEADLINE, assert_frames_match_official_models, run

MODEL = "gpt-realtime-2.1"
"""The SDK's default model, which it also names in its ``session.update``."""


@pytest.fixture(autouse=True)
def no_trace_export() -> Iterator[None]:
    agents.set_tracing_disabled(True)
    try:
        yield
    finally:
        agents.set_tracing_disabled(False)


@pytest.fixture
def checked(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[..., Emulator]]:
    """Start thread-hosted emulators; afterwards, check what they sent and what was logged."""
    caplog.set_level(logging.WARNING)
    started: list[Emulator] = []

    def start(**options: Any) -> Emulator:
        with contextlib.ExitStack() as stack:
            options.setdefault("retention", Retention(audio=True))  # the tests read the audio
            emulator = stack.enter_context(run_emulator_in_thread(**options))
            stacks.append(stack.pop_all())
        started.append(emulator)
        return emulator

    stacks: list[contextlib.ExitStack] = []
    try:
        yield start
    finally:
        for stack in reversed(stacks):
            stack.close()
    warnings = [
        f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING
    ]
    assert warnings == []
    for emulator in started:
        errors = [
            frame["error"]
            for connection in emulator.connections
            for frame in connection.sent
            if frame["type"] == "error"
        ]
        assert errors == []
        assert assert_frames_match_official_models(emulator) > 0


def model_config(emulator: Emulator, **settings: Any) -> Any:
    return {
        "url": f"{emulator.url}/realtime?model={MODEL}",
        "api_key": "sk-test",
        "initial_model_settings": settings,
    }


async def until_turns_end(session: RealtimeSession, turns: int = 1) -> list[Any]:
    """The session's events up to the end of ``turns`` model turns; no ``error`` among them."""
    events: list[Any] = []
    ended = 0
    async for event in session:
        events.append(event)
        assert event.type != "error", event
        if event.type == "raw_model_event" and event.data.type == "turn_ended":
            ended += 1
            if ended == turns:
                return events
    raise AssertionError("the session ended before the turn did")


def ended(events: list[Any]) -> int:
    """How many model turns have ended."""
    return sum(e.type == "raw_model_event" and e.data.type == "turn_ended" for e in events)


def item_retrieved(events: list[Any]) -> bool:
    """Whether the SDK got the item it asked for after its truncate was confirmed."""
    return any(
        event.type == "raw_model_event"
        and event.data.type == "raw_server_event"
        and event.data.data.get("type") == "conversation.item.retrieved"
        for event in events
    )


async def interrupted(
    session: RealtimeSession, interrupt: Callable[[], Awaitable[None]], *, turns: int
) -> list[Any]:
    """Events until ``turns`` turns end and the SDK has retrieved the item it cut.

    ``interrupt`` runs at the fifth audio chunk of the reply (400 ms of it sent).
    """
    events: list[Any] = []
    async for event in session:
        events.append(event)
        assert event.type != "error", event
        if event.type == "audio" and sum(e.type == "audio" for e in events) == 5:
            await interrupt()
        if ended(events) == turns and item_retrieved(events):
            return events
    raise AssertionError("the session ended before the turns did")


def history(events: list[Any]) -> list[tuple[str, str | None, list[str]]]:
    """The last ``history_updated`` history as (type, role, texts or transcripts)."""
    last = next(event for event in reversed(events) if event.type == "history_updated")
    return [
        (
            item.type,
            getattr(item, "role", None),
            [
                str(getattr(part, "text", None) or getattr(part, "transcript", None) or "")
                for part in getattr(item, "content", None) or []
            ],
        )
        for item in last.history
    ]


@function_tool
def get_weather(city: str) -> str:
    """The current weather for a city."""
    return f"Sunny and 18C in {city}"


def test_text_turn(checked: Callable[..., Emulator]) -> None:
    emulator = checked()

    async def client() -> list[Any]:
        agent = RealtimeAgent(name="assistant", instructions="Be brief.")
        runner = RealtimeRunner(agent)
        session = await runner.run(model_config=model_config(emulator, modalities=["text"]))
        async with session:
            await session.send_message("Hello there")
            return await until_turns_end(session)

    events = run(client)
    assert history(events)[-2:] == [
        ("message", "user", ["Hello there"]),
        ("message", "assistant", ["You said: Hello there"]),
    ]
    received = [event.type for event in emulator.connections[0].received]
    assert received[0] == "session.update"
    assert received.index("conversation.item.create") < received.index("response.create")


def test_spoken_turn_with_server_vad(checked: Callable[..., Emulator]) -> None:
    emulator = checked()
    speech = pcm16_bytes(np.concatenate([voice_like(800), silence(800)]))

    async def client() -> list[Any]:
        agent = RealtimeAgent(name="assistant", instructions="Be brief.")
        settings = {"turn_detection": {"type": "server_vad"}}
        session = await RealtimeRunner(agent).run(model_config=model_config(emulator, **settings))
        async with session:
            for start in range(0, len(speech), 4800):
                await session.send_audio(speech[start : start + 4800])
            return await until_turns_end(session)

    events = run(client)
    types = [event.type for event in events]
    assert "audio" in types and "audio_end" in types
    heard = b"".join(event.audio.data for event in events if event.type == "audio")
    assert len(heard) > 24000  # more than half a second of spoken reply
    user, assistant = history(events)[-2:]
    assert user[:2] == ("message", "user") and user[2][0]  # transcribed
    assert assistant == ("message", "assistant", ["I heard 1.0 seconds of audio."])
    session = emulator.connections[0].session
    assert session is not None
    assert session.audio.input.turn_detection.type == "server_vad"  # type: ignore[attr-defined]


def test_function_call_turn_runs_the_tool_and_continues(checked: Callable[..., Emulator]) -> None:
    emulator = checked()

    async def client() -> list[Any]:
        agent = RealtimeAgent(name="assistant", instructions="Be brief.", tools=[get_weather])
        session = await RealtimeRunner(agent).run(
            model_config=model_config(emulator, modalities=["text"])
        )
        async with session:
            await session.send_message("What does get_weather say for Paris?")
            events = await until_turns_end(session, turns=2)
            await session.send_message("Thanks")
            return events + await until_turns_end(session)

    events = run(client)
    tool_end = next(event for event in events if event.type == "tool_end")
    assert tool_end.tool.name == "get_weather"
    assert tool_end.output == "Sunny and 18C in Paris"
    kinds = history(events)
    assert ("message", "assistant", ["The function returned: Sunny and 18C in Paris"]) in kinds
    assert kinds[-1] == ("message", "assistant", ["You said: Thanks"])
    outputs = [
        event.item.to_dict()
        for event in emulator.connections[0].received
        if event.type == "conversation.item.create"
        and getattr(event.item, "type", None) == "function_call_output"
    ]
    assert [output["output"] for output in outputs] == ["Sunny and 18C in Paris"]


def test_interrupt_mid_reply_truncates_where_the_audio_was(
    checked: Callable[..., Emulator],
) -> None:
    """``session.interrupt()`` about 400 ms into a reply that is still streaming."""
    emulator = checked(audio_pace=1.0)

    async def client() -> list[Any]:
        agent = RealtimeAgent(name="assistant", instructions="Be brief.")
        session = await RealtimeRunner(agent).run(model_config=model_config(emulator))
        async with session:
            await session.send_message("Please tell me a long story.")
            return await interrupted(session, session.interrupt, turns=1)

    events = run(client, DEADLINE)
    assert "audio_interrupted" in [event.type for event in events]
    received = emulator.connections[0].received
    truncate = next(event for event in received if event.type == "conversation.item.truncate")
    sent = emulator.connections[0].sent
    truncated = next(frame for frame in sent if frame["type"] == "conversation.item.truncated")
    assert truncated["audio_end_ms"] == truncate.audio_end_ms
    reply = "You said: Please tell me a long story."
    assert 0 < truncate.audio_end_ms < len(reply) * 65  # inside the reply (65 ms a character)
    audio_after = [
        frame
        for frame in sent[sent.index(truncated) :]
        if frame["type"] == "response.output_audio.delta"
    ]
    assert audio_after == []
    retrieved = next(frame for frame in sent if frame["type"] == "conversation.item.retrieved")
    part = retrieved["item"]["content"][0]
    assert len(base64.b64decode(part["audio"])) == truncate.audio_end_ms * 48
    done = [frame for frame in sent if frame["type"] == "response.done"][-1]["response"]
    assert done["output"][0]["content"][0]["transcript"] == part["transcript"]
    assert len(part["transcript"]) < len(reply)


def test_the_clients_frames_are_what_the_emulator_received(
    checked: Callable[..., Emulator],
) -> None:
    """The SDK's session.update (model named, tracing, semantic VAD) is taken as sent."""
    emulator = checked()

    async def client() -> None:
        agent = RealtimeAgent(name="assistant", instructions="Speak like a pirate.")
        session = await RealtimeRunner(agent).run(model_config=model_config(emulator))
        async with session:
            await session.send_message("Hi")
            await until_turns_end(session)

    run(client)
    session = emulator.connections[0].session
    assert session is not None
    config = session.to_dict()
    assert config["instructions"] == "Speak like a pirate."
    assert config["model"] == MODEL
    assert config["tracing"] == "auto"
    assert config["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert config["audio"]["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"


def test_barge_in_by_voice_cancels_and_truncates(checked: Callable[..., Emulator]) -> None:
    """The user speaks over the reply: server VAD cancels it, the SDK truncates what played."""
    emulator = checked(audio_pace=1.0)
    speech = pcm16_bytes(np.concatenate([voice_like(600), silence(800)]))

    async def client() -> list[Any]:
        agent = RealtimeAgent(name="assistant", instructions="Be brief.")
        settings = {"turn_detection": {"type": "server_vad", "interrupt_response": True}}
        session = await RealtimeRunner(agent).run(model_config=model_config(emulator, **settings))
        async with session:
            await session.send_message("Please tell me a long story.")

            async def speak() -> None:
                for start in range(0, len(speech), 4800):
                    await session.send_audio(speech[start : start + 4800])

            return await interrupted(session, speak, turns=2)

    events = run(client)
    assert "audio_interrupted" in [event.type for event in events]
    sent = emulator.connections[0].sent
    first, second = [frame["response"] for frame in sent if frame["type"] == "response.done"]
    assert (first["status"], first["status_details"]["reason"]) == ("cancelled", "turn_detected")
    assert second["output"][0]["content"][0]["transcript"].startswith("I heard")
    truncate = next(
        e for e in emulator.connections[0].received if e.type == "conversation.item.truncate"
    )
    assert truncate.item_id == first["output"][0]["id"]
    retrieved = next(
        frame
        for frame in sent
        if frame["type"] == "conversation.item.retrieved"
        and frame["item"]["id"] == truncate.item_id
    )
    audio = base64.b64decode(retrieved["item"]["content"][0]["audio"])
    assert len(audio) == truncate.audio_end_ms * 48
