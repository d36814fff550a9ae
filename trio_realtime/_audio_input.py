"""Audio ingestion: any PCM input -> the session's input format, cut into wire frames.

Pure and synchronous (the session wires it to its lanes). Streaming: consecutive
``encode`` calls give the same bytes as one call on the concatenation, because the
resampler and the partial frame carry over between calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import audio

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MAX_EVENT_BYTES", "AudioEncoder", "EncodedFrame", "input_format_of"]

MAX_EVENT_BYTES = 15 * 1024 * 1024
"""The service's limit for one ``input_audio_buffer.append`` event."""

_RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}


@dataclass(frozen=True)
class EncodedFrame:
    """Wire-ready audio: bytes in the session's input format, and its duration."""

    data: bytes
    ms: float


def input_format_of(config: object) -> str:
    """The input audio format of a session config: ``audio/pcm``, ``audio/pcmu``, ``audio/pcma``."""
    audio_config = getattr(config, "audio", None)
    fmt = getattr(getattr(getattr(audio_config, "input", None), "format", None), "type", None)
    return fmt if isinstance(fmt, str) and fmt in _RATES else "audio/pcm"


class AudioEncoder:
    """Converts, resamples and encodes input audio for one format, in frames of ``chunk_ms``."""

    def __init__(self, *, format: str = "audio/pcm", chunk_ms: int = 100) -> None:
        if format not in _RATES:
            raise ValueError(
                f"unsupported input format {format!r}: expected one of {sorted(_RATES)}"
            )
        if not (isinstance(chunk_ms, int) and chunk_ms > 0):
            raise ValueError(f"chunk_ms must be a positive whole number, got {chunk_ms!r}")
        self.format = format
        self.rate = _RATES[format]
        self.bytes_per_ms = self.rate * (2 if format == "audio/pcm" else 1) / 1000
        self.frame_bytes = int(chunk_ms * self.bytes_per_ms)
        if math.ceil(self.frame_bytes / 3) * 4 + 100 > MAX_EVENT_BYTES:
            raise ValueError(
                f"audio_chunk_ms={chunk_ms} makes frames over the service's 15 MiB event limit"
            )
        self._pending = bytearray()
        self._resampler: audio.Resampler | None = None

    @property
    def pending_ms(self) -> float:
        """Audio held back until a whole frame is ready (or the writer is idle)."""
        return len(self._pending) / self.bytes_per_ms

    def convert(self, samples: audio.PCMInput, sample_rate: float) -> npt.NDArray[np.int16]:
        """Validate and convert to mono int16 at the input rate, without changing any state.

        Raises:
            TypeError: not bytes or a numpy array of int16/float32/float64.
            ValueError: odd byte length, NaN/inf, a 3-D array, a sample rate <= 0.
        """
        if isinstance(sample_rate, bool) or not (
            isinstance(sample_rate, int | float) and sample_rate > 0 and math.isfinite(sample_rate)
        ):
            raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
        return audio.to_pcm16(samples)

    def encode(self, pcm: npt.NDArray[np.int16], sample_rate: float) -> list[EncodedFrame]:
        """Take converted mono int16 audio at ``sample_rate``; return the whole frames now ready."""
        if sample_rate != self.rate:
            if self._resampler is None or self._resampler.from_rate != sample_rate:
                self._flush_resampler()
                self._resampler = audio.Resampler(sample_rate, self.rate)
            pcm = self._resampler.process(pcm)
        elif self._resampler is not None:
            self._flush_resampler()
        wire = self._wire_bytes(pcm)
        if not self._pending and not len(wire) % self.frame_bytes:
            return self._frames(wire)  # whole frames and nothing held back: no copying
        self._pending += wire
        return self._cut(whole_only=True)

    def flush(self) -> list[EncodedFrame]:
        """Everything held back: the resampler's tail and the partial frame."""
        self._flush_resampler()
        return self._cut(whole_only=False)

    def take_partial(self) -> EncodedFrame | None:
        """The partial frame (not the resampler's tail), for an idle writer."""
        frames = self._cut(whole_only=False)
        return frames[0] if frames else None

    def clear(self) -> float:
        """Drop everything held back; returns the milliseconds dropped."""
        dropped = self.pending_ms
        self._pending.clear()
        self._resampler = None
        return dropped

    def _flush_resampler(self) -> None:
        if self._resampler is not None:
            self._pending += self._wire_bytes(self._resampler.flush())
            self._resampler = None

    def _wire_bytes(self, pcm: npt.NDArray[np.int16]) -> bytes:
        if self.format == "audio/pcmu":
            return audio.ulaw_encode(pcm)
        if self.format == "audio/pcma":
            return audio.alaw_encode(pcm)
        return pcm.astype("<i2", copy=False).tobytes()

    def _cut(self, *, whole_only: bool) -> list[EncodedFrame]:
        size = self.frame_bytes
        end = len(self._pending) - len(self._pending) % size if whole_only else len(self._pending)
        if self.format == "audio/pcm":
            end -= end % 2
        data = bytes(self._pending[:end])
        del self._pending[:end]
        return self._frames(data)

    def _frames(self, data: bytes) -> list[EncodedFrame]:
        """``data`` cut into frames of ``frame_bytes`` (the last one may be shorter)."""
        size = self.frame_bytes
        per_ms = self.bytes_per_ms
        if len(data) <= size:
            return [EncodedFrame(data, len(data) / per_ms)] if data else []
        parts = (data[start : start + size] for start in range(0, len(data), size))
        return [EncodedFrame(part, len(part) / per_ms) for part in parts]
