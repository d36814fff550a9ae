"""G.711 u-law / A-law: bit-exact with the Sun g711.c reference (as in Python's old audioop).

The reference tables are computed here, sample by sample, from the textbook algorithm
(CCITT G.711 as coded in Sun's g711.c: st_14linear2ulaw, st_linear2alaw, ulaw2linear,
alaw2linear), independently of the library's vectorised tables.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from trio_realtime import audio

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def _search(value: int, table: list[int]) -> int:
    for index, end in enumerate(table):
        if value <= end:
            return index
    return len(table)


def ref_linear2ulaw(sample: int) -> int:
    """Sun g711.c st_14linear2ulaw, fed the 14 most significant bits as audioop did."""
    pcm_val = sample >> 2
    if pcm_val < 0:
        pcm_val = -pcm_val
        mask = 0x7F
    else:
        mask = 0xFF
    pcm_val = min(pcm_val, 8159)  # CLIP
    pcm_val += 0x84 >> 2  # BIAS
    seg = _search(pcm_val, [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm_val >> (seg + 1)) & 0xF)) ^ mask


def ref_linear2alaw(sample: int) -> int:
    """Sun g711.c st_linear2alaw, fed the 13 most significant bits as audioop did."""
    pcm_val = sample >> 3
    if pcm_val >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        pcm_val = -pcm_val - 1
    seg = _search(pcm_val, [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (pcm_val >> (1 if seg < 2 else seg)) & 0xF
    return aval ^ mask


def ref_ulaw2linear(u_val: int) -> int:
    u_val = ~u_val & 0xFF
    t = ((u_val & 0x0F) << 3) + 0x84
    t <<= (u_val & 0x70) >> 4
    return (0x84 - t) if u_val & 0x80 else (t - 0x84)


def ref_alaw2linear(a_val: int) -> int:
    a_val ^= 0x55
    t = (a_val & 0x0F) << 4
    seg = (a_val & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if a_val & 0x80 else -t


@functools.cache
def reference_tables() -> dict[str, list[int]]:
    samples = range(-32768, 32768)
    return {
        "ulaw_encode": [ref_linear2ulaw(s) for s in samples],
        "alaw_encode": [ref_linear2alaw(s) for s in samples],
        "ulaw_decode": [ref_ulaw2linear(c) for c in range(256)],
        "alaw_decode": [ref_alaw2linear(c) for c in range(256)],
    }


def test_reference_spot_values() -> None:
    """Well-known code points, so the reference itself is checked against the standard."""
    assert ref_linear2ulaw(0) == 0xFF
    assert ref_linear2ulaw(32767) == 0x80
    assert ref_linear2ulaw(-32768) == 0x00
    assert ref_linear2alaw(0) == 0xD5
    assert ref_linear2alaw(-1) == 0x55
    assert ref_linear2alaw(32767) == 0xAA
    assert ref_linear2alaw(-32768) == 0x2A
    assert ref_ulaw2linear(0x00) == -32124
    assert ref_ulaw2linear(0x80) == 32124
    assert ref_ulaw2linear(0xFF) == 0 == ref_ulaw2linear(0x7F)
    assert ref_alaw2linear(0xD5) == 8
    assert ref_alaw2linear(0x55) == -8
    assert ref_alaw2linear(0xAA) == 32256


def test_ulaw_encode_is_bit_exact() -> None:
    assert list(audio.ulaw_encode(ALL_INT16)) == reference_tables()["ulaw_encode"]


def test_alaw_encode_is_bit_exact() -> None:
    assert list(audio.alaw_encode(ALL_INT16)) == reference_tables()["alaw_encode"]


def test_ulaw_decode_is_bit_exact() -> None:
    assert audio.ulaw_decode(ALL_CODES).tolist() == reference_tables()["ulaw_decode"]


def test_alaw_decode_is_bit_exact() -> None:
    assert audio.alaw_decode(ALL_CODES).tolist() == reference_tables()["alaw_decode"]


def _audioop() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module: ModuleType = pytest.importorskip("audioop", reason="removed in Python 3.13")
        return module


def test_same_as_audioop_where_available() -> None:
    audioop = _audioop()
    pcm = ALL_INT16.astype("<i2").tobytes()
    assert audio.ulaw_encode(ALL_INT16) == audioop.lin2ulaw(pcm, 2)
    assert audio.alaw_encode(ALL_INT16) == audioop.lin2alaw(pcm, 2)
    assert audio.ulaw_decode(ALL_CODES).astype("<i2").tobytes() == audioop.ulaw2lin(ALL_CODES, 2)
    assert audio.alaw_decode(ALL_CODES).astype("<i2").tobytes() == audioop.alaw2lin(ALL_CODES, 2)


def test_codes_survive_decode_encode() -> None:
    """Every code decodes to a level that encodes back to it (u-law has two zero codes)."""
    ulaw_back = audio.ulaw_encode(audio.ulaw_decode(ALL_CODES))
    assert [c for c in range(256) if ulaw_back[c] != c] == [0x7F]
    assert ulaw_back[0x7F] == 0xFF
    assert audio.alaw_encode(audio.alaw_decode(ALL_CODES)) == ALL_CODES


@pytest.mark.parametrize(
    ("encode", "decode", "full_scale"),
    [(audio.ulaw_encode, audio.ulaw_decode, 32124), (audio.alaw_encode, audio.alaw_decode, 32256)],
)
@given(samples=hnp.arrays(np.int16, st.integers(0, 500)))
def test_round_trip_error_is_bounded(
    encode: Any, decode: Any, full_scale: int, samples: npt.NDArray[np.int16]
) -> None:
    """Logarithmic quantisation: error within 1/32 of the magnitude plus 8, or clipping."""
    encoded = encode(samples)
    assert isinstance(encoded, bytes) and len(encoded) == samples.size
    decoded = decode(encoded)
    assert decoded.dtype == np.int16 and decoded.shape == samples.shape
    wide = samples.astype(np.int64)
    clipped = np.clip(wide, -full_scale, full_scale)
    error = np.abs(decoded.astype(np.int64) - clipped)
    assert np.all(error <= np.abs(clipped) // 32 + 8)
    assert np.all(np.sign(decoded) * np.sign(wide) >= 0)


def test_encoders_take_what_to_pcm16_takes() -> None:
    samples = np.array([0, 1000, -1000, 32767], np.int16)
    pcm = samples.astype("<i2").tobytes()
    assert audio.ulaw_encode(pcm) == audio.ulaw_encode(samples)
    assert audio.alaw_encode(bytearray(pcm)) == audio.alaw_encode(samples)
    floats = samples / 32767.0
    assert audio.ulaw_encode(floats) == audio.ulaw_encode(samples)
    with pytest.raises(TypeError, match=r"int16, float32 or float64"):
        audio.ulaw_encode(np.zeros(3, np.int32))
    with pytest.raises(ValueError, match=r"even number of bytes"):
        audio.alaw_encode(b"\x00")


def test_decoders_take_byte_buffers_and_uint8_arrays() -> None:
    codes = np.array([0, 0x55, 0xFF], np.uint8)
    expected = audio.alaw_decode(codes.tobytes())
    assert np.array_equal(audio.alaw_decode(codes), expected)
    assert np.array_equal(audio.alaw_decode(bytearray(codes.tobytes())), expected)
    assert np.array_equal(audio.alaw_decode(memoryview(codes.tobytes())), expected)
    assert audio.ulaw_decode(b"").size == 0
    with pytest.raises(TypeError, match=r"expected G.711 bytes"):
        audio.ulaw_decode(np.zeros(3, np.int16))
    with pytest.raises(TypeError, match=r"expected G.711 bytes"):
        audio.alaw_decode("abc")  # type: ignore[arg-type]


def test_g711_durations() -> None:
    """8 kHz G.711 is 8 bytes per millisecond: 20 ms frames are 160 bytes."""
    encoded = audio.ulaw_encode(audio.tone(1000, 20, sample_rate=8000))
    assert len(encoded) == 160
    assert audio.duration_ms(encoded, sample_rate=8000, sample_width=1) == 20.0
