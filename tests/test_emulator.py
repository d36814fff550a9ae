"""The emulator against the unmodified official ``openai`` client (asyncio).

The emulator runs on its own Trio loop in a thread (``run_emulator_in_thread``); each
test drives the official client with ``asyncio.run`` under an ``asyncio.timeout``
deadline. After every test, each frame the emulator sent is validated against the
official client's own models.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import openai
import pytest
import trio
import websockets
from openai.types.realtime import RealtimeServerEvent, RealtimeTranslationServerEvent
from pydantic import TypeAdapter

from trio_realtime.audio import (
    alaw_decode,
    pcm16_bytes,
    silence,
    ulaw_decode,
    ulaw_encode,
    voice_like,
)
from trio_realtime.testing import (
    BrainReply,
    BrainRequest,
    Emulator,
    run_emulator_in_thread,
)

DEADLINE = 20.0
MODEL = "gpt-realtime"

_SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
_TRANSLATION_EVENT = TypeAdapter(RealtimeTranslationServerEvent)


def assert_frames_match_official_models(emulator: Emulator) -> int:
    """Validate every event the emulator sent with the official client's pydantic models."""
    checked = 0
    for connection in emulator.connections:
        adapter = _TRANSLATION_EVENT if connection.kind == "translation" else _SERVER_EVENT
        for frame in connection.sent:
            adapter.validate_python(frame)
            checked += 1
    return checked


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """Start thread-hosted emulators; on teardown, validate every frame they sent."""
    stack: list[Any] = []
    emulators: list[Emulator] = []

    def start(**options: Any) -> Emulator:
        manager = run_emulator_in_thread(**options)
        emulator = manager.__enter__()
        stack.append(manager)
        emulators.append(emulator)
        return emulator

    try:
        yield start
    finally:
        for manager in reversed(stack):
            manager.__exit__(None, None, None)
    for emulator in emulators:
        assert_frames_match_official_models(emulator)


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory()


def run(client_code: Callable[[], Awaitable[Any]], deadline: float = DEADLINE) -> Any:
    """Run asyncio client code to completion under a deadline."""

    async def main() -> Any:
        async with asyncio.timeout(deadline):
            return await client_code()

    return asyncio.run(main())


def client_for(emulator: Emulator) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", websocket_base_url=emulator.url)


async def events_until(connection: Any, last_type: str) -> list[Any]:
    """Receive events up to and including the first of type ``last_type``."""
    events = []
    async for event in connection:
        events.append(event)
        if event.type == last_type:
            return events
    raise AssertionError(f"the connection ended before {last_type}")


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def b64(samples: npt.NDArray[np.int16]) -> str:
    return base64.b64encode(pcm16_bytes(samples)).decode("ascii")


def chunks_100ms(samples: npt.NDArray[np.int16], rate: int = 24000) -> list[str]:
    step = rate // 10
    return [b64(samples[start : start + step]) for start in range(0, samples.size, step)]


RESPONSE_SEQUENCE_TEXT = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "conversation.item.done",
    "response.output_item.done",
    "response.done",
]


def collapse(types: list[str]) -> list[str]:
    """Event types with runs of the same delta type collapsed to one."""
    out: list[str] = []
    for kind in types:
        if not (out and out[-1] == kind and kind.endswith(".delta")):
            out.append(kind)
    return out


# -- conversations ------------------------------------------------------------------------


def test_text_response(emulator: Emulator) -> None:
    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            created = await conn.recv()
            assert created.type == "session.created"
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            updated = await conn.recv()
            assert updated.type == "session.updated"
            assert updated.session.output_modalities == ["text"]
            await conn.conversation.item.create(item=user_text("Hello there"))
            await conn.response.create()
            events = await events_until(conn, "response.done")
            events.append(await conn.recv())
            return events

    events = run(client)
    types = [event.type for event in events]
    assert types[:2] == ["conversation.item.added", "conversation.item.done"]
    assert collapse(types[2:-1]) == RESPONSE_SEQUENCE_TEXT
    assert types[-1] == "rate_limits.updated"
    done = events[-2].response
    assert done.status == "completed"
    assert done.output[0].content[0].text == "You said: Hello there"
    assert done.usage.total_tokens > 0
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    assert "".join(event.delta for event in deltas) == "You said: Hello there"
    connection = emulator.connections[0]
    assert connection.kind == "realtime"
    assert connection.query == {"model": MODEL}
    assert connection.headers["authorization"] == "Bearer <redacted>"
    assert all("obfuscation" in frame for frame in connection.sent if "text.delta" in frame["type"])
    assert connection.received_close_code == 1000
    session_id = connection.sent[0]["session"]["id"]
    assert session_id.startswith("sess_") and len(session_id) == 26


RESPONSE_SEQUENCE_AUDIO = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio_transcript.delta",
    "response.output_audio.delta",
]
AUDIO_TAIL = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "conversation.item.done",
    "response.output_item.done",
    "response.done",
]


def test_audio_response(emulator: Emulator) -> None:
    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            created = await conn.recv()
            assert created.session.output_modalities == ["audio"]
            await conn.conversation.item.create(item=user_text("Tell me a story"))
            await conn.response.create()
            return await events_until(conn, "response.done")

    events = run(client)
    types = [event.type for event in events]
    assert collapse(types[2:8]) == RESPONSE_SEQUENCE_AUDIO
    assert types[-6:] == AUDIO_TAIL
    audio = b"".join(
        base64.b64decode(event.delta)
        for event in events
        if event.type == "response.output_audio.delta"
    )
    transcript = "".join(
        event.delta for event in events if event.type == "response.output_audio_transcript.delta"
    )
    reply = "You said: Tell me a story"
    assert transcript == reply
    assert len(audio) == len(reply) * 65 * 48
    samples = np.frombuffer(audio, dtype="<i2")
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 1000
    done = events[-1].response
    assert done.output_modalities == ["audio"]
    assert done.output[0].content[0].type == "output_audio"
    assert done.output[0].content[0].transcript == reply
    assert done.usage.output_token_details.audio_tokens > 0


@pytest.mark.parametrize("format_type", ["audio/pcmu", "audio/pcma"])
def test_audio_response_in_g711(emulator: Emulator, format_type: str) -> None:
    async def client() -> bytes:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={"type": "realtime", "audio": {"output": {"format": {"type": format_type}}}}
            )
            await conn.conversation.item.create(item=user_text("Hi"))
            await conn.response.create()
            events = await events_until(conn, "response.done")
            assert events[-1].response.audio.output.format.type == format_type
            return b"".join(
                base64.b64decode(event.delta)
                for event in events
                if event.type == "response.output_audio.delta"
            )

    audio = run(client)
    assert len(audio) == len("You said: Hi") * 65 * 8
    decode = ulaw_decode if format_type == "audio/pcmu" else alaw_decode
    assert np.abs(decode(audio).astype(np.int32)).max() > 1000


def test_manual_commit_and_response(emulator: Emulator) -> None:
    speech = voice_like(500)

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"turn_detection": None}},
                }
            )
            for chunk in chunks_100ms(speech):
                await conn.input_audio_buffer.append(audio=chunk)
            await conn.input_audio_buffer.commit()
            await conn.response.create()
            return await events_until(conn, "response.done")

    events = run(client)
    types = [event.type for event in events]
    assert types[:5] == [
        "session.created",
        "session.updated",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert "input_audio_buffer.speech_started" not in types
    item = events[3].item
    assert item.role == "user" and item.content[0].type == "input_audio"
    assert item.content[0].transcript is None
    assert events[-1].response.output[0].content[0].text == "I heard 0.5 seconds of audio."
    assert emulator.connections[0].input_audio_bytes == speech.size * 2


def test_server_vad_turn_from_real_pcm(emulator: Emulator) -> None:
    audio = np.concatenate((silence(300), voice_like(1000), silence(800)))

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                            "transcription": {"model": "gpt-4o-transcribe"},
                        }
                    },
                }
            )
            for chunk in chunks_100ms(audio):
                await conn.input_audio_buffer.append(audio=chunk)
            return await events_until(conn, "response.done")

    events = run(client)
    by_type = {event.type: event for event in reversed(events)}
    started = by_type["input_audio_buffer.speech_started"]
    stopped = by_type["input_audio_buffer.speech_stopped"]
    committed = by_type["input_audio_buffer.committed"]
    assert 0 <= started.audio_start_ms <= 60
    assert 1780 <= stopped.audio_end_ms <= 1850
    assert started.item_id == stopped.item_id == committed.item_id
    types = [event.type for event in events]
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.done",
    ]
    positions = [types.index(kind) for kind in order]
    assert positions == sorted(positions)
    transcript = by_type["conversation.item.input_audio_transcription.completed"]
    assert transcript.item_id == committed.item_id
    assert transcript.transcript.startswith("Hello this")
    assert transcript.usage.type == "tokens"
    reply = by_type["response.done"].response
    assert reply.output[0].content[0].transcript.startswith("I heard 1.")


def test_barge_in_cancels_and_truncate_cuts_the_heard_audio(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = emulator_factory(audio_pace=1.0)
    speech = voice_like(600)

    async def client() -> tuple[list[Any], Any, Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("Please tell me a long story."))
            await conn.response.create()
            deltas = 0
            events = []
            async for event in conn:
                events.append(event)
                if event.type == "response.output_audio.delta":
                    deltas += 1
                    if deltas == 3:
                        break
            assistant_item = next(
                event.item.id for event in events if event.type == "response.output_item.added"
            )
            for chunk in chunks_100ms(speech):
                await conn.input_audio_buffer.append(audio=chunk)
            events += await events_until(conn, "response.done")
            await conn.conversation.item.truncate(
                item_id=assistant_item, content_index=0, audio_end_ms=200
            )
            truncated = (await events_until(conn, "conversation.item.truncated"))[-1]
            await conn.conversation.item.retrieve(item_id=assistant_item)
            retrieved = (await events_until(conn, "conversation.item.retrieved"))[-1]
            return events, truncated, retrieved

    events, truncated, retrieved = run(client)
    types = [event.type for event in events]
    started = types.index("input_audio_buffer.speech_started")
    assert types.index("response.done") > started
    done = events[-1].response
    assert done.status == "cancelled"
    assert done.status_details.reason == "turn_detected"
    assert done.output[0].status == "incomplete"
    assert truncated.type == "conversation.item.truncated"
    assert truncated.audio_end_ms == 200
    assert retrieved.type == "conversation.item.retrieved"
    part = retrieved.item.content[0]
    assert len(base64.b64decode(part.audio)) == 200 * 48
    assert len(part.transcript) < len("You said: Please tell me a long story.")


def test_function_call_round_trip(emulator: Emulator) -> None:
    weather = {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["location", "unit", "days"],
        },
    }

    async def client() -> tuple[list[Any], list[Any]]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={"type": "realtime", "output_modalities": ["text"], "tools": [weather]}
            )
            await conn.conversation.item.create(item=user_text("Can you get weather for Paris?"))
            await conn.response.create()
            first = await events_until(conn, "response.done")
            call = first[-1].response.output[0]
            await conn.conversation.item.create(
                item={
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": json.dumps({"temperature_c": 21}),
                }
            )
            await conn.response.create()
            second = await events_until(conn, "response.done")
            return first, second

    first, second = run(client)
    types = collapse([event.type for event in first])
    call_sequence = [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    assert types[-len(call_sequence) :] == call_sequence
    done_args = next(e for e in first if e.type == "response.function_call_arguments.done")
    assert done_args.name == "get_weather"
    arguments = json.loads(done_args.arguments)
    assert arguments == {"location": "Paris", "unit": "celsius", "days": 1}
    deltas = "".join(e.delta for e in first if e.type == "response.function_call_arguments.delta")
    assert deltas == done_args.arguments
    item = first[-1].response.output[0]
    assert item.type == "function_call" and item.call_id.startswith("call_")
    second_types = [event.type for event in second]
    assert second_types[:3] == [
        "rate_limits.updated",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert second[1].item.type == "function_call_output"
    reply = second[-1].response.output[0].content[0].text
    assert reply == 'The function returned: {"temperature_c": 21}'


def test_tool_choice_required_always_calls_a_tool(emulator: Emulator) -> None:
    lookup = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}

    async def client() -> Any:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={"type": "realtime", "tools": [lookup], "tool_choice": "required"}
            )
            await conn.conversation.item.create(item=user_text("Nothing to do with tools."))
            await conn.response.create()
            return (await events_until(conn, "response.done"))[-1].response

    response = run(client)
    assert [item.type for item in response.output] == ["function_call"]
    assert response.output[0].name == "lookup"


def test_out_of_band_response_with_input_and_scripted_brain(
    emulator_factory: Callable[..., Emulator],
) -> None:
    seen: list[BrainRequest] = []

    def brain(request: BrainRequest) -> BrainReply:
        seen.append(request)
        return BrainReply(text=f"summary of {len(request.items)} item(s)")

    emulator = emulator_factory(brain=brain)

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("first"))
            await conn.response.create(
                response={
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "metadata": {"purpose": "summary"},
                    "input": [user_text("Summarize")],
                }
            )
            return await events_until(conn, "response.done")

    events = run(client)
    types = [event.type for event in events]
    assert types.count("conversation.item.added") == 1
    done = events[-1].response
    assert done.conversation_id is None
    assert done.metadata == {"purpose": "summary"}
    assert done.output[0].content[0].text == "summary of 1 item(s)"
    assert seen[0].user_text == "Summarize"


def test_transcription_session(emulator: Emulator) -> None:
    audio = np.concatenate((voice_like(1000), silence(200)))

    async def client() -> list[Any]:
        connect = client_for(emulator).realtime.connect(extra_query={"intent": "transcription"})
        async with connect as conn:
            created = await conn.recv()
            assert created.session.type == "transcription"
            await conn.session.update(
                session={
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "transcription": {"model": "gpt-4o-transcribe"},
                            "turn_detection": None,
                        }
                    },
                    "include": ["item.input_audio_transcription.logprobs"],
                }
            )
            for chunk in chunks_100ms(audio):
                await conn.input_audio_buffer.append(audio=chunk)
            await conn.input_audio_buffer.commit()
            events = await events_until(
                conn, "conversation.item.input_audio_transcription.completed"
            )
            await conn.response.create()
            events.append(await conn.recv())
            return events

    events = run(client)
    types = [event.type for event in events]
    assert types[:4] == [
        "session.updated",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    deltas = [e.delta for e in events if e.type.endswith("input_audio_transcription.delta")]
    completed = events[-2]
    assert "".join(deltas) == completed.transcript
    assert completed.transcript.startswith("Hello this")
    assert completed.usage.input_tokens > 0
    assert [entry.token for entry in completed.logprobs] == deltas
    assert events[-1].type == "error"
    assert "rate_limits.updated" not in types
    assert emulator.connections[0].kind == "transcription"


# -- errors -------------------------------------------------------------------------------


def test_error_codes_keep_the_session_open(
    emulator_factory: Callable[..., Emulator],
) -> None:
    answer = threading.Event()
    """Set by the client once it saw the second response.create refused: the response
    stays active until then, whatever the threads' timing."""

    async def slow_brain(request: BrainRequest) -> BrainReply:
        await trio.to_thread.run_sync(answer.wait, abandon_on_cancel=True)
        return BrainReply(text="slow")

    emulator = emulator_factory(brain=slow_brain)
    requests: list[tuple[str, dict[str, Any] | str | bytes]] = [
        ("invalid_value", {"type": "nope"}),
        ("invalid_json", "{not json"),
        ("invalid_event", b"\x00\x01"),
        (
            "unknown_parameter",
            {"type": "session.update", "session": {"type": "realtime", "bogus_field": 1}},
        ),
        (
            "missing_required_parameter",
            {"type": "session.update", "session": {"instructions": "x"}},
        ),
        (
            "invalid_value",
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "transcription": {"model": "gpt-realtime-whisper", "delay": "bogus"}
                        }
                    },
                },
            },
        ),
        (
            "integer_below_min_value",
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
                },
            },
        ),
        ("invalid_value", {"type": "session.update", "session": {"type": "transcription"}}),
        ("input_audio_buffer_commit_empty", {"type": "input_audio_buffer.commit"}),
        ("response_cancel_not_active", {"type": "response.cancel"}),
        (
            "item_retrieve_invalid_item_id",
            {"type": "conversation.item.retrieve", "item_id": "item_nope"},
        ),
        (
            "item_delete_invalid_item_id",
            {"type": "conversation.item.delete", "item_id": "item_nope"},
        ),
        (
            "item_truncate_invalid_item_id",
            {
                "type": "conversation.item.truncate",
                "item_id": "item_nope",
                "content_index": 0,
                "audio_end_ms": 10,
            },
        ),
        (
            "invalid_value",
            {
                "type": "conversation.item.create",
                "previous_item_id": "item_nope",
                "item": user_text("x"),
            },
        ),
        (
            "invalid_tool_call_id",
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "call_nope", "output": "{}"},
            },
        ),
    ]

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.recv()
            errors = []
            for index, (_, request) in enumerate(requests):
                if isinstance(request, dict):
                    request = json.dumps({**request, "event_id": f"evt_{index}"})
                await conn.send_raw(request)
                errors.append(await conn.recv())
            await conn.send_raw(json.dumps({"type": "response.create"}))
            await conn.send_raw(json.dumps({"type": "response.create", "event_id": "evt_second"}))
            busy = [await conn.recv(), await conn.recv()]
            answer.set()
            events = await events_until(conn, "response.done")
            return errors + busy + events

    events = run(client)
    errors = events[: len(requests)]
    assert [error.type for error in errors] == ["error"] * len(requests)
    assert [error.error.code for error in errors] == [code for code, _ in requests]
    for index, (error, (_, request)) in enumerate(zip(errors, requests, strict=True)):
        expected_id = f"evt_{index}" if isinstance(request, dict) else None
        assert error.error.event_id == expected_id
        assert error.error.type == "invalid_request_error"
    unknown = errors[0].error
    assert unknown.param == "type"
    assert unknown.message == (
        "Invalid value: 'nope'. Supported values are: 'session.update', 'session.close',"
        " 'input_audio_buffer.append', 'session.input_audio_buffer.append',"
        " 'input_audio_buffer.commit', 'input_audio_buffer.clear',"
        " 'conversation.item.create', 'conversation.item.truncate',"
        " 'conversation.item.delete', 'conversation.item.retrieve', 'response.create',"
        " and 'response.cancel'."
    )
    assert errors[3].error.param == "session.bogus_field"
    assert errors[4].error.param == "session.type"
    assert errors[5].error.param == "session.audio.input.transcription.delay"
    assert errors[6].error.param == "session.audio.input.format.rate"
    assert errors[8].error.message == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of"
        " audio, but buffer only has 0.00ms of audio."
    )
    busy = events[len(requests) : len(requests) + 2]
    assert busy[0].type == "response.created"
    assert busy[1].type == "error"
    assert busy[1].error.code == "conversation_already_has_active_response"
    assert busy[1].error.event_id == "evt_second"
    assert events[-1].response.status == "completed"
    session = emulator.connections[0].session
    assert session is not None and session.audio.input.format.rate == 24000


def test_truncate_past_the_end_is_rejected(emulator: Emulator) -> None:
    async def client() -> Any:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("Hi"))
            await conn.response.create()
            events = await events_until(conn, "response.done")
            item_id = events[-1].response.output[0].id
            await conn.conversation.item.truncate(
                item_id=item_id, content_index=0, audio_end_ms=60_000
            )
            return await events_until(conn, "error")

    error = run(client)[-1].error
    assert error.code == "invalid_value"
    assert error.param == "audio_end_ms"
    assert (
        error.message
        == f"Audio content of {len('You said: Hi') * 65}ms is already shorter than 60000ms"
    )


def test_wrong_api_key_closes_3000(emulator_factory: Callable[..., Emulator]) -> None:
    emulator = emulator_factory(api_key="sk-right")

    async def client() -> tuple[Any, Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            error = await conn.recv()
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await conn.recv()
            return error, closed.value

    error, closed = run(client)
    assert error.error.code == "invalid_api_key"
    assert "sk-test" not in error.error.message
    assert closed.rcvd.code == 3000
    assert closed.rcvd.reason == "invalid_request_error.invalid_api_key"


def test_g711_input_drives_server_vad(emulator: Emulator) -> None:
    audio = np.concatenate((voice_like(800, sample_rate=8000), silence(700, sample_rate=8000)))
    encoded = ulaw_encode(audio)

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"format": {"type": "audio/pcmu"}}},
                }
            )
            for start in range(0, len(encoded), 800):
                chunk = base64.b64encode(encoded[start : start + 800]).decode("ascii")
                await conn.input_audio_buffer.append(audio=chunk)
            return await events_until(conn, "response.done")

    events = run(client)
    stopped = next(e for e in events if e.type == "input_audio_buffer.speech_stopped")
    assert 980 <= stopped.audio_end_ms <= 1030
    assert events[-1].response.output[0].content[0].text == "I heard 1.0 seconds of audio."


# -- translation --------------------------------------------------------------------------


def test_translation_with_graceful_close(emulator: Emulator) -> None:
    audio = np.concatenate((voice_like(1000), silence(300)))

    async def client() -> list[Any]:
        client = client_for(emulator)
        async with client.realtime.translations.connect(model="gpt-realtime-translate") as conn:
            created = await conn.recv()
            assert created.type == "session.created"
            assert created.session.type == "translation"
            await conn.session.update(
                session={
                    "audio": {
                        "output": {"language": "es"},
                        "input": {"transcription": {"model": "gpt-realtime-whisper"}},
                    }
                }
            )
            for chunk in chunks_100ms(audio):
                await conn.session.input_audio_buffer.append(audio=chunk)
            await conn.session.close()
            return [event async for event in conn]

    events = run(client)
    types = [event.type for event in events]
    assert types[0] == "session.updated"
    assert types[-1] == "session.closed"
    audio_deltas = [e for e in events if e.type == "session.output_audio.delta"]
    assert [e.elapsed_ms for e in audio_deltas] == [200, 400, 600, 800, 1000, 1200, 1400]
    assert all(e.sample_rate == 24000 and e.format == "pcm16" for e in audio_deltas)
    assert sum(len(base64.b64decode(e.delta)) for e in audio_deltas) == 7 * 9600
    spoken = "".join(e.delta for e in events if e.type == "session.output_transcript.delta")
    heard = "".join(e.delta for e in events if e.type == "session.input_transcript.delta")
    assert spoken.startswith("hola esto es")
    assert heard.startswith("hello this is")
    connection = emulator.connections[0]
    assert connection.kind == "translation"
    assert connection.received_close_code == 1000


def test_client_cancel_ends_the_response(emulator_factory: Callable[..., Emulator]) -> None:
    emulator = emulator_factory(audio_pace=1.0)

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("Please talk for a while."))
            await conn.response.create()
            events = []
            async for event in conn:
                events.append(event)
                if event.type == "response.output_audio.delta":
                    break
            await conn.response.cancel()
            events += await events_until(conn, "response.done")
            await conn.response.cancel(event_id="evt_late")
            events += await events_until(conn, "error")
            return events

    events = run(client)
    done = next(event for event in events if event.type == "response.done").response
    assert done.status == "cancelled"
    assert done.status_details.reason == "client_cancelled"
    assert done.output[0].status == "incomplete"
    late = events[-1].error
    assert (late.code, late.event_id) == ("response_cancel_not_active", "evt_late")


def test_brain_audio_and_brain_failure(emulator_factory: Callable[..., Emulator]) -> None:
    tone = (np.sin(np.arange(4800) * 0.1) * 8000).astype(np.int16)

    def brain(request: BrainRequest) -> BrainReply:
        if request.user_text == "fail":
            raise ValueError("scripted failure")
        return BrainReply(text="beep", audio=tone)

    emulator = emulator_factory(brain=brain)

    async def client() -> tuple[list[Any], list[Any]]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("beep please"))
            await conn.response.create()
            spoken = await events_until(conn, "response.done")
            await conn.conversation.item.create(item=user_text("fail"))
            await conn.response.create()
            failed = await events_until(conn, "response.done")
            return spoken, failed

    spoken, failed = run(client)
    audio = b"".join(
        base64.b64decode(e.delta) for e in spoken if e.type == "response.output_audio.delta"
    )
    assert audio == pcm16_bytes(tone)
    response = failed[-1].response
    assert response.status == "failed"
    assert response.status_details.error.type == "server_error"
    assert response.output == []


def test_clear_empties_the_input_buffer(emulator: Emulator) -> None:
    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            )
            await conn.input_audio_buffer.append(audio=b64(voice_like(300)))
            await conn.input_audio_buffer.clear()
            await conn.input_audio_buffer.commit()
            return await events_until(conn, "error")

    events = run(client)
    assert [event.type for event in events][-2:] == ["input_audio_buffer.cleared", "error"]
    assert events[-1].error.code == "input_audio_buffer_commit_empty"


# -- items grow as they stream ------------------------------------------------------------


def test_truncate_while_the_reply_streams_cuts_it_there(
    emulator_factory: Callable[..., Emulator],
) -> None:
    """Barge-in: truncate at 400 ms while audio still arrives (as openai-agents does)."""
    emulator = emulator_factory(audio_pace=1.0)

    async def client() -> tuple[list[Any], Any, Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("Please tell me a long story."))
            await conn.response.create()
            events = []
            async for event in conn:
                events.append(event)
                deltas = [e for e in events if e.type == "response.output_audio.delta"]
                if len(deltas) == 5:
                    break
            item_id = deltas[0].item_id
            await conn.conversation.item.retrieve(item_id=item_id)
            streaming = (await events_until(conn, "conversation.item.retrieved"))[-1]
            await conn.conversation.item.truncate(
                item_id=item_id, content_index=0, audio_end_ms=400
            )
            events += await events_until(conn, "response.done")
            await conn.conversation.item.retrieve(item_id=item_id)
            retrieved = (await events_until(conn, "conversation.item.retrieved"))[-1]
            return events, streaming, retrieved

    events, streaming, retrieved = run(client)
    assert not [event for event in events if event.type == "error"]
    sent_so_far = base64.b64decode(streaming.item.content[0].audio)
    assert streaming.item.status == "in_progress"
    assert len(sent_so_far) >= 500 * 48
    assert streaming.item.content[0].transcript
    types = [event.type for event in events]
    cut_at = types.index("conversation.item.truncated")
    assert events[cut_at].audio_end_ms == 400
    assert "response.output_audio.delta" not in types[cut_at:]
    full = "You said: Please tell me a long story."
    done = events[-1].response
    assert done.status == "completed"
    part = done.output[0].content[0]
    assert done.output[0].status == "incomplete"
    assert part.transcript and len(part.transcript) < len(full)
    item_done = next(e for e in events[cut_at:] if e.type == "conversation.item.done").item
    assert item_done.content[0].transcript == part.transcript
    assert len(base64.b64decode(retrieved.item.content[0].audio)) == 400 * 48
    assert retrieved.item.content[0].transcript == part.transcript


def test_truncate_past_the_audio_sent_so_far_is_rejected(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = emulator_factory(audio_pace=1.0)

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("Please tell me a long story."))
            await conn.response.create()
            event = await conn.recv()
            while event.type != "response.output_audio.delta":
                event = await conn.recv()
            await conn.conversation.item.truncate(
                item_id=event.item_id, content_index=0, audio_end_ms=2000
            )
            return await events_until(conn, "error")

    error = run(client)[-1].error
    assert (error.code, error.param) == ("invalid_value", "audio_end_ms")
    assert error.message.endswith("is already shorter than 2000ms")
    sent_ms = int(error.message.split()[3].removesuffix("ms"))
    assert 100 <= sent_ms < 2000


def test_truncating_an_item_without_model_audio_gets_the_service_error(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = emulator_factory(
        brain=lambda request: BrainReply(text="", audio=np.zeros(0, np.int16))
    )

    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.conversation.item.create(item=user_text("Hi"))
            user_item = (await events_until(conn, "conversation.item.done"))[-1].item.id
            await conn.response.create()
            done = await events_until(conn, "response.done")
            silent_item = done[-1].response.output[0].id
            errors = []
            for item_id in (user_item, silent_item):
                await conn.conversation.item.truncate(
                    item_id=item_id, content_index=0, audio_end_ms=0
                )
                errors.append((await events_until(conn, "error"))[-1].error)
            return errors

    for error in run(client):
        assert error.type == "invalid_request_error"
        assert error.code == "unsupported_content_type"
        assert error.param is None
        assert error.message == "Only model output audio messages can be truncated"


# -- function calls follow the user's words --------------------------------------------------

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "name": "get_weather", "parameters": CITY}
LOCAL_TIME = {"type": "function", "name": "get_local_time", "parameters": CITY}


def test_two_tools_called_in_parallel_then_both_outputs_answered(emulator: Emulator) -> None:
    async def client() -> tuple[list[Any], list[Any]]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "tools": [WEATHER, LOCAL_TIME],
                }
            )
            await conn.conversation.item.create(
                item=user_text("What's the weather and the local time in Paris?")
            )
            await conn.response.create()
            first = await events_until(conn, "response.done")
            for call in first[-1].response.output:
                answer = {"get_weather": "18C and sunny", "get_local_time": "14:05"}[call.name]
                await conn.conversation.item.create(
                    item={"type": "function_call_output", "call_id": call.call_id, "output": answer}
                )
            await conn.response.create()
            second = await events_until(conn, "response.done")
            return first, second

    first, second = run(client)
    calls = first[-1].response.output
    assert [(call.type, call.name, json.loads(call.arguments)) for call in calls] == [
        ("function_call", "get_weather", {"city": "Paris"}),
        ("function_call", "get_local_time", {"city": "Paris"}),
    ]
    assert len({call.call_id for call in calls}) == 2
    assert [e.output_index for e in first if e.type == "response.output_item.added"] == [0, 1]
    reply = second[-1].response.output[0].content[0].text
    assert reply == "The functions returned: 18C and sunny; 14:05"


@pytest.mark.parametrize(("parallel", "cities"), [(True, ["Paris", "Tokyo"]), (False, ["Paris"])])
def test_one_call_per_city_named_unless_parallel_calls_are_off(
    emulator: Emulator, parallel: bool, cities: list[str]
) -> None:
    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER]}
            )
            await conn.conversation.item.create(
                item=user_text("How is the weather in Paris and Tokyo?")
            )
            await conn.response.create(response={"parallel_tool_calls": parallel})
            return await events_until(conn, "response.done")

    calls = run(client)[-1].response.output
    assert [json.loads(call.arguments)["city"] for call in calls] == cities


def test_the_city_can_come_from_earlier_in_the_conversation(emulator: Emulator) -> None:
    async def client() -> list[Any]:
        async with client_for(emulator).realtime.connect(model=MODEL) as conn:
            await conn.session.update(
                session={"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER]}
            )
            await conn.conversation.item.create(item=user_text("I land in Lisbon tomorrow."))
            await conn.response.create()
            await events_until(conn, "response.done")
            await conn.conversation.item.create(item=user_text("What will the weather be?"))
            await conn.response.create()
            return await events_until(conn, "response.done")

    call = run(client)[-1].response.output[0]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Lisbon"})
