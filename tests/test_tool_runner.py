"""The tool runner against the emulator, on Trio and on asyncio.

Trio runs on a ``MockClock`` with the emulator in the same loop, connected through an
in-memory stream (no socket, so time may jump): the "10-second tool" really sleeps
10 s, instantly. asyncio runs the emulator on its own thread over
loopback with the real clock, so the slow tool waits on a gate the test opens instead.
Every test checks, on the server's side, that each ``function_call`` got exactly one
``function_call_output`` and that no ``error`` was sent.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import numpy as np
import pytest
import sniffio
import trio
import trio.testing
import trio_websocket

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime._transport import ConnectRequest, Transport
from trio_realtime._transport._trio_websocket import TrioWebSocketTransport
from trio_realtime.testing import (
    BrainReply,
    BrainRequest,
    Emulator,
    EmulatorConnection,
    open_emulator,
    run_emulator_in_thread,
)

from .test_session_matrix import _live_tasks as live_tasks

SLOW_S = 10.0
"""The slow tool's duration on the mock clock."""
AUTOJUMP_S = 0.05
"""Real seconds of idleness before the mock clock jumps: a sync tool runs in a worker
thread, which the clock cannot see (with 0 it would jump while the thread works)."""


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "trio":
        return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=AUTOJUMP_S)})
    return "asyncio"


def on_trio() -> bool:
    return sniffio.current_async_library() == "trio"


# -- the emulated model ------------------------------------------------------------------


def brain_calling(*calls: tuple[str, dict[str, Any] | str]) -> Callable[[BrainRequest], BrainReply]:
    """A model that makes ``calls`` (in one response) when the user says "tools", and
    reports every output it sees after a function output."""

    def brain(request: BrainRequest) -> BrainReply:
        last = request.items[-1] if request.items else None
        if isinstance(last, ev.FunctionCallOutputItem):
            outputs = [i.output for i in request.items if isinstance(i, ev.FunctionCallOutputItem)]
            return BrainReply(text="results: " + " | ".join(outputs))
        if request.user_text and "tools" in request.user_text:
            return BrainReply(tool_calls=list(calls))
        if request.user_audio is not None:
            return BrainReply(text="I heard you.")
        return BrainReply(text=f"You said: {request.user_text}")

    return brain


# -- running the emulator and a session on each backend ------------------------------------


def memory_transport(emulator: Emulator, nursery: trio.Nursery) -> Any:
    """A transport factory connecting to ``emulator`` through an in-memory stream pair."""

    @asynccontextmanager
    async def connect(request: ConnectRequest) -> AsyncIterator[Transport]:
        client, server = trio.testing.memory_stream_pair()
        nursery.start_soon(emulator.serve_stream, server)
        url = urlsplit(request.url)
        async with trio.open_nursery() as outer:
            service: trio.Nursery = await outer.start(shielded_nursery)
            connection = await trio_websocket.wrap_client_stream(
                service,
                client,
                url.netloc,
                f"{url.path}?{url.query}",
                extra_headers=[(k.encode(), v.encode()) for k, v in request.headers],
                max_message_size=request.max_message_size,
            )
            transport = TrioWebSocketTransport(connection)
            try:
                yield transport
            finally:
                with trio.CancelScope(shield=True):
                    await transport.abort()
                service.cancel_scope.cancel()

    return connect


async def shielded_nursery(task_status: trio.TaskStatus[trio.Nursery]) -> None:
    """A nursery for trio-websocket's reader that outside cancellation does not reach, so
    the session's close (after a cancellation) still reads the emulator's close reply."""
    async with trio.open_nursery() as nursery:
        nursery.cancel_scope.shield = True
        task_status.started(nursery)
        await trio.sleep_forever()


@dataclass
class Harness:
    emulator: Emulator
    transport: Any
    events: list[rt.ToolEvent] = field(default_factory=list)

    def open_session(self, **options: Any) -> Any:
        options.setdefault("session", ev.SessionConfig(output_modalities=["text"]))
        return rt.open_realtime_session(
            "gpt-realtime",
            url=self.emulator.url,
            api_key="sk-test",
            transport=self.transport,
            **options,
        )

    @property
    def connection(self) -> EmulatorConnection:
        return self.emulator.connections[0]

    def outputs_by_call(self) -> dict[str, list[str]]:
        """What the server received: every function_call_output's text, by call_id."""
        outputs: dict[str, list[str]] = collections.defaultdict(list)
        for event in self.connection.received:
            if isinstance(event, ev.ConversationItemCreateEvent) and isinstance(
                event.item, ev.FunctionCallOutputItem
            ):
                outputs[event.item.call_id].append(event.item.output)
        return dict(outputs)

    def calls_made(self) -> list[dict[str, Any]]:
        """The function_call items the server made."""
        return [
            event["item"]
            for event in self.connection.sent
            if event["type"] == "response.output_item.done"
            and event["item"]["type"] == "function_call"
        ]

    def errors(self) -> list[dict[str, Any]]:
        return [event["error"] for event in self.connection.sent if event["type"] == "error"]

    def response_creates(self) -> int:
        return sum(isinstance(e, ev.ResponseCreateEvent) for e in self.connection.received)

    def assert_every_call_answered_once(self) -> None:
        outputs = self.outputs_by_call()
        made = {item["call_id"] for item in self.calls_made()}
        assert set(outputs) == made
        assert all(len(texts) == 1 for texts in outputs.values()), outputs
        assert self.errors() == []


@asynccontextmanager
async def harness(brain: Callable[[BrainRequest], BrainReply]) -> AsyncIterator[Harness]:
    if on_trio():
        async with open_emulator(brain=brain) as emulator, trio.open_nursery() as nursery:
            yield Harness(emulator, memory_transport(emulator, nursery))
        return
    manager = run_emulator_in_thread(brain=brain)
    emulator = await anyio.to_thread.run_sync(manager.__enter__)
    try:
        yield Harness(emulator, "websockets")
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(manager.__exit__, None, None, None)


class Gate:
    """The slow tool's end: 10 s on the mock clock (Trio), or when the test opens it."""

    def __init__(self) -> None:
        self._opened = anyio.Event()

    def open(self) -> None:
        self._opened.set()

    async def wait(self) -> None:
        if on_trio():
            await anyio.sleep(SLOW_S)
        else:
            await self._opened.wait()


async def events_until(
    session: rt.RealtimeSession, count: int, seen: list[ev.RealtimeEvent] | None = None
) -> list[ev.RealtimeEvent]:
    """Consume events until ``count`` more responses are done; return them."""
    received = [] if seen is None else seen
    done = 0
    async for event in session:
        received.append(event)
        if isinstance(event, ev.ResponseDoneEvent):
            done += 1
            if done == count:
                break
    return received


def last_text(events: list[ev.RealtimeEvent]) -> str:
    done = [e for e in events if isinstance(e, ev.ResponseTextDoneEvent)]
    return done[-1].text if done else ""


def speech() -> bytes:
    """The user talking for 1.2 s, then silence long enough for server VAD to end the turn."""
    samples = np.concatenate([audio.voice_like(1200), audio.silence(900)])
    return audio.pcm16_bytes(samples)


# -- parallel calls ------------------------------------------------------------------------


async def test_parallel_sync_and_async_tools_answered_once_then_one_follow_up() -> None:
    tools = rt.Tools()
    threads: list[str] = []

    @tools.function
    def get_weather(city: Annotated[str, "The city"], unit: str = "celsius") -> dict[str, Any]:
        """The weather in a city."""
        threads.append(threading.current_thread().name)
        return {"city": city, "temperature": 21, "unit": unit}

    @tools.function
    async def get_time(zone: str) -> str:
        """The time in a zone."""
        await anyio.sleep(0.5)
        return f"12:00 in {zone}"

    brain = brain_calling(("get_weather", {"city": "Paris"}), ("get_time", {"zone": "UTC"}))
    async with harness(brain) as h:
        async with (
            h.open_session(session=ev.SessionConfig(output_modalities=["text"], tools=tools)) as s,
            rt.open_tool_runner(s, tools, on_event=h.events.append) as runner,
        ):
            await s.send_user_message("use the tools")
            received = await events_until(s, 2)
            await runner.wait_idle()
            stats = runner.statistics()
    h.assert_every_call_answered_once()
    assert sorted(h.outputs_by_call().values()) == [
        ["12:00 in UTC"],
        ['{"city":"Paris","temperature":21,"unit":"celsius"}'],
    ]
    assert h.response_creates() == 2  # the user's, and one follow-up
    assert last_text(received).startswith("results: ")
    assert "12:00 in UTC" in last_text(received) and '"city":"Paris"' in last_text(received)
    assert threads and threads[0] != threading.main_thread().name
    assert (stats.calls, stats.succeeded, stats.follow_ups, stats.running) == (2, 2, 1, 0)
    started = [e.call.name for e in h.events if isinstance(e, rt.ToolStarted)]
    finished = [e for e in h.events if isinstance(e, rt.ToolFinished)]
    assert sorted(started) == ["get_time", "get_weather"]
    assert sorted((e.call.name, e.outcome, e.delivered) for e in finished) == [
        ("get_time", "succeeded", True),
        ("get_weather", "succeeded", True),
    ]


async def test_session_config_takes_the_tools_as_they_are() -> None:
    tools = rt.Tools()

    @tools.function
    def add(a: int, b: int = 1) -> int:
        """Add two numbers."""
        return a + b

    async with harness(brain_calling()) as h:
        async with h.open_session(session={"output_modalities": ["text"], "tools": tools}) as s:
            assert s.config is not None and s.config.tools is not None
            [tool] = s.config.tools
    assert isinstance(tool, ev.FunctionTool)
    assert tool.name == "add" and tool.description == "Add two numbers."
    assert tool.parameters == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "default": 1}},
        "required": ["a"],
        "additionalProperties": False,
    }


# -- errors become outputs ---------------------------------------------------------------------


async def test_raising_bad_arguments_unknown_and_timeout_each_get_an_error_output() -> None:
    tools = rt.Tools()
    timeout = 5.0 if sniffio.current_async_library() == "trio" else 0.05

    @tools.function
    def explode(reason: str) -> str:
        """Always fails."""
        raise RuntimeError(f"boom: {reason}")

    @tools.function
    def lookup(count: int) -> int:
        """Needs an integer."""
        return count

    @tools.function(timeout=timeout)
    async def hang() -> str:
        """Never returns in time."""
        await anyio.sleep_forever()
        return "never"

    brain = brain_calling(
        ("explode", {"reason": "testing"}),
        ("lookup", {"count": "many"}),
        ("lookup", "{not json"),
        ("nowhere", {}),
        ("hang", {}),
    )
    async with harness(brain) as h:
        async with (
            h.open_session() as s,
            rt.open_tool_runner(s, tools, on_event=h.events.append) as runner,
        ):
            await s.send_user_message("tools please")
            await events_until(s, 2)
            await s.send_user_message("still there?")
            after = await events_until(s, 1)
            stats = runner.statistics()
    h.assert_every_call_answered_once()
    by_name = {item["call_id"]: item["name"] for item in h.calls_made()}
    outputs = sorted((by_name[c], texts[0]) for c, texts in h.outputs_by_call().items())
    assert outputs[0] == ("explode", "Error: explode failed: RuntimeError: boom: testing")
    assert outputs[1] == ("hang", f"Error: hang timed out after {timeout:g} s.")
    assert sorted(text for name, text in outputs if name == "lookup") == [
        "Error: invalid arguments for lookup: arguments: not valid JSON "
        "(key must be a string at line 1 column 2)",
        "Error: invalid arguments for lookup: count: Input should be a valid integer, "
        "unable to parse string as an integer",
    ]
    assert outputs[4][0] == "nowhere"
    assert outputs[4][1].startswith("Error: there is no tool named 'nowhere'")
    assert last_text(after) == "You said: still there?"
    assert (stats.failed, stats.invalid, stats.timed_out, stats.follow_ups) == (1, 3, 1, 1)


# -- barge-in during a slow tool -------------------------------------------------------------


@pytest.mark.parametrize("policy", ["cancel", "finish"])
async def test_barge_in_during_a_10_second_tool_leaves_no_call_unanswered(policy: str) -> None:
    tools = rt.Tools()
    gate = Gate()
    ended: list[str] = []

    @tools.function
    async def slow_lookup(query: str) -> str:
        """Takes ten seconds."""
        try:
            await gate.wait()
        except anyio.get_cancelled_exc_class():
            ended.append("cancelled")
            raise
        ended.append("finished")
        return f"found {query}"

    brain = brain_calling(("slow_lookup", {"query": "flights"}))
    async with harness(brain) as h:
        async with (
            h.open_session() as s,
            rt.open_tool_runner(
                s, tools, policy=rt.ToolPolicy(on_interrupt=policy), on_event=h.events.append
            ) as runner,
        ):
            await s.send_user_message("use the tools")
            seen = await events_until(s, 1)
            assert runner.unanswered() != []
            await s.append_audio(speech())  # the user barges in while the tool runs
            async for event in s:
                seen.append(event)
                if isinstance(event, ev.ResponseCreatedEvent) and policy == "finish":
                    gate.open()  # the server's VAD answers while the output is in flight
                if isinstance(event, ev.ResponseDoneEvent):
                    break
            await runner.wait_idle()
            assert runner.unanswered() == []
            await s.send_user_message("thanks")
            after = await events_until(s, 1)
            stats = runner.statistics()
    h.assert_every_call_answered_once()
    [output] = [texts[0] for texts in h.outputs_by_call().values()]
    kinds = [event.type for event in seen]
    speech_started = kinds.index("input_audio_buffer.speech_started")
    assert kinds[speech_started:].count("response.created") == 1  # the server VAD's
    assert last_text(seen) == "I heard you."
    assert last_text(after) == "You said: thanks"
    assert h.response_creates() == 2  # the user's two messages: no follow-up after barge-in
    assert (stats.follow_ups, stats.follow_ups_skipped) == (0, 1)
    if policy == "cancel":
        assert ended == ["cancelled"]
        assert output == "Cancelled: the user interrupted before slow_lookup finished."
        assert stats.cancelled == 1
    else:
        assert ended == ["finished"]
        assert output == "found flights"
        assert stats.succeeded == 1


# -- cancellation from outside -----------------------------------------------------------------


async def test_cancelling_the_outer_scope_cancels_tools_and_closes_1000() -> None:
    tools = rt.Tools()
    both_running = anyio.Event()
    running: list[str] = []
    ended: list[str] = []

    @tools.function
    async def slow_lookup(query: str) -> str:
        """Takes forever."""
        running.append(query)
        if len(running) == 2:
            both_running.set()
        try:
            await anyio.sleep_forever()
        finally:
            ended.append(query)
        return query

    brain = brain_calling(("slow_lookup", {"query": "x"}), ("slow_lookup", {"query": "y"}))
    async with harness(brain) as h:
        tasks_before = live_tasks()
        with anyio.CancelScope() as scope:
            async with h.open_session() as s, rt.open_tool_runner(s, tools) as runner:
                await s.send_user_message("use the tools")
                async with anyio.create_task_group() as tg:
                    tg.start_soon(events_until, s, 2)
                    await both_running.wait()
                    assert len(runner.unanswered()) == 2
                    scope.cancel()
        assert scope.cancelled_caught
        if on_trio():  # the emulator's side of the connection runs in this loop
            await h.connection.closed.wait()
        await anyio.lowlevel.checkpoint()
        assert live_tasks() - tasks_before == set()
        assert h.connection.received_close_code == 1000
    assert sorted(ended) == ["x", "y"]
    assert h.outputs_by_call() == {}
    assert h.errors() == []


# -- a call the conversation no longer has ----------------------------------------------------


async def test_a_deleted_call_is_cancelled_and_gets_no_output() -> None:
    tools = rt.Tools()
    ended: list[str] = []

    @tools.function
    async def slow_lookup(query: str) -> str:
        """Takes forever."""
        try:
            await anyio.sleep_forever()
        finally:
            ended.append("cancelled")
        return query

    brain = brain_calling(("slow_lookup", {"query": "x"}))
    async with harness(brain) as h:
        async with (
            h.open_session() as s,
            rt.open_tool_runner(s, tools, on_event=h.events.append) as runner,
        ):
            await s.send_user_message("use the tools")
            seen = await events_until(s, 1)
            [call] = runner.unanswered()
            assert call.item_id is not None
            await s.delete_item(call.item_id)
            await runner.wait_idle()
            await s.send_user_message("hello")
            await events_until(s, 1, seen)
            stats = runner.statistics()
    assert h.outputs_by_call() == {}
    assert h.errors() == []
    assert ended == ["cancelled"]
    assert (stats.cancelled, stats.undelivered, stats.follow_ups) == (1, 1, 0)
    assert h.response_creates() == 2  # the user's two messages: nothing to follow up
    [finished] = [e for e in h.events if isinstance(e, rt.ToolFinished)]
    assert (finished.outcome, finished.delivered) == ("cancelled", False)
    assert last_text(seen) == "You said: hello"


async def test_calls_of_an_out_of_band_response_are_left_to_the_application() -> None:
    tools = rt.Tools()

    @tools.function
    def lookup(query: str) -> str:
        """Looks up."""
        return query

    brain = brain_calling(("lookup", {"query": "x"}))
    async with harness(brain) as h:
        async with h.open_session() as s, rt.open_tool_runner(s, tools) as runner:
            await s.send_user_message("use the tools", create_response=False)
            await s.create_response(conversation="none")
            await events_until(s, 1)
            await runner.wait_idle()
            stats = runner.statistics()
    assert stats.calls == 0
    assert h.outputs_by_call() == {}
    assert h.errors() == []


# -- leaving the block -------------------------------------------------------------------------


async def test_leaving_the_block_answers_running_calls_as_cancelled() -> None:
    tools = rt.Tools()

    @tools.function
    async def slow_lookup(query: str) -> str:
        """Takes forever."""
        await anyio.sleep_forever()
        return query

    brain = brain_calling(("slow_lookup", {"query": "x"}))
    async with harness(brain) as h:
        async with h.open_session() as s:
            async with rt.open_tool_runner(s, tools) as runner:
                await s.send_user_message("use the tools")
                await events_until(s, 1)
            assert runner.unanswered() == []
            await s.send_user_message("hello")
            after = await events_until(s, 1)
    h.assert_every_call_answered_once()
    assert list(h.outputs_by_call().values()) == [
        ["Cancelled: the tool runner was closed before slow_lookup finished."]
    ]
    assert last_text(after) == "You said: hello"


# -- metrics -----------------------------------------------------------------------------------


async def test_metrics_interceptor_reports_tool_time_per_turn() -> None:
    tools = rt.Tools()
    gate = Gate()

    @tools.function
    async def slow_lookup(query: str) -> str:
        """Takes ten seconds."""
        await gate.wait()
        return query

    metrics = rt.MetricsInterceptor(clock=anyio.current_time)
    brain = brain_calling(("slow_lookup", {"query": "x"}))
    async with harness(brain) as h:
        async with (
            h.open_session(interceptors=[metrics]) as s,
            rt.open_tool_runner(s, tools) as runner,
        ):
            await s.send_user_message("use the tools")
            await events_until(s, 1)
            gate.open()
            await events_until(s, 1)
            stats = runner.statistics()
    first, second = metrics.turns
    assert first.tool_ms is None
    assert second.tool_ms is not None
    if on_trio():
        assert second.tool_ms == pytest.approx(SLOW_S * 1000)
        assert stats.tool_seconds_max == pytest.approx(SLOW_S)
    assert second.tool_ms >= stats.tool_seconds_max * 1000
    assert metrics.statistics().median_tool_ms == second.tool_ms


def test_policy_rejects_unknown_settings() -> None:
    with pytest.raises(ValueError, match="on_interrupt"):
        rt.ToolPolicy(on_interrupt="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        rt.ToolPolicy(timeout=0)


class Halt(BaseException):
    """Not an Exception: a tool raising it stops everything, as KeyboardInterrupt would."""


async def test_a_tool_raising_a_base_exception_propagates_it_alone() -> None:
    tools = rt.Tools()

    @tools.function
    async def halt() -> str:
        """Stops the program."""
        raise Halt

    async with harness(brain_calling(("halt", {}))) as h:
        with pytest.raises(Halt):
            async with h.open_session() as s, rt.open_tool_runner(s, tools):
                await s.send_user_message("use the tools")
                await events_until(s, 2)
        assert h.connection.received_close_code == 1000


async def test_a_sync_tool_past_its_timeout_is_answered_and_its_thread_left_to_finish() -> None:
    tools = rt.Tools()
    release = threading.Event()
    returned: list[str] = []
    timeout = 5.0 if on_trio() else 0.05

    @tools.function(timeout=timeout)
    def blocking_lookup(query: str) -> str:
        """Blocks its thread until the test releases it."""
        release.wait(30)
        returned.append(query)
        return query

    async with harness(brain_calling(("blocking_lookup", {"query": "x"}))) as h:
        async with h.open_session() as s, rt.open_tool_runner(s, tools) as runner:
            await s.send_user_message("use the tools")
            await events_until(s, 2)
            assert returned == []  # the thread still runs; the model already has the answer
            stats = runner.statistics()
        release.set()
    h.assert_every_call_answered_once()
    assert list(h.outputs_by_call().values()) == [
        [f"Error: blocking_lookup timed out after {timeout:g} s."]
    ]
    assert (stats.timed_out, stats.follow_ups) == (1, 1)
