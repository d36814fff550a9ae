"""Messages the session observes nothing of are parsed by the consumer that takes them.

The reader parses errors and the kinds the session tracks (``session.created``,
``response.done``, what a watcher or a receive interceptor wants); a delta goes into the
inbox as it came and becomes a typed event when the application takes it. What the
application sees must not change: the same typed events, in order, the same statistics,
unknown and malformed messages handled as before, nothing lost at a close. On the
in-memory transport and the mock clock; messages are sent as the service writes them
(compact, ``type`` first) and as ``json.dumps`` writes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio.testing

import trio_realtime as rt
from trio_realtime import events as ev

from ._memory import MemoryServer, created, response_created, text_delta
from .test_engine_contracts import session_with_peer

pytestmark = pytest.mark.mock_clock


@pytest.fixture
def server() -> Iterator[MemoryServer]:
    made = MemoryServer(1, greeting=created())
    yield made
    made.close()


def compact(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


async def test_the_reader_leaves_deltas_unparsed_and_the_consumer_gets_them_typed(
    server: MemoryServer,
) -> None:
    async with session_with_peer(server) as (session, peer):
        assert isinstance(await session.__anext__(), ev.SessionCreatedEvent)
        await peer.send(compact(text_delta(1)))
        await peer.send(json.dumps(text_delta(2)))  # '{"type": "...' as json.dumps writes
        await trio.testing.wait_all_tasks_blocked()
        assert list(session.events.buffer) == [compact(text_delta(1)), json.dumps(text_delta(2))]
        assert session.statistics().events_received == 3  # counted as they arrived
        first, second = await session.__anext__(), await session.__anext__()
    assert isinstance(first, ev.ResponseTextDeltaEvent) and first.delta == "d1 "
    assert isinstance(second, ev.ResponseTextDeltaEvent) and second.delta == "d2 "


async def test_what_the_session_tracks_is_parsed_by_the_reader(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        await session.__anext__()
        await peer.send(compact(response_created("resp_9")))
        await peer.send(compact({"type": "error", "error": {"type": "x", "message": "m"}}))
        await trio.testing.wait_all_tasks_blocked()
        assert session.active_response_id == "resp_9"  # observed on arrival, unread
        assert all(not isinstance(item, str) for item in session.events.buffer)


async def test_a_bad_payload_of_a_deferred_type_is_an_unknown_event_counted_as_before(
    server: MemoryServer,
) -> None:
    bad = {"type": "response.output_text.delta", "delta": 5}  # no ids, delta not a string
    async with session_with_peer(server) as (session, peer):
        await session.__anext__()
        await peer.send(compact(bad))
        event = await session.__anext__()
        stats = session.statistics()
    assert isinstance(event, rt.UnknownRealtimeEvent)
    assert event.type == "response.output_text.delta" and event.error is not None
    assert (stats.events_received, stats.unknown_events, stats.frames_skipped) == (2, 1, 0)


async def test_a_broken_message_of_a_deferred_type_is_skipped_as_before(
    server: MemoryServer,
) -> None:
    async with session_with_peer(server) as (session, peer):
        await session.__anext__()
        await peer.send('{"type":"response.output_text.delta", not json')
        await peer.send(compact(text_delta(3)))
        event = await session.__anext__()  # the broken one is skipped, not raised
        stats = session.statistics()
    assert isinstance(event, ev.ResponseTextDeltaEvent) and event.delta == "d3 "
    assert (stats.events_received, stats.frames_skipped) == (2, 1)


async def test_a_receive_interceptor_sees_every_delta_parsed(server: MemoryServer) -> None:
    seen: list[str] = []

    class Hook:
        async def on_receive(self, event: rt.events.RealtimeEvent) -> rt.events.RealtimeEvent:
            seen.append(event.type)
            return event

    async with session_with_peer(server, interceptors=[Hook()]) as (session, peer):
        await peer.send(compact(text_delta(1)))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == ["session.created", "response.output_text.delta"]
        assert all(not isinstance(item, str) for item in session.events.buffer)


async def test_a_watcher_of_a_delta_kind_sees_those_received_after_it(
    server: MemoryServer,
) -> None:
    watched: list[str] = []
    async with session_with_peer(server) as (session, peer):
        await session.__anext__()
        stop = session._watch(
            lambda event: watched.append(event.delta),  # type: ignore[attr-defined]
            frozenset({ev.ResponseTextDeltaEvent}),
        )
        await peer.send(compact(text_delta(1)))
        await trio.testing.wait_all_tasks_blocked()
        stop()
        await peer.send(compact(text_delta(2)))
        await trio.testing.wait_all_tasks_blocked()
        assert watched == ["d1 "]
        assert isinstance(session.events.buffer[-1], str)  # unwatched again: deferred


async def test_deferred_events_nobody_read_are_reported_typed_as_unread(
    server: MemoryServer,
) -> None:
    with pytest.raises(rt.SessionClosed) as info:
        async with session_with_peer(server) as (session, peer):
            await session.__anext__()
            await peer.send(compact(text_delta(1)))
            await peer.send(compact(text_delta(2)))
            peer.close(1011, "boom")
            await trio.sleep_forever()  # never reads again
    unread = info.value.unread
    assert [type(event) for event in unread] == [ev.ResponseTextDeltaEvent] * 2
    assert [event.delta for event in unread] == ["d1 ", "d2 "]  # type: ignore[attr-defined]
