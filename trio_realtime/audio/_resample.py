"""Streaming, anti-aliased sample-rate conversion on libsoxr (``soxr.ResampleStream``)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]

from ._pcm import PCMInput, int16_unit_blocks, to_pcm16

__all__ = ["Quality", "Resampler", "resample"]

Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
"""libsoxr's quality presets, quick to very high; "HQ" suits speech and music alike."""

_QUALITIES: frozenset[str] = frozenset(("QQ", "LQ", "MQ", "HQ", "VHQ"))
_EMPTY = np.zeros(0, dtype=np.float32)
_EMPTY.flags.writeable = False


def _check_rate(name: str, rate: float) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise TypeError(f"{name} must be a number of samples per second, got {rate!r}")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"{name} must be a positive sample rate, got {rate!r}")
    return float(rate)


def _to_int16(units: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    np.rint(units, out=units)
    np.clip(units, -32768.0, 32767.0, out=units)
    return units.astype(np.int16)


class Resampler:
    """Convert a stream of mono audio from one sample rate to another, chunk by chunk.

    Feed chunks to :meth:`process` and call :meth:`flush` at the end of the stream: the
    concatenated output is exactly what one call on the whole input gives (no clicks at chunk
    borders). Output lags input by the filter delay (a few ms) until :meth:`flush`.
    After :meth:`flush` the resampler starts a new stream. Not thread-safe.
    Raises ValueError for a non-positive rate or an unknown quality.
    """

    def __init__(self, from_rate: float, to_rate: float, *, quality: Quality = "HQ") -> None:
        self._from_rate = _check_rate("from_rate", from_rate)
        self._to_rate = _check_rate("to_rate", to_rate)
        if not isinstance(quality, str) or quality.upper() not in _QUALITIES:
            raise ValueError(f"quality must be one of {sorted(_QUALITIES)}, got {quality!r}")
        self._quality = quality.upper()
        self._stream: soxr.ResampleStream | None = None
        if self._from_rate != self._to_rate:
            self._stream = self._new_stream()

    def _new_stream(self) -> soxr.ResampleStream:
        return soxr.ResampleStream(
            self._from_rate, self._to_rate, 1, dtype=np.float32, quality=self._quality
        )

    @property
    def from_rate(self) -> float:
        """The input sample rate (Hz)."""
        return self._from_rate

    @property
    def to_rate(self) -> float:
        """The output sample rate (Hz)."""
        return self._to_rate

    def __repr__(self) -> str:
        return f"Resampler({self._from_rate:g}, {self._to_rate:g}, quality={self._quality!r})"

    def process(self, samples: PCMInput) -> npt.NDArray[np.int16]:
        """Resample the next chunk of the stream; returns what is ready (possibly nothing).

        Takes what :func:`~trio_realtime.audio.to_pcm16` takes (floats are resampled before
        rounding, multi-channel input is mixed down) and raises likewise, before consuming
        any of the chunk.
        """
        if self._stream is None:
            return to_pcm16(samples).copy()
        return self._run(self._stream, samples, last=False)

    def flush(self) -> npt.NDArray[np.int16]:
        """End the stream: return the samples still held in the filter, and start afresh."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        return self._run(self._stream, _EMPTY, last=True)

    def _process_all(self, samples: PCMInput) -> npt.NDArray[np.int16]:
        """Resample a whole signal as one stream (process and flush in one call)."""
        if self._stream is None:
            return to_pcm16(samples).copy()
        return self._run(self._stream, samples, last=True)

    def _run(
        self, stream: soxr.ResampleStream, samples: PCMInput, *, last: bool
    ) -> npt.NDArray[np.int16]:
        """Feed the stream block by block; at the end of the stream, start a fresh one."""
        blocks = int16_unit_blocks(samples)
        if not last:
            blocks = iter(list(blocks))  # Convert (and validate) all before feeding the stream.
        outputs = [_to_int16(stream.resample_chunk(block, last=False)) for block in blocks]
        if last:
            outputs.append(_to_int16(stream.resample_chunk(_EMPTY, last=True)))
            self._stream = self._new_stream()
        if len(outputs) == 1:
            return outputs[0]
        return np.concatenate(outputs) if outputs else np.zeros(0, dtype=np.int16)


def resample(
    samples: PCMInput, from_rate: float, to_rate: float, *, quality: Quality = "HQ"
) -> npt.NDArray[np.int16]:
    """Resample a whole mono signal at once: the same result as a :class:`Resampler` stream.

    Takes what :func:`~trio_realtime.audio.to_pcm16` takes and raises likewise; raises
    ValueError for a non-positive rate.
    """
    return Resampler(from_rate, to_rate, quality=quality)._process_all(samples)
