"""Audio formats of the Realtime API: bytes per millisecond, decoding, encoding, a voice."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

__all__ = ["bytes_per_ms", "decode_input_audio", "synthesize_voice", "to_output_format"]

_MS_PER_CHARACTER = 65
_MAX_REPLY_MS = 15_000
_MIN_REPLY_MS = 300


@functools.cache
def _long_voice(sample_rate: int) -> npt.NDArray[np.int16]:
    from ..audio import voice_like

    return voice_like(_MAX_REPLY_MS, sample_rate=sample_rate, seed=7, pitch_hz=180.0)


def synthesize_voice(text: str, sample_rate: int = 24000) -> npt.NDArray[np.int16]:
    """A voice-like reply of plausible length for ``text`` (~65 ms a character, capped)."""
    ms = min(_MAX_REPLY_MS, max(_MIN_REPLY_MS, len(text) * _MS_PER_CHARACTER))
    return _long_voice(sample_rate)[: ms * sample_rate // 1000]


def bytes_per_ms(format_type: str) -> int:
    """Bytes of one millisecond of audio: 48 for PCM16 at 24 kHz, 8 for G.711 at 8 kHz."""
    return 48 if format_type == "audio/pcm" else 8


def decode_input_audio(data: bytes, format_type: str) -> npt.NDArray[np.int16]:
    """Audio bytes in a session format as PCM16 samples at the format's own rate."""
    from ..audio import alaw_decode, pcm16_from_bytes, ulaw_decode

    if format_type == "audio/pcmu":
        return ulaw_decode(data)
    if format_type == "audio/pcma":
        return alaw_decode(data)
    return pcm16_from_bytes(data[: len(data) - len(data) % 2])


def to_output_format(samples: npt.NDArray[np.int16], format_type: str) -> bytes:
    """PCM16 at 24 kHz as bytes in a session output format."""
    from ..audio import alaw_encode, pcm16_bytes, resample, ulaw_encode

    if format_type == "audio/pcm":
        return pcm16_bytes(samples)
    narrow = resample(samples, 24000, 8000) if samples.size else samples
    return ulaw_encode(narrow) if format_type == "audio/pcmu" else alaw_encode(narrow)
