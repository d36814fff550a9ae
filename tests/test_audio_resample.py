"""Streaming resampling (trio_realtime.audio.Resampler / resample)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings, strategies as st

from trio_realtime import audio

RATE_PAIRS = [
    (8000, 24000),
    (16000, 24000),
    (22050, 24000),
    (44100, 24000),
    (48000, 24000),
    (24000, 8000),
    (24000, 16000),
    (11025, 8000),
]


def noise_and_tone(n: int, seed: int) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 6000, n) + 12000 * np.sin(np.arange(n) * 0.05)
    clipped: npt.NDArray[np.int16] = np.clip(np.rint(signal), -32768, 32767).astype(np.int16)
    return clipped


def peak_frequency(samples: npt.NDArray[np.int16], rate: float) -> tuple[float, float]:
    """The strongest FFT bin's frequency and the bin width (Hz)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum)) * rate / samples.size, rate / samples.size


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(RATE_PAIRS),
    st.integers(0, 5000),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(0, 5000), max_size=30),
    st.sampled_from(["HQ", "VHQ", "QQ"]),
)
def test_streaming_equals_one_shot_exactly(
    rates: tuple[int, int], n: int, seed: int, cuts: list[int], quality: Any
) -> None:
    """Any chunking gives bit-identical output to one call (libsoxr is chunking-invariant)."""
    samples = noise_and_tone(n, seed)
    whole = audio.resample(samples, *rates, quality=quality)
    resampler = audio.Resampler(*rates, quality=quality)
    pieces = np.split(samples, sorted(cut % (n + 1) for cut in cuts))
    streamed = np.concatenate([resampler.process(piece) for piece in pieces] + [resampler.flush()])
    assert streamed.dtype == np.int16
    assert np.array_equal(streamed, whole)


@given(st.sampled_from(RATE_PAIRS), st.integers(0, 3000))
def test_output_length_follows_the_rate_ratio(rates: tuple[int, int], n: int) -> None:
    output = audio.resample(np.zeros(n, np.int16), *rates)
    assert abs(output.size - n * rates[1] / rates[0]) <= 0.5


def test_streamed_bytes_match_one_shot() -> None:
    """Realtime-style use: PCM16 byte deltas of odd sizes in, 8 kHz out, for G.711."""
    samples = audio.voice_like(1000)
    data = audio.pcm16_bytes(samples)
    resampler = audio.Resampler(24000, 8000)
    out = [resampler.process(piece) for piece in audio.chunk(data, 9598)]
    out.append(resampler.flush())
    assert np.array_equal(np.concatenate(out), audio.resample(samples, 24000, 8000))


@pytest.mark.parametrize(
    ("from_rate", "to_rate"),
    [(8000, 24000), (16000, 24000), (22050, 24000), (44100, 24000), (48000, 24000), (24000, 8000)],
)
def test_a_440_hz_tone_stays_440_hz(from_rate: int, to_rate: int) -> None:
    tone = audio.tone(440, 1000, sample_rate=from_rate, amplitude=0.8)
    output = audio.resample(tone, from_rate, to_rate)
    assert output.size == to_rate
    frequency, bin_width = peak_frequency(output, to_rate)
    assert abs(frequency - 440) <= bin_width
    assert audio.rms_dbfs(output) == pytest.approx(audio.rms_dbfs(tone), abs=0.2)


def test_downsampling_filters_out_aliases() -> None:
    """A 10 kHz tone cannot exist at 8 kHz: it must vanish, not fold down to 2 kHz."""
    tone = audio.tone(10_000, 500, sample_rate=48000, amplitude=0.9)
    output = audio.resample(tone, 48000, 8000)
    assert audio.rms_dbfs(output[400:-400]) < audio.rms_dbfs(tone) - 80


def test_float_input_is_resampled_before_rounding() -> None:
    t = np.arange(4800) / 48000
    floats = 0.5 * np.sin(2 * np.pi * 440 * t)
    from_floats = audio.resample(floats.astype(np.float32), 48000, 24000)
    from_int16 = audio.resample(audio.to_pcm16(floats), 48000, 24000)
    assert np.abs(from_floats.astype(int) - from_int16).max() <= 1
    stereo = np.stack([floats, floats], axis=1)
    assert np.array_equal(
        audio.resample(stereo, 48000, 24000), audio.resample(floats, 48000, 24000)
    )


def test_full_scale_output_is_clipped_not_wrapped() -> None:
    square = np.where(np.arange(4800) % 100 < 50, 32767, -32768).astype(np.int16)
    output = audio.resample(square, 48000, 24000)
    assert output.max() == 32767 and output.min() == -32768  # Gibbs overshoot clips
    cycles = output[100:-100].reshape(-1, 50).astype(int)  # 50 output samples per cycle
    assert np.all(cycles[:, 3:22] > 25000)  # a wrapped overshoot would turn negative here
    assert np.all(cycles[:, 28:47] < -25000)


def test_same_rate_is_a_passthrough() -> None:
    samples = noise_and_tone(1000, 1)
    resampler = audio.Resampler(24000, 24000)
    output = resampler.process(samples)
    assert np.array_equal(output, samples)
    assert not np.shares_memory(output, samples)
    assert resampler.flush().size == 0
    assert np.array_equal(audio.resample(samples, 16000, 16000), samples)
    assert audio.resample(np.array([0.5], np.float32), 8000, 8000).tolist() == [16384]


def test_flush_starts_a_new_stream() -> None:
    samples = noise_and_tone(3000, 2)
    resampler = audio.Resampler(44100, 24000)
    first = np.concatenate([resampler.process(samples), resampler.flush()])
    second = np.concatenate([resampler.process(samples), resampler.flush()])
    assert np.array_equal(first, second)
    assert resampler.flush().size == 0


def test_bad_chunk_leaves_the_stream_untouched() -> None:
    good = noise_and_tone(300_000, 3)
    bad = np.concatenate([good[:200_000].astype(np.float32) / 32768, [np.nan]])
    resampler = audio.Resampler(16000, 24000)
    out = [resampler.process(good[:1000])]
    with pytest.raises(ValueError, match=r"NaN"):
        resampler.process(bad)
    out += [resampler.process(good[1000:]), resampler.flush()]
    assert np.array_equal(np.concatenate(out), audio.resample(good, 16000, 24000))


@pytest.mark.parametrize("rate", [0, -8000, math.nan, math.inf])
def test_bad_rates_are_value_errors(rate: float) -> None:
    with pytest.raises(ValueError, match=r"from_rate must be a positive sample rate"):
        audio.Resampler(rate, 24000)
    with pytest.raises(ValueError, match=r"to_rate must be a positive sample rate"):
        audio.resample(np.zeros(4, np.int16), 24000, rate)


def test_bad_quality_and_rate_types() -> None:
    with pytest.raises(ValueError, match=r"quality must be one of"):
        audio.Resampler(8000, 24000, quality="best")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"from_rate must be a number"):
        audio.Resampler("8000", 24000)  # type: ignore[arg-type]


def test_bad_samples_raise_like_to_pcm16() -> None:
    resampler = audio.Resampler(8000, 24000)
    with pytest.raises(TypeError, match=r"int16, float32 or float64"):
        resampler.process(np.zeros(4, np.int32))
    with pytest.raises(ValueError, match=r"even number of bytes"):
        resampler.process(b"\x00\x00\x00")


def test_repr_and_rates() -> None:
    resampler = audio.Resampler(44100, 24000, quality="VHQ")
    assert (resampler.from_rate, resampler.to_rate) == (44100.0, 24000.0)
    assert repr(resampler) == "Resampler(44100, 24000, quality='VHQ')"
