"""Load: 200 concurrent sessions against one emulator, in one process (no timing asserts)."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
import trio

from trio_realtime.audio import pcm16_bytes, voice_like
from trio_realtime.testing import open_emulator

from .test_emulator_trio import connect, receive, send

SESSIONS = 200


@pytest.mark.deadline(120)
async def test_200_concurrent_sessions(capsys: pytest.CaptureFixture[str]) -> None:
    audio = pcm16_bytes(voice_like(1000))
    chunks = [
        base64.b64encode(audio[start : start + 4800]).decode("ascii")
        for start in range(0, len(audio), 4800)
    ]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []

    async def session(url: str) -> None:
        async with connect(url) as ws:
            assert (await receive(ws))["type"] == "session.created"
            turn_off_vad = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
            await send(ws, {"type": "session.update", "session": turn_off_vad})
            for chunk in chunks:
                await send(ws, {"type": "input_audio_buffer.append", "audio": chunk})
            await send(ws, {"type": "input_audio_buffer.commit"})
            await send(ws, {"type": "response.create"})
            audio_bytes = 0
            while True:
                event = await receive(ws)
                if event["type"] == "error":
                    errors.append(event)
                elif event["type"] == "response.output_audio.delta":
                    audio_bytes += len(base64.b64decode(event["delta"]))
                elif event["type"] == "response.done":
                    results.append({"status": event["response"]["status"], "audio": audio_bytes})
                    return

    async with open_emulator() as emulator:
        url = emulator.realtime_url + "?model=gpt-realtime"
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(SESSIONS):
                nursery.start_soon(session, url)
        elapsed = time.perf_counter() - started
        statistics = emulator.statistics()
        sent = statistics.events_sent
        appended = statistics.input_audio_bytes

    assert errors == []
    assert len(results) == SESSIONS
    assert all(result["status"] == "completed" for result in results)
    assert all(
        result["audio"] == len("I heard 1.0 seconds of audio.") * 65 * 48 for result in results
    )
    assert appended == SESSIONS * len(audio)
    with capsys.disabled():
        print(
            f"\n{SESSIONS} concurrent sessions (1 s of audio each, commit, audio response):"
            f" {elapsed:.2f} s, {sent} events sent, {sent / elapsed:.0f} events/s"
        )
