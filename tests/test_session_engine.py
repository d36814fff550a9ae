"""The session engine on an in-memory transport: ordering, lanes, failures, close, time.

The test plays the server through a MemoryPeer; anything about time runs on the mock
clock, so minutes pass instantly and deterministically.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
import trio
import trio.testing

import trio_realtime as rt
from trio_realtime import events as ev

from ._memory import MemoryPeer, MemoryServer, created, response_created, response_done, text_delta

pytestmark = pytest.mark.mock_clock


@pytest.fixture
def servers() -> Iterator[Callable[..., MemoryServer]]:
    """Make in-memory servers that greet with session.created; closed after the test."""
    made: list[MemoryServer] = []

    def make(buffer: int = 16, greeting: dict[str, Any] | bool | None = True) -> MemoryServer:
        first = created() if greeting is True else greeting or None
        made.append(MemoryServer(buffer, greeting=first))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def server(servers: Callable[..., MemoryServer]) -> MemoryServer:
    return servers()


@asynccontextmanager
async def session_with_peer(
    server: MemoryServer, **options: Any
) -> AsyncIterator[tuple[rt.RealtimeSession, MemoryPeer]]:
    """Open a session whose server is played by the test."""
    async with rt.open_realtime_session(
        "gpt-realtime", api_key="sk-test", transport=server.connect, **options
    ) as session:
        yield session, server.peers[-1]


async def test_block_starts_after_session_created_and_sees_it_first(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        assert session.session_id == "sess_test"
        first = await session.receive()
        assert isinstance(first, ev.SessionCreatedEvent)
        assert peer.request.url.endswith("/v1/realtime?model=gpt-realtime")
    assert peer.client_close == (1000, "")


async def test_text_events_arrive_typed_and_iteration_ends_on_close_1000(
    server: MemoryServer,
) -> None:
    async with session_with_peer(server) as (session, peer):
        for n in range(3):
            await peer.send(text_delta(n))
        await peer.send("not json")
        await peer.send(b"\x00binary")
        await peer.send({"type": "brand.new.event", "x": 1})
        peer.close(1000)
        received = [event async for event in session]
    kinds = [type(event).__name__ for event in received]
    assert kinds == ["SessionCreatedEvent"] + ["ResponseTextDeltaEvent"] * 3 + [
        "UnknownRealtimeEvent"
    ]
    stats = session.statistics()
    assert stats.frames_skipped == 2
    assert stats.unknown_events == 1
    assert stats.events_received == 5


@pytest.mark.parametrize("code", [4000, 1011, 1006])
async def test_abnormal_server_close_raises_session_closed_once(
    code: int, server: MemoryServer
) -> None:
    with pytest.raises(rt.SessionClosed) as info:
        async with session_with_peer(server) as (session, peer):
            peer.close(code, "invalid_request_error.boom" if code == 4000 else "")
            async for _ in session:
                pass
    assert info.value.code == code
    assert not isinstance(info.value, BaseExceptionGroup)


async def test_auth_close_before_created_is_authentication_error(
    servers: Callable[..., MemoryServer],
) -> None:
    server = servers(greeting=False)

    async def serve() -> None:
        peer = await server.accept()
        await peer.send(
            {
                "type": "error",
                "event_id": "event_1",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                    "message": "Incorrect API key provided: sk-te***",
                    "param": None,
                    "event_id": None,
                },
            }
        )
        peer.close(3000, "invalid_request_error.invalid_api_key")

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        with pytest.raises(rt.AuthenticationError, match="Incorrect API key") as info:
            async with rt.open_realtime_session(api_key="sk-test-secret", transport=server.connect):
                pytest.fail("the block must not run")
    assert "sk-test-secret" not in str(info.value)


async def test_connect_timeout_when_session_created_never_comes(
    servers: Callable[..., MemoryServer],
) -> None:
    server = servers(greeting=False)
    start = trio.current_time()
    with pytest.raises(rt.ConnectTimeout):
        async with rt.open_realtime_session(
            api_key="k", transport=server.connect, connect_timeout=7
        ):
            pytest.fail("the block must not run")
    assert trio.current_time() - start == pytest.approx(7, abs=rt._engine.CLOSE_TIMEOUT + 0.1)


async def test_refused_connection_is_connect_error(server: MemoryServer) -> None:
    server.refuse = OSError("connection refused")
    with pytest.raises(rt.ConnectError, match="refused"):
        async with rt.open_realtime_session(api_key="k", transport=server.connect):
            pytest.fail("the block must not run")


async def test_missing_api_key_fails_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = MemoryServer()
    server.close()
    with pytest.raises(rt.AuthenticationError, match="OPENAI_API_KEY"):
        async with rt.open_realtime_session(transport=server.connect):
            pytest.fail("the block must not run")
    assert server.peers == []


async def test_user_exception_propagates_unchanged_and_closes_1000(server: MemoryServer) -> None:
    with pytest.raises(KeyError, match="mine"):
        async with session_with_peer(server) as (_session, peer):
            raise KeyError("mine")
    assert peer.client_close == (1000, "")


async def test_outer_cancellation_stays_cancellation_and_closes_1000(server: MemoryServer) -> None:
    with trio.move_on_after(5) as scope:
        async with session_with_peer(server) as (_session, peer):
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert peer.client_close == (1000, "")


async def test_outer_cancellation_while_connecting_is_clean(
    servers: Callable[..., MemoryServer],
) -> None:
    server = servers(greeting=False)
    with trio.move_on_after(3) as scope:
        async with rt.open_realtime_session(api_key="k", transport=server.connect):
            pytest.fail("the block must not run")
    assert scope.cancelled_caught
    assert server.peers[0].client_close == (1000, "")


async def test_close_never_answered_is_bounded_by_close_timeout(server: MemoryServer) -> None:
    start = trio.current_time()
    async with session_with_peer(server, close_timeout=2.5) as (_session, peer):
        peer.answer_close = False
    assert trio.current_time() - start == pytest.approx(2.5)
    assert peer.closed.is_set()


async def test_heartbeat_timeout_with_a_silent_peer(server: MemoryServer) -> None:
    start = trio.current_time()
    with pytest.raises(rt.HeartbeatTimeout):
        async with session_with_peer(server, heartbeat=rt.Heartbeat(interval=10, timeout=5)) as (
            _session,
            peer,
        ):
            peer.stall()
            await trio.sleep_forever()
    elapsed = trio.current_time() - start
    assert 10 <= elapsed <= 10 + 5 + 10 + 0.1  # within interval + timeout (+ one interval)
    assert peer.client_close is not None and peer.client_close[0] == 1011


@pytest.mark.deadline(600)
async def test_slow_consumer_is_never_taken_for_a_dead_peer(server: MemoryServer) -> None:
    async with session_with_peer(
        server, heartbeat=rt.Heartbeat(interval=10, timeout=5), event_buffer=4
    ) as (session, peer):
        # Fill the events stream, then keep the peer "busy" while the consumer sleeps.
        for n in range(4):
            await peer.send(text_delta(n))
        await trio.testing.wait_all_tasks_blocked()
        peer.stall()  # pongs stop: as on a socket whose reader is parked behind data
        await trio.sleep(300)  # five minutes without reading
        peer.resume()
        received = [await session.receive() for _ in range(5)]
        assert len(received) == 5
        assert session.statistics().pings_sent == 0  # never blamed the peer while parked
        await trio.sleep(11)
        assert session.statistics().pings_sent >= 1
        assert session.statistics().last_ping_rtt is not None


async def test_byte_counters_count_utf8_bytes_not_characters(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        before = session.statistics()
        await session.send_user_message("héllo ✓")
        wire = [await peer._to_server_receive.receive() for _ in range(2)]
        delta = text_delta(1) | {"delta": "naïve ✓ "}
        frame = json.dumps(delta, ensure_ascii=False)
        await peer.send(frame)
        async for event in session:
            if isinstance(event, ev.ResponseTextDeltaEvent):
                assert event.delta == "naïve ✓ "
                break
        stats = session.statistics()
    assert stats.bytes_sent - before.bytes_sent == sum(len(text.encode()) for text in wire)
    assert stats.bytes_received - before.bytes_received == len(frame.encode())
    assert len(frame.encode()) > len(frame)


async def test_statistics_and_backpressure_with_a_consumer_that_stops(
    servers: Callable[..., MemoryServer],
) -> None:
    server = servers(buffer=8)
    async with session_with_peer(server, event_buffer=16) as (session, peer):
        sent = 0
        with trio.move_on_after(20):
            while True:
                await peer.send(text_delta(sent))
                sent += 1
        stats = session.statistics()
        # The events stream is full and the reader parked: what the peer could send is
        # bounded by the two buffers, not by the 60 s it kept trying.
        assert stats.events_buffered == 16
        assert stats.peak_events_buffered == 16
        assert sent <= 16 + 8 + 2
        assert stats.event_buffer_size == 16


async def test_control_goes_ahead_of_queued_audio_but_commit_keeps_its_place(
    servers: Callable[..., MemoryServer],
) -> None:
    server = servers(buffer=1)
    async with session_with_peer(server) as (session, peer):
        session.append_audio_nowait(b"\x00\x00" * 24000)  # 1 s: ten 100 ms frames
        await trio.testing.wait_all_tasks_blocked()
        # One frame sits in the peer's buffer, the writer is blocked on the second.
        await session.commit_audio()
        await session.create_response()  # must not overtake the commit
        await session.cancel_response()  # must overtake the queued audio
        received = []
        while len(received) < 13:
            received.append((await peer.receive())["type"])
    assert received[:3] == ["input_audio_buffer.append"] * 2 + ["response.cancel"]
    assert received[3:11] == ["input_audio_buffer.append"] * 8
    assert received[11:] == ["input_audio_buffer.commit", "response.create"]


async def test_append_audio_nowait_raises_would_block_when_the_lane_is_full(
    servers: Callable[..., MemoryServer],
) -> None:
    server = servers(buffer=1)
    async with session_with_peer(server, audio_buffer_ms=500) as (session, _peer):
        with pytest.raises(anyio.WouldBlock):
            for _ in range(20):
                session.append_audio_nowait(b"\x00\x00" * 2400)  # 100 ms each
        assert session.statistics().audio_queued_ms <= 500
        with pytest.raises(ValueError, match="even number of bytes"):
            await session.append_audio(b"\x00\x00\x00")


async def test_failure_loses_nothing_silently(servers: Callable[..., MemoryServer]) -> None:
    server = servers(buffer=1)
    with pytest.raises(rt.SessionClosed) as info:
        async with session_with_peer(server) as (session, peer):
            session.append_audio_nowait(b"\x01\x00" * 4800)  # 200 ms: two frames
            await session.send_user_message("hello")
            await trio.testing.wait_all_tasks_blocked()
            peer.close(1011, "server error")
            await trio.sleep_forever()
    unsent = info.value.unsent
    assert session.unsent() == unsent
    written = []
    while peer.pending():
        written.append(peer.receive_nowait()["type"])
    # Every queued frame was either written or handed back, in order within its lane.
    everything = written + [event.type for event in unsent.events]
    assert sorted(everything) == sorted(
        ["input_audio_buffer.append"] * 2 + ["conversation.item.create", "response.create"]
    )
    assert unsent  # the peer's one-frame buffer cannot have taken everything
    audio_written = written.count("input_audio_buffer.append") * 100
    assert audio_written + unsent.audio_ms == 200
    assert unsent.audio_bytes == unsent.audio_ms * 48


async def test_update_session_returns_config_and_server_error_is_correlated(
    server: MemoryServer,
) -> None:
    async with session_with_peer(server) as (session, peer):

        async def play_server() -> None:
            update = await peer.receive()
            assert update["session"]["type"] == "realtime"
            await peer.send(
                {
                    "type": "session.updated",
                    "event_id": "event_2",
                    "session": {"type": "realtime", "id": "sess_test", "instructions": "Be brief."},
                }
            )
            bad = await peer.receive()
            await peer.send(
                {
                    "type": "error",
                    "event_id": "event_3",
                    "error": {
                        "type": "invalid_request_error",
                        "code": "unknown_parameter",
                        "message": "Unknown parameter: 'session.bogus'.",
                        "param": "session.bogus",
                        "event_id": bad["event_id"],
                    },
                }
            )
            await peer.send(
                {
                    "type": "error",
                    "event_id": "event_4",
                    "error": {
                        "type": "invalid_request_error",
                        "message": "unrelated",
                        "event_id": None,
                    },
                }
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(play_server)
            config = await session.update_session(instructions="Be brief.")
            assert isinstance(config, ev.SessionConfig)
            assert config.instructions == "Be brief."
            assert session.config == config
            with pytest.raises(rt.ServerError) as info:
                await session.update_session({"type": "realtime", "bogus": 1})
        assert info.value.code == "unknown_parameter"
        assert info.value.param == "session.bogus"
        # The unrelated error is an ordinary event; the session is still usable.
        kinds = [type(await session.receive()).__name__ for _ in range(4)]
        assert kinds[-2:] == ["ErrorEvent", "ErrorEvent"]
        await session.send_user_message("still here", create_response=False)


async def test_cancel_active_waits_for_the_active_response_to_end(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        await peer.send(response_created("resp_1"))
        while session.active_response_id is None:
            await session.receive()
        assert session.active_response_id == "resp_1"

        async def play_server() -> None:
            cancel = await peer.receive()
            assert cancel == {
                "type": "response.cancel",
                "event_id": cancel["event_id"],
                "response_id": "resp_1",
            }
            await peer.send(response_done("resp_1", status="cancelled"))
            assert (await peer.receive())["type"] == "conversation.item.create"
            assert (await peer.receive())["type"] == "response.create"

        async with anyio.create_task_group() as tg:
            tg.start_soon(play_server)
            await session.send_user_message("new question", cancel_active=True)
        assert session.active_response_id is None


async def test_out_of_band_responses_are_not_the_active_response(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        await peer.send(response_created("resp_oob", conversation_id=None))
        await session.receive()
        await session.receive()
        assert session.active_response_id is None


async def test_sending_after_close_raises_closed_resource_error(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        await session.aclose()
        await session.aclose()  # idempotent
        with pytest.raises(anyio.ClosedResourceError):
            await session.send_user_message("too late")
    assert peer.client_close == (1000, "")


async def test_send_rejects_what_is_not_an_event(server: MemoryServer) -> None:
    async with session_with_peer(server) as (session, peer):
        with pytest.raises(TypeError, match="client event"):
            await session.send(42)  # type: ignore[arg-type]
        await session.send({"type": "response.create", "response": {"instructions": "x"}})
        assert await peer.receive() == {
            "type": "response.create",
            "response": {"instructions": "x"},
        }


async def test_clear_audio_drops_only_audio_not_yet_committed(
    servers: Callable[..., MemoryServer],
) -> None:
    server = servers(buffer=1)
    async with session_with_peer(server) as (session, peer):
        session.append_audio_nowait(b"\x00\x00" * 4800)  # 200 ms, committed below
        await trio.testing.wait_all_tasks_blocked()
        await session.commit_audio()
        session.append_audio_nowait(b"\x00\x00" * 7200)  # 300 ms, cleared below
        await session.clear_audio()
        assert session.statistics().audio_queued_ms <= 200
        received = [(await peer.receive())["type"] for _ in range(4)]
    assert received == ["input_audio_buffer.append"] * 2 + [
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
    ]
    assert peer.pending() == 0
