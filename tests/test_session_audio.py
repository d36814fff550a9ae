"""Audio through a session, against the emulator: conversion, framing, backpressure,
ordering, the thread-safe feed, G.711, and barge-in with a PlaybackTracker."""

from __future__ import annotations

import base64
import threading
from typing import Any

import anyio
import numpy as np
import pytest
import trio
import trio.testing

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime.testing import EmulatorConnection, Faults, Retention, open_emulator

MANUAL = ev.SessionConfig.model_validate(
    {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": None}},
    }
)


def open_session(url: str, **options: Any) -> Any:
    return rt.open_realtime_session("gpt-realtime", api_key="sk-test", url=url, **options)


def appended(connection: EmulatorConnection) -> list[bytes]:
    return [
        base64.b64decode(event.audio)
        for event in connection.received
        if isinstance(event, ev.InputAudioBufferAppendEvent)
    ]


async def test_48k_stereo_float_arrives_as_24k_mono_pcm16_in_whole_frames() -> None:
    t = np.arange(48000 * 2) / 48000
    stereo = np.stack([0.4 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)
    async with open_emulator(retention=Retention(audio=True)) as emulator:
        async with open_session(emulator.url, session=MANUAL, audio_chunk_ms=200) as session:
            for start in range(0, len(stereo), 4410):  # odd-sized chunks, as from a device
                await session.append_audio(stereo[start : start + 4410], sample_rate=48000)
            await session.commit_audio()
            async for event in session:
                if isinstance(event, ev.InputAudioBufferCommittedEvent):
                    break
        connection = emulator.connections[0]
    frames = appended(connection)
    assert all(len(frame) == 200 * 48 for frame in frames[:-1])
    samples = np.frombuffer(b"".join(frames), "<i2")
    assert len(samples) / 24 == pytest.approx(2000, abs=2)  # milliseconds
    peak_hz = np.argmax(np.abs(np.fft.rfft(samples))) * 24000 / len(samples)
    assert abs(peak_hz - 440) < 2
    kinds = [event.type for event in connection.received]
    assert kinds.index("input_audio_buffer.commit") > max(
        i for i, kind in enumerate(kinds) if kind == "input_audio_buffer.append"
    )


async def test_g711_sessions_get_8k_ulaw() -> None:
    config = ev.SessionConfig.model_validate(
        {
            "type": "realtime",
            "audio": {"input": {"format": {"type": "audio/pcmu"}, "turn_detection": None}},
        }
    )
    async with open_emulator(retention=Retention(audio=True)) as emulator:
        async with open_session(emulator.url, session=config) as session:
            await session.append_audio(audio.tone(300, 1000))
            await session.commit_audio()
            async for event in session:
                if isinstance(event, ev.InputAudioBufferCommittedEvent):
                    break
        data = b"".join(appended(emulator.connections[0]))
    assert len(data) == pytest.approx(8000, abs=16)  # 1 s at 8 bytes/ms
    decoded = audio.ulaw_decode(data)
    peak_hz = np.argmax(np.abs(np.fft.rfft(decoded))) * 8000 / len(decoded)
    assert abs(peak_hz - 300) < 2


async def test_a_server_that_stops_reading_makes_append_audio_wait() -> None:
    async with open_emulator(faults=Faults(stall_after_events=1)) as emulator:
        async with open_session(
            emulator.url, session=MANUAL, audio_buffer_ms=1000, close_timeout=0.5
        ) as session:
            done = trio.Event()

            async def feed() -> None:
                await session.append_audio(audio.silence(120_000))  # two minutes
                done.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
                # Loopback buffers absorb about a minute of audio before TCP pushes back.
                with trio.fail_after(10):
                    while session.statistics().audio_queued_ms <= 550:
                        await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                stats = session.statistics()
                assert not done.is_set()
                # Bounded: the lane never holds more than its budget (plus one piece).
                assert 0 < stats.audio_queued_ms <= 1000 + 500
                with pytest.raises(anyio.WouldBlock):
                    session.append_audio_nowait(audio.silence(600))
                nursery.cancel_scope.cancel()


async def test_thread_safe_feed_delivers_audio_from_another_thread() -> None:
    async with open_emulator(retention=Retention(audio=True)) as emulator:
        async with open_session(emulator.url, session=MANUAL) as session:

            def device_callback_thread() -> None:
                for _ in range(50):  # 50 callbacks of 20 ms at 48 kHz
                    session.append_audio_threadsafe(
                        audio.tone(440, 20, sample_rate=48000), sample_rate=48000
                    )

            await trio.to_thread.run_sync(device_callback_thread)
            await session.commit_audio()
            await emulator.connections[0].wait_for(ev.InputAudioBufferCommitEvent)
            assert session.statistics().audio_dropped_ms == 0
        data = b"".join(appended(emulator.connections[0]))
        assert len(data) / 48 == pytest.approx(1000, abs=2)


async def test_thread_safe_feed_drops_the_oldest_when_the_lane_stays_full() -> None:
    async with open_emulator(faults=Faults(stall_after_events=1)) as emulator:
        async with open_session(
            emulator.url, session=MANUAL, audio_buffer_ms=500, close_timeout=0.5
        ) as session:
            stop = threading.Event()

            def device_callback_thread() -> None:
                for _ in range(400):  # 8 s of audio, never blocking
                    session.append_audio_threadsafe(audio.silence(20))
                stop.set()

            async with trio.open_nursery() as nursery:
                # Fill the socket buffers and the lane so that it stays full.
                nursery.start_soon(session.append_audio, audio.silence(120_000))
                await trio.to_thread.run_sync(device_callback_thread)
                assert stop.is_set()
                with trio.fail_after(10):
                    while session.statistics().audio_dropped_ms == 0:
                        await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                stats = session.statistics()
                nursery.cancel_scope.cancel()
            assert stats.audio_dropped_ms > 0
            assert stats.audio_queued_ms <= 500


async def test_barge_in_with_a_playback_tracker_truncates_what_was_heard() -> None:
    tracker = audio.PlaybackTracker()
    async with open_emulator(audio_pace=1.0) as emulator:
        async with open_session(emulator.url) as session:
            await session.send_user_message("Tell me a long story")
            async for event in session:
                if isinstance(event, ev.ResponseAudioDeltaEvent):
                    samples = session.decode_audio(event)
                    tracker.on_audio_received(event.item_id, event.content_index, samples.nbytes)
                    if tracker.received_ms(event.item_id) >= 400:
                        tracker.on_played(event.item_id, event.content_index, ms=300)
                        break
            point = await session.truncate_to_played(tracker, cancel=True)
            assert point is not None and point[2] == 300
            outcome = {}
            async for event in session:
                if isinstance(event, ev.ConversationItemTruncatedEvent):
                    outcome["truncated"] = event.audio_end_ms
                elif isinstance(event, ev.ErrorEvent):
                    outcome["error"] = event.error.message
                elif isinstance(event, ev.ResponseDoneEvent):
                    outcome["status"] = event.response.status
                if "truncated" in outcome and "status" in outcome:
                    break
    assert outcome == {"truncated": 300, "status": "cancelled"}


async def test_barge_in_on_speech_started_lets_server_vad_cancel() -> None:
    """The user talks over the reply: server VAD cancels it; the truncate is accepted and
    no second cancel earns a response_cancel_not_active error."""
    tracker = audio.PlaybackTracker()
    config = {
        "type": "realtime",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}},
    }
    async with open_emulator(audio_pace=1.0) as emulator:
        async with open_session(emulator.url, session=config) as session:
            await session.append_audio(np.concatenate([audio.voice_like(1000), audio.silence(500)]))
            interrupted = False
            outcome: dict[str, Any] = {"errors": []}
            async for event in session:
                if isinstance(event, ev.ResponseAudioDeltaEvent) and not interrupted:
                    tracker.on_audio_received(
                        event.item_id, event.content_index, len(event.audio_bytes())
                    )
                    if tracker.received_ms(event.item_id) >= 500:
                        tracker.on_played(event.item_id, event.content_index, ms=300)
                        interrupted = True
                        await session.append_audio(audio.voice_like(600, seed=3))
                elif isinstance(event, ev.InputAudioBufferSpeechStartedEvent) and interrupted:
                    outcome["point"] = await session.truncate_to_played(tracker)
                elif isinstance(event, ev.ErrorEvent):
                    outcome["errors"].append(event.error.code)
                elif isinstance(event, ev.ConversationItemTruncatedEvent):
                    outcome["truncated"] = event.audio_end_ms
                    break
    assert outcome["truncated"] == 300
    assert outcome["errors"] == []
    kinds = [e.type for e in emulator.connections[0].received]
    assert "response.cancel" not in kinds
