"""The tool runner's follow-up never races a response: exact orderings, the test as server.

The server is played through a MemoryPeer (in memory, on the mock clock), so each test
puts the events that race on a real connection (a response starting while an output is
in flight, speech starting, a rejected ``response.create``) in the order it wants and
checks with ``wait_all_tasks_blocked`` what the client sent, and what it did not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import trio_realtime as rt

from ._memory import MemoryPeer, MemoryServer, created, response_created, response_done

pytestmark = pytest.mark.mock_clock


@pytest.fixture
def server() -> Iterator[MemoryServer]:
    made = MemoryServer(64, greeting=created())
    yield made
    made.close()


def quick_tools() -> rt.Tools:
    tools = rt.Tools()

    @tools.function
    async def quick(n: int = 0) -> str:
        """Answers at once."""
        return f"ok {n}"

    return tools


@asynccontextmanager
async def running(
    server: MemoryServer,
    policy: rt.ToolPolicy | None = None,
    on_event: Callable[[rt.ToolEvent], object] | None = None,
) -> AsyncIterator[tuple[MemoryPeer, rt.ToolRunner]]:
    """A session whose server is the test, its runner, and a task consuming the events."""
    async with rt.open_realtime_session(
        "gpt-realtime", api_key="sk-test", transport=server.connect
    ) as session:
        peer = server.peers[-1]
        async with (
            rt.open_tool_runner(
                session, quick_tools(), policy=policy or rt.ToolPolicy(), on_event=on_event
            ) as runner,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(drain, session)
            yield peer, runner
            nursery.cancel_scope.cancel()


async def drain(session: rt.RealtimeSession) -> None:
    async for _ in session:
        pass


def call_done(response_id: str, call_id: str, n: int = 0, name: str = "quick") -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "event_id": f"event_{call_id}",
        "response_id": response_id,
        "output_index": 0,
        "item": {
            "id": f"item_{call_id}",
            "type": "function_call",
            "status": "completed",
            "name": name,
            "call_id": call_id,
            "arguments": f'{{"n": {n}}}',
        },
    }


def output_added(output: dict[str, Any]) -> dict[str, Any]:
    """The server's acknowledgement of a ``function_call_output`` the client created."""
    item = {**output["item"], "id": f"item_out_{output['item']['call_id']}"}
    return {"type": "conversation.item.added", "event_id": "event_ack", "item": item}


def server_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"event_{kind}", **fields}


def rejected(client_event: dict[str, Any], code: str) -> dict[str, Any]:
    """The server's ``error`` for a client event (matched by its ``event_id``)."""
    error = {
        "type": "invalid_request_error",
        "code": code,
        "message": f"{code} (the test's error)",
        "event_id": client_event["event_id"],
    }
    return server_event("error", error=error)


async def nothing_sent(peer: MemoryPeer) -> bool:
    await trio.testing.wait_all_tasks_blocked()
    return peer.pending() == 0


async def test_follow_up_waits_for_response_done_of_the_calls_response(
    server: MemoryServer,
) -> None:
    async with running(server) as (peer, runner):
        await peer.send(response_created("resp_1"))
        await peer.send(call_done("resp_1", "call_a", 1))
        await peer.send(call_done("resp_1", "call_b", 2))
        outputs = [await peer.receive(), await peer.receive()]
        assert sorted(o["item"]["output"] for o in outputs) == ["ok 1", "ok 2"]
        assert all(o["type"] == "conversation.item.create" and o["event_id"] for o in outputs)
        for output in outputs:
            await peer.send(output_added(output))
        assert await nothing_sent(peer)  # resp_1 may still make calls: no follow-up yet
        await peer.send(response_done("resp_1"))
        follow_up = await peer.receive()
        assert follow_up["type"] == "response.create"
        await peer.send(response_created("resp_2"))
        await runner.wait_idle()
        assert await nothing_sent(peer)
        stats = runner.statistics()
    assert (stats.calls, stats.succeeded, stats.follow_ups) == (2, 2, 1)


async def test_no_follow_up_when_the_server_vad_answered_while_the_output_was_in_flight(
    server: MemoryServer,
) -> None:
    async with running(server) as (peer, runner):
        await peer.send(response_created("resp_1"))
        await peer.send(call_done("resp_1", "call_a"))
        await peer.send(response_done("resp_1"))
        output = await peer.receive()
        # The server had heard the user before it read the output: VAD started a response.
        await peer.send(
            server_event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u")
        )
        await peer.send(
            server_event("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="item_u")
        )
        await peer.send(response_created("resp_vad"))
        await peer.send(output_added(output))
        assert await nothing_sent(peer)
        await peer.send(response_done("resp_vad"))
        assert await nothing_sent(peer)
        await runner.wait_idle()
        stats = runner.statistics()
    assert (stats.follow_ups, stats.follow_ups_skipped, stats.succeeded) == (0, 1, 1)


async def test_follow_up_waits_while_another_response_is_active(server: MemoryServer) -> None:
    async with running(server) as (peer, runner):
        await peer.send(response_created("resp_1"))
        await peer.send(call_done("resp_1", "call_a"))
        await peer.send(response_done("resp_1"))
        output = await peer.receive()
        await peer.send(response_created("resp_other"))  # e.g. the idle timeout's response
        await peer.send(output_added(output))
        assert await nothing_sent(peer)
        await peer.send(response_done("resp_other"))
        assert (await peer.receive())["type"] == "response.create"
        assert runner.statistics().follow_ups == 1


async def test_user_speaking_holds_the_follow_up_back(server: MemoryServer) -> None:
    policy = rt.ToolPolicy(on_interrupt="finish")
    async with running(server, policy) as (peer, runner):
        await peer.send(response_created("resp_1"))
        await peer.send(call_done("resp_1", "call_a"))
        await peer.send(
            server_event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u")
        )
        output = await peer.receive()
        assert output["item"]["output"] == "ok 0"  # "finish": delivered all the same
        await peer.send(output_added(output))
        await peer.send(response_done("resp_1"))
        await peer.send(
            server_event("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="item_u")
        )
        assert await nothing_sent(peer)
        await runner.wait_idle()
        assert runner.statistics().follow_ups_skipped == 1


async def test_a_rejected_follow_up_is_not_retried(server: MemoryServer) -> None:
    async with running(server) as (peer, runner):
        await peer.send(response_created("resp_1"))
        await peer.send(call_done("resp_1", "call_a"))
        await peer.send(response_done("resp_1"))
        await peer.send(output_added(await peer.receive()))
        follow_up = await peer.receive()
        await peer.send(rejected(follow_up, "conversation_already_has_active_response"))
        await runner.wait_idle()
        assert await nothing_sent(peer)
        assert runner.statistics().follow_ups == 1


async def test_an_output_the_server_rejects_is_reported_undelivered(
    server: MemoryServer,
) -> None:
    finished: list[rt.ToolEvent] = []
    async with running(server, on_event=finished.append) as (peer, runner):
        await peer.send(response_created("resp_1"))
        await peer.send(call_done("resp_1", "call_a"))
        await peer.send(response_done("resp_1"))
        await peer.send(rejected(await peer.receive(), "invalid_tool_call_id"))
        await runner.wait_idle()
        assert await nothing_sent(peer)  # nothing reached the conversation: no follow-up
        stats = runner.statistics()
    assert stats.undelivered == 1
    assert [(e.outcome, e.delivered) for e in finished if isinstance(e, rt.ToolFinished)] == [
        ("succeeded", False)
    ]


async def test_a_call_the_application_answered_itself_is_not_answered_again(
    server: MemoryServer,
) -> None:
    tools = rt.Tools()
    started = trio.Event()

    @tools.function
    async def slow(n: int) -> str:
        """Takes forever."""
        started.set()
        await trio.sleep_forever()
        return "never"

    async with rt.open_realtime_session(
        "gpt-realtime", api_key="sk-test", transport=server.connect
    ) as session:
        peer = server.peers[-1]
        async with rt.open_tool_runner(session, tools) as runner, trio.open_nursery() as nursery:
            nursery.start_soon(drain, session)
            await peer.send(response_created("resp_1"))
            await peer.send(call_done("resp_1", "call_a", name="slow"))
            await started.wait()
            mine = {"item": {"type": "function_call_output", "call_id": "call_a", "output": "x"}}
            await peer.send(output_added(mine))
            await peer.send(response_done("resp_1"))
            await runner.wait_idle()
            assert await nothing_sent(peer)
            stats = runner.statistics()
            nursery.cancel_scope.cancel()
    assert (stats.cancelled, stats.undelivered, stats.follow_ups) == (1, 1, 0)
