"""Recordings replay closes: the server's close is in the recording and the replay repeats it.

What a user relies on: a session the server ended (a 4000, a ``session_expired`` 1001,
a cut connection) becomes a regression test that ends the same way, whether it was
recorded by the emulator (``connection.recording()``) or by the client
(``RecordingInterceptor``, which cannot tell who closed: a non-1000 close counts as the
server's); the client's own close is not replayed; recordings from before closes were
recorded (format 1) still replay; audio the emulator kept as sizes replays as silence of
the same size.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from trio_websocket import ConnectionClosed, WebSocketConnection

import trio_realtime as rt
from trio_realtime.testing import Faults, open_emulator

from .test_emulator_trio import connect, receive, send

REALTIME = "/realtime?model=gpt-realtime"
REASON = "invalid_request_error.too_many_turns"
HELLO = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
}


async def talk_until_closed(url: str) -> tuple[list[str], int, str | None]:
    """Create an item and ask for a response; read until the server ends the connection."""
    types: list[str] = []
    async with connect(url + REALTIME) as ws:
        types.append((await receive(ws))["type"])
        await send(ws, HELLO)
        await send(ws, {"type": "response.create"})
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                types.append((await receive(ws))["type"])
    reason = closed.value.reason
    assert reason is not None
    return types, reason.code, reason.reason


async def play_the_recorded_turn(ws: WebSocketConnection) -> None:
    """What the client of :func:`turn` did, checking the replayed reply."""
    assert (await receive(ws))["type"] == "session.created"
    await send(ws, HELLO)
    await send(ws, {"type": "response.create"})
    assert (await receive(ws))["type"] == "conversation.item.added"


def write_lines(path: Path, version: int, entries: list[dict[str, Any]]) -> Path:
    header = {
        "trio_realtime_recording": version,
        "kind": "realtime",
        "url": "wss://api.openai.com/v1/realtime?model=gpt-realtime",
        "started_at": 1763770000.0,
    }
    path.write_text("\n".join(json.dumps(line) for line in [header, *entries]) + "\n")
    return path


SESSION = {"type": "realtime", "object": "realtime.session", "id": "sess_RECORDED"}
CREATED = {"t": 0.0, "dir": "recv", "event": {"type": "session.created", "session": SESSION}}
ITEM_ADDED = {
    "t": 0.2,
    "dir": "recv",
    "event": {"type": "conversation.item.added", "item": {"id": "item_A", "type": "message"}},
}


def turn(*replies: dict[str, Any]) -> list[dict[str, Any]]:
    """One recorded client turn (the item and a response.create), then ``replies``."""
    return [
        CREATED,
        {"t": 0.1, "dir": "send", "event": HELLO},
        {"t": 0.1, "dir": "send", "event": {"type": "response.create"}},
        *replies,
    ]


async def test_a_session_the_server_closed_with_4000_replays_with_the_same_close(
    tmp_path: Path,
) -> None:
    faults = Faults(close_after_events=3, close_code=4000, close_reason=REASON)
    async with open_emulator(ping_interval=None, faults=faults) as first:
        live = await talk_until_closed(first.url)
        original = first.connections[0]
        await original.closed.wait()
    assert live[1:] == (4000, REASON)
    assert (original.closed_by, original.sent_close_code) == ("server", 4000)
    path = tmp_path / "closed.jsonl"
    original.write_recording(path)
    recording = rt.read_recording(path)
    assert recording.header["trio_realtime_recording"] == 2
    assert recording.close is recording.entries[-1]
    assert recording.close.event == {"code": 4000, "reason": REASON, "by": "server"}

    async with open_emulator(ping_interval=None, replay=path) as second:
        replayed = await talk_until_closed(second.url)
        again = second.connections[0]
        await again.closed.wait()
    assert replayed == live
    assert again.replay_mismatches == []
    assert (again.closed_by, again.sent_close_code, again.sent_close_reason) == (
        "server",
        4000,
        REASON,
    )
    assert again.recording().close.event == recording.close.event  # type: ignore[union-attr]


async def test_a_recording_made_before_closes_were_recorded_still_replays(
    tmp_path: Path,
) -> None:
    path = write_lines(tmp_path / "v1.jsonl", 1, turn(ITEM_ADDED))
    recording = rt.read_recording(path)
    assert recording.close is None
    async with open_emulator(ping_interval=None, replay=path) as emulator:
        async with connect(emulator.url + REALTIME) as ws:
            await play_the_recorded_turn(ws)
        connection = emulator.connections[0]
        await connection.closed.wait()
    assert connection.replay_mismatches == []
    assert (connection.closed_by, connection.received_close_code) == ("client", 1000)
    assert connection.sent_close_code is None  # it only answered the client's close
    assert connection.recording().close.event == {  # type: ignore[union-attr]
        "code": 1000,
        "reason": "",
        "by": "client",
    }


@pytest.mark.parametrize(
    ("close", "reproduced"),
    [
        ({"code": 1001, "reason": "Your session hit the maximum duration.", "by": None}, True),
        ({"code": 4000, "reason": REASON, "by": "server"}, True),
        ({"code": 1000, "reason": "", "by": None}, False),
        ({"code": 1000, "reason": "", "by": "client"}, False),
        ({"code": 4000, "reason": REASON, "by": "client"}, False),
    ],
)
async def test_only_the_servers_close_is_replayed(
    tmp_path: Path, close: dict[str, Any], reproduced: bool
) -> None:
    entries = turn(ITEM_ADDED, {"t": 0.3, "dir": "close", "event": close})
    path = write_lines(tmp_path / "closed.jsonl", 2, entries)
    async with open_emulator(ping_interval=None, replay=path) as emulator:
        async with connect(emulator.url + REALTIME) as ws:
            await play_the_recorded_turn(ws)
            if reproduced:
                with pytest.raises(ConnectionClosed) as closed:
                    await receive(ws)
                assert closed.value.reason is not None
                assert (closed.value.reason.code, closed.value.reason.reason) == (
                    close["code"],
                    close["reason"],
                )
        connection = emulator.connections[0]
        await connection.closed.wait()
    assert connection.closed_by == ("server" if reproduced else "client")


async def test_a_dropped_connection_replays_as_a_drop(tmp_path: Path) -> None:
    async with open_emulator(ping_interval=None, faults=Faults(drop_after_events=2)) as first:
        live = await talk_until_closed(first.url)
        original = first.connections[0]
        await original.closed.wait()
    assert live[1] == 1006  # no close frame: trio-websocket reports an abnormal closure
    recording = original.recording()
    assert recording.close is not None
    assert recording.close.event == {"code": 1006, "reason": "", "by": "server"}
    async with open_emulator(ping_interval=None, replay=recording) as second:
        replayed = await talk_until_closed(second.url)
        again = second.connections[0]
        await again.closed.wait()
    assert replayed == live
    assert again.received_close_code is None  # the TCP connection was cut, as recorded


async def test_a_close_the_client_library_recorded_replays_to_the_client(tmp_path: Path) -> None:
    path = tmp_path / "client.jsonl"
    faults = Faults(close_after_events=2, close_code=4000, close_reason=REASON)

    async def ask(url: str) -> rt.SessionClosed:
        client = rt.RealtimeClient(
            api_key="sk-test", base_url=url, interceptors=[rt.RecordingInterceptor(path)]
        )
        with pytest.raises(rt.SessionClosed) as info:
            async with client.connect() as session:
                await session.send_user_message("Hi")
                async for _ in session:
                    pass
        return info.value

    async with open_emulator(ping_interval=None, faults=faults) as first:
        live = await ask(first.url)
    assert (live.code, live.reason) == (4000, REASON)
    recording = rt.read_recording(path)
    assert recording.close is not None
    assert recording.close.event == {"code": 4000, "reason": REASON, "by": None}
    replay_path = tmp_path / "replay.jsonl"
    recording.write(replay_path)  # the interceptor appends sessions: replay a copy
    async with open_emulator(ping_interval=None, replay=replay_path) as second:
        replayed = await ask(second.url)
        assert second.connections[0].replay_mismatches == []
    assert (replayed.code, replayed.reason) == (4000, REASON)


async def test_audio_kept_as_sizes_replays_as_silence_of_the_same_size() -> None:
    async with open_emulator(ping_interval=None) as first:
        async with connect(first.url + REALTIME) as ws:
            await receive(ws)
            await send(ws, {"type": "response.create"})
            live = [await receive(ws)]
            while live[-1]["type"] != "response.done":
                live.append(await receive(ws))
        original = first.connections[0]
        await original.closed.wait()
    async with open_emulator(ping_interval=None, replay=original.recording()) as second:
        async with connect(second.url + REALTIME) as ws:
            await receive(ws)
            await send(ws, {"type": "response.create"})
            replayed = [await receive(ws)]
            while replayed[-1]["type"] != "response.done":
                replayed.append(await receive(ws))

    def audio(events: list[dict[str, Any]]) -> list[bytes]:
        deltas = [e["delta"] for e in events if e["type"] == "response.output_audio.delta"]
        return [base64.b64decode(delta) for delta in deltas]

    assert [len(chunk) for chunk in audio(replayed)] == [len(chunk) for chunk in audio(live)]
    assert all(chunk == bytes(len(chunk)) for chunk in audio(replayed))
    assert any(chunk != bytes(len(chunk)) for chunk in audio(live))


@pytest.mark.parametrize(
    "line",
    [
        {"t": 1, "dir": "close", "event": {"reason": "no code"}},
        {"t": 1, "dir": "close", "event": {"code": 4000, "by": "nobody"}},
        {"t": 1, "dir": "sideways", "event": {}},
    ],
)
def test_a_bad_close_line_names_its_line(tmp_path: Path, line: dict[str, Any]) -> None:
    path = write_lines(tmp_path / "bad.jsonl", 2, [CREATED, line])
    with pytest.raises(ValueError, match=r"bad\.jsonl:3: not a recording entry"):
        rt.read_recording(path)


def test_a_format_from_the_future_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "future.jsonl", 3, [CREATED])
    with pytest.raises(ValueError, match="format 3 is not supported"):
        rt.read_recording(path)
