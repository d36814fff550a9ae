"""Audio left out of recordings: a marker of each payload's size, and silence on replay.

What a user relies on: an event keeps everything but its audio, the marker gives the
exact size of the audio it stands for, a replay turns it into silence of that size in the
session's format, and events without audio are left untouched (the same object).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, strategies as st

from trio_realtime._recording import omit_audio, omitted_audio_bytes, restore_audio

AUDIO_EVENTS = [
    ("input_audio_buffer.append", "audio"),
    ("session.input_audio_buffer.append", "audio"),
    ("response.output_audio.delta", "delta"),
    ("session.output_audio.delta", "delta"),
]


@pytest.mark.parametrize(("kind", "field"), AUDIO_EVENTS)
@given(audio=st.binary(max_size=5000), fill=st.sampled_from([b"\x00", b"\xff", b"\xd5"]))
def test_a_payload_becomes_its_size_then_silence_of_that_size(
    kind: str, field: str, audio: bytes, fill: bytes
) -> None:
    event = {"type": kind, "event_id": "event_1", field: base64.b64encode(audio).decode()}
    omitted = omit_audio(event)
    assert omitted_audio_bytes(omitted[field]) == len(audio)
    assert {k: v for k, v in omitted.items() if k != field} == {
        k: v for k, v in event.items() if k != field
    }
    assert omit_audio(omitted) is omitted  # a marker is not audio
    restored = restore_audio(omitted, fill)
    assert base64.b64decode(restored[field]) == fill * len(audio)
    assert restore_audio(event) is event  # real audio is left alone


def test_audio_inside_items_and_responses_is_left_out_too() -> None:
    audio = base64.b64encode(bytes(480)).decode()
    part = {"type": "input_audio", "audio": audio, "transcript": "hi"}
    item = {"id": "item_1", "type": "message", "content": [part, {"type": "input_text"}]}
    created = omit_audio({"type": "conversation.item.create", "item": item})
    assert created["item"]["content"][0] == {**part, "audio": "<480 bytes of audio omitted>"}
    assert created["item"]["content"][1] is item["content"][1]
    assert item["content"][0]["audio"] == audio  # the original is not changed
    done = omit_audio({"type": "response.done", "response": {"id": "r", "output": [item]}})
    assert done["response"]["output"][0]["content"][0]["audio"] == "<480 bytes of audio omitted>"
    assert done["response"]["id"] == "r"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "response.output_text.delta", "delta": "AAAA"},
        {"type": "conversation.item.added", "item": {"content": [{"type": "input_text"}]}},
        {"type": "response.done", "response": {"output": [{"type": "function_call"}]}},
        {"type": "input_audio_buffer.commit"},
    ],
)
def test_events_without_audio_are_returned_as_they_are(event: dict[str, Any]) -> None:
    assert omit_audio(event) is event
    assert restore_audio(event) is event


@pytest.mark.parametrize("value", ["<12 bytes of audio>", "AAAA", "", None, 12])
def test_only_a_marker_has_a_size(value: Any) -> None:
    assert omitted_audio_bytes(value) is None
