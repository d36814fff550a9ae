"""Small contracts a user meets first: on the in-memory transport and the mock clock.

Two producers waiting for audio room both finish; a duck-typed interceptor with one hook
works and an object with none is refused by name; every ``append_audio`` and ``__anext__``
is a cancel point that loses nothing; an exception while handling a received message ends
the session with a library error carrying it; unknown options are named.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import trio_realtime as rt
from trio_realtime import events as ev

from ._memory import MemoryPeer, MemoryServer, created, text_delta

pytestmark = pytest.mark.mock_clock


@pytest.fixture
def server() -> Iterator[MemoryServer]:
    made = MemoryServer(1, greeting=created())
    yield made
    made.close()


@asynccontextmanager
async def session_with_peer(
    server: MemoryServer, **options: Any
) -> AsyncIterator[tuple[rt.RealtimeSession, MemoryPeer]]:
    async with rt.open_realtime_session(
        "gpt-realtime", api_key="sk-test", transport=server.connect, heartbeat=None, **options
    ) as session:
        yield session, server.peers[-1]


async def test_two_producers_waiting_for_audio_room_both_finish(server: MemoryServer) -> None:
    second = bytes(24000 * 2)  # 1 s of PCM16 at 24 kHz
    finished: list[str] = []
    async with session_with_peer(server, audio_buffer_ms=300) as (session, peer):

        async def producer(name: str) -> None:
            await session.append_audio(second)
            finished.append(name)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer, "first")
            nursery.start_soon(producer, "second")
            await trio.testing.wait_all_tasks_blocked()
            assert finished == []  # the server reads nothing: both wait for room
            frames = 0
            while len(finished) < 2:
                await peer.receive()
                frames += 1
                await trio.testing.wait_all_tasks_blocked()
        assert sorted(finished) == ["first", "second"]
        while frames < 20:  # the rest of the 2 s, 100 ms an append
            assert (await peer.receive())["type"] == "input_audio_buffer.append"
            frames += 1
        await trio.testing.wait_all_tasks_blocked()
        assert peer.pending() == 0


class OnlyReceive:
    """An interceptor that is not an Interceptor: one hook, nothing else."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_receive(self, event: rt.events.RealtimeEvent) -> rt.events.RealtimeEvent:
        self.seen.append(event.type)
        return event


async def test_a_duck_typed_interceptor_with_only_on_receive_works(server: MemoryServer) -> None:
    hook = OnlyReceive()
    async with session_with_peer(server, interceptors=[hook]) as (session, peer):
        await peer.send(text_delta(0))
        async for event in session:
            if isinstance(event, ev.ResponseTextDeltaEvent):
                break
    assert hook.seen == ["session.created", "response.output_text.delta"]


async def test_an_object_with_no_hook_is_refused_by_name(server: MemoryServer) -> None:
    with pytest.raises(TypeError, match="on_connect, on_send, on_receive, on_close"):
        async with session_with_peer(server, interceptors=[object()]):
            pass  # pragma: no cover


async def test_every_append_audio_is_a_cancel_point_even_with_nothing_to_send(
    server: MemoryServer,
) -> None:
    async with session_with_peer(server) as (session, _):
        with trio.CancelScope() as scope:
            scope.cancel()
            await session.append_audio(b"")
            pytest.fail("append_audio(b'') did not check for cancellation")  # pragma: no cover
        assert scope.cancelled_caught


async def test_a_cancelled_anext_loses_no_event(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        await peer.send(text_delta(7))
        await trio.testing.wait_all_tasks_blocked()
        with trio.CancelScope() as scope:
            scope.cancel()
            await session.__anext__()
        assert scope.cancelled_caught
        event = await session.__anext__()
        assert isinstance(event, ev.SessionCreatedEvent)
        event = await session.__anext__()
        assert isinstance(event, ev.ResponseTextDeltaEvent) and event.delta == "d7 "


async def test_a_bug_while_handling_an_event_ends_the_session_with_a_library_error(
    server: MemoryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: rt.RealtimeSession, event: rt.events.RealtimeEvent) -> None:
        if isinstance(event, ev.ResponseCreatedEvent):
            raise KeyError("boom")
        original(self, event)

    original = rt.RealtimeSession._observe
    monkeypatch.setattr(rt.RealtimeSession, "_observe", broken)
    with pytest.raises(rt.RealtimeError, match="KeyError") as info:
        async with session_with_peer(server) as (session, peer):
            await peer.send({"type": "response.created", "response": {"id": "resp_1"}})
            async for _ in session:
                pass
    assert isinstance(info.value.__cause__, KeyError)


async def test_an_unknown_option_is_named_with_the_valid_ones() -> None:
    with pytest.raises(TypeError, match=r"unknown option heartbeet; the options are: .*heartbeat"):
        async with rt.open_realtime_session(heartbeet=None):  # type: ignore[call-arg]
            pass  # pragma: no cover
    with pytest.raises(TypeError, match="base_url"):
        rt.RealtimeClient(url="ws://x")  # type: ignore[call-arg]


async def test_the_options_reach_the_session_from_the_client(server: MemoryServer) -> None:
    client = rt.RealtimeClient(
        api_key="sk-test", transport=server.connect, heartbeat=None, event_buffer=3
    )
    async with client.connect("gpt-realtime") as session:
        assert session.statistics().event_buffer_size == 3
    async with client.connect("gpt-realtime", event_buffer=5) as session:
        assert session.statistics().event_buffer_size == 5
