"""open_realtime_session against the local emulator, over real loopback sockets.

What a user relies on: a conversation works end to end; every helper's frame is what
the service accepts (checked with the official client's models); closes, auth and
connection failures come out as one clear exception; the server always sees a clean
close; backpressure holds when the consumer stops reading.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import numpy as np
import pydantic
import pytest
import trio
import trio.testing
import trustme
from openai.types.realtime import RealtimeClientEvent

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime.testing import BrainReply, BrainRequest, Emulator, Faults, open_emulator

OFFICIAL_CLIENT_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeClientEvent)
TEXT = ev.SessionConfig(output_modalities=["text"])


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with open_emulator() as emulator:
        yield emulator


def open_session(emulator: Emulator, **options: Any) -> Any:
    options.setdefault("api_key", "sk-test")
    return rt.open_realtime_session("gpt-realtime", url=emulator.url, **options)


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


async def test_text_conversation(emulator: Emulator) -> None:
    async with open_session(emulator, session=TEXT) as session:
        assert isinstance(session.config, ev.SessionConfig)
        assert session.config.output_modalities == ["text"]
        assert session.session_id is not None and session.session_id.startswith("sess_")
        await session.send_user_message("Say hello")
        assert "Say hello" in await reply_text(session)
        assert session.active_response_id is None
        stats = session.statistics()
    connection = emulator.connections[0]
    await connection.closed.wait()
    assert connection.received_close_code == 1000
    assert stats.events_sent == len(connection.received)
    assert stats.events_received == len(connection.sent) - 1  # rate_limits.updated in flight
    assert stats.bytes_sent > 0 and stats.bytes_received > 0
    assert stats.frames_skipped == 0


async def test_every_helper_frame_is_accepted_by_the_official_models(emulator: Emulator) -> None:
    async with open_session(emulator, session=TEXT) as session:
        await session.update_session(instructions="Be brief.")
        await session.send_user_message("first", create_response=False)
        item = await session.retrieve_item(
            (await emulator.connections[0].wait_for(ev.ConversationItemCreateEvent)).item.id
            or _first_item_id(emulator)
        )
        assert isinstance(item, ev.UserMessageItem)
        await session.create_response(instructions="Answer in one word.", max_output_tokens=20)
        await reply_text(session)
        await session.create_item(
            ev.AssistantMessageItem(content=[ev.ContentPart(type="output_text", text="ok")]),
            previous_item_id="root",
        )
        await session.send_function_output("call_123", {"temperature": 21})
        await session.append_audio(audio.pcm16_bytes(audio.tone(440, 250)))
        await session.commit_audio()
        await session.clear_audio()
        await session.cancel_response()
        await session.truncate_item(item.id or "", 0, 0)
        await session.delete_item(item.id or "")
        await session.send({"type": "response.create", "response": {"conversation": "none"}})
    connection = emulator.connections[0]
    await connection.closed.wait()
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


def _first_item_id(emulator: Emulator) -> str:
    for sent in emulator.connections[0].sent:
        if sent["type"] == "conversation.item.added":
            return str(sent["item"]["id"])
    raise AssertionError("no item was added")


async def test_server_error_is_correlated_and_the_session_stays_usable(emulator: Emulator) -> None:
    async with open_session(emulator, session=TEXT) as session:
        with pytest.raises(rt.ServerError) as info:
            await session.update_session({"type": "realtime", "bogus_field": 1})
        assert info.value.code == "unknown_parameter"
        assert info.value.param == "session.bogus_field"
        with pytest.raises(rt.ServerError) as missing:
            await session.retrieve_item("item_does_not_exist")
        assert missing.value.type == "invalid_request_error"
        await session.send_user_message("still there?")
        assert "still there?" in await reply_text(session)


async def test_initial_session_rejected_raises_server_error(emulator: Emulator) -> None:
    with pytest.raises(rt.ServerError, match="Unknown parameter"):
        async with open_session(emulator, session={"modalities": ["text"]}):
            pytest.fail("the block must not run")
    await emulator.connections[0].closed.wait()
    assert emulator.connections[0].received_close_code == 1000


async def test_audio_in_audio_out_with_server_vad(emulator: Emulator) -> None:
    speech = np.concatenate([audio.silence(300), audio.voice_like(1200), audio.silence(900)])
    async with open_session(emulator) as session:
        await session.append_audio(audio.pcm16_bytes(speech))
        received_audio = 0
        kinds = []
        async for event in session:
            kinds.append(event.type)
            if isinstance(event, ev.ResponseAudioDeltaEvent):
                received_audio += len(event.delta)
            if isinstance(event, ev.ResponseDoneEvent):
                break
    assert "input_audio_buffer.speech_started" in kinds
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")
    assert received_audio > 0
    assert session.statistics().audio_sent_ms == pytest.approx(2400)


@pytest.mark.parametrize("code", [1000, 4000, 1011])
async def test_server_close_1000_ends_iteration_other_codes_raise(code: int) -> None:
    faults = Faults(close_after_events=2, close_code=code, close_reason="why")
    async with open_emulator(faults=faults) as emulator:
        try:
            async with open_session(emulator, session=TEXT) as session:
                events = [event async for event in session]
        except rt.SessionClosed as exc:
            assert code != 1000
            assert (exc.code, exc.reason) == (code, "why")
            assert not isinstance(exc, BaseExceptionGroup)
        else:
            assert code == 1000
            assert [type(e).__name__ for e in events][:2] == [
                "SessionCreatedEvent",
                "SessionUpdatedEvent",
            ]


async def test_wrong_key_is_authentication_error_and_never_shows_the_key() -> None:
    async with open_emulator(api_key="sk-right") as emulator:
        with pytest.raises(rt.AuthenticationError) as info:
            async with open_session(emulator, api_key="sk-wrong-secret-value"):
                pytest.fail("the block must not run")
    assert "sk-wrong-secret-value" not in str(info.value)
    assert "sk-wrong-secret-value" not in repr(info.value)
    assert info.value.__cause__ is not None


async def test_unknown_model_is_session_closed_4000(emulator: Emulator) -> None:
    with pytest.raises(rt.SessionClosed) as info:
        async with rt.open_realtime_session("not-a-model", api_key="k", url=emulator.url):
            pytest.fail("the block must not run")
    assert info.value.code == 4000
    assert "invalid_model" in info.value.reason


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.deadline(5)
async def test_refused_connection_is_reported_fast() -> None:
    start = trio.current_time()
    with pytest.raises(rt.ConnectError) as info:
        async with rt.open_realtime_session(
            api_key="k", url=f"ws://127.0.0.1:{_closed_port()}/v1", connect_timeout=60
        ):
            pytest.fail("the block must not run")
    assert not isinstance(info.value, rt.ConnectTimeout)
    assert trio.current_time() - start < 5


@pytest.mark.deadline(5)
async def test_certificate_failure_is_reported_fast() -> None:
    """A server whose certificate is not trusted: ConnectError at once, no timeout."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)

    async def handshake_then_hang(stream: trio.SSLStream[trio.SocketStream]) -> None:
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.do_handshake()
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_ssl_over_tcp, handshake_then_hang, 0, context, host="127.0.0.1")
        )
        port = listeners[0].transport_listener.socket.getsockname()[1]
        with pytest.raises(rt.ConnectError, match="certificate") as info:
            async with rt.open_realtime_session(
                api_key="k", url=f"wss://127.0.0.1:{port}/v1", connect_timeout=60
            ):
                pytest.fail("the block must not run")
        assert not isinstance(info.value, rt.ConnectTimeout)
        nursery.cancel_scope.cancel()


async def test_heartbeat_timeout_with_a_stalled_peer() -> None:
    async with open_emulator(faults=Faults(stall_after_events=0)) as emulator:
        start = trio.current_time()
        with pytest.raises(rt.HeartbeatTimeout):
            async with open_session(
                emulator, heartbeat=rt.Heartbeat(interval=0.2, timeout=0.3), close_timeout=0.5
            ) as session:
                async for _ in session:
                    pass
        assert trio.current_time() - start < 0.2 + 0.3 + 0.5 + 2  # detection + bounded close


async def test_close_is_bounded_when_the_server_ignores_it() -> None:
    async with open_emulator(faults=Faults(ignore_close=True)) as emulator:
        start = trio.current_time()
        async with open_session(emulator, close_timeout=0.3):
            pass
        assert trio.current_time() - start < 3


@pytest.mark.parametrize("stage", ["connected", "receiving", "sending", "waiting_reply"])
@pytest.mark.parametrize("how", ["cancel", "error"])
async def test_cancellation_and_user_errors_still_close_with_1000(
    emulator: Emulator, stage: str, how: str
) -> None:
    class Boom(Exception):
        pass

    async def body(session: rt.RealtimeSession) -> None:
        if stage == "receiving":
            await session.receive()
            if how == "error":
                raise Boom
            await trio.sleep_forever()
        elif stage == "sending":
            await session.append_audio(b"\x00\x00" * 24000 * 3)
            if how == "error":
                raise Boom
            await session.send_user_message("x")
            await trio.sleep_forever()
        elif stage == "waiting_reply":
            emulator.connections[0].faults.delay_s = 5  # the reply is slow in coming
            async with trio.open_nursery() as nursery:
                nursery.start_soon(session.update_session, ev.SessionConfig(instructions="x"))
                await trio.testing.wait_all_tasks_blocked()
                if how == "error":
                    raise Boom
        elif how == "error":
            raise Boom
        else:
            await trio.sleep_forever()

    with trio.move_on_after(0.5 if how == "cancel" else 10) as scope:
        try:
            async with open_session(emulator) as session:
                await body(session)
        except Boom:
            pass
        except BaseExceptionGroup as group:  # the test's own nursery groups its exceptions
            if how == "cancel":
                raise
            assert group.subgroup(Boom) is not None
    assert scope.cancelled_caught == (how == "cancel")
    connection = await emulator.wait_connection(1)
    await connection.closed.wait()
    assert connection.received_close_code == 1000


@pytest.mark.parametrize("how", ["cancel", "error"])
async def test_cancel_while_connecting_still_closes(how: str) -> None:
    async with open_emulator(faults=Faults(delay_s=0.3)) as emulator:
        with trio.move_on_after(0.1) as scope:
            async with open_session(emulator):
                pytest.fail("the block must not run")
        assert scope.cancelled_caught
        connection = await emulator.wait_connection(1)
        await connection.closed.wait()
        assert connection.received_close_code == 1000


REPLY_AUDIO = np.tile(audio.voice_like(10_000), 12)
"""Two minutes of reply audio: about 7.7 MB of deltas, more than loopback TCP buffers hold."""


def long_reply(request: BrainRequest) -> BrainReply:
    return BrainReply(text="x" * 2000, audio=REPLY_AUDIO)


async def test_a_consumer_that_stops_reading_keeps_memory_bounded() -> None:
    async with (
        open_emulator(brain=long_reply) as emulator,
        open_session(emulator, event_buffer=32) as session,
    ):
        await session.create_response()
        await trio.testing.wait_all_tasks_blocked(cushion=0.2)
        # The reader is parked on a full events stream; TCP pushed back on the server.
        stats = session.statistics()
        assert stats.events_buffered == 32
        connection = emulator.connections[0]
        sent_while_stalled = len(connection.sent)
        total_deltas = len(REPLY_AUDIO) // 2400
        assert sent_while_stalled < total_deltas
        # Reading again drains everything, in order, nothing lost.
        deltas = 0
        async for event in session:
            if isinstance(event, ev.ResponseAudioDeltaEvent):
                deltas += 1
            if isinstance(event, ev.ResponseDoneEvent):
                break
        assert deltas >= total_deltas
        assert session.statistics().peak_events_buffered == 32


async def test_statistics_is_a_frozen_snapshot(emulator: Emulator) -> None:
    async with open_session(emulator) as session:
        stats = session.statistics()
        with pytest.raises(AttributeError):
            stats.events_received = 5  # type: ignore[misc]
        assert stats.event_buffer_size == rt._engine.EVENT_BUFFER
        assert stats.control_queued == 0
