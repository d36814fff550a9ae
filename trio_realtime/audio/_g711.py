"""G.711 u-law and A-law (``audio/pcmu``, ``audio/pcma``): table lookups, bit-exact with audioop.

The tables follow the classic Sun g711.c as used by Python's former ``audioop``
(``lin2ulaw``/``lin2alaw``/``ulaw2lin``/``alaw2lin``): u-law encodes the 14 most significant
bits, A-law the 13 most significant bits of each PCM16 sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ._pcm import PCMInput, to_pcm16

__all__ = ["alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

_ULAW_CLIP = 8159
_ULAW_BIAS = 0x84 >> 2


def _segment(magnitude: npt.NDArray[np.int32], first_end: int) -> npt.NDArray[np.int32]:
    """Segment number 0-8 of each magnitude: segments end at first_end, 2*first_end+1, ..."""
    ends = (np.int32(first_end + 1) << np.arange(8, dtype=np.int32)) - 1
    return np.searchsorted(ends, magnitude, side="left").astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(linear < 0, 0x7F, 0xFF).astype(np.int32)
    magnitude = np.minimum(np.abs(linear), _ULAW_CLIP) + _ULAW_BIAS
    segment = _segment(magnitude, 0x3F)
    shift = np.minimum(segment, 7) + 1
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> shift) & 0xF)) ^ mask
    return _indexed_by_uint16(code.astype(np.uint8))


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32) >> 3
    negative = linear < 0
    mask = np.where(negative, 0x55, 0xD5).astype(np.int32)
    magnitude = np.where(negative, -linear - 1, linear)
    segment = _segment(magnitude, 0x1F)
    shift = np.clip(segment, 1, 7)
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> shift) & 0xF)) ^ mask
    return _indexed_by_uint16(code.astype(np.uint8))


def _indexed_by_uint16(table_from_min: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Reorder a table indexed from -32768 so it is indexed by the sample's uint16 bit pattern."""
    return np.roll(table_from_min, -32768)


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    mantissa = (code & 0x0F) << 4
    magnitude = np.where(
        segment == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(segment - 1, 0)
    )
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encode()
_ALAW_ENCODE = _build_alaw_encode()
_ULAW_DECODE = _build_ulaw_decode()
_ALAW_DECODE = _build_alaw_decode()
for _table in (_ULAW_ENCODE, _ALAW_ENCODE, _ULAW_DECODE, _ALAW_DECODE):
    _table.flags.writeable = False


def _codes(data: bytes | bytearray | memoryview | npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1:
        return data
    raise TypeError(
        "expected G.711 bytes, bytearray, memoryview or a 1-D uint8 numpy array, "
        f"got {type(data).__name__}"
    )


def ulaw_encode(pcm16: PCMInput) -> bytes:
    """Encode PCM16 audio as G.711 u-law bytes (one per sample), for ``audio/pcmu``.

    Takes what :func:`to_pcm16` takes (so 24 kHz audio must be resampled to 8 kHz first)
    and raises likewise.
    """
    return _ULAW_ENCODE[to_pcm16(pcm16).view(np.uint16)].tobytes()


def alaw_encode(pcm16: PCMInput) -> bytes:
    """Encode PCM16 audio as G.711 A-law bytes (one per sample), for ``audio/pcma``.

    Takes what :func:`to_pcm16` takes and raises likewise.
    """
    return _ALAW_ENCODE[to_pcm16(pcm16).view(np.uint16)].tobytes()


def ulaw_decode(data: bytes | bytearray | memoryview | npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """Decode G.711 u-law bytes to int16 samples (one per byte).

    Raises TypeError unless given bytes, a byte buffer or a 1-D uint8 array.
    """
    return _ULAW_DECODE[_codes(data)]


def alaw_decode(data: bytes | bytearray | memoryview | npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """Decode G.711 A-law bytes to int16 samples (one per byte).

    Raises TypeError unless given bytes, a byte buffer or a 1-D uint8 array.
    """
    return _ALAW_DECODE[_codes(data)]
