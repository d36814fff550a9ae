"""The emulator against the unmodified official ``openai`` client (asyncio).

The emulator runs on its own Trio loop in a thread (``run_emulator_in_thread``); each
test drives the official client with ``asyncio.run`` under an ``asyncio.timeout``
deadline. After every test, each frame the emulator sent is validated against the
official client's own models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import openai
import pytest
from openai.types.realtime import RealtimeServerEvent, RealtimeTranslationServerEvent
from pydantic import TypeAdapter

from trio_realtime.testing import (
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
