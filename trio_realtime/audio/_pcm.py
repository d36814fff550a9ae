"""PCM16 conversion, byte views, durations and chunking: the formats the Realtime API speaks."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "PCMInput",
    "bytes_for_ms",
    "chunk",
    "duration_ms",
    "pcm16_bytes",
    "pcm16_from_bytes",
    "to_pcm16",
]

PCMInput: TypeAlias = bytes | bytearray | memoryview | npt.NDArray[Any]
"""What the converters accept: PCM16 LE bytes, or an int16/float32/float64 numpy array."""

_EXPECTED = (
    "expected PCM16 little-endian bytes, or a numpy array of int16, float32 or float64 "
    "samples shaped (n,) or (n, channels)"
)
_INT16_SCALE = 32767.0
_LITTLE_ENDIAN_HOST = sys.byteorder == "little"
_INT16 = np.dtype(np.int16)
"""Native int16 (numpy's dtypes of the builtin types are singletons)."""
_OutT = TypeVar("_OutT", np.int16, np.float32)
_BLOCK_FRAMES = 1 << 16
"""Frames converted per step: temporaries stay in cache and no full-size float64 copy is made."""


def _byte_view(data: bytes | bytearray | memoryview) -> memoryview:
    """A flat unsigned-byte view of any contiguous buffer."""
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        if not view.c_contiguous:
            raise ValueError(f"{_EXPECTED}: got a non-contiguous memoryview")
        view = view.cast("B")
    return view


def pcm16_from_bytes(data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Interpret PCM16 little-endian bytes as int16 samples, without copying where possible.

    The result shares memory with ``data`` on little-endian hosts (read-only for ``bytes``).
    Raises ValueError for an odd number of bytes, TypeError for anything but a byte buffer.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected PCM16 bytes, bytearray or memoryview, got {type(data).__name__}")
    view = _byte_view(data)
    if view.nbytes % 2:
        raise ValueError(
            f"PCM16 data must have an even number of bytes (2 per sample), got {view.nbytes}"
        )
    samples = np.frombuffer(view, dtype="<i2")
    if _LITTLE_ENDIAN_HOST:
        return samples.view(np.int16)
    return samples.astype(np.int16)


def _check_float_finite(values: npt.NDArray[Any]) -> None:
    if not np.isfinite(values).all():
        raise ValueError(f"{_EXPECTED}: float samples contain NaN or infinity")


def _as_frames(samples: object, channels_last: bool) -> npt.NDArray[Any]:
    """Validate the input's type, dtype and shape; return it as (n, channels) frames."""
    if isinstance(samples, bytes | bytearray | memoryview):
        return pcm16_from_bytes(samples).reshape(-1, 1)
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"{_EXPECTED}; got {type(samples).__name__}")
    if not (
        (samples.dtype.kind == "i" and samples.dtype.itemsize == 2)
        or (samples.dtype.kind == "f" and samples.dtype.itemsize in (4, 8))
    ):
        raise TypeError(f"{_EXPECTED}; got dtype {samples.dtype}")
    if samples.ndim == 1:
        return samples.reshape(-1, 1)
    if samples.ndim == 2:
        frames = samples if channels_last else samples.T
        if frames.shape[1] == 0:
            raise ValueError(f"{_EXPECTED}; got shape {samples.shape} with no channels")
        return frames
    raise ValueError(f"{_EXPECTED}; got a {samples.ndim}-D array of shape {samples.shape}")


def _scaled_block(block: npt.NDArray[Any], out: npt.NDArray[np.float64]) -> None:
    """Mean of a block's channels on the int16 scale, unrounded: floats clipped and x 32767."""
    channels = block.shape[1]
    np.copyto(out, block[:, 0])
    with np.errstate(over="ignore", invalid="ignore"):
        for channel in range(1, channels):
            out += block[:, channel]
    if channels > 1:
        out /= channels
    if block.dtype.kind != "f":
        return
    if not np.isfinite(out).all():
        _check_float_finite(block)
        np.divide(block[:, 0], channels, out=out)
        for channel in range(1, channels):
            out += block[:, channel] / channels
    np.clip(out, -1.0, 1.0, out=out)
    out *= _INT16_SCALE


def _convert(frames: npt.NDArray[Any], dtype: type[_OutT], *, rounded: bool) -> npt.NDArray[_OutT]:
    """Mono samples on the int16 scale from (n, channels) frames, block by block."""
    count = frames.shape[0]
    result = np.empty(count, dtype=dtype)
    buffer = np.empty(min(count, _BLOCK_FRAMES), dtype=np.float64)
    for start in range(0, count, _BLOCK_FRAMES):
        stop = min(start + _BLOCK_FRAMES, count)
        values = buffer[: stop - start]
        _scaled_block(frames[start:stop], values)
        if rounded:
            np.rint(values, out=values)
        np.copyto(result[start:stop], values, casting="unsafe")
    return result


def _float_to_int16(values: npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """Floats (any shape) to int16, sample by sample: clipped to [-1, 1], ``round(x * 32767)``.

    Raises ValueError for NaN or infinity.
    """
    flat = _convert(values.reshape(-1, 1), np.int16, rounded=True)
    return flat.reshape(values.shape)


def int16_unit_blocks(
    samples: object, *, channels_last: bool = True
) -> Iterator[npt.NDArray[np.float32]]:
    """Mono samples as float32 on the int16 scale, unrounded (floats clipped and x 32767),
    in consecutive blocks: what the resampler and the level meters work on.

    int16 input converts exactly. Validates at once, raising like :func:`to_pcm16`.
    """
    frames = _as_frames(samples, channels_last)
    return _unit_blocks(frames)


def _unit_blocks(frames: npt.NDArray[Any]) -> Iterator[npt.NDArray[np.float32]]:
    count = frames.shape[0]
    if frames.shape[1] == 1 and frames.dtype.kind == "i":
        for start in range(0, count, _BLOCK_FRAMES):
            yield frames[start : start + _BLOCK_FRAMES, 0].astype(np.float32)
        return
    for start in range(0, count, _BLOCK_FRAMES):
        yield _convert(frames[start : start + _BLOCK_FRAMES], np.float32, rounded=False)


def int16_units(samples: object, *, channels_last: bool = True) -> npt.NDArray[np.float32]:
    """Mono samples as one float32 array on the int16 scale (see :func:`int16_unit_blocks`)."""
    frames = _as_frames(samples, channels_last)
    if frames.shape[1] == 1 and frames.dtype.kind == "i":
        return frames[:, 0].astype(np.float32)
    return _convert(frames, np.float32, rounded=False)


def to_pcm16(samples: PCMInput, *, channels_last: bool = True) -> npt.NDArray[np.int16]:
    """Convert audio to mono int16 samples, the Realtime API's PCM16.

    Accepts PCM16 little-endian bytes, or numpy arrays of int16, float32 or float64 shaped
    ``(n,)`` or ``(n, channels)`` (``(channels, n)`` with ``channels_last=False``).
    Floats are clipped to [-1, 1] and scaled by 32767; channels are averaged; results are
    rounded to nearest (ties to even). Mono int16 input may be returned as is (sharing memory).
    Raises TypeError for other types or dtypes, ValueError for an odd byte count,
    NaN or infinity, or arrays that are not 1-D or 2-D.
    """
    if (
        type(samples) is np.ndarray
        and samples.dtype is _INT16
        and samples.ndim == 1
        and samples.flags.c_contiguous
    ):
        return samples  # mono native int16 already, as an audio loop hands it over
    frames = _as_frames(samples, channels_last)
    if frames.shape[1] == 1 and frames.dtype.kind == "i":
        mono = frames[:, 0]
        if mono.dtype.isnative and mono.flags.c_contiguous:
            return mono.view(np.int16)
        return np.ascontiguousarray(mono, dtype=np.int16)
    return _convert(frames, np.int16, rounded=True)


def pcm16_bytes(samples: PCMInput) -> bytes:
    """The PCM16 little-endian bytes of mono audio, as sent to the Realtime API.

    Accepts what :func:`to_pcm16` accepts (multi-channel input is mixed down) and raises likewise.
    """
    return to_pcm16(samples).astype("<i2", copy=False).tobytes()


def _check_format(sample_rate: float, sample_width: int) -> None:
    if not (sample_rate > 0 and math.isfinite(sample_rate)):
        raise ValueError(f"sample_rate must be a positive number, got {sample_rate!r}")
    if isinstance(sample_width, bool) or not isinstance(sample_width, int) or sample_width <= 0:
        raise ValueError(
            f"sample_width must be a positive whole number of bytes, got {sample_width!r}"
        )


def duration_ms(
    data_or_samples: bytes | bytearray | memoryview | npt.NDArray[Any],
    *,
    sample_rate: float = 24000,
    sample_width: int = 2,
) -> float:
    """How many milliseconds of audio: bytes count ``sample_width`` bytes per sample, arrays one
    frame per row (``sample_width`` ignored).

    Defaults are the Realtime API's PCM16 at 24 kHz (48 bytes/ms); G.711 is
    ``sample_rate=8000, sample_width=1``. Raises ValueError for a non-positive rate or width,
    TypeError for other types.
    """
    _check_format(sample_rate, sample_width)
    if isinstance(data_or_samples, bytes | bytearray | memoryview):
        samples = _byte_view(data_or_samples).nbytes / sample_width
    elif isinstance(data_or_samples, np.ndarray):
        samples = data_or_samples.shape[0] if data_or_samples.ndim else 1
    else:
        raise TypeError(
            f"expected audio bytes or a numpy array, got {type(data_or_samples).__name__}"
        )
    return samples * 1000.0 / sample_rate


def samples_for_ms(ms: float, sample_rate: float) -> int:
    """The whole number of samples nearest to ``ms`` milliseconds; raises ValueError if negative."""
    if not (ms >= 0 and math.isfinite(ms)):
        raise ValueError(f"ms must be a non-negative number, got {ms!r}")
    return math.floor(ms * sample_rate / 1000.0 + 0.5)


def bytes_for_ms(ms: float, *, sample_rate: float = 24000, sample_width: int = 2) -> int:
    """How many bytes hold ``ms`` milliseconds of audio, in whole samples (nearest).

    ``bytes_for_ms(200)`` is 9600, the Realtime API's 200 ms of PCM16 at 24 kHz.
    Raises ValueError for a negative duration or a non-positive rate or width.
    """
    _check_format(sample_rate, sample_width)
    return samples_for_ms(ms, sample_rate) * sample_width


def chunk(data: bytes | bytearray | memoryview, chunk_bytes: int) -> Iterator[bytes]:
    """Split audio bytes into chunks of ``chunk_bytes``; the last one may be shorter.

    Raises ValueError unless ``chunk_bytes`` is a positive even number (whole PCM16 samples).
    """
    if (
        isinstance(chunk_bytes, bool)
        or not isinstance(chunk_bytes, int)
        or chunk_bytes <= 0
        or chunk_bytes % 2
    ):
        raise ValueError(
            f"chunk_bytes must be a positive even number (whole PCM16 samples), got {chunk_bytes!r}"
        )
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected audio bytes, got {type(data).__name__}")
    view = _byte_view(data)
    return _chunks(view, chunk_bytes)


def _chunks(view: memoryview, chunk_bytes: int) -> Iterator[bytes]:
    for start in range(0, view.nbytes, chunk_bytes):
        yield view[start : start + chunk_bytes].tobytes()
