"""Signal levels for voice-activity detection: RMS in dBFS and per-frame normalised energy."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._pcm import PCMInput, int16_unit_blocks, int16_units

__all__ = ["frame_energy", "rms_dbfs"]

_FULL_SCALE = 32768.0


def rms_dbfs(samples: PCMInput) -> float:
    """The RMS level of mono audio in dB relative to full scale (a full-scale square wave is 0).

    A full-scale sine is about -3 dBFS, conversational speech -30 to -15 dBFS; silence and empty
    input give ``-inf``. Takes what :func:`~trio_realtime.audio.to_pcm16` takes and raises
    likewise.
    """
    total = 0.0
    count = 0
    for block in int16_unit_blocks(samples):
        values = block.astype(np.float64)
        total += float(np.dot(values, values))
        count += values.size
    if total == 0.0:
        return -math.inf
    mean_square = total / count
    return 10.0 * math.log10(mean_square / _FULL_SCALE**2)


def frame_energy(
    samples: PCMInput, frame_samples: int, *, floor_dbfs: float = -60.0
) -> npt.NDArray[np.float64]:
    """Per-frame energy in [0, 1] for voice-activity detection: the frame's RMS on a dB scale.

    0 at or below ``floor_dbfs`` (default -60 dBFS), 1 at full scale, linear in dB between, so
    with the default a threshold of 0.5 means -30 dBFS: speech is above it, room noise below.
    One value per whole frame of ``frame_samples`` (a trailing partial frame is left out).
    Takes what :func:`~trio_realtime.audio.to_pcm16` takes and raises likewise; raises
    ValueError for a non-positive ``frame_samples`` or a ``floor_dbfs`` that is not negative.
    """
    if isinstance(frame_samples, bool) or not isinstance(frame_samples, int) or frame_samples <= 0:
        raise ValueError(f"frame_samples must be a positive whole number, got {frame_samples!r}")
    if not (floor_dbfs < 0 and math.isfinite(floor_dbfs)):
        raise ValueError(f"floor_dbfs must be a negative number of dB, got {floor_dbfs!r}")
    units = int16_units(samples)
    frames = units[: units.size - units.size % frame_samples].reshape(-1, frame_samples)
    scaled = frames.astype(np.float64) / _FULL_SCALE
    mean_square = np.einsum("ij,ij->i", scaled, scaled) / frame_samples
    tiny = 10.0 ** (floor_dbfs / 10.0)
    level_db = 10.0 * np.log10(np.maximum(mean_square, tiny))
    energy: npt.NDArray[np.float64] = np.clip(1.0 - level_db / floor_dbfs, 0.0, 1.0)
    return energy
