"""Decoding the audio that delta events carry (base64 PCM16, or G.711)."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from .._errors import ProtocolError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["AudioDeltaMixin"]


class AudioDeltaMixin:
    """Adds ``audio_bytes()`` and ``pcm16()`` to events whose ``delta`` is base64 audio."""

    delta: str

    def audio_bytes(self) -> bytes:
        """The decoded audio bytes, in the format the session's output uses.

        Raises:
            ProtocolError: ``delta`` is not valid base64.
        """
        try:
            return base64.b64decode(self.delta, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(f"expected base64 audio in 'delta': {exc}") from exc

    def pcm16(self, format: str = "audio/pcm") -> npt.NDArray[np.int16]:
        """The audio as int16 samples: a view of PCM16, or decoded G.711.

        ``format`` is the session's output format (``audio/pcm``, ``audio/pcmu`` or
        ``audio/pcma``; a ``RealtimeSession.decode_audio(event)`` passes it for you).

        Raises:
            ProtocolError: bad base64, or PCM16 with an odd number of bytes.
            ValueError: an unknown format.
        """
        data = self.audio_bytes()
        if format == "audio/pcm" or format == "pcm16":
            if len(data) % 2:
                raise ProtocolError(f"PCM16 audio must have an even length, got {len(data)} bytes")
            import numpy as np  # here, not at import: `import trio_realtime` stays fast

            return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)
        from .. import audio

        if format == "audio/pcmu":
            return audio.ulaw_decode(data)
        if format == "audio/pcma":
            return audio.alaw_decode(data)
        raise ValueError(
            f"unknown audio format {format!r}: expected audio/pcm, audio/pcmu or audio/pcma"
        )
