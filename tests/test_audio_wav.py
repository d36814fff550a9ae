"""WAV reading and writing (trio_realtime.audio.read_wav / write_wav)."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from trio_realtime import audio

PCM, FLOAT, ALAW, ULAW, EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
rates = st.sampled_from([8000, 11025, 16000, 22050, 24000, 44100, 48000, 96000])
frames_strategy = st.integers(1, 6).flatmap(
    lambda channels: hnp.arrays(np.int16, st.tuples(st.integers(0, 200), st.just(channels)))
)


def make_wav(
    payload: bytes,
    *,
    tag: int,
    channels: int,
    rate: int,
    bits: int,
    extensible: bool = False,
    extra_chunks: bytes = b"",
    data_size: int | None = None,
) -> bytes:
    """A WAV file, header written by hand: for formats write_wav does not produce."""
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bits)
    if extensible:
        subformat = (
            struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        )
        fmt = (
            struct.pack(
                "<HHIIHH", EXTENSIBLE, channels, rate, rate * block_align, block_align, bits
            )
            + struct.pack("<HHI", 22, bits, 0)
            + subformat
        )
    elif tag != PCM:
        fmt += struct.pack("<H", 0)
    size = len(payload) if data_size is None else data_size
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + extra_chunks
        + b"data"
        + struct.pack("<I", size)
        + payload
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mono_or_frames(frames: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    return frames[:, 0] if frames.shape[1] == 1 else frames


@given(frames_strategy, rates)
def test_write_read_round_trip(frames: npt.NDArray[np.int16], rate: int) -> None:
    file = io.BytesIO()
    audio.write_wav(file, mono_or_frames(frames), rate)
    file.seek(0)
    samples, read_rate = audio.read_wav(file)
    assert read_rate == rate
    assert samples.dtype == np.int16 and samples.flags.writeable
    assert np.array_equal(samples, mono_or_frames(frames))
    file.seek(0)
    with wave.open(file, "rb") as reader:  # the stdlib agrees on the header
        assert reader.getnchannels() == frames.shape[1]
        assert reader.getsampwidth() == 2
        assert reader.getframerate() == rate
        assert reader.getnframes() == frames.shape[0]


@given(frames_strategy, rates, st.booleans())
def test_24_bit_keeps_the_top_16_bits(
    frames: npt.NDArray[np.int16], rate: int, extensible: bool
) -> None:
    wide = frames.astype(np.int32) * 256 + np.arange(frames.size).reshape(frames.shape) % 256
    payload = wide.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    data = make_wav(
        payload, tag=PCM, channels=frames.shape[1], rate=rate, bits=24, extensible=extensible
    )
    samples, read_rate = audio.read_wav(io.BytesIO(data))
    assert read_rate == rate
    assert np.array_equal(samples, mono_or_frames(frames))


@given(frames_strategy, st.booleans())
def test_32_bit_integer_keeps_the_top_16_bits(
    frames: npt.NDArray[np.int16], extensible: bool
) -> None:
    wide = (
        frames.astype(np.int32) * 65536
        + (np.arange(frames.size).reshape(frames.shape) * 977) % 65536
    )
    data = make_wav(
        wide.astype("<i4").tobytes(),
        tag=PCM,
        channels=frames.shape[1],
        rate=16000,
        bits=32,
        extensible=extensible,
    )
    samples, _ = audio.read_wav(io.BytesIO(data))
    assert np.array_equal(samples, mono_or_frames(frames))


@given(frames_strategy, st.sampled_from(["<f4", "<f8"]), st.booleans())
def test_float_wavs_convert_like_to_pcm16(
    frames: npt.NDArray[np.int16], dtype: str, extensible: bool
) -> None:
    floats = np.maximum(frames, -32767).astype(np.float64) / 32767.0
    data = make_wav(
        floats.astype(dtype).tobytes(),
        tag=FLOAT,
        channels=frames.shape[1],
        rate=48000,
        bits=8 * np.dtype(dtype).itemsize,
        extensible=extensible,
    )
    samples, rate = audio.read_wav(io.BytesIO(data))
    assert rate == 48000
    assert np.array_equal(samples, mono_or_frames(np.maximum(frames, -32767)))


def test_float_wav_is_clipped() -> None:
    floats = np.array([[-3.0, 0.5], [2.0, -0.5]], "<f4")
    data = make_wav(floats.tobytes(), tag=FLOAT, channels=2, rate=8000, bits=32)
    samples, _ = audio.read_wav(io.BytesIO(data))
    assert samples.tolist() == [[-32767, 16384], [32767, -16384]]


def test_float_wav_with_nan_is_rejected() -> None:
    data = make_wav(
        np.array([0.0, np.nan], "<f4").tobytes(), tag=FLOAT, channels=1, rate=8000, bits=32
    )
    with pytest.raises(ValueError, match=r"NaN"):
        audio.read_wav(io.BytesIO(data))


@given(frames_strategy)
def test_8_bit_is_unsigned_and_scaled(frames: npt.NDArray[np.int16]) -> None:
    unsigned = ((frames.astype(np.int32) >> 8) + 128).astype(np.uint8)
    data = make_wav(unsigned.tobytes(), tag=PCM, channels=frames.shape[1], rate=8000, bits=8)
    samples, _ = audio.read_wav(io.BytesIO(data))
    assert np.array_equal(
        samples, mono_or_frames((frames.astype(np.int32) >> 8 << 8).astype(np.int16))
    )


def test_g711_wavs_are_decoded() -> None:
    tone = audio.tone(440, 50, sample_rate=8000)
    for tag, encode, decode in [
        (ULAW, audio.ulaw_encode, audio.ulaw_decode),
        (ALAW, audio.alaw_encode, audio.alaw_decode),
    ]:
        data = make_wav(encode(tone), tag=tag, channels=1, rate=8000, bits=8)
        samples, rate = audio.read_wav(io.BytesIO(data))
        assert rate == 8000
        assert np.array_equal(samples, decode(encode(tone)))


def test_extensible_16_bit_and_odd_chunks() -> None:
    frames = np.array([[1, -2], [300, -400], [32767, -32768]], np.int16)
    odd_chunk = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\x00"
    data = make_wav(
        frames.astype("<i2").tobytes(),
        tag=PCM,
        channels=2,
        rate=44100,
        bits=16,
        extensible=True,
        extra_chunks=odd_chunk,
    )
    samples, rate = audio.read_wav(io.BytesIO(data))
    assert rate == 44100
    assert np.array_equal(samples, frames)


def test_truncated_data_reads_the_whole_frames_present() -> None:
    frames = np.arange(20, dtype=np.int16).reshape(10, 2)
    payload = frames.astype("<i2").tobytes()[:-3]
    data = make_wav(payload, tag=PCM, channels=2, rate=8000, bits=16, data_size=0xFFFFFFFF)
    samples, _ = audio.read_wav(io.BytesIO(data))
    assert np.array_equal(samples, frames[:9])


def test_paths_and_open_files(tmp_path: Path) -> None:
    samples = audio.tone(440, 100)
    path = tmp_path / "tone.wav"
    audio.write_wav(path, samples, 24000)
    read, rate = audio.read_wav(path)
    assert rate == 24000 and np.array_equal(read, samples)
    read, _ = audio.read_wav(str(path))
    assert np.array_equal(read, samples)
    with path.open("rb") as file:
        audio.read_wav(file)
        assert not file.closed
    with (tmp_path / "other.wav").open("wb") as file:
        audio.write_wav(file, samples, 24000)
        assert not file.closed


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (np.array([[0.5, -2.0], [0.0, 1.0]], np.float32), [[16384, -32767], [0, 32767]]),
        (b"\x01\x00\xff\xff", [1, -1]),
    ],
)
def test_write_accepts_floats_and_bytes(
    samples: bytes | npt.NDArray[Any], expected: list[Any]
) -> None:
    file = io.BytesIO()
    audio.write_wav(file, samples, 16000)
    file.seek(0)
    assert audio.read_wav(file)[0].tolist() == expected


@pytest.mark.parametrize(
    ("samples", "rate", "error", "match"),
    [
        (np.zeros(4, np.int16), 0, ValueError, "sample_rate"),
        (np.zeros(4, np.int16), 8000.5, ValueError, "sample_rate"),
        (np.zeros((2, 2, 2), np.int16), 8000, ValueError, r"\(n,\) or \(n, channels\)"),
        (np.zeros(4, np.int32), 8000, TypeError, "int16, float32 or float64"),
        (np.array([np.nan]), 8000, ValueError, "NaN"),
        ([0, 1], 8000, TypeError, "expected PCM16 bytes"),
        (b"\x00", 8000, ValueError, "even number of bytes"),
    ],
)
def test_write_rejects_bad_input(samples: object, rate: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        audio.write_wav(io.BytesIO(), samples, rate)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "not a WAV file"),
        (b"RIFX\x00\x00\x00\x00WAVE", "not a WAV file"),
        (b"RIFF\x04\x00\x00\x00WAVE", "no 'fmt ' and 'data' chunks"),
        (b"RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00", "'data' chunk before 'fmt '"),
        (make_wav(b"\x00" * 12, tag=2, channels=1, rate=8000, bits=4), "unsupported WAV"),
        (make_wav(b"\x00" * 12, tag=PCM, channels=1, rate=8000, bits=12), "unsupported WAV"),
        (make_wav(b"\x00" * 12, tag=FLOAT, channels=1, rate=8000, bits=16), "unsupported WAV"),
        (make_wav(b"\x00" * 12, tag=PCM, channels=0, rate=8000, bits=16), "zero channels"),
    ],
)
def test_read_rejects_what_it_cannot_read(data: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        audio.read_wav(io.BytesIO(data))
