"""Calls that outlive a connection: rollover before the 60-minute cap, resumption after a
drop, the conversation carried over, nothing lost and nothing doubled.

The Trio tests run the emulator over in-memory streams on the mock clock, so an hour of
call takes no time; the asyncio test uses the emulator in its thread over loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
import trio.testing
import trio_websocket

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime._engine import State
from trio_realtime._transport import ConnectRequest, Transport, TransportFactory
from trio_realtime._transport._trio_websocket import TrioWebSocketTransport
from trio_realtime.testing import Emulator, Faults, open_emulator, run_emulator_in_thread

SECOND = bytes(48000)  # 1 s of PCM16 silence at 24 kHz
BYTES_PER_MS = 48


def in_memory(
    emulator: Emulator, refuse: Callable[[int], Exception | None] | None = None
) -> TransportFactory:
    """A transport factory that connects to ``emulator`` over in-memory streams (mock clock).

    ``refuse(n)`` may return an exception for the n-th connect (1-based) to fail it.
    """
    connects = 0

    @asynccontextmanager
    async def connect(request: ConnectRequest) -> AsyncIterator[Transport]:
        nonlocal connects
        connects += 1
        failure = refuse(connects) if refuse is not None else None
        if failure is not None:
            raise failure
        client, server = trio.testing.memory_stream_pair()
        url = urlsplit(request.url)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(emulator.serve_stream, server)
            ws = await trio_websocket.wrap_client_stream(
                nursery,
                client,
                url.netloc,
                f"{url.path}?{url.query}",
                extra_headers=[(k.encode(), v.encode()) for k, v in request.headers],
            )
            try:
                yield TrioWebSocketTransport(ws)
            finally:
                nursery.cancel_scope.cancel()

    return connect


def _received_ms(emulator: Emulator) -> float:
    return sum(c.input_audio_bytes for c in emulator.connections) / BYTES_PER_MS


class Call:
    """A consumer that records what the application sees, and waits for replies."""

    def __init__(self, session: rt.RealtimeSession, emulator: Emulator | None = None) -> None:
        self.session = session
        self.emulator = emulator
        self.conversations: list[list[dict[str, Any]]] = []
        """What the emulator's newest connection held when each move was reported."""
        self.resumed: list[ev.SessionResumedEvent] = []
        self.done: list[ev.ResponseDoneEvent] = []
        self.item_done: list[str] = []
        self.errors: list[ev.ErrorEvent] = []
        self._changed = trio.Event()

    async def consume(self) -> None:
        async for event in self.session:
            if isinstance(event, ev.SessionResumedEvent):
                self.resumed.append(event)
                if self.emulator is not None:
                    await trio.testing.wait_all_tasks_blocked()
                    self.conversations.append(self.emulator.connections[-1].conversation())
            elif isinstance(event, ev.ResponseDoneEvent):
                self.done.append(event)
            elif isinstance(event, ev.ConversationItemDoneEvent) and event.item.id:
                self.item_done.append(event.item.id)
            elif isinstance(event, ev.ErrorEvent):
                self.errors.append(event)
            self._changed.set()
            self._changed = trio.Event()

    async def until(self, condition: Callable[[], Any]) -> Any:
        """Wait until ``condition()`` is true after some event, and return it."""
        while not (value := condition()):
            await self._changed.wait()
        return value

    async def turn(self, text: str) -> ev.ResponseDoneEvent:
        count = len(self.done)
        await self.session.send_user_message(text)
        while len(self.done) == count:
            await self._changed.wait()
        return self.done[-1]


async def _hour_long_call(policy: rt.ResumePolicy, emulator: Emulator) -> tuple[Call, float]:
    appended = 0.0
    async with rt.open_realtime_session(
        url="ws://emulator/v1/realtime",
        api_key="sk-test",
        transport=in_memory(emulator),
        heartbeat=None,
        resume=policy,
        session={"type": "realtime", "instructions": "Be brief."},
    ) as session:
        call = Call(session, emulator)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call.consume)
            for _ in range(14):  # a turn every 280 s for 65 minutes, audio both ways
                await session.append_audio(SECOND)
                appended += 1000
                await call.turn("How is it going?")
                await trio.sleep(280)
            await session.append_audio(SECOND)
            appended += 1000
            await session.commit_audio()
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    return call, appended


@pytest.mark.mock_clock
@pytest.mark.deadline(7200)
async def test_a_65_minute_call_rolls_over_once_losing_no_audio_and_keeping_the_conversation() -> (
    None
):
    async with open_emulator(ping_interval=None) as emulator:
        call, appended = await _hour_long_call(rt.ResumePolicy(rollover_before=300), emulator)
        first, _ = emulator.connections
        assert [r.reason for r in call.resumed] == ["rollover"]
        assert first.received_close_code == 1000
        assert _received_ms(emulator) == appended  # every millisecond, once
        assert not call.errors
        assert len(call.done) == 14
        resumed = call.resumed[0]
        before = call.item_done[: call.item_done.index(resumed_marker(call, resumed))]
        held = call.conversations[0]
        assert [item["id"] for item in held] == before  # the same items, in order, same ids
        assert [item["role"] for item in held][:2] == ["user", "assistant"]
        assert resumed.items_dropped == 0
        assert len(set(call.item_done)) == len(call.item_done)  # carried items not re-announced
        assert call.session.statistics().resumptions == 1


def resumed_marker(call: Call, resumed: ev.SessionResumedEvent) -> str:
    """The id of the first item the application saw after the move."""
    return call.item_done[resumed.items_carried]


@pytest.mark.mock_clock
@pytest.mark.deadline(7200)
async def test_session_expired_is_resumed_when_rollover_is_off() -> None:
    async with open_emulator(ping_interval=None) as emulator:
        call, appended = await _hour_long_call(rt.ResumePolicy(), emulator)
        assert [(r.reason, r.close_code) for r in call.resumed] == [("session_expired", 1001)]
        assert _received_ms(emulator) == appended
        assert len(call.done) == 14
        assert not [e for e in call.errors if e.error.code != "session_expired"]


@pytest.mark.mock_clock
async def test_a_drop_mid_response_replays_unsent_events_once_and_reports_the_cut_response() -> (
    None
):
    reconnecting = trio.Event()

    def refuse_first_reconnect(n: int) -> Exception | None:
        if n != 2:
            return None
        reconnecting.set()
        return rt.ConnectError("no route")

    async with open_emulator(ping_interval=None, audio_pace=1.0) as emulator:
        emulator.faults = Faults(drop_after_events=12)  # inside the first reply's audio
        async with rt.open_realtime_session(
            url="ws://emulator/v1/realtime",
            api_key="sk-test",
            transport=in_memory(emulator, refuse_first_reconnect),
            heartbeat=None,
            resume=rt.ResumePolicy(backoff_initial=2.0, jitter=0.0),
        ) as session:
            emulator.faults = Faults()
            call = Call(session)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(call.consume)
                await session.send_user_message("Tell me a long story.")
                created = await call.until(lambda: session.active_response_id)
                await reconnecting.wait()  # the connection dropped; the first retry failed
                assert session._life.state is State.RESUMING
                await session.send_user_message("Are you still there?", create_response=False)
                await session.append_audio(SECOND)
                await call.until(lambda: call.resumed)
                reply = await call.turn("Go on.")
                nursery.cancel_scope.cancel()
        resumed = call.resumed[0]
        assert resumed.reason == "close" and resumed.close_code == 1006
        assert resumed.attempt == 2  # the first reconnect was refused
        assert resumed.interrupted_response_id == created
        assert resumed.replayed_events == 1 + 10  # the message, and 1 s of audio
        assert resumed.replayed_audio_ms == 1000
        assert resumed.gap_ms == pytest.approx(2000)  # the refused attempt, then the backoff
        assert resumed.items_carried == 1 and resumed.items_dropped == 1  # the cut reply
        said = [
            e
            for c in emulator.connections
            for e in c.received
            if isinstance(e, ev.ConversationItemCreateEvent)
            and "still there" in str(e.item.to_dict())
        ]
        assert len(said) == 1  # replayed exactly once, on the new connection
        assert _received_ms(emulator) == 1000
        assert reply.response.status == "completed"


@pytest.mark.mock_clock
async def test_without_a_policy_a_drop_still_raises_session_closed_with_unsent() -> None:
    async with open_emulator(ping_interval=None) as emulator:
        emulator.faults = Faults(drop_after_events=4)
        with pytest.raises(rt.SessionClosed) as info:
            async with rt.open_realtime_session(
                url="ws://emulator/v1/realtime",
                api_key="sk-test",
                transport=in_memory(emulator),
                heartbeat=None,
            ) as session:
                await session.send_user_message("hello")
                async for _ in session:
                    pass
        assert info.value.code == 1006
        assert not isinstance(info.value, rt.ResumeExhausted)


@pytest.mark.mock_clock
async def test_an_authentication_failure_on_reconnect_ends_at_once() -> None:
    async with open_emulator(ping_interval=None) as emulator:
        emulator.faults = Faults(drop_after_events=4)
        transport = in_memory(
            emulator, lambda n: rt.AuthenticationError("key revoked") if n >= 2 else None
        )
        with pytest.raises(rt.AuthenticationError, match="revoked"):
            async with rt.open_realtime_session(
                url="ws://emulator/v1/realtime",
                api_key="sk-test",
                transport=transport,
                heartbeat=None,
                resume=rt.ResumePolicy(),
            ) as session:
                await session.send_user_message("hello")
                async for _ in session:
                    pass


@pytest.mark.mock_clock
async def test_a_server_that_keeps_dropping_ends_after_the_attempts_with_one_exception() -> None:
    async with open_emulator(ping_interval=None) as emulator:
        emulator.faults = Faults(drop_after_events=4)
        start = trio.current_time()
        with pytest.raises(rt.ResumeExhausted) as info:
            async with rt.open_realtime_session(
                url="ws://emulator/v1/realtime",
                api_key="sk-test",
                transport=in_memory(emulator),
                heartbeat=None,
                resume=rt.ResumePolicy(max_attempts=3, backoff_initial=1.0, jitter=0.0),
            ) as session:
                await session.send_user_message("hello")
                async for _ in session:
                    pass
        assert info.value.code == 1006
        assert "3 attempts" in str(info.value)
        assert info.value.__cause__ is not None
        assert len(emulator.connections) == 4  # the first, then three attempts
        assert trio.current_time() - start == pytest.approx(0 + 1 + 2, abs=0.5)


def test_backoff_grows_with_jitter_within_its_bounds() -> None:
    policy = rt.ResumePolicy(backoff_initial=0.5, backoff_max=4.0, jitter=0.2, random=lambda: 1.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.0, 0.6, 1.2, 2.4, 4.8, 4.8]
    low = rt.ResumePolicy(backoff_initial=0.5, jitter=0.2, random=lambda: 0.0)
    assert low.delay(2) == pytest.approx(0.4)
    assert not rt.ResumePolicy().resumes_close(1000, None)
    assert not rt.ResumePolicy().resumes_close(1011, "insufficient_quota")
    assert rt.ResumePolicy().resumes_close(1001, "session_expired")
    assert not rt.ResumePolicy(on_session_expired=False).resumes_close(1001, "session_expired")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_resumes_after_a_drop_on_asyncio() -> None:
    async with run_emulator_in_thread(ping_interval=None) as emulator:
        emulator.set_faults(Faults(drop_after_events=8))
        async with rt.open_realtime_session(
            url=emulator.url, api_key="sk-test", heartbeat=None, resume=rt.ResumePolicy()
        ) as session:
            emulator.set_faults(Faults())
            await session.send_user_message("Hello there")
            seen: list[Any] = []
            async for event in session:
                seen.append(event)
                if isinstance(event, ev.SessionResumedEvent):
                    await session.send_user_message("Still there?")
                if isinstance(event, ev.ResponseDoneEvent) and any(
                    isinstance(e, ev.SessionResumedEvent) for e in seen
                ):
                    break
        resumed = [e for e in seen if isinstance(e, ev.SessionResumedEvent)]
        assert len(resumed) == 1 and resumed[0].close_code == 1006
