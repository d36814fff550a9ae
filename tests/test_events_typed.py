"""Typed all the way down: every nested object the official models type is a model here too.

Each server event (the recorded fixtures, and what the emulator sends in a conversation
with usage, a function call and a transcription) is parsed both by the official
``openai`` models and by ``trio_realtime.events``; wherever the official object holds a
model, ours must hold a :class:`~trio_realtime.events.WireModel`, not a plain dict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openai.types.realtime import RealtimeServerEvent, RealtimeTranslationServerEvent
from pydantic import BaseModel, TypeAdapter

import trio_realtime
from trio_realtime import events as ev
from trio_realtime.testing import open_emulator

from .test_emulator_trio import connect, receive, send

FIXTURES = Path(__file__).parent / "fixtures" / "events"
_OFFICIAL = {
    "server": TypeAdapter(RealtimeServerEvent),
    "translation_server": TypeAdapter(RealtimeTranslationServerEvent),
}


def untyped(official: Any, ours: Any, path: str) -> list[str]:
    """The paths where the official value is a model and ours is not."""
    if isinstance(official, BaseModel):
        if not isinstance(ours, ev.WireModel):
            return [f"{path}: {type(ours).__name__}, officially {type(official).__name__}"]
        found = []
        for name in official.model_fields_set:
            value = getattr(official, name)
            if value is not None:
                found += untyped(value, getattr(ours, name, None), f"{path}.{name}")
        return found
    if isinstance(official, list) and isinstance(ours, list):
        return [
            problem
            for index, (one, other) in enumerate(zip(official, ours, strict=True))
            for problem in untyped(one, other, f"{path}[{index}]")
        ]
    return []


def fixture_events() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for protocol in _OFFICIAL:
        for fixture in json.loads((FIXTURES / f"{protocol}.json").read_text(encoding="utf-8")):
            found.append((protocol, fixture["event"]))
    return found


def check(protocol: str, wire: dict[str, Any]) -> list[str]:
    try:
        official = _OFFICIAL[protocol].validate_python(wire)
    except pydantic.ValidationError:
        return []  # a beta spelling the GA models do not know
    parse = (
        trio_realtime.parse_server_event
        if protocol == "server"
        else ev.parse_translation_server_event
    )
    ours = parse(json.dumps(wire))
    assert not isinstance(ours, ev.UnknownRealtimeEvent), ours.error
    return untyped(official, ours, wire["type"])


@pytest.mark.parametrize(
    ("protocol", "wire"),
    fixture_events(),
    ids=[f"{protocol}:{wire['type']}" for protocol, wire in fixture_events()],
)
def test_recorded_events_are_typed_like_the_official_models(
    protocol: str, wire: dict[str, Any]
) -> None:
    assert check(protocol, wire) == []


def test_cached_token_details_are_a_model() -> None:
    usage = ev.Usage.model_validate(
        {"input_token_details": {"cached_tokens_details": {"audio_tokens": 3, "text_tokens": 1}}}
    )
    assert usage.input_token_details is not None
    cached = usage.input_token_details.cached_tokens_details
    assert isinstance(cached, ev.CachedTokenDetails)
    assert cached.audio_tokens == 3


async def test_the_emulators_events_are_typed_like_the_official_models() -> None:
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    async with (
        open_emulator() as emulator,
        connect(f"{emulator.url}/realtime?model=gpt-realtime") as ws,
    ):
        received = [await receive(ws)]
        await send(
            ws,
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "tools": [weather],
                    "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
                },
            },
        )
        for text in ("Hello", "What does get_weather say for Paris?"):
            await send(
                ws,
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                },
            )
            await send(ws, {"type": "response.create"})
            received.append(await receive(ws))
            while received[-1]["type"] != "rate_limits.updated":
                received.append(await receive(ws))
    assert {"response.done", "response.function_call_arguments.done"} <= {
        event["type"] for event in received
    }
    assert [problem for wire in received for problem in check("server", wire)] == []
