"""The audio encoder: any PCM in, wire frames out, streaming without seams."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from trio_realtime import audio, events as ev
from trio_realtime._audio_input import AudioEncoder, input_format_of


def encode_all(encoder: AudioEncoder, pcm: np.ndarray, rate: int, cuts: list[int]) -> bytes:
    frames = []
    start = 0
    for cut in [*sorted(cuts), len(pcm)]:
        frames += encoder.encode(pcm[start:cut], rate)
        start = cut
    frames += encoder.flush()
    return b"".join(frame.data for frame in frames)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.sampled_from([8000, 16000, 24000, 44100, 48000]),
    fmt=st.sampled_from(["audio/pcm", "audio/pcmu", "audio/pcma"]),
    cuts=st.lists(st.integers(0, 4800), max_size=8),
)
def test_streaming_equals_one_shot(rate: int, fmt: str, cuts: list[int]) -> None:
    pcm = audio.voice_like(200, sample_rate=rate)
    cuts = [min(cut, len(pcm)) for cut in cuts]
    one_shot = encode_all(AudioEncoder(format=fmt), pcm, rate, [])
    streamed = encode_all(AudioEncoder(format=fmt), pcm, rate, cuts)
    assert streamed == one_shot


@pytest.mark.parametrize(
    ("fmt", "bytes_per_ms"), [("audio/pcm", 48), ("audio/pcmu", 8), ("audio/pcma", 8)]
)
@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_duration_is_kept_and_frames_are_whole_chunks(
    fmt: str, bytes_per_ms: int, rate: int
) -> None:
    encoder = AudioEncoder(format=fmt, chunk_ms=100)
    frames = encoder.encode(audio.tone(440, 1050, sample_rate=rate), rate)
    assert all(len(frame.data) == 100 * bytes_per_ms for frame in frames)
    frames += encoder.flush()
    total = sum(len(frame.data) for frame in frames)
    assert total == pytest.approx(1050 * bytes_per_ms, abs=2 * bytes_per_ms)
    assert sum(frame.ms for frame in frames) == pytest.approx(1050, abs=2)


def test_pitch_survives_resampling_from_48k_stereo_float() -> None:
    t = np.arange(48000) / 48000
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)
    encoder = AudioEncoder()
    pcm = encoder.convert(stereo, 48000)
    data = b"".join(f.data for f in encoder.encode(pcm, 48000) + encoder.flush())
    samples = np.frombuffer(data, "<i2")
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * 24000 / len(samples)
    assert abs(peak_hz - 440) < 2


@pytest.mark.parametrize(
    ("samples", "rate", "error", "message"),
    [
        (b"\x00\x00\x00", 24000, ValueError, "even number of bytes"),
        (np.zeros(10, dtype=np.int32), 24000, TypeError, "int16"),
        (np.array([0.0, np.nan]), 24000, ValueError, "NaN"),
        (np.zeros((2, 2, 2), dtype=np.int16), 24000, ValueError, "3-D array"),
        (np.zeros(10, dtype=np.int16), 0, ValueError, "sample_rate"),
        (np.zeros(10, dtype=np.int16), -8000, ValueError, "sample_rate"),
        ("not audio", 24000, TypeError, "expected PCM16"),
    ],
)
def test_bad_input_is_a_clear_error(samples: object, rate: int, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        AudioEncoder().convert(samples, rate)  # type: ignore[arg-type]


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="unsupported input format"):
        AudioEncoder(format="audio/mp3")
    with pytest.raises(ValueError, match="15 MiB"):
        AudioEncoder(chunk_ms=10_000_000)


def test_input_format_follows_the_session_config() -> None:
    config = ev.SessionConfig.model_validate(
        {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}}
    )
    assert input_format_of(config) == "audio/pcmu"
    assert input_format_of(None) == "audio/pcm"


def test_audio_deltas_decode_to_int16() -> None:
    pcm = audio.tone(440, 20)
    delta = ev.ResponseAudioDeltaEvent(
        response_id="r",
        item_id="i",
        output_index=0,
        content_index=0,
        delta=base64.b64encode(audio.pcm16_bytes(pcm)).decode(),
    )
    assert delta.audio_bytes() == audio.pcm16_bytes(pcm)
    assert np.array_equal(delta.pcm16(), pcm)
    ulaw = ev.ResponseAudioDeltaEvent(
        response_id="r",
        item_id="i",
        output_index=0,
        content_index=0,
        delta=base64.b64encode(audio.ulaw_encode(pcm)).decode(),
    )
    assert np.array_equal(ulaw.pcm16("audio/pcmu"), audio.ulaw_decode(audio.ulaw_encode(pcm)))
    with pytest.raises(ValueError, match="unknown audio format"):
        ulaw.pcm16("audio/mp3")
