"""Test signals and levels: tone, silence, voice_like, rms_dbfs, frame_energy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from trio_realtime import audio

SPEECH = 0.5
"""frame_energy threshold for speech: -30 dBFS with the default -60 dBFS floor."""
QUIET = 0.15
"""frame_energy below which a frame is silence (about -51 dBFS)."""


def frames_of(ms: int, rate: int) -> int:
    return rate * ms // 1000


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[bool, int]]:
    """Run-length encoding: (value, length) pairs."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = [0, *edges.tolist(), mask.size]
    return [(bool(mask[a]), b - a) for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_tone_frequency_level_and_length(rate: int) -> None:
    tone = audio.tone(1000, 500, sample_rate=rate, amplitude=0.25)
    assert tone.dtype == np.int16 and tone.size == rate // 2
    assert abs(int(np.abs(tone).max()) - round(0.25 * 32767)) <= 1
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.argmax(spectrum) * rate / tone.size == pytest.approx(1000, abs=2)
    assert audio.rms_dbfs(tone) == pytest.approx(20 * math.log10(0.25 / math.sqrt(2)), abs=0.01)


def test_tone_and_silence_durations_and_errors() -> None:
    assert audio.silence(200).tolist() == [0] * 4800
    assert audio.silence(20, sample_rate=8000).size == 160
    assert audio.duration_ms(audio.tone(440, 1234)) == 1234
    assert audio.tone(440, 0).size == 0
    with pytest.raises(ValueError, match=r"freq_hz"):
        audio.tone(13000, 10)
    with pytest.raises(ValueError, match=r"amplitude"):
        audio.tone(440, 10, amplitude=1.5)
    with pytest.raises(ValueError, match=r"ms must be"):
        audio.silence(-1)
    with pytest.raises(ValueError, match=r"sample_rate"):
        audio.tone(440, 10, sample_rate=0)


def test_voice_like_is_deterministic_and_prefix_stable() -> None:
    voice = audio.voice_like(3000, seed=7)
    assert voice.dtype == np.int16 and voice.size == 72000
    assert np.array_equal(voice, audio.voice_like(3000, seed=7))
    assert not np.array_equal(voice, audio.voice_like(3000, seed=8))
    for ms in (1, 250, 1234, 2999):
        assert np.array_equal(audio.voice_like(ms, seed=7), voice[: ms * 24])


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_voice_like_looks_like_speech_to_an_energy_vad(rate: int, seed: int) -> None:
    voice = audio.voice_like(20_000, sample_rate=rate, seed=seed)
    energy = audio.frame_energy(voice, frames_of(20, rate))
    speech = energy > SPEECH
    quiet = energy < QUIET
    assert 0.6 <= speech.mean() <= 0.92  # mostly talking
    assert quiet.mean() >= 0.05  # with pauses
    assert (~speech & ~quiet).mean() <= 0.04  # and little in between (only pause edges)
    pauses = [length for is_quiet, length in runs(quiet) if is_quiet]
    assert len(pauses) >= 3
    assert all(length >= 5 for length in pauses)  # pauses last 100 ms or more
    assert -22 <= audio.rms_dbfs(voice) <= -17
    assert np.abs(voice).max() < 32767 * 0.9  # no clipping


def test_voice_like_has_syllable_rhythm_and_pitch() -> None:
    rate = 16000
    voice = audio.voice_like(30_000, sample_rate=rate, pitch_hz=120.0)
    envelope = audio.frame_energy(voice, frames_of(25, rate))
    speaking = envelope > SPEECH
    middle = envelope[1:-1]
    peaks = (middle > envelope[:-2]) & (middle >= envelope[2:]) & speaking[1:-1]
    syllables_per_second = peaks.sum() / (speaking.sum() * 0.025)
    assert 3.0 <= syllables_per_second <= 5.5
    loud = np.flatnonzero(envelope > 0.6)
    start = loud[len(loud) // 2] * frames_of(25, rate)
    window = voice[start : start + frames_of(60, rate)].astype(np.float64)
    lags = np.arange(rate // 300, rate // 60)
    correlation = [np.dot(window[:-lag], window[lag:]) for lag in lags]
    pitch = rate / lags[int(np.argmax(correlation))]
    assert 95 <= pitch <= 150


def test_voice_like_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"pitch_hz"):
        audio.voice_like(100, pitch_hz=5000)
    with pytest.raises(ValueError, match=r"ms must be"):
        audio.voice_like(-5)


def test_rms_dbfs_reference_levels() -> None:
    square = np.where(np.arange(1000) % 2 == 0, 32767, -32768).astype(np.int16)
    assert audio.rms_dbfs(square) == pytest.approx(0.0, abs=0.001)
    assert audio.rms_dbfs(audio.tone(1000, 1000, amplitude=1.0)) == pytest.approx(-3.01, abs=0.01)
    assert audio.rms_dbfs(audio.silence(100)) == -math.inf
    assert audio.rms_dbfs(b"") == -math.inf
    assert audio.rms_dbfs(np.full(10, 0.5)) == pytest.approx(20 * math.log10(0.5 * 32767 / 32768))


def test_frame_energy_scale() -> None:
    rate = 24000
    level = 10 ** (-30 / 20) * 32768 * math.sqrt(2) / 32767  # a sine at -30 dBFS RMS
    sine = audio.tone(1000, 100, sample_rate=rate, amplitude=level)
    assert audio.frame_energy(sine, 480) == pytest.approx(np.full(5, 0.5), abs=0.002)
    square = np.where(np.arange(4800) % 2 == 0, 32767, -32768).astype(np.int16)
    assert audio.frame_energy(square, 480) == pytest.approx(np.ones(10), abs=1e-4)
    assert audio.frame_energy(audio.silence(100), 480).tolist() == [0.0] * 5
    quiet = audio.tone(1000, 100, amplitude=10 ** (-70 / 20))
    assert audio.frame_energy(quiet, 480).max() == 0.0
    assert audio.frame_energy(sine, 480, floor_dbfs=-40) == pytest.approx(
        np.full(5, 0.25), abs=0.01
    )


@given(hnp.arrays(np.int16, st.integers(0, 3000)), st.integers(1, 700))
def test_frame_energy_is_per_whole_frame(samples: npt.NDArray[np.int16], frame: int) -> None:
    energy = audio.frame_energy(samples, frame)
    assert energy.shape == (samples.size // frame,)
    assert np.all((energy >= 0) & (energy <= 1))
    for index in range(energy.size):
        piece = samples[index * frame : (index + 1) * frame]
        db = audio.rms_dbfs(piece)
        expected = 0.0 if db == -math.inf else min(1.0, max(0.0, 1 + db / 60))
        assert energy[index] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("frame", [0, -480, 2.5, True])
def test_frame_energy_rejects_bad_frames(frame: object) -> None:
    with pytest.raises(ValueError, match=r"frame_samples"):
        audio.frame_energy(audio.silence(10), frame)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"floor_dbfs"):
        audio.frame_energy(audio.silence(10), 10, floor_dbfs=0)
