"""PCM16 conversion, byte views, durations and chunking (trio_realtime.audio)."""

from __future__ import annotations

import array
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from trio_realtime import audio

int16_arrays = hnp.arrays(np.int16, st.integers(0, 300))
float_values = st.floats(-4.0, 4.0, allow_nan=False, width=32)


def reference_float_to_int16(values: npt.NDArray[Any]) -> list[int]:
    """round(clip(x) * 32767) per sample, in Python arithmetic (ties to even, like rint)."""
    return [round(min(1.0, max(-1.0, float(v))) * 32767) for v in values]


@given(int16_arrays)
def test_bytes_round_trip(samples: npt.NDArray[np.int16]) -> None:
    data = audio.pcm16_bytes(samples)
    assert len(data) == 2 * samples.size
    assert data == samples.astype("<i2").tobytes()
    back = audio.pcm16_from_bytes(data)
    assert back.dtype == np.int16
    assert np.array_equal(back, samples)


@given(st.binary(max_size=600).filter(lambda b: len(b) % 2 == 0))
def test_bytes_view_round_trip(data: bytes) -> None:
    samples = audio.pcm16_from_bytes(data)
    assert samples.size == len(data) // 2
    assert audio.pcm16_bytes(samples) == data
    assert audio.pcm16_bytes(data) == data


def test_pcm16_is_little_endian_and_zero_copy() -> None:
    assert audio.pcm16_from_bytes(b"\x01\x00\x00\x80\xff\x7f").tolist() == [1, -32768, 32767]
    buffer = bytearray(b"\x01\x00\x02\x00")
    view = audio.pcm16_from_bytes(buffer)
    assert np.shares_memory(view, np.frombuffer(buffer, np.uint8))
    buffer[0] = 5
    assert view[0] == 5
    assert audio.pcm16_from_bytes(memoryview(array.array("h", [3, -4]))).tolist() == [3, -4]
    assert audio.pcm16_bytes(np.array([1, -2], dtype=">i2")) == b"\x01\x00\xfe\xff"


@given(hnp.arrays(np.float32, st.integers(0, 200), elements=float_values))
def test_float32_to_int16_is_rounded_and_clipped(samples: npt.NDArray[np.float32]) -> None:
    converted = audio.to_pcm16(samples)
    assert converted.dtype == np.int16
    assert converted.tolist() == reference_float_to_int16(samples)


@given(hnp.arrays(np.float64, st.integers(0, 200), elements=st.floats(-4.0, 4.0)))
def test_float64_to_int16_is_rounded_and_clipped(samples: npt.NDArray[np.float64]) -> None:
    assert audio.to_pcm16(samples).tolist() == reference_float_to_int16(samples)


def test_float_scale_and_clipping() -> None:
    converted = audio.to_pcm16(np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 7.0], np.float32))
    assert converted.tolist() == [-32767, -32767, -16384, 0, 16384, 32767, 32767]


@given(int16_arrays)
def test_mono_int16_is_unchanged(samples: npt.NDArray[np.int16]) -> None:
    assert np.array_equal(audio.to_pcm16(samples), samples)
    assert np.array_equal(audio.to_pcm16(samples.reshape(-1, 1)), samples)
    assert np.array_equal(audio.to_pcm16(samples.astype(">i2")), samples)


@given(
    st.integers(1, 6).flatmap(
        lambda channels: hnp.arrays(np.int16, st.tuples(st.integers(0, 100), st.just(channels)))
    )
)
def test_int16_downmix_is_the_rounded_mean(frames: npt.NDArray[np.int16]) -> None:
    expected = np.rint(frames.astype(np.float64).sum(axis=1) / frames.shape[1])
    assert audio.to_pcm16(frames).tolist() == expected.astype(int).tolist()
    assert np.array_equal(audio.to_pcm16(frames.T, channels_last=False), audio.to_pcm16(frames))


@given(
    st.integers(1, 6).flatmap(
        lambda channels: hnp.arrays(
            np.float32, st.tuples(st.integers(0, 100), st.just(channels)), elements=float_values
        )
    )
)
def test_float_downmix_is_the_mean_then_clipped(frames: npt.NDArray[np.float32]) -> None:
    means = []
    for row in frames:
        total = 0.0
        for value in row:
            total += float(value)
        means.append(total / frames.shape[1])
    assert audio.to_pcm16(frames).tolist() == reference_float_to_int16(np.array(means))
    assert np.array_equal(audio.to_pcm16(frames.T, channels_last=False), audio.to_pcm16(frames))


def test_stereo_downmix_examples() -> None:
    stereo = np.array([[100, 200], [-1, 0], [32767, 32767], [-32768, 32767]], np.int16)
    assert audio.to_pcm16(stereo).tolist() == [150, 0, 32767, 0]
    floats = np.array([[1.5, -0.5], [0.25, 0.25]], np.float64)
    assert audio.to_pcm16(floats).tolist() == [16384, 8192]


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int8, np.uint16, np.float16, bool])
def test_wrong_dtype_is_a_type_error(dtype: Any) -> None:
    with pytest.raises(TypeError, match=r"int16, float32 or float64"):
        audio.to_pcm16(np.zeros(4, dtype=dtype))


@pytest.mark.parametrize(
    "samples",
    [np.zeros(4, np.complex64), np.array([1, 2], dtype=object), [0.1, 0.2], "abc", 3, None],
)
def test_wrong_type_is_a_type_error(samples: Any) -> None:
    with pytest.raises(TypeError, match=r"expected PCM16"):
        audio.to_pcm16(samples)


@pytest.mark.parametrize("data", [b"\x00", bytearray(3), memoryview(b"12345")])
def test_odd_byte_count_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"even number of bytes"):
        audio.to_pcm16(data)
    with pytest.raises(ValueError, match=r"even number of bytes"):
        audio.pcm16_from_bytes(data)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_are_value_errors(bad: float, dtype: Any) -> None:
    with pytest.raises(ValueError, match=r"NaN or infinity"):
        audio.to_pcm16(np.array([0.0, bad], dtype=dtype))
    with pytest.raises(ValueError, match=r"NaN or infinity"):
        audio.to_pcm16(np.array([[0.0, bad], [0.0, 0.0]], dtype=dtype))


def test_huge_finite_floats_clip_rather_than_fail() -> None:
    frames = np.array([[3e38, 3e38], [-3e38, -3e38]], np.float32)
    assert audio.to_pcm16(frames).tolist() == [32767, -32767]
    assert audio.to_pcm16(np.array([[1e308, 1e308]])).tolist() == [32767]


@pytest.mark.parametrize("shape", [(2, 2, 2), (1, 1, 1, 1), ()])
def test_wrong_shape_is_a_value_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"\(n,\) or \(n, channels\)"):
        audio.to_pcm16(np.zeros(shape, np.int16))


def test_no_channels_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"no channels"):
        audio.to_pcm16(np.zeros((5, 0), np.float32))


def test_pcm16_from_bytes_rejects_arrays() -> None:
    with pytest.raises(TypeError, match=r"expected PCM16 bytes"):
        audio.pcm16_from_bytes(np.zeros(2, np.int16))  # type: ignore[arg-type]


def test_durations_of_realtime_formats() -> None:
    assert audio.duration_ms(bytes(9600)) == 200.0
    assert audio.duration_ms(bytes(4800)) == 100.0
    assert audio.duration_ms(bytes(160), sample_rate=8000, sample_width=1) == 20.0
    assert audio.duration_ms(np.zeros(24000, np.int16)) == 1000.0
    assert audio.duration_ms(np.zeros((16000, 2), np.float32), sample_rate=16000) == 1000.0
    assert audio.bytes_for_ms(200) == 9600
    assert audio.bytes_for_ms(1) == 48
    assert audio.bytes_for_ms(20, sample_rate=8000, sample_width=1) == 160
    assert audio.bytes_for_ms(10, sample_rate=22050) == 2 * 221  # 220.5 samples: nearest


@given(
    st.floats(0, 100_000),
    st.sampled_from([8000, 16000, 22050, 24000, 44100, 48000]),
    st.sampled_from([1, 2, 4]),
)
def test_bytes_for_ms_is_whole_samples_nearest(ms: float, rate: int, width: int) -> None:
    nbytes = audio.bytes_for_ms(ms, sample_rate=rate, sample_width=width)
    assert nbytes % width == 0
    back = audio.duration_ms(bytes(nbytes), sample_rate=rate, sample_width=width)
    assert abs(back - ms) <= 500.0 / rate + 1e-6


@pytest.mark.parametrize("ms", [-1.0, math.nan, math.inf])
def test_bytes_for_ms_rejects_bad_durations(ms: float) -> None:
    with pytest.raises(ValueError, match=r"ms must be"):
        audio.bytes_for_ms(ms)


@pytest.mark.parametrize(("rate", "width"), [(0, 2), (-8000, 2), (24000, 0), (math.nan, 2)])
def test_durations_reject_bad_formats(rate: float, width: int) -> None:
    with pytest.raises(ValueError, match=r"sample_rate|sample_width"):
        audio.duration_ms(b"", sample_rate=rate, sample_width=width)
    with pytest.raises(ValueError, match=r"sample_rate|sample_width"):
        audio.bytes_for_ms(10, sample_rate=rate, sample_width=width)


def test_duration_of_other_types_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"expected audio bytes"):
        audio.duration_ms([1, 2, 3])  # type: ignore[arg-type]


@given(st.binary(max_size=1000), st.integers(1, 300).map(lambda n: 2 * n))
def test_chunks_cover_the_data(data: bytes, chunk_bytes: int) -> None:
    chunks = list(audio.chunk(data, chunk_bytes))
    assert b"".join(chunks) == data
    assert len(chunks) == math.ceil(len(data) / chunk_bytes)
    assert all(len(piece) == chunk_bytes for piece in chunks[:-1])
    assert all(isinstance(piece, bytes) and 0 < len(piece) <= chunk_bytes for piece in chunks)


def test_chunk_accepts_buffers() -> None:
    assert list(audio.chunk(bytearray(b"abcdef"), 4)) == [b"abcd", b"ef"]
    assert list(audio.chunk(memoryview(b"abcd"), 2)) == [b"ab", b"cd"]
    assert list(audio.chunk(b"", 2)) == []


@pytest.mark.parametrize("chunk_bytes", [0, -2, 3, 9601, True, 2.0])
def test_chunk_size_must_be_positive_and_even(chunk_bytes: Any) -> None:
    with pytest.raises(ValueError, match=r"positive even number"):
        audio.chunk(b"abcd", chunk_bytes)


def test_chunk_rejects_non_bytes() -> None:
    with pytest.raises(TypeError, match=r"expected audio bytes"):
        audio.chunk("abcd", 2)  # type: ignore[arg-type]
