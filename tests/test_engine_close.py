"""Nothing received is lost at a close: against an independent server, on Trio and asyncio.

The server (``tests/_wsserver.py``, websockets' sans-I/O protocol, not the emulator) sends
three events and then ends the connection: a close 1011, a close 1000, or a TCP drop with
no close frame. A consumer in ``async for`` gets all three in order and then the end
(``SessionClosed`` with the code, or the end of iteration for 1000), whether it was parked
waiting or busy between events when the close arrived. A body that reads nothing learns of
the end by cancellation, and the exception carries the events it never read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

import trio_realtime as rt
from trio_realtime import events as ev

from ._wsserver import Peer, Script, created, serve

pytestmark = pytest.mark.parametrize("anyio_backend", ["trio", "asyncio"])


def _delta(n: int) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "event_id": f"event_{n}",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": str(n),
    }


def _three_then(end: Callable[[Peer], Awaitable[None]]) -> Script:
    """Greet, wait for the client's go (``response.create``), send three deltas, then ``end``."""

    async def script(peer: Peer) -> None:
        await peer.accept(created())
        await peer.wait_for("response.create")
        for n in range(3):
            await peer.send(_delta(n))
        await end(peer)

    return script


async def _close_1011(peer: Peer) -> None:
    await peer.close(1011, "server_error")


async def _close_1000(peer: Peer) -> None:
    await peer.close(1000)


async def _drop(peer: Peer) -> None:
    await peer.drop()


async def _until_ended(session: rt.RealtimeSession) -> None:
    """Wait (checkpoint by checkpoint, bounded by the test's deadline) for the end to arrive."""
    while not session.events.ended:
        await anyio.lowlevel.checkpoint()


async def _converse(url: str, *, busy: bool) -> list[str]:
    """Ask for the three events and read them all; ``busy``: work between events while the
    close arrives (the end is in the inbox before the consumer comes back for event 2)."""
    deltas: list[str] = []
    async with rt.open_realtime_session(url=url, api_key="sk-test", heartbeat=None) as session:
        await session.send(ev.ResponseCreateEvent())
        async for event in session:
            if isinstance(event, ev.ResponseTextDeltaEvent):
                deltas.append(event.delta)
                if busy and len(deltas) == 1:
                    await _until_ended(session)
    return deltas


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
@pytest.mark.parametrize(
    ("end", "code"), [(_close_1011, 1011), (_drop, 1006)], ids=["close-1011", "drop"]
)
async def test_events_before_a_failing_close_are_all_delivered_then_the_failure(
    end: Callable[[Peer], Awaitable[None]], code: int, busy: bool
) -> None:
    got: list[str] = []

    async def converse(url: str) -> None:
        async with rt.open_realtime_session(url=url, api_key="sk-test", heartbeat=None) as s:
            await s.send(ev.ResponseCreateEvent())
            async for event in s:
                if isinstance(event, ev.ResponseTextDeltaEvent):
                    got.append(event.delta)
                    if busy and len(got) == 1:
                        await _until_ended(s)

    async with serve(_three_then(end)) as url:
        with pytest.raises(rt.SessionClosed) as info:
            await converse(url)
    assert got == ["0", "1", "2"]
    assert info.value.code == code
    assert info.value.unread == ()


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
async def test_events_before_a_normal_close_are_all_delivered_then_iteration_ends(
    busy: bool,
) -> None:
    async with serve(_three_then(_close_1000)) as url:
        assert await _converse(url, busy=busy) == ["0", "1", "2"]


async def test_a_body_that_reads_nothing_is_cancelled_and_told_what_it_missed() -> None:
    async with serve(_three_then(_close_1011)) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with rt.open_realtime_session(
                url=url, api_key="sk-test", heartbeat=None
            ) as session:
                await session.send(ev.ResponseCreateEvent())
                await anyio.sleep_forever()
    unread = [e.delta for e in info.value.unread if isinstance(e, ev.ResponseTextDeltaEvent)]
    assert unread == ["0", "1", "2"]
    assert info.value.code == 1011


async def test_a_body_that_stops_reading_is_cancelled_after_the_close_timeout() -> None:
    async with serve(_three_then(_close_1011)) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with rt.open_realtime_session(
                url=url, api_key="sk-test", heartbeat=None, close_timeout=0.2
            ) as session:
                await session.send(ev.ResponseCreateEvent())
                async for event in session:
                    if isinstance(event, ev.ResponseTextDeltaEvent):
                        await anyio.sleep_forever()  # stuck elsewhere after the first delta
    unread = [e.delta for e in info.value.unread if isinstance(e, ev.ResponseTextDeltaEvent)]
    assert unread == ["1", "2"]


async def test_a_helper_waiting_for_its_reply_gets_the_failure_promptly() -> None:
    async def script(peer: Peer) -> None:
        await peer.accept(created())
        await peer.wait_for("session.update")
        await peer.close(1011, "server_error")  # the update is never answered

    async with serve(script) as url:
        with pytest.raises(rt.SessionClosed) as info:
            async with rt.open_realtime_session(
                url=url, api_key="sk-test", heartbeat=None
            ) as session:
                await session.update_session(instructions="be brief")
    assert info.value.code == 1011


async def test_audio_waiting_for_room_gets_the_failure_promptly() -> None:
    async def script(peer: Peer) -> None:
        await peer.accept(created())
        await peer.wait_for("response.create")
        await peer.close(1011, "server_error")

    async with serve(script) as url:
        with pytest.raises(rt.SessionClosed):
            async with rt.open_realtime_session(
                url=url, api_key="sk-test", heartbeat=None, audio_buffer_ms=200
            ) as session:
                await session.send(ev.ResponseCreateEvent())
                silence = bytes(48000)  # 1 s at 24 kHz: more than the lane holds at once
                while True:
                    await session.append_audio(silence)
