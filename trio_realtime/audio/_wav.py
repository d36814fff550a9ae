"""WAV files in and out: read common PCM/float/G.711 WAVs as int16, write 16-bit PCM."""

from __future__ import annotations

import os
import struct
import wave
from dataclasses import dataclass
from typing import IO, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._g711 import alaw_decode, ulaw_decode
from ._pcm import _float_to_int16, pcm16_from_bytes

__all__ = ["read_wav", "write_wav"]

WavSource: TypeAlias = str | os.PathLike[str] | IO[bytes]
"""A WAV file: a path, or a binary file object (left open)."""

_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_ALAW = 0x0006
_ULAW = 0x0007
_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True, slots=True)
class _Format:
    """The ``fmt `` chunk fields read_wav needs (the sub-format's tag for EXTENSIBLE files)."""

    tag: int
    channels: int
    sample_rate: int
    block_align: int
    bits: int


def _parse_fmt(body: bytes) -> _Format:
    """Decode a ``fmt `` chunk; raises ValueError if it is malformed."""
    if len(body) < 16:
        raise ValueError(f"not a valid WAV file: 'fmt ' chunk of {len(body)} bytes (need 16)")
    tag, channels, sample_rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40:
            raise ValueError("not a valid WAV file: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk too short")
        (tag,) = struct.unpack_from("<H", body, 24)
    if channels < 1:
        raise ValueError("not a valid WAV file: zero channels")
    if sample_rate < 1:
        raise ValueError("not a valid WAV file: zero sample rate")
    return _Format(tag, channels, sample_rate, block_align, bits)


def _chunks(data: bytes) -> tuple[_Format, memoryview]:
    """Walk the RIFF chunks; return the format and the sample data (truncated files tolerated)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file: expected a RIFF/WAVE header")
    view = memoryview(data)
    fmt: _Format | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body_start = offset + 8
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[body_start : body_start + size])
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("not a valid WAV file: 'data' chunk before 'fmt ' chunk")
            return fmt, view[body_start : min(body_start + size, len(data))]
        offset = body_start + size + (size & 1)
    raise ValueError("not a valid WAV file: no 'fmt ' and 'data' chunks")


def _samples(fmt: _Format, raw: memoryview) -> npt.NDArray[np.int16]:
    """Decode interleaved sample bytes to int16: the most significant 16 bits of integer PCM."""
    width = fmt.block_align // fmt.channels
    if width == 0 or width * fmt.channels != fmt.block_align or (fmt.bits + 7) // 8 != width:
        raise ValueError(
            f"unsupported WAV: block align {fmt.block_align} for {fmt.channels} channels "
            f"of {fmt.bits}-bit samples"
        )
    raw = raw[: len(raw) - len(raw) % fmt.block_align]
    if fmt.tag == _PCM and width == 1:
        return (np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8
    if fmt.tag == _PCM and width == 2:
        return pcm16_from_bytes(raw).copy()
    if fmt.tag == _PCM and width in (3, 4):
        top = np.frombuffer(raw, np.uint8).reshape(-1, width)[:, width - 2 :]
        return np.ascontiguousarray(top).view("<i2").reshape(-1).astype(np.int16, copy=False)
    if fmt.tag == _IEEE_FLOAT and width in (4, 8):
        floats: npt.NDArray[Any] = np.frombuffer(raw, "<f4" if width == 4 else "<f8")
        if not np.isfinite(floats).all():
            raise ValueError("unsupported WAV: float samples contain NaN or infinity")
        return _float_to_int16(floats)
    if fmt.tag in (_ALAW, _ULAW) and width == 1:
        return alaw_decode(raw) if fmt.tag == _ALAW else ulaw_decode(raw)
    raise ValueError(
        f"unsupported WAV: format tag {fmt.tag:#06x} with {width * 8}-bit samples "
        "(supported: 8/16/24/32-bit PCM, 32/64-bit float, 8-bit A-law/u-law)"
    )


def _read_all(path_or_file: WavSource) -> bytes:
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "rb") as file:
            return file.read()
    return path_or_file.read()


def read_wav(path_or_file: WavSource) -> tuple[npt.NDArray[np.int16], int]:
    """Read a WAV file as int16 samples and its sample rate.

    Mono files give shape ``(n,)``, others ``(n, channels)``. Reads 8/16/24/32-bit integer
    PCM (keeping the top 16 bits), 32/64-bit float (clipped, ``round(x * 32767)``) and 8-bit
    G.711, plain or WAVE_FORMAT_EXTENSIBLE, at any rate. A file object is read to its end
    and left open. Raises ValueError for a file that is not a WAV or an unsupported format,
    OSError if it cannot be read.
    """
    fmt, raw = _chunks(_read_all(path_or_file))
    samples = _samples(fmt, raw)
    if fmt.channels > 1:
        samples = samples.reshape(-1, fmt.channels)
    return samples, fmt.sample_rate


def _interleaved(samples: object) -> tuple[npt.NDArray[np.int16], int]:
    """int16 frames (n, channels) of mono or multi-channel samples, and the channel count."""
    if isinstance(samples, bytes | bytearray | memoryview):
        return pcm16_from_bytes(samples).reshape(-1, 1), 1
    if not isinstance(samples, np.ndarray):
        raise TypeError(
            "expected PCM16 bytes or a numpy array of int16, float32 or float64 samples, "
            f"got {type(samples).__name__}"
        )
    if samples.ndim not in (1, 2) or (samples.ndim == 2 and samples.shape[1] == 0):
        raise ValueError(f"expected samples shaped (n,) or (n, channels), got {samples.shape}")
    if samples.dtype.kind == "i" and samples.dtype.itemsize == 2:
        frames = samples.astype(np.int16, copy=False)
    elif samples.dtype.kind == "f" and samples.dtype.itemsize in (4, 8):
        frames = _float_to_int16(samples)
    else:
        raise TypeError(
            f"expected samples of dtype int16, float32 or float64, got dtype {samples.dtype}"
        )
    if frames.ndim == 1:
        frames = frames.reshape(-1, 1)
    return frames, frames.shape[1]


def write_wav(
    path_or_file: WavSource,
    samples: bytes | bytearray | memoryview | npt.NDArray[Any],
    sample_rate: int,
) -> None:
    """Write samples as a 16-bit PCM WAV file.

    ``samples``: int16 or float (in [-1, 1]) arrays shaped ``(n,)`` or ``(n, channels)``, or
    mono PCM16 little-endian bytes. A file object is left open. Raises ValueError for a bad
    shape, NaN/infinity or a non-positive rate, TypeError for another dtype or type.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    frames, channels = _interleaved(samples)
    payload = frames.astype("<i2", copy=False).tobytes()
    target: Any = os.fspath(path_or_file) if isinstance(path_or_file, os.PathLike) else path_or_file
    with wave.open(target, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.setnframes(frames.shape[0])
        writer.writeframes(payload)
