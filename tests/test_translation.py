"""Translation and transcription sessions against the emulator."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest
import trio
from openai.types.realtime import RealtimeClientEvent, RealtimeTranslationClientEvent

import trio_realtime as rt
from trio_realtime import audio, events as ev
from trio_realtime.testing import Emulator, Retention, open_emulator

OFFICIAL_TRANSLATION: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
    RealtimeTranslationClientEvent
)
OFFICIAL_REALTIME: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeClientEvent)
SPANISH = ev.TranslationSessionConfig.model_validate(
    {
        "audio": {
            "output": {"language": "es"},
            "input": {"transcription": {"model": "gpt-realtime-whisper"}},
        }
    }
)


def translation(emulator: Emulator, **options: Any) -> Any:
    return rt.open_translation_session(url=emulator.url, api_key="sk-test", **options)


async def translate_all(
    session: rt.RealtimeTranslationSession, samples: np.ndarray, rate: int
) -> tuple[rt.TranslationResult, list[str]]:
    """Feed audio and close gracefully in one task; consume in this one."""
    result = rt.TranslationResult()
    kinds: list[str] = []
    closed: list[bool] = []

    async def feed() -> None:
        for start in range(0, len(samples), rate // 10):
            await session.append_audio(samples[start : start + rate // 10], sample_rate=rate)
        closed.append(await session.close_session())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed)
        async for event in session:
            kinds.append(event.type)
            result.add(event)
    assert closed == [True]
    return result, kinds


async def test_a_48k_wav_is_translated_end_to_end(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    t = np.arange(48000 * 3) / 48000
    stereo = np.stack([audio.voice_like(3000, sample_rate=48000)] * 2, axis=1)
    audio.write_wav(source, stereo, 48000)
    samples, rate = audio.read_wav(source)
    assert rate == 48000 and len(t) == len(samples)
    async with open_emulator(retention=Retention(audio=True)) as emulator:
        async with translation(emulator, session=SPANISH) as session:
            assert isinstance(session.config, ev.TranslationSession)
            assert session.config.audio is not None
            result, kinds = await translate_all(session, samples, rate)
        connection = emulator.connections[0]
    # Everything arrived before session.closed, which is the last event.
    assert kinds[-1] == "session.closed"
    assert "session.output_audio.delta" in kinds
    assert len(result.audio) / 24000 == pytest.approx(3, abs=0.25)
    assert result.target_text and result.source_text
    assert [s.elapsed_ms for s in result.segments()] == sorted(
        s.elapsed_ms or 0 for s in result.segments()
    )
    out = tmp_path / "out.wav"
    result.write_wav(out)
    written, out_rate = audio.read_wav(out)
    assert out_rate == 24000 and len(written) == len(result.audio)
    # Frames on the wire are exactly 200 ms (the last may be shorter), then session.close.
    appends = [e for e in connection.received if e.type == "session.input_audio_buffer.append"]
    sizes = [len(base64.b64decode(e.audio)) for e in appends]  # type: ignore[attr-defined]
    assert all(size == 9600 for size in sizes[:-1])
    assert sum(sizes) / 48 == pytest.approx(3000, abs=2)
    assert connection.received[-1].type == "session.close"
    for event in connection.received:
        OFFICIAL_TRANSLATION.validate_python(event.to_dict())


async def test_close_session_sends_queued_audio_before_session_close() -> None:
    async with open_emulator() as emulator:
        async with translation(emulator) as session:
            session.append_audio_nowait(audio.voice_like(1000))  # queued, not yet written
            result, _ = await translate_all(session, np.zeros(0, dtype=np.int16), 24000)
        kinds = [e.type for e in emulator.connections[0].received]
    assert kinds[-1] == "session.close"
    assert kinds.count("session.input_audio_buffer.append") == 5
    assert len(result.audio) > 0


async def test_target_language_changes_mid_session_and_bad_updates_raise() -> None:
    async with open_emulator() as emulator:
        async with translation(emulator, session=SPANISH) as session:
            updated = await session.set_language("fr")
            assert updated.audio is not None and updated.audio.output is not None
            assert updated.audio.output.language == "fr"
            off = await session.update_session({"audio": {"input": {"noise_reduction": None}}})
            assert off.audio is not None
            with pytest.raises(rt.ServerError):
                await session.update_session({"model": "another-model"})
            assert (await session.set_language("de")).audio is not None
        sent = [e.to_dict() for e in emulator.connections[0].received]
    assert {
        "type": "session.update",
        "session": {"audio": {"input": {"noise_reduction": None}}},
    } in [{k: v for k, v in e.items() if k != "event_id"} for e in sent]


async def test_translation_over_azure_needs_a_url() -> None:
    with pytest.raises(ValueError, match="url="):
        async with rt.open_translation_session(
            azure=rt.AzureEndpoint("https://res.openai.azure.com", "d", api_key="k")
        ):
            pytest.fail("the block must not run")


MANUAL_TRANSCRIPTION = ev.TranscriptionSessionConfig.model_validate(
    {
        "type": "transcription",
        "audio": {
            "input": {"transcription": {"model": "gpt-4o-transcribe"}, "turn_detection": None}
        },
    }
)
VAD_TRANSCRIPTION = ev.TranscriptionSessionConfig.model_validate(
    {
        "type": "transcription",
        "audio": {
            "input": {
                "transcription": {"model": "gpt-4o-transcribe"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
            }
        },
    }
)


async def transcripts(session: rt.TranscriptionSession, count: int) -> list[str]:
    done = []
    async for event in session:
        assert not isinstance(event, ev.ResponseCreatedEvent)
        if isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
            done.append(event.transcript)
            if len(done) == count:
                break
    return done


async def test_transcription_with_manual_commit() -> None:
    async with open_emulator() as emulator:
        async with rt.open_transcription_session(
            url=emulator.url, api_key="sk-test", session=MANUAL_TRANSCRIPTION
        ) as session:
            assert isinstance(session.config, ev.TranscriptionSessionConfig)
            await session.append_audio(audio.voice_like(1500))
            await session.commit_audio()
            assert len(await transcripts(session, 1)) == 1
        connection = emulator.connections[0]
    assert connection.kind == "transcription"
    assert connection.query.get("intent") == "transcription"
    for event in connection.received:
        OFFICIAL_REALTIME.validate_python(event.to_dict())


async def test_transcription_with_server_vad() -> None:
    speech = np.concatenate(
        [
            audio.voice_like(1200),
            audio.silence(800),
            audio.voice_like(1000, seed=3),
            audio.silence(800),
        ]
    )
    async with open_emulator() as emulator:
        async with rt.open_transcription_session(
            url=emulator.url, api_key="sk-test", session=VAD_TRANSCRIPTION
        ) as session:
            await session.append_audio(speech)
            assert len(await transcripts(session, 2)) == 2
