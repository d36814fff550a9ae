"""Thread-safe control of ``run_emulator_in_thread``: from asyncio, another trio.run, a thread.

What a user relies on: from a thread that is not the emulator's, they can wait for the
n-th connection and for an event, place faults, wait for a close and stop the emulator;
from an asyncio test and from inside another ``trio.run`` the waits are awaitable (the
loop keeps running), a cancelled wait is cancelled in the emulator's thread too, and
leaving the block stops the thread cleanly; a plain thread gets blocking twins with
timeouts. Deadlines: ``asyncio.timeout`` / the Trio test deadline, and every blocking
call's ``timeout``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
import trio
import trio.testing
import websockets

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime.testing import EmulatorThread, Faults, run_emulator_in_thread

DEADLINE = 30.0
REASON = "invalid_request_error.placed_fault"
AUTH = {"Authorization": "Bearer sk-test"}


def emulator_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "trio-realtime-emulator"}


async def asyncio_client(
    url: str, events: list[dict[str, Any]], go: asyncio.Event | None = None
) -> tuple[int, str]:
    """Update the session and ask for a response (once ``go`` is set); read until the
    server closes."""
    target = f"{url}/realtime?model=gpt-realtime"
    async with websockets.connect(target, additional_headers=AUTH) as ws:
        try:
            events.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
            events.append(json.loads(await ws.recv()))
            if go is not None:
                await go.wait()
            await ws.send(json.dumps({"type": "response.create"}))
            while True:
                events.append(json.loads(await ws.recv()))
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


def test_an_asyncio_test_waits_places_faults_and_stops() -> None:
    before = emulator_threads()

    async def main() -> None:
        async with run_emulator_in_thread(ping_interval=None) as emulator:
            assert isinstance(emulator, EmulatorThread)
            events: list[dict[str, Any]] = []
            placed = asyncio.Event()  # the response is asked for once the fault is placed
            client = asyncio.create_task(asyncio_client(emulator.url, events, placed))
            connection = await emulator.wait_connection(1)
            update = await emulator.wait_for(connection, ev.SessionUpdateEvent)
            assert update.type == "session.update"
            # A fault placed on the open connection: close after the third event sent.
            emulator.set_faults(
                Faults(close_after_events=3, close_code=4000, close_reason=REASON),
                connection=connection,
            )
            placed.set()
            assert await client == (4000, REASON)
            assert [event["type"] for event in events] == [
                "session.created",
                "session.updated",
                "response.created",
            ]
            closed = await emulator.wait_closed(1)
            assert closed is connection and closed.closed_by == "server"
            # A fault for connections accepted from now on.
            emulator.set_faults(Faults(close_after_events=1, close_code=4000, close_reason=REASON))
            assert await asyncio_client(emulator.url, []) == (4000, REASON)
            assert emulator.faults.close_after_events == 1
            # A wait bounded the asyncio way; the job in the emulator's thread goes too.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await emulator.wait_connection(3)
            assert emulator.statistics().connections_accepted == 2
        assert emulator_threads() == before

    asyncio.run(asyncio.wait_for(main(), DEADLINE))


async def test_inside_another_trio_run_the_waits_are_awaitable_and_stop_is_clean() -> None:
    before = emulator_threads()
    with run_emulator_in_thread(ping_interval=None) as emulator:
        async with rt.open_realtime_session(
            "gpt-realtime", api_key="sk-test", url=emulator.url
        ) as session:
            connection = await emulator.wait_connection()
            await session.send_user_message("hello", create_response=False)
            created = await emulator.wait_for(connection, ev.ConversationItemCreateEvent)
            assert isinstance(created, ev.ConversationItemCreateEvent)

            # Cancelling a wait in this loop cancels it in the emulator's thread.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(emulator.wait_for, connection, ev.ResponseCancelEvent)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
        closed = await emulator.wait_closed(connection)
        assert (closed.closed_by, closed.received_close_code) == ("client", 1000)
    # Leaving the block from inside trio.run stopped the thread (no RuntimeError).
    assert emulator_threads() == before


async def test_async_with_from_trio_stops_without_blocking_the_loop() -> None:
    before = emulator_threads()
    async with run_emulator_in_thread(ping_interval=None) as emulator:
        async with rt.open_realtime_session("gpt-realtime", api_key="sk", url=emulator.url):
            assert (await emulator.wait_connection(1)).number == 1
    assert emulator_threads() == before
    await emulator.aclose()  # idempotent
    emulator.stop()


def test_a_plain_thread_gets_blocking_waits_with_timeouts() -> None:
    with run_emulator_in_thread(ping_interval=None) as emulator:
        with pytest.raises(TimeoutError, match="connection #1"):
            emulator.wait_connection_blocking(1, timeout=0.05)
        outcome: list[Any] = []
        client = threading.Thread(
            target=lambda: outcome.append(asyncio.run(asyncio_client(emulator.url, []))),
        )
        emulator.set_faults(Faults(close_after_events=3, close_code=4000, close_reason=REASON))
        client.start()
        connection = emulator.wait_connection_blocking(1, timeout=DEADLINE)
        created = emulator.wait_for_blocking(connection, ev.ResponseCreateEvent, timeout=DEADLINE)
        assert created.type == "response.create"
        assert emulator.wait_closed_blocking(connection, timeout=DEADLINE) is connection
        client.join(DEADLINE)
        assert outcome == [(4000, REASON)]
        with pytest.raises(trio.BrokenResourceError, match="ended after 1 of 2"):
            emulator.wait_for_blocking(1, ev.ResponseCreateEvent, count=2, timeout=DEADLINE)
    with pytest.raises(LookupError, match=r"stopped|has not started"):
        emulator.wait_connection_blocking(1, timeout=DEADLINE)


def test_a_failure_to_start_comes_out_of_the_with() -> None:
    with pytest.raises(ValueError, match="replay_speed"), run_emulator_in_thread(replay_speed=-1):
        pytest.fail("the block must not run")


@pytest.mark.realtime_emulator(ping_interval=None)
async def test_the_fixture_offers_the_thread_safe_waits(realtime_emulator: EmulatorThread) -> None:
    async with rt.open_realtime_session("gpt-realtime") as session:
        await session.send_user_message("via the fixture", create_response=False)
        created = await realtime_emulator.wait_for(1, ev.ConversationItemCreateEvent)
    assert isinstance(created, ev.ConversationItemCreateEvent)
    assert (await realtime_emulator.wait_closed(1)).closed_by == "client"
