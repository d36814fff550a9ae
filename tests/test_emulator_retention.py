"""Retention: what the emulator keeps of each connection, and that it lets go of the rest.

What a user relies on: with ``open_emulator``'s defaults a test inspects every event a
connection received and sent while it is open (audio as sizes unless asked for); a
long-running server keeps counts and the timeline only; a closed connection beyond the
ones kept, and a closed session's state, are freed (checked with weak references after a
collection, so the test cannot pass by luck of timing). The RSS figure of three long
sessions against ``trio-realtime serve`` is measured by bench/emulator.py.
"""

from __future__ import annotations

import base64
import gc
import weakref
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketConnection

from trio_realtime import events as ev
from trio_realtime._recording import omitted_audio_bytes
from trio_realtime.testing import EmulatorConnection, Retention, open_emulator

from .test_emulator_trio import connect, receive, send

REALTIME = "/realtime?model=gpt-realtime"
CHUNK = bytes(range(256)) * 19  # 4864 bytes: 101 ms of 24 kHz PCM16
MANUAL = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


async def one_turn(url: str, chunks: int = 3) -> list[dict[str, Any]]:
    """A session of :func:`turn`; returns what the client received."""
    async with connect(url + REALTIME) as ws:
        return await turn(ws, chunks)


async def turn(ws: WebSocketConnection, chunks: int) -> list[dict[str, Any]]:
    """Manual turns, ``chunks`` appends, a commit and an audio response."""
    received = [await receive(ws)]
    await send(ws, {"type": "session.update", "session": MANUAL})
    for _ in range(chunks):
        audio = base64.b64encode(CHUNK).decode("ascii")
        await send(ws, {"type": "input_audio_buffer.append", "audio": audio})
    await send(ws, {"type": "input_audio_buffer.commit"})
    await send(ws, {"type": "response.create"})
    while received[-1]["type"] != "response.done":
        received.append(await receive(ws))
    return received


async def test_open_emulator_keeps_every_event_both_ways_while_open() -> None:
    async with open_emulator(ping_interval=None) as emulator:
        async with connect(emulator.url + REALTIME) as ws:
            received = await turn(ws, chunks=1)
            connection = emulator.connections[0]
            assert not connection.closed.is_set()
            # Every client event, parsed, in order; the audio payload kept as its size.
            assert [event.type for event in connection.received] == [
                "session.update",
                "input_audio_buffer.append",
                "input_audio_buffer.commit",
                "response.create",
            ]
            append = connection.received[1]
            assert isinstance(append, ev.InputAudioBufferAppendEvent)
            assert omitted_audio_bytes(append.audio) == len(CHUNK)
            # Every event sent, in order, the same ones the client read (audio as sizes).
            assert [event["type"] for event in connection.sent][: len(received)] == [
                event["type"] for event in received
            ]
            deltas = [e for e in connection.sent if e["type"] == "response.output_audio.delta"]
            client_deltas = [e for e in received if e["type"] == "response.output_audio.delta"]
            assert len(deltas) == len(client_deltas) > 0
            for kept, live in zip(deltas, client_deltas, strict=True):
                assert omitted_audio_bytes(kept["delta"]) == len(base64.b64decode(live["delta"]))
                assert {k: v for k, v in kept.items() if k != "delta"} == {
                    k: v for k, v in live.items() if k != "delta"
                }
            statistics = connection.statistics()
            assert statistics.events_received == 4
            assert statistics.events_sent >= len(received)
            assert statistics.input_audio_bytes == len(CHUNK)
            timeline = connection.timeline()
            assert [entry.type for entry in timeline if entry.dir == "send"] == [
                event.type for event in connection.received
            ]
            assert all(entry.size > 0 for entry in timeline)
            assert [entry.t for entry in timeline] == sorted(entry.t for entry in timeline)


async def test_audio_payloads_are_kept_when_asked_for() -> None:
    async with open_emulator(ping_interval=None, retention=Retention(audio=True)) as emulator:
        received = await one_turn(emulator.url, chunks=1)
        connection = emulator.connections[0]
        await connection.closed.wait()
    append = connection.received[1]
    assert isinstance(append, ev.InputAudioBufferAppendEvent)
    assert base64.b64decode(append.audio) == CHUNK
    live = [e["delta"] for e in received if e["type"] == "response.output_audio.delta"]
    kept = [e["delta"] for e in connection.sent if e["type"] == "response.output_audio.delta"]
    assert kept == live


async def test_a_server_retention_keeps_counts_and_the_timeline_only() -> None:
    async with open_emulator(ping_interval=None, retention=Retention(events=False)) as emulator:
        received = await one_turn(emulator.url)
        connection = emulator.connections[0]
        await connection.closed.wait()
    assert connection.received == [] and connection.sent == []
    statistics = connection.statistics()
    assert statistics.events_received == 6
    assert statistics.events_sent >= len(received)
    assert connection.sent_types()[: len(received)] == [event["type"] for event in received]
    assert len(connection.timeline()) == statistics.events_received + statistics.events_sent
    with pytest.raises(LookupError, match="kept no events"):
        connection.recording()
    assert emulator.statistics().events_received == 6


async def test_closed_connections_beyond_the_kept_ones_are_let_go_and_freed() -> None:
    retention = Retention(closed_connections=2)
    async with open_emulator(ping_interval=None, retention=retention) as emulator:
        refs: list[weakref.ref[EmulatorConnection]] = []
        for _ in range(5):
            await one_turn(emulator.url)
            connection = await emulator.wait_connection(len(refs) + 1)
            await connection.closed.wait()
            refs.append(weakref.ref(connection))
            del connection
        gc.collect()
        assert [c.number for c in emulator.connections] == [4, 5]
        assert [ref() is None for ref in refs] == [True, True, True, False, False]
        with pytest.raises(LookupError, match="connection #1 closed and was let go"):
            await emulator.wait_connection(1)
        statistics = emulator.statistics()
        assert statistics.connections_accepted == 5
        assert statistics.connections_open == 0
        assert statistics.connections_kept == 2
        assert statistics.events_received == 5 * 6
        assert statistics.input_audio_bytes == 5 * 3 * len(CHUNK)


async def test_a_connection_the_user_still_holds_stays_readable() -> None:
    async with open_emulator(ping_interval=None, retention=Retention(closed_connections=0)) as e:
        await one_turn(e.url)
        held = await e.wait_connection(1)
        await held.closed.wait()
        assert e.connections == []
    assert len(held.received) == 6
    assert held.statistics().events_received == 6


async def test_a_closed_session_lets_go_of_its_conversation_and_audio() -> None:
    async with open_emulator(ping_interval=None) as emulator:
        async with connect(emulator.url + REALTIME) as ws:
            await receive(ws)
            await send(ws, {"type": "session.update", "session": MANUAL})
            assert (await receive(ws))["type"] == "session.updated"
            connection = emulator.connections[0]
            assert connection._session_config is not None
            live_session = weakref.ref(connection._session_config.__self__)  # type: ignore[attr-defined]
            assert live_session() is not None
        await connection.closed.wait()
        gc.collect()
        assert live_session() is None  # items, audio and buffers went with it
        session = connection.session  # the last configuration stays readable
        assert isinstance(session, ev.SessionConfig)
        assert session.audio is not None and session.audio.input is not None
        assert session.audio.input.turn_detection is None


def test_retention_rejects_a_negative_count() -> None:
    with pytest.raises(ValueError, match="closed_connections"):
        Retention(closed_connections=-1)


async def test_wait_for_sees_new_events_without_keeping_them() -> None:
    async with open_emulator(ping_interval=None, retention=Retention(events=False)) as emulator:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(one_turn, emulator.url)
            connection = await emulator.wait_connection(1)
            event = await connection.wait_for(ev.InputAudioBufferCommitEvent)
            assert event.type == "input_audio_buffer.commit"
        assert connection.received == []
