"""The emulator's pure parts: the wire tap, VAD, tool arguments, session validation."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import CloseConnection, Message, Ping, Pong, Request, TextMessage

from trio_realtime.audio import silence, voice_like
from trio_realtime.testing import example_arguments
from trio_realtime.testing._apierrors import ApiError
from trio_realtime.testing._arguments import argument_sets, tools_named_in
from trio_realtime.testing._config import apply_session_update, default_realtime_session
from trio_realtime.testing._conversation import Conversation, StreamingAudio
from trio_realtime.testing._vad import VoiceActivityDetector
from trio_realtime.testing._wire import FrameSniffer


def _client_bytes(events: list[Any]) -> bytes:
    client = WSConnection(ConnectionType.CLIENT)
    data = client.send(Request(host="localhost", target="/v1/realtime?model=gpt-realtime"))
    return data + b"".join(_frames(events))


def _frames(events: list[Any]) -> list[bytes]:
    """Frames a client sends, produced by wsproto's own frame encoder (masked)."""
    from wsproto.frame_protocol import FrameProtocol

    protocol = FrameProtocol(client=True, extensions=[])
    frames = []
    for event in events:
        if isinstance(event, Message):
            frames.append(protocol.send_data(event.data, event.message_finished))
        elif isinstance(event, Ping):
            frames.append(protocol.ping(event.payload))
        elif isinstance(event, Pong):
            frames.append(protocol.pong(event.payload))
        elif isinstance(event, CloseConnection):
            frames.append(protocol.close(event.code, event.reason))
    return frames


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 70_000), max_size=4),
    pongs=st.integers(0, 3),
    code=st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1011]) | st.integers(3000, 4999),
    reason=st.text(max_size=20),
    cuts=st.lists(st.integers(0, 400_000), max_size=12),
)
def test_sniffer_finds_close_and_pongs_however_the_bytes_are_split(
    sizes: list[int], pongs: int, code: int, reason: str, cuts: list[int]
) -> None:
    events: list[Any] = [TextMessage(data="x" * size) for size in sizes]
    events += [Pong(payload=b"1234") for _ in range(pongs)]
    events.append(CloseConnection(code=code, reason=reason))
    data = _client_bytes(events)
    sniffer = FrameSniffer()
    for piece in _split(data, cuts):
        sniffer.feed(piece)
    assert sniffer.pongs == pongs
    assert (sniffer.close_code, sniffer.close_reason) == (code, reason)


@settings(max_examples=25, deadline=None)
@given(chunk_ms=st.lists(st.integers(1, 400), min_size=1, max_size=30))
def test_vad_events_do_not_depend_on_chunk_sizes(chunk_ms: list[int]) -> None:
    audio = np.concatenate(
        (silence(400), voice_like(1200), silence(700), voice_like(500), silence(600))
    )

    def run(step_samples: list[int]) -> list[tuple[str, int]]:
        vad = VoiceActivityDetector(sample_rate=24000, silence_duration_ms=500)
        events, start, index = [], 0, 0
        while start < audio.size:
            step = step_samples[index % len(step_samples)]
            events += vad.feed(audio[start : start + step])
            start += step
            index += 1
        return [(event.kind, event.sample) for event in events]

    whole = run([audio.size])
    assert [kind for kind, _ in whole] == ["start", "stop", "start", "stop"]
    assert (400 - 300) * 24 <= whole[0][1] <= (430 - 300) * 24
    assert run([ms * 24 for ms in chunk_ms]) == whole


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "object", "properties": {"city": {"type": "string"}}}, {"city": "San Francisco"}),
        (
            {
                "type": "object",
                "properties": {
                    "unit": {"type": "string", "enum": ["c", "f"]},
                    "count": {"type": "integer", "minimum": 3},
                    "ratio": {"type": "number", "maximum": 0.5},
                    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                    "when": {"type": "string", "format": "date-time"},
                    "on": {"type": ["boolean", "null"]},
                    "extra": {"type": "string"},
                },
                "required": ["unit", "count", "ratio", "tags", "when", "on"],
            },
            {
                "unit": "c",
                "count": 3,
                "ratio": 0.5,
                "tags": ["example", "example"],
                "when": "2025-01-15T12:00:00Z",
                "on": True,
            },
        ),
        (None, {}),
    ],
)
def test_example_arguments(schema: Any, expected: dict[str, Any]) -> None:
    assert example_arguments(schema) == expected


def test_a_rejected_update_leaves_the_session_unchanged() -> None:
    session = default_realtime_session("sess_x", "gpt-realtime", 0)
    before = repr(session)
    with pytest.raises(ApiError) as error:
        apply_session_update(
            session,
            {
                "type": "realtime",
                "instructions": "changed",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
            },
        )
    assert error.value.code == "decimal_above_max_value"
    assert error.value.param == "session.audio.input.turn_detection.threshold"
    assert repr(session) == before


def test_voice_cannot_change_once_assistant_audio_exists() -> None:
    session = default_realtime_session("sess_x", "gpt-realtime", 0)
    update = {"type": "realtime", "audio": {"output": {"voice": "echo"}}}
    assert apply_session_update(session, update)["audio"]["output"]["voice"] == "echo"
    with pytest.raises(ApiError) as error:
        apply_session_update(session, update, has_assistant_audio=True)
    assert error.value.code == "cannot_update_voice"


CITY_UNIT_DAYS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["city", "unit", "days"],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "What does get_weather say for Paris?",
            {"city": "Paris", "unit": "celsius", "days": 1},
        ),
        (
            "The weather in New York City in fahrenheit for 3 days, please.",
            {"city": "New York City", "unit": "fahrenheit", "days": 3},
        ),
        ("Weather for 40 days in Rome", {"city": "Rome", "unit": "celsius", "days": 1}),
        ("what's the weather like?", {"city": "San Francisco", "unit": "celsius", "days": 1}),
    ],
)
def test_arguments_follow_the_users_words(text: str, expected: dict[str, Any]) -> None:
    assert example_arguments(CITY_UNIT_DAYS, text) == expected


def test_arguments_take_emails_urls_and_dates_from_the_text() -> None:
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "url": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "query": {"type": "string"},
        },
    }
    text = "Mail ana@example.org the page https://example.org/a on 2026-03-01"
    assert example_arguments(schema, text) == {
        "email": "ana@example.org",
        "url": "https://example.org/a",
        "date": "2026-03-01",
        "query": text,
    }


def test_tools_are_asked_for_by_their_salient_words() -> None:
    tools = [{"name": "get_weather"}, {"name": "get_local_time"}, {"name": "book_flight"}]
    named = tools_named_in(tools, "What's the weather and the local time in Paris?")
    assert [tool["name"] for tool in named] == ["get_weather", "get_local_time"]
    assert tools_named_in(tools, "Say hello") == []
    assert argument_sets(CITY_UNIT_DAYS, "weather in Paris and Tokyo?") == [
        {"city": "Paris", "unit": "celsius", "days": 1},
        {"city": "Tokyo", "unit": "celsius", "days": 1},
    ]


def test_a_streaming_item_is_truncated_within_what_was_sent() -> None:
    conversation = Conversation()
    conversation.insert({"id": "item_a", "type": "message", "role": "assistant", "content": []})
    stored = conversation.get("item_a")
    assert stored is not None
    with pytest.raises(ApiError) as no_audio:
        conversation.truncate("item_a", 0, 0, 48)
    assert (no_audio.value.code, no_audio.value.param) == ("unsupported_content_type", None)
    stored.streaming = StreamingAudio(content_index=0, bytes_per_ms=48)
    with pytest.raises(ApiError) as none_yet:
        conversation.truncate("item_a", 0, 0, 48)
    assert none_yet.value.message == "Only model output audio messages can be truncated"
    stored.streaming.audio += bytes(500 * 48)
    stored.streaming.transcript += ["Once", " upon", " a", " time"]
    conversation.truncate("item_a", 0, 250, 48)
    part = conversation.retrieve("item_a")["content"][0]
    assert len(base64.b64decode(part["audio"])) == 250 * 48
    assert part["transcript"] == "Once"  # the words wholly within the first half
    with pytest.raises(ApiError) as past:
        conversation.truncate("item_a", 0, 400, 48)
    assert past.value.message == "Audio content of 250ms is already shorter than 400ms"


def test_a_place_named_earlier_in_the_conversation_is_used() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    earlier = ["Thanks.", "I land in Lisbon tomorrow."]
    assert example_arguments(schema, "What's the weather?", earlier=earlier) == {"city": "Lisbon"}
    assert example_arguments(schema, "And in Porto?", earlier=earlier) == {"city": "Porto"}
