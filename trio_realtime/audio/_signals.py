"""Deterministic test signals: tones, silence and a speech-like voice for VAD demos and tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._pcm import samples_for_ms

__all__ = ["silence", "tone", "voice_like"]

_VOWEL_FORMANTS_HZ = np.array(
    [
        (730.0, 1090.0, 2440.0),  # a
        (530.0, 1840.0, 2480.0),  # e
        (270.0, 2290.0, 3010.0),  # i
        (570.0, 840.0, 2410.0),  # o
        (300.0, 870.0, 2240.0),  # u
    ]
)
_FORMANT_BANDWIDTHS_HZ = np.array([90.0, 110.0, 170.0])
_SPEECH_RMS = 0.14 * 32767
_NOISE_RMS = 8.0
_ENVELOPE_FLOOR = 0.45
_FADE_MS = 25.0
_HARMONIC_LIMIT_HZ = 4000.0


def _check_rate(sample_rate: int) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")


def silence(ms: float, *, sample_rate: int = 24000) -> npt.NDArray[np.int16]:
    """``ms`` milliseconds of digital silence (zeros). Raises ValueError for negative ``ms``."""
    _check_rate(sample_rate)
    return np.zeros(samples_for_ms(ms, sample_rate), dtype=np.int16)


def tone(
    freq_hz: float, ms: float, *, sample_rate: int = 24000, amplitude: float = 0.5
) -> npt.NDArray[np.int16]:
    """A sine tone of ``freq_hz`` lasting ``ms`` milliseconds, peak ``amplitude`` of full scale.

    Raises ValueError for a frequency outside [0, sample_rate / 2], an amplitude outside [0, 1],
    or a negative duration.
    """
    _check_rate(sample_rate)
    if not 0 <= freq_hz <= sample_rate / 2:
        raise ValueError(f"freq_hz must be in [0, {sample_rate / 2:g}], got {freq_hz!r}")
    if not 0 <= amplitude <= 1:
        raise ValueError(f"amplitude must be in [0, 1], got {amplitude!r}")
    n = samples_for_ms(ms, sample_rate)
    cycles = np.arange(n, dtype=np.float64) * (freq_hz / sample_rate)
    cycles %= 1.0
    wave = np.sin(2 * np.pi * cycles)
    wave *= amplitude * 32767
    return np.rint(wave).astype(np.int16)


class _Plan:
    """The syllable and phrase timing of voice_like, long enough to run past the signal's end."""

    def __init__(self, n: int, sample_rate: int, rng: np.random.Generator) -> None:
        starts: list[int] = []
        ends: list[int] = []
        vowels: list[int] = []
        accents: list[float] = []
        phrases: list[tuple[int, int]] = []
        position = 0
        while position < n + sample_rate:
            phrase_start = position
            for _ in range(int(rng.integers(3, 8))):
                length = int(rng.uniform(0.18, 0.32) * sample_rate)
                starts.append(position)
                ends.append(position + length)
                vowels.append(int(rng.integers(0, len(_VOWEL_FORMANTS_HZ))))
                accents.append(float(rng.uniform(-0.08, 0.1)))
                position += length
            phrases.append((phrase_start, position))
            position += int(rng.uniform(0.15, 0.45) * sample_rate)
        self.syllables = (np.array(starts), np.array(ends))
        self.vowels = np.array(vowels)
        self.accents = np.array(accents)
        self.phrases = phrases


def voice_like(
    ms: float, *, sample_rate: int = 24000, seed: int = 0, pitch_hz: float = 140.0
) -> npt.NDArray[np.int16]:
    """A deterministic speech-like signal: what an energy-based VAD takes for a talker.

    A harmonic (glottal-pulse-like) series at a slowly varying pitch around ``pitch_hz``, shaped
    by three vowel formants, in syllables of about 250 ms (~4 Hz amplitude modulation), grouped
    in phrases of 3 to 7 syllables separated by 150-450 ms pauses holding only a faint noise
    floor (about -72 dBFS). Speech RMS is about -17 dBFS at syllable peaks, -24 dBFS between
    syllables. The same ``seed`` gives the same samples, and a shorter signal is a prefix of a
    longer one. Raises ValueError for a negative duration or a pitch outside 50-500 Hz.
    """
    _check_rate(sample_rate)
    if not 50 <= pitch_hz <= 500:
        raise ValueError(f"pitch_hz must be in [50, 500], got {pitch_hz!r}")
    n = samples_for_ms(ms, sample_rate)
    plan_rng, pitch_rng, noise_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)
    )
    plan = _Plan(n, sample_rate, plan_rng)
    starts, ends = plan.syllables
    centres = (starts + ends) / 2.0
    phases = pitch_rng.uniform(0, 2 * np.pi, size=2)

    def pitch(positions: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        t = positions / sample_rate
        f0: npt.NDArray[np.float64] = pitch_hz * (
            1.0
            + 0.06 * np.sin(2 * np.pi * 0.45 * t + phases[0])
            + 0.03 * np.sin(2 * np.pi * 1.3 * t + phases[1])
            + np.interp(positions, centres, plan.accents)
        )
        return f0

    index = np.arange(n, dtype=np.float64)
    phase = np.cumsum(pitch(index) / sample_rate)
    phase %= 1.0
    rotation = np.exp(2j * np.pi * phase)
    step = max(1, sample_rate // 1000)
    control = np.arange(0, n + step, step, dtype=np.float64)
    f0_control = pitch(control)
    formants_control = [
        np.interp(control, centres, _VOWEL_FORMANTS_HZ[plan.vowels, j]) for j in range(3)
    ]
    harmonics = max(1, int(min(_HARMONIC_LIMIT_HZ, 0.45 * sample_rate) // (pitch_hz * 1.25)))
    voiced = np.zeros(n, dtype=np.float64)
    power = np.zeros(control.size, dtype=np.float64)
    partial = np.ones(n, dtype=np.complex128)
    for k in range(1, harmonics + 1):
        partial *= rotation
        frequency = k * f0_control
        gain = np.full(control.size, 1.0 / k)
        for centre, bandwidth in zip(formants_control, _FORMANT_BANDWIDTHS_HZ, strict=True):
            centre_sq = centre * centre
            gain *= centre_sq / np.hypot(centre_sq - frequency * frequency, bandwidth * frequency)
        power += gain * gain / 2
        voiced += np.interp(index, control, gain) * partial.imag
    voiced /= np.sqrt(np.interp(index, control, power))

    envelope = np.zeros(n, dtype=np.float64)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        stop = min(end, n)
        if start >= stop:
            continue
        u = (np.arange(start, stop) - start) / (end - start)
        envelope[start:stop] = _ENVELOPE_FLOOR + (1 - _ENVELOPE_FLOOR) * np.sin(np.pi * u) ** 2
    fade = max(1, int(_FADE_MS * sample_rate / 1000))
    fade_in = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    fade_out = fade_in[::-1]
    for start, end in plan.phrases:
        for edge, ramp in ((start, fade_in), (end - fade, fade_out)):
            stop = min(edge + fade, n)
            if edge < stop:
                envelope[edge:stop] *= ramp[: stop - edge]

    signal = voiced * envelope * _SPEECH_RMS
    signal += noise_rng.standard_normal(n) * _NOISE_RMS
    np.rint(signal, out=signal)
    np.clip(signal, -32768, 32767, out=signal)
    return signal.astype(np.int16)
