"""Replay: the emulator serves a recorded session, so a call becomes a regression test.

What a user relies on: a recording (hand-written, or captured from a first emulator's
``received`` / ``sent``) replays to a live client turn by turn, with the recorded ids;
the client's turns are matched by type and by the fields that steer the conversation,
not by ids or audio chunking; a divergence is an ``error`` naming the turn, the event
and the field; recorded timing holds on the mock clock; a recording of another kind is
refused at connect. Socket tests use loopback; timing runs over in-memory streams.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection, wrap_client_stream

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime._cli import build_parser
from trio_realtime.testing import Emulator, Retention, open_emulator, run_emulator_in_thread

from .test_emulator_trio import AUTH, connect, expect_close, receive, send

REALTIME = "?model=gpt-realtime"
TEXT = ev.SessionConfig(output_modalities=["text"], audio={"input": {"turn_detection": None}})


def write_recording(
    path: Path, entries: list[tuple[float, str, dict[str, Any]]], kind: str = "realtime"
) -> Path:
    """A recording in the JSONL format: a header line, then one line per frame."""
    header = {
        "trio_realtime_recording": 1,
        "kind": kind,
        "url": "wss://api.openai.com/v1/realtime?model=gpt-realtime",
        "started_at": 1763770000.0,
    }
    lines = [json.dumps(header)]
    lines += [
        json.dumps({"t": t, "dir": direction, "session_id": "sess_RECORDED", "event": event})
        for t, direction, event in entries
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def user_text(text: str, event_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }
    if event_id is not None:
        event["event_id"] = event_id
    return event


def server(kind: str, number: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"event_REC{number:02d}", **fields}


SESSION = {"type": "realtime", "object": "realtime.session", "id": "sess_RECORDED"}
SCRIPT: list[tuple[float, str, dict[str, Any]]] = [
    (0.005, "recv", server("session.created", 1, session={**SESSION, "instructions": ""})),
    (
        0.100,
        "send",
        {
            "type": "session.update",
            "event_id": "evt_a",
            "session": {"type": "realtime", "instructions": "Be brief."},
        },
    ),
    (0.150, "recv", server("session.updated", 2, session={**SESSION, "instructions": "Be brief."})),
    (1.000, "send", user_text("Hello", "evt_b")),
    (1.010, "recv", server("conversation.item.added", 3, item={"id": "item_REC1"})),
    (1.020, "recv", server("conversation.item.done", 4, item={"id": "item_REC1"})),
    (1.100, "send", {"type": "response.create", "event_id": "evt_c"}),
    (1.400, "recv", server("response.created", 5, response={"id": "resp_REC1"})),
    (1.700, "recv", server("response.output_text.delta", 6, response_id="resp_REC1", delta="Hi")),
    (2.000, "recv", server("response.output_text.delta", 7, response_id="resp_REC1", delta="!")),
    (
        2.500,
        "recv",
        server("response.done", 8, response={"id": "resp_REC1", "status": "completed"}),
    ),
]
RECORDED_REPLIES = [event for _, direction, event in SCRIPT if direction == "recv"]


@pytest.fixture
def script(tmp_path: Path) -> Path:
    return write_recording(tmp_path / "call.jsonl", SCRIPT)


async def replies(ws: WebSocketConnection, count: int) -> list[dict[str, Any]]:
    return [await receive(ws) for _ in range(count)]


async def settled(connection: Any) -> list[str]:
    """What the emulator has sent once everything in this process is idle."""
    await trio.testing.wait_all_tasks_blocked()
    types: list[str] = connection.sent_types()
    return types


# -- a hand-written recording ------------------------------------------------------------------


async def test_replays_a_recording_turn_by_turn_with_the_recorded_ids(script: Path) -> None:
    async with open_emulator(replay=script, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            assert await receive(ws) == RECORDED_REPLIES[0]
            connection = emulator.connections[0]
            assert await settled(connection) == ["session.created"]  # waits for the client
            await send(ws, SCRIPT[1][2] | {"event_id": "another_id"})
            assert await receive(ws) == RECORDED_REPLIES[1]
            await send(ws, user_text("Hello"))  # no event_id: ids never matter
            assert await replies(ws, 2) == RECORDED_REPLIES[2:4]
            assert await settled(connection) == [e["type"] for e in RECORDED_REPLIES[:4]]
            await send(ws, {"type": "response.create"})
            assert await replies(ws, 4) == RECORDED_REPLIES[4:]
        await connection.closed.wait()
    assert connection.replay_mismatches == []
    assert connection.sent == RECORDED_REPLIES
    assert connection.admitted and connection.kind == "realtime"
    assert isinstance(connection.session, ev.SessionConfig)
    assert connection.session.instructions == "Be brief."


async def test_a_client_sending_ahead_gets_the_replies_in_order(script: Path) -> None:
    async with open_emulator(replay=script, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            for _, direction, event in SCRIPT:
                if direction == "send":
                    await send(ws, event)
            assert await replies(ws, len(RECORDED_REPLIES)) == RECORDED_REPLIES
    assert emulator.connections[0].replay_mismatches == []


async def test_a_different_message_is_a_mismatch_naming_turn_event_and_field(
    script: Path,
) -> None:
    async with open_emulator(replay=script, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            await receive(ws)
            await send(ws, SCRIPT[1][2])
            await receive(ws)
            await send(ws, user_text("Goodbye", "evt_bad"))
            error = await receive(ws)
            assert error["type"] == "error"
            details = error["error"]
            assert details["type"] == "invalid_request_error"
            assert details["code"] == "replay_mismatch"
            assert details["param"] == "item.text"
            assert details["event_id"] == "evt_bad"
            message = details["message"]
            assert "turn 2, event 1 of 1 ('conversation.item.create')" in message
            assert 'field \'item.text\': expected "Hello", got "Goodbye"' in message
            # The conversation keeps its shape, so the replay goes on.
            assert await replies(ws, 2) == RECORDED_REPLIES[2:4]
            await send(ws, {"type": "response.create"})
            assert await replies(ws, 4) == RECORDED_REPLIES[4:]
        connection = emulator.connections[0]
    assert connection.replay_mismatches == [message]


async def test_a_different_session_field_names_its_path(script: Path) -> None:
    async with open_emulator(replay=script, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            await receive(ws)
            update = {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": "Be long."},
            }
            await send(ws, update)
            error = await receive(ws)
            assert error["error"]["param"] == "session.instructions"
            assert "turn 1, event 1 of 1 ('session.update')" in error["error"]["message"]
            assert 'expected "Be brief.", got "Be long."' in error["error"]["message"]
            assert await receive(ws) == RECORDED_REPLIES[1]
            await send(ws, {"type": "session.update", "session": {"type": "realtime"}})
            await receive(ws)  # the recording has no second update: a different type now
        assert len(emulator.connections[0].replay_mismatches) == 2


async def test_a_different_event_type_stops_the_replay(script: Path) -> None:
    async with open_emulator(replay=script, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            await receive(ws)
            await send(ws, SCRIPT[1][2])
            await receive(ws)
            await send(ws, {"type": "response.create", "event_id": "evt_early"})
            error = (await receive(ws))["error"]
            assert error["code"] == "replay_mismatch"
            assert error["param"] == "type"
            assert error["event_id"] == "evt_early"
            assert "turn 2, event 1 of 1 ('conversation.item.create')" in error["message"]
            assert "expected 'conversation.item.create', got 'response.create'" in error["message"]
            assert "the replay stopped" in error["message"]
            await send(ws, user_text("Hello", "evt_late"))
            after = (await receive(ws))["error"]
            assert after["code"] == "replay_mismatch"
            assert after["event_id"] == "evt_late"
            assert after["message"].startswith("Replay stopped at turn 2")
            connection = emulator.connections[0]
            assert await settled(connection) == [
                "session.created",
                "session.updated",
                "error",
                "error",
            ]
    assert connection.replay_mismatches == [error["message"]]


async def test_an_event_past_the_end_of_the_recording_is_a_mismatch(script: Path) -> None:
    async with open_emulator(replay=script, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            for _, direction, event in SCRIPT:
                if direction == "send":
                    await send(ws, event)
            await replies(ws, len(RECORDED_REPLIES))
            await send(ws, {"type": "response.create"})
            error = (await receive(ws))["error"]
            assert error["code"] == "replay_mismatch"
            assert "turn 4, event 1 (past the end of the recording)" in error["message"]


async def test_a_recording_of_another_kind_is_refused_at_connect(tmp_path: Path) -> None:
    recording = write_recording(
        tmp_path / "translation.jsonl",
        [(0.01, "recv", {"type": "session.created", "session": {"type": "translation"}})],
        kind="translation",
    )
    async with open_emulator(replay=recording, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            error = (await receive(ws))["error"]
            assert error["code"] == "replay_mismatch"
            assert "replays a translation recording" in error["message"]
            assert "a realtime connection" in error["message"]
            assert await expect_close(ws) == (4000, "invalid_request_error.replay_mismatch")
        refused = emulator.connections[0]
        assert not refused.admitted
        assert refused.replay_mismatches == [error["message"]]
        async with connect(emulator.translation_url + "?model=gpt-realtime-translate") as ws:
            assert (await receive(ws))["type"] == "session.created"


async def test_a_bad_recording_fails_when_the_emulator_starts(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"not": "a recording"}\n')
    with pytest.raises(ValueError, match="not a trio_realtime recording"):
        async with open_emulator(replay=broken):
            pytest.fail("must not start")
    odd = write_recording(tmp_path / "odd.jsonl", [], kind="webrtc")
    with pytest.raises(ValueError, match="kind 'webrtc'"):
        async with open_emulator(replay=odd):
            pytest.fail("must not start")


# -- audio: matched by duration, not by chunks ----------------------------------------------------


def append(ms: int, *, kind: str = "input_audio_buffer.append", seed: int = 0) -> dict[str, Any]:
    data = audio.pcm16_bytes(audio.voice_like(ms, seed=seed))
    return {"type": kind, "audio": base64.b64encode(data).decode("ascii")}


def audio_script() -> list[tuple[float, str, dict[str, Any]]]:
    """Five 200 ms appends and a commit; then server-VAD style audio-only turns."""
    entries: list[tuple[float, str, dict[str, Any]]] = [
        (0.01, "recv", server("session.created", 1, session=SESSION)),
    ]
    entries += [(0.1 + n * 0.2, "send", append(200, seed=n)) for n in range(5)]
    entries += [
        (1.1, "send", {"type": "input_audio_buffer.commit"}),
        (1.2, "recv", server("input_audio_buffer.committed", 2, item_id="item_A")),
        (1.3, "send", append(300)),
        (1.4, "send", append(300)),
        (1.5, "recv", server("input_audio_buffer.speech_started", 3, item_id="item_B")),
        (1.6, "send", append(400)),
        (1.7, "recv", server("input_audio_buffer.speech_stopped", 4, item_id="item_B")),
    ]
    return entries


async def test_audio_matches_by_duration_whatever_the_chunking(tmp_path: Path) -> None:
    recording = write_recording(tmp_path / "audio.jsonl", audio_script())
    async with open_emulator(replay=recording, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            await receive(ws)
            connection = emulator.connections[0]
            for _ in range(10):  # 1000 ms as 100 ms chunks instead of 200 ms ones
                await send(ws, append(100))
            assert await settled(connection) == ["session.created"]
            await send(ws, {"type": "input_audio_buffer.commit"})
            assert (await receive(ws))["type"] == "input_audio_buffer.committed"
            # Audio-only turns: a reply goes out as soon as the recorded amount arrived,
            # extra audio counts toward the next turn.
            await send(ws, append(250))
            await send(ws, append(250))
            assert await settled(connection) == ["session.created", "input_audio_buffer.committed"]
            await send(ws, append(250))  # 750 ms >= 600 ms
            assert (await receive(ws))["type"] == "input_audio_buffer.speech_started"
            await send(ws, append(250))  # 150 ms carried over + 250 ms = the recorded 400 ms
            assert (await receive(ws))["type"] == "input_audio_buffer.speech_stopped"
            await send(ws, append(500))  # more audio than recorded is fine
            await trio.testing.wait_all_tasks_blocked()
        assert connection.replay_mismatches == []
        assert connection.input_audio_bytes == 48 * 2500


async def test_too_little_audio_is_a_mismatch_and_the_replay_goes_on(tmp_path: Path) -> None:
    recording = write_recording(tmp_path / "audio.jsonl", audio_script())
    async with open_emulator(replay=recording, ping_interval=None) as emulator:
        async with connect(emulator.realtime_url + REALTIME) as ws:
            await receive(ws)
            await send(ws, append(500))
            await send(ws, {"type": "input_audio_buffer.commit"})
            error = (await receive(ws))["error"]
            assert error["code"] == "replay_mismatch"
            assert error["param"] == "audio"
            assert "turn 1, events 1-5 of 6 ('input_audio_buffer.append')" in error["message"]
            assert (
                "expected 1000 ms of audio (48000 bytes in 5 appends), got 500 ms of audio"
                " (24000 bytes)"
            ) in error["message"]
            assert (await receive(ws))["type"] == "input_audio_buffer.committed"
            # No audio at all where the recording has some: a different event type.
            await send(ws, {"type": "input_audio_buffer.commit"})
            stopped = (await receive(ws))["error"]
            assert "expected 'input_audio_buffer.append' (audio), got" in stopped["message"]
        assert len(emulator.connections[0].replay_mismatches) == 2


# -- timing, on the mock clock over in-memory streams --------------------------------------------


@asynccontextmanager
async def in_memory(emulator: Emulator, resource: str) -> AsyncIterator[WebSocketConnection]:
    client, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emulator.serve_stream, server_stream)
        ws = await wrap_client_stream(
            nursery,
            client,  # type: ignore[arg-type]
            "localhost",
            resource,
            extra_headers=AUTH,
        )
        try:
            yield ws
        finally:
            with trio.move_on_after(1):
                await ws.aclose()
            await client.aclose()


async def timed(ws: WebSocketConnection, count: int, since: float) -> list[tuple[str, float]]:
    arrivals = []
    for _ in range(count):
        event = await receive(ws)
        arrivals.append((event["type"], round(trio.current_time() - since, 6)))
    return arrivals


@pytest.mark.mock_clock
@pytest.mark.parametrize("speed", [1.0, 2.0, 0.0])
async def test_recorded_timing_is_kept(script: Path, speed: float) -> None:
    def gap(seconds: float) -> float:
        return 0.0 if speed == 0 else round(seconds / speed, 6)

    async with (
        open_emulator(replay=script, replay_speed=speed, ping_interval=None) as emulator,
        in_memory(emulator, "/v1/realtime" + REALTIME) as ws,
    ):
        start = trio.current_time()
        assert await timed(ws, 1, start) == [("session.created", gap(0.005))]
        await trio.sleep(3.0)  # the client takes its time: replies follow its events
        sent = trio.current_time()
        await send(ws, SCRIPT[1][2])
        assert await timed(ws, 1, sent) == [("session.updated", gap(0.05))]
        sent = trio.current_time()
        await send(ws, user_text("Hello"))
        assert await timed(ws, 2, sent) == [
            ("conversation.item.added", gap(0.01)),
            ("conversation.item.done", gap(0.02)),
        ]
        sent = trio.current_time()
        await send(ws, {"type": "response.create"})
        assert await timed(ws, 4, sent) == [
            ("response.created", gap(0.3)),
            ("response.output_text.delta", gap(0.6)),
            ("response.output_text.delta", gap(0.9)),
            ("response.done", gap(1.4)),
        ]


# -- a conversation recorded on a first emulator, replayed on a second ----------------------------


async def conversation(url: str) -> list[dict[str, Any]]:
    """Two text turns and an audio turn with trio_realtime; every event it received."""
    received: list[dict[str, Any]] = []

    async def until_done(session: rt.RealtimeSession) -> None:
        async for event in session:
            received.append(event.to_dict())
            if isinstance(event, ev.ResponseDoneEvent):
                return

    async with rt.open_realtime_session(url=url, api_key="sk-test", session=TEXT) as session:
        received.append({"type": "session.updated (configured)"})
        await session.send_user_message("Hello")
        await until_done(session)
        await session.send_user_message("What is the weather?")
        await until_done(session)
        await session.append_audio(audio.voice_like(1200, seed=3))
        await session.commit_audio()
        await session.create_response()
        await until_done(session)
    return received


async def test_a_recorded_conversation_replays_to_the_same_client(tmp_path: Path) -> None:
    path = tmp_path / "conversation.jsonl"
    async with open_emulator(ping_interval=None) as first:
        live = await conversation(first.url)
        original = first.connections[0]
        await original.closed.wait()
        original.write_recording(path)
    recording = rt.read_recording(path)
    assert recording.kind == "realtime"
    in_memory_recording = original.recording()
    assert [(e.dir, e.event, e.session_id) for e in recording.entries] == [
        (e.dir, e.event, e.session_id) for e in in_memory_recording.entries
    ]
    assert [e.t for e in recording.entries] == pytest.approx(
        [e.t for e in in_memory_recording.entries], abs=1e-6
    )
    assert [entry.event for entry in recording.entries if entry.dir == "recv"] == original.sent
    assert [entry.event for entry in recording.entries if entry.dir == "send"] == [
        event.to_dict() for event in original.received
    ]
    session_id = original.sent[0]["session"]["id"]
    assert {entry.session_id for entry in recording.entries} == {session_id}

    async with open_emulator(replay=path, ping_interval=None) as second:
        replayed = await conversation(second.url)
        again = second.connections[0]
        await again.closed.wait()
    assert again.replay_mismatches == []
    assert replayed == live
    assert again.sent == original.sent
    assert [event.type for event in again.received] == [event.type for event in original.received]
    texts = [event["delta"] for event in replayed if event["type"] == "response.output_text.delta"]
    assert "".join(texts).startswith("You said: Hello")


async def test_a_client_that_changed_gets_a_mismatch_from_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "conversation.jsonl"
    async with open_emulator(ping_interval=None) as first:
        await conversation(first.url)
        await first.connections[0].closed.wait()
        first.connections[0].write_recording(path)
    async with (
        open_emulator(replay=path, ping_interval=None) as second,
        rt.open_realtime_session(url=second.url, api_key="sk-test", session=TEXT) as session,
    ):
        await session.send_user_message("Hello")
        async for event in session:
            if isinstance(event, ev.ResponseDoneEvent):
                break
        await session.send_user_message("What is the weather, really?")
        text = []
        errors = []
        async for event in session:
            if isinstance(event, ev.ErrorEvent):
                errors.append(event.error)
            elif isinstance(event, ev.ResponseTextDeltaEvent):
                text.append(event.delta)
            elif isinstance(event, ev.ResponseDoneEvent):
                break
        assert [error.code for error in errors] == ["replay_mismatch"]
        assert errors[0].param == "item.text"
        # The turn's number depends on how the first run interleaved; its event does not.
        assert re.search(
            r"turn \d+, event 1 of 1 \('conversation.item.create'\)", errors[0].message
        )
        assert 'expected "What is the weather?", got "What is the weather, really?"' in (
            errors[0].message
        )
        assert "".join(text) == "You said: What is the weather?"  # as recorded
        # The recording goes on with audio: a session update instead stops the replay,
        # and a helper waiting for its reply fails at once.
        with pytest.raises(rt.ServerError) as stopped:
            await session.update_session(instructions="Be brief.")
        assert stopped.value.code == "replay_mismatch"
        assert "the replay stopped" in stopped.value.message
        mismatches = second.connections[0].replay_mismatches
        assert len(mismatches) == 2
        assert (
            "expected 'input_audio_buffer.append' (audio), got 'session.update'" in (mismatches[1])
        )


def test_the_official_client_against_a_replayed_recording(tmp_path: Path) -> None:
    async def talk(url: str) -> list[Any]:
        client = openai.AsyncOpenAI(api_key="sk-test", websocket_base_url=url)
        received: list[Any] = []
        async with client.realtime.connect(model="gpt-realtime") as connection:
            received.append(await connection.recv())
            await connection.session.update(
                session={"type": "realtime", "output_modalities": ["text"]}
            )
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello"}],
            }
            await connection.conversation.item.create(item=item)  # type: ignore[arg-type]
            await connection.response.create()
            async for event in connection:
                received.append(event)
                if event.type == "response.done":
                    break
        await client.close()
        return received

    path = tmp_path / "official.jsonl"
    with run_emulator_in_thread(ping_interval=None) as first:
        live = asyncio.run(talk(first.url))
    first.connections[0].write_recording(path)
    with run_emulator_in_thread(replay=path, ping_interval=None) as second:
        replayed = asyncio.run(talk(second.url))
    assert [event.to_dict() for event in replayed] == [event.to_dict() for event in live]
    assert second.connections[0].replay_mismatches == []
    assert replayed[-1].response.status == "completed"


async def test_a_translation_session_replays_and_closes(tmp_path: Path) -> None:
    path = tmp_path / "translation.jsonl"
    target = "/realtime/translations?model=gpt-realtime-translate"
    speech = audio.pcm16_bytes(audio.voice_like(1000, seed=5))

    async def translate(url: str, chunk: int) -> tuple[list[dict[str, Any]], tuple[int, Any]]:
        events = []
        async with connect(url + target) as ws:
            events.append(await receive(ws))
            update = {
                "type": "session.update",
                "session": {"audio": {"output": {"language": "es"}}},
            }
            await send(ws, update)
            events.append(await receive(ws))
            for start in range(0, len(speech), chunk):
                piece = base64.b64encode(speech[start : start + chunk]).decode("ascii")
                await send(ws, {"type": "session.input_audio_buffer.append", "audio": piece})
            await send(ws, {"type": "session.close"})
            while events[-1]["type"] != "session.closed":
                events.append(await receive(ws))
            closed = await expect_close(ws)
        return events, closed

    async with open_emulator(ping_interval=None, retention=Retention(audio=True)) as first:
        live, live_close = await translate(first.url, 9600)
        await first.connections[0].closed.wait()
        first.connections[0].write_recording(path)
    async with open_emulator(replay=path, ping_interval=None) as second:
        replayed, replayed_close = await translate(second.url, 4800 * 3)
    assert replayed == live
    assert replayed_close == live_close == (1000, None)
    assert "session.output_audio.delta" in {event["type"] for event in replayed}
    assert second.connections[0].replay_mismatches == []
    assert second.connections[0].kind == "translation"


# -- the command line ------------------------------------------------------------------------------


def test_serve_replay_arguments(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.replay, args.replay_speed) == (None, 0.0)
    args = build_parser().parse_args(
        ["serve", "--replay", str(tmp_path / "call.jsonl"), "--replay-speed", "1.5"]
    )
    assert (args.replay, args.replay_speed) == (tmp_path / "call.jsonl", 1.5)


async def test_serve_replays_a_recording(script: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "trio_realtime",
        "serve",
        "--port",
        "0",
        "--replay",
        str(script),
    ]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        output = b""
        while b"\n" not in output:
            data = await process.stdout.receive_some()
            assert data, "the command exited before printing its URL"
            output += data
        url = output.split(b"\n", 1)[0].decode()
        async with connect(url + "/realtime" + REALTIME) as ws:
            assert await receive(ws) == RECORDED_REPLIES[0]
            await send(ws, SCRIPT[1][2])
            assert await receive(ws) == RECORDED_REPLIES[1]
        process.send_signal(signal.SIGINT)
        assert await process.wait() == 0
        errors = b""
        while data := await process.stderr.receive_some():
            errors += data
        assert b"Replaying" in errors and b"realtime session" in errors
        assert b"Traceback" not in errors
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stdout.aclose()
        await process.stderr.aclose()


def test_serve_refuses_a_file_that_is_not_a_recording(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    result = subprocess.run(
        [sys.executable, "-m", "trio_realtime", "serve", "--port", "0", "--replay", str(bad)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert b"cannot replay" in result.stderr
    assert b"Traceback" not in result.stderr
