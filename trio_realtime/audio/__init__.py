"""Audio helpers for voice apps: PCM16 conversion, resampling, chunking, G.711, WAV, levels,
test signals and playback tracking for barge-in.

Pure and synchronous (no I/O but the WAV functions' file access, no tasks): numpy in, numpy or
bytes out, vectorised. The Realtime API's audio is PCM16 mono little-endian at 24 kHz
(48 bytes/ms) or G.711 u-law/A-law at 8 kHz (8 bytes/ms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

__all__ = [
    "PCMInput",
    "PlaybackTracker",
    "Quality",
    "Resampler",
    "alaw_decode",
    "alaw_encode",
    "bytes_for_ms",
    "chunk",
    "duration_ms",
    "frame_energy",
    "pcm16_bytes",
    "pcm16_from_bytes",
    "read_wav",
    "resample",
    "rms_dbfs",
    "silence",
    "to_pcm16",
    "tone",
    "ulaw_decode",
    "ulaw_encode",
    "voice_like",
    "write_wav",
]

# numpy and soxr load with the first helper used, not with the package (the sessions use
# PlaybackTracker): the imports are for type checkers and the docs, the table for Python.
if TYPE_CHECKING:
    from ._g711 import (
        alaw_decode as alaw_decode,
        alaw_encode as alaw_encode,
        ulaw_decode as ulaw_decode,
        ulaw_encode as ulaw_encode,
    )
    from ._level import frame_energy as frame_energy, rms_dbfs as rms_dbfs
    from ._pcm import (
        PCMInput as PCMInput,
        bytes_for_ms as bytes_for_ms,
        chunk as chunk,
        duration_ms as duration_ms,
        pcm16_bytes as pcm16_bytes,
        pcm16_from_bytes as pcm16_from_bytes,
        to_pcm16 as to_pcm16,
    )
    from ._playback import PlaybackTracker as PlaybackTracker
    from ._resample import Quality as Quality, Resampler as Resampler, resample as resample
    from ._signals import silence as silence, tone as tone, voice_like as voice_like
    from ._wav import read_wav as read_wav, write_wav as write_wav
else:
    __getattr__, __dir__ = lazy_attributes(
        __name__,
        {
            "alaw_decode": "._g711",
            "alaw_encode": "._g711",
            "ulaw_decode": "._g711",
            "ulaw_encode": "._g711",
            "frame_energy": "._level",
            "rms_dbfs": "._level",
            "PCMInput": "._pcm",
            "bytes_for_ms": "._pcm",
            "chunk": "._pcm",
            "duration_ms": "._pcm",
            "pcm16_bytes": "._pcm",
            "pcm16_from_bytes": "._pcm",
            "to_pcm16": "._pcm",
            "PlaybackTracker": "._playback",
            "Quality": "._resample",
            "Resampler": "._resample",
            "resample": "._resample",
            "silence": "._signals",
            "tone": "._signals",
            "voice_like": "._signals",
            "read_wav": "._wav",
            "write_wav": "._wav",
        },
    )
