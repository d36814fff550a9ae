"""The same session guarantees on every backend and transport, proven by the same tests.

Each test runs four times: Trio with the ``websockets`` transport (the default), Trio
with ``trio-websocket``, asyncio with ``websockets``, and the same on uvloop's event loop
(as uvicorn runs asyncio when uvloop is installed). The server is always the
emulator: in the test's own loop on Trio (``open_emulator``), on a thread of its own for
asyncio (``run_emulator_in_thread``). :func:`running_emulator` also checks, on the way
out, that no task and no socket outlived the test (and ``-W error::ResourceWarning``
turns an unclosed socket into a failure).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import pydantic
import pytest
import sniffio
import trio
import trio.testing
from openai.types.realtime import RealtimeClientEvent

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime.testing import (
    BrainReply,
    BrainRequest,
    Emulator,
    Faults,
    open_emulator,
    run_emulator_in_thread,
)

COMBINATIONS = [
    pytest.param("trio", "websockets", id="trio-websockets"),
    pytest.param("trio", "trio-websocket", id="trio-trio_websocket"),
    pytest.param("asyncio", "websockets", id="asyncio-websockets"),
    pytest.param(
        ("asyncio", {"use_uvloop": True}),
        "websockets",
        id="uvloop-websockets",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
        ),
    ),
]
pytestmark = pytest.mark.parametrize(("anyio_backend", "transport"), COMBINATIONS)

TEXT = ev.SessionConfig(output_modalities=["text"])
OFFICIAL_CLIENT_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeClientEvent)


def _live_tasks() -> set[object]:
    if sniffio.current_async_library() == "trio":
        tasks: set[object] = set()
        stack = [trio.lowlevel.current_root_task()]
        while stack:
            task = stack.pop()
            if task is not None:
                tasks.add(task)
                for nursery in task.child_nurseries:
                    stack.extend(nursery.child_tasks)
        return tasks
    return {task for task in asyncio.all_tasks() if not task.done()}


def _open_sockets() -> set[str]:
    """Descriptors of open sockets (Linux); empty where /proc is not available."""
    if not os.path.isdir("/proc/self/fd"):
        return set()
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(f"{name}->{target}")
    return found


@asynccontextmanager
async def running_emulator(**options: Any) -> AsyncIterator[Emulator]:
    """The emulator for the running backend; on exit, checks nothing leaked.

    Trio: in this loop. asyncio: on its own thread (entered and left from a worker
    thread, so this loop keeps running meanwhile).
    """
    tasks_before = _live_tasks()
    sockets_before = _open_sockets()
    if sniffio.current_async_library() == "trio":
        async with open_emulator(**options) as emulator:
            yield emulator
    else:
        manager = run_emulator_in_thread(**options)
        emulator = await anyio.to_thread.run_sync(manager.__enter__)
        try:
            yield emulator
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(manager.__exit__, None, None, None)
    await anyio.lowlevel.checkpoint()
    assert _live_tasks() - tasks_before == set(), "a task outlived the test"
    assert _open_sockets() - sockets_before == set(), "a socket outlived the test"


def open_session(emulator: Emulator, transport: str, **options: Any) -> Any:
    options.setdefault("api_key", "sk-test")
    return rt.open_realtime_session(
        "gpt-realtime", url=emulator.url, transport=transport, **options
    )


async def reply_text(session: rt.RealtimeSession) -> str:
    """Collect text deltas until response.done."""
    text = []
    async for event in session:
        if isinstance(event, ev.ResponseTextDeltaEvent):
            text.append(event.delta)
        elif isinstance(event, ev.ResponseDoneEvent):
            assert event.response.status == "completed"
            return "".join(text)
    raise AssertionError("the session ended before response.done")


async def test_text_conversation(transport: str) -> None:
    async with running_emulator() as emulator:
        async with open_session(emulator, transport, session=TEXT) as session:
            assert session.session_id is not None and session.session_id.startswith("sess_")
            await session.send_user_message("Say hello")
            assert "Say hello" in await reply_text(session)
            stats = session.statistics()
            connection = emulator.connections[0]
            assert stats.events_sent == len(connection.received)  # the reply came: all read
        assert connection.received_close_code == 1000
        assert stats.frames_skipped == 0
        assert stats.bytes_received > 0 and stats.bytes_sent > 0


async def test_every_helper_frame_is_accepted_by_the_official_models(transport: str) -> None:
    async with running_emulator() as emulator:
        async with open_session(emulator, transport, session=TEXT) as session:
            await session.update_session(instructions="Be brief.")
            await session.send_user_message("first", create_response=False)
            await session.create_response(instructions="One word.", max_output_tokens=20)
            await reply_text(session)
            item_id = next(
                str(sent["item"]["id"])
                for sent in emulator.connections[0].sent
                if sent["type"] == "conversation.item.added"
            )
            item = await session.retrieve_item(item_id)
            assert isinstance(item, ev.UserMessageItem)
            await session.create_item(
                ev.AssistantMessageItem(content=[ev.ContentPart(type="output_text", text="ok")]),
                previous_item_id="root",
            )
            await session.send_function_output("call_123", {"temperature": 21})
            await session.append_audio(audio.pcm16_bytes(audio.tone(440, 250)))
            await session.commit_audio()
            await session.clear_audio()
            await session.cancel_response()
            await session.truncate_item(item_id, 0, 0)
            await session.delete_item(item_id)
            await session.send({"type": "response.create", "response": {"conversation": "none"}})
            await session.update_session(instructions="done")  # the server read all before it
        connection = emulator.connections[0]
        assert connection.received_close_code == 1000
    kinds = set()
    for event in connection.received:
        assert not isinstance(event, rt.UnknownRealtimeEvent), event
        OFFICIAL_CLIENT_EVENT.validate_python(event.to_dict())
        kinds.add(event.type)
    assert kinds >= {
        "session.update",
        "conversation.item.create",
        "conversation.item.retrieve",
        "response.create",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "response.cancel",
        "conversation.item.truncate",
        "conversation.item.delete",
    }


@pytest.mark.parametrize("code", [1000, 4000])
async def test_server_close_1000_ends_iteration_4000_raises(transport: str, code: int) -> None:
    faults = Faults(close_after_events=2, close_code=code, close_reason="why")
    async with running_emulator(faults=faults) as emulator:
        try:
            async with open_session(emulator, transport, session=TEXT) as session:
                events = [event async for event in session]
        except rt.SessionClosed as exc:
            assert code == 4000
            assert (exc.code, exc.reason) == (4000, "why")
            assert type(exc) is rt.SessionClosed
        else:
            assert code == 1000
            assert [type(e).__name__ for e in events] == [
                "SessionCreatedEvent",
                "SessionUpdatedEvent",
            ]


async def test_wrong_key_is_authentication_error(transport: str) -> None:
    async with running_emulator(api_key="sk-right") as emulator:
        with pytest.raises(rt.AuthenticationError) as info:
            async with open_session(emulator, transport, api_key="sk-wrong-secret-value"):
                pytest.fail("the block must not run")
    assert type(info.value) is rt.AuthenticationError
    assert "sk-wrong-secret-value" not in str(info.value)
    assert "sk-wrong-secret-value" not in repr(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.deadline(5)
async def test_refused_connection_is_reported_fast(transport: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = anyio.current_time()
    with pytest.raises(rt.ConnectError) as info:
        async with rt.open_realtime_session(
            api_key="k",
            url=f"ws://127.0.0.1:{port}/v1",
            connect_timeout=60,
            transport=transport,
        ):
            pytest.fail("the block must not run")
    assert type(info.value) is rt.ConnectError
    assert anyio.current_time() - start < 5


async def test_heartbeat_timeout_with_a_stalled_peer(transport: str) -> None:
    async with running_emulator(faults=Faults(stall_after_events=0)) as emulator:
        start = anyio.current_time()
        with pytest.raises(rt.HeartbeatTimeout) as info:
            async with open_session(
                emulator,
                transport,
                heartbeat=rt.Heartbeat(interval=0.2, timeout=0.3),
                close_timeout=0.5,
            ) as session:
                async for _ in session:
                    pass
        assert type(info.value) is rt.HeartbeatTimeout
        assert anyio.current_time() - start < 0.2 + 0.3 + 0.5 + 2  # detection + bounded close


REPLY_AUDIO = np.tile(audio.voice_like(10_000), 12)
"""Two minutes of reply audio: about 7.7 MB of deltas, more than loopback TCP buffers hold."""


def long_reply(request: BrainRequest) -> BrainReply:
    return BrainReply(text="x" * 2000, audio=REPLY_AUDIO)


async def _wait_until_stalled(session: rt.RealtimeSession, emulator: Emulator) -> None:
    """Wait until the reader is parked on the full events stream.

    Whatever the server does after that, TCP bounds what it can have sent: the test's
    assertion holds at any moment from then on, so no waiting for the server is needed
    (on asyncio it runs on another thread, where no event here could tell it is stuck).
    """
    if sniffio.current_async_library() == "trio":
        await trio.testing.wait_all_tasks_blocked(cushion=0.2)
        return
    with anyio.fail_after(10):
        while session.statistics().events_buffered < 32:
            await anyio.wait_all_tasks_blocked()


async def test_a_consumer_that_stops_reading_pushes_back_on_the_server(transport: str) -> None:
    async with running_emulator(brain=long_reply) as emulator:
        async with open_session(emulator, transport, event_buffer=32) as session:
            await session.create_response()
            await _wait_until_stalled(session, emulator)
            assert session.statistics().events_buffered == 32
            total_deltas = len(REPLY_AUDIO) // 2400
            assert len(emulator.connections[0].sent) < total_deltas
            deltas = 0
            async for event in session:
                if isinstance(event, ev.ResponseAudioDeltaEvent):
                    deltas += 1
                if isinstance(event, ev.ResponseDoneEvent):
                    break
            assert deltas >= total_deltas
            assert session.statistics().peak_events_buffered == 32


class Boom(Exception):
    pass


@pytest.mark.parametrize("stage", ["receiving", "waiting_reply"])
@pytest.mark.parametrize("how", ["cancel", "error"])
async def test_outer_cancellation_and_user_errors_still_close_with_1000(
    transport: str, how: str, stage: str
) -> None:
    async def body(session: rt.RealtimeSession, emulator: Emulator) -> None:
        await session.receive()
        if stage == "waiting_reply":
            emulator.connections[0].faults.delay_s = 5  # the reply is slow in coming
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(session.update_session, ev.SessionConfig(instructions="x"))
                await anyio.wait_all_tasks_blocked()
                if how == "error":
                    raise Boom
                await anyio.sleep_forever()
        if how == "error":
            raise Boom
        await anyio.sleep_forever()

    async with running_emulator() as emulator:
        raised: BaseException | None = None
        with anyio.move_on_after(0.5 if how == "cancel" else 10) as scope:
            try:
                async with open_session(emulator, transport, close_timeout=2) as session:
                    await body(session, emulator)
            except BaseException as exc:
                raised = exc
                if not isinstance(exc, Boom | BaseExceptionGroup):
                    raise
        assert scope.cancelled_caught == (how == "cancel")
        if how == "error":
            if stage == "receiving":
                assert type(raised) is Boom  # unchanged, never a group
            else:  # the test's own task group wraps it; the session added nothing
                assert isinstance(raised, BaseExceptionGroup)
                assert raised.split(Boom)[1] is None
        assert emulator.connections[0].received_close_code == 1000
