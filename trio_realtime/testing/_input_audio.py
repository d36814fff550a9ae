"""The input audio buffer: audio appended since the last commit, where it sits in the
session's audio timeline, server VAD over it, and the deterministic input transcription."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ._brain import transcript_for_audio
from ._formats import decode_input_audio
from ._vad import VadEvent, VoiceActivityDetector, eagerness_silence_ms

__all__ = ["InputAudioBuffer", "Transcription", "transcribe"]


class InputAudioBuffer:
    """Audio appended since the last commit, in the session's input format.

    Positions are sample numbers counted from the session's first appended sample, at
    the input format's rate (24 kHz PCM16, 8 kHz G.711).
    """

    def __init__(self) -> None:
        self.format_type = "audio/pcm"
        self.start = 0
        """Sample number of the buffer's first sample."""
        self.end = 0
        """Samples appended since the session started."""
        self._buffer = bytearray()
        self._vad: VoiceActivityDetector | None = None
        self._vad_key: tuple[Any, ...] | None = None

    @property
    def rate(self) -> int:
        return 24000 if self.format_type == "audio/pcm" else 8000

    @property
    def width(self) -> int:
        return 2 if self.format_type == "audio/pcm" else 1

    def ms(self, sample: int) -> int:
        """Milliseconds since the session's audio started, at sample ``sample``."""
        return sample * 1000 // self.rate

    def buffered_ms(self) -> float:
        return len(self._buffer) / self.width * 1000 / self.rate

    def append(self, data: bytes, format_type: str, turn: dict[str, Any] | None) -> list[VadEvent]:
        """Add audio; return the speech starts and stops VAD finds in it (none if VAD is off)."""
        if format_type != self.format_type:
            self._change_format(format_type)
        detector = self._detector(turn)
        self._buffer += data
        self.end += len(data) // self.width
        if detector is None or not data:
            return []
        return detector.feed(decode_input_audio(data, self.format_type))

    def take(self, start: int, end: int) -> bytes:
        """Remove the buffer up to sample ``end``; return samples ``start`` to ``end``."""
        width = self.width
        begin = max(0, start - self.start) * width
        stop = max(0, end - self.start) * width
        taken = bytes(self._buffer[begin:stop])
        del self._buffer[:stop]
        self.start = max(end, self.start)
        return taken

    def clear(self) -> None:
        self._buffer.clear()
        self.start = self.end
        self.reset_vad()

    def reset_vad(self) -> None:
        """Forget speech in progress (after a commit or clear)."""
        if self._vad is not None:
            self._vad.reset(self.end)

    def _change_format(self, format_type: str) -> None:
        old_rate = self.rate
        self.format_type = format_type
        self.end = self.end * self.rate // old_rate
        self._buffer.clear()
        self.start = self.end
        self._vad = None
        self._vad_key = None

    def _detector(self, turn: dict[str, Any] | None) -> VoiceActivityDetector | None:
        if turn is None:
            self._vad = None
            self._vad_key = None
            return None
        silence = turn.get("silence_duration_ms", 200)
        if turn.get("type") == "semantic_vad":
            silence = eagerness_silence_ms(turn.get("eagerness"))
        key = (self.rate, turn.get("threshold", 0.5), turn.get("prefix_padding_ms", 300), silence)
        if self._vad is None or key != self._vad_key:
            self._vad = VoiceActivityDetector(
                sample_rate=key[0],
                threshold=key[1],
                prefix_padding_ms=key[2],
                silence_duration_ms=key[3],
            )
            self._vad.reset(self.end)
            self._vad_key = key
        return self._vad


@dataclasses.dataclass(frozen=True)
class Transcription:
    """The input transcription of one committed item, ready to send."""

    deltas: list[str]
    transcript: str
    usage: dict[str, Any]


def transcribe(audio: bytes, format_type: str, model: str) -> Transcription:
    """A deterministic transcript: about 2.5 words per second of voiced audio.

    Usage is billed by duration for live/whisper models, by tokens otherwise.
    """
    from ..audio import frame_energy

    samples: npt.NDArray[np.int16] = decode_input_audio(audio, format_type)
    rate = 24000 if format_type == "audio/pcm" else 8000
    voiced = 0
    if samples.size:
        voiced = int(np.count_nonzero(frame_energy(samples, rate // 100) >= 0.5))
    transcript = transcript_for_audio(voiced / 100) if voiced >= 10 else ""
    words = transcript.split(" ") if transcript else []
    deltas = [word if index == 0 else f" {word}" for index, word in enumerate(words)]
    seconds = samples.size / rate
    usage: dict[str, Any]
    if "live" in model or "whisper" in model:
        usage = {"type": "duration", "seconds": math.ceil(seconds)}
    else:
        audio_tokens = max(1, round(seconds * 10))
        text_tokens = -(-len(transcript) // 4)
        usage = {
            "type": "tokens",
            "total_tokens": audio_tokens + text_tokens,
            "input_tokens": audio_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
            "output_tokens": text_tokens,
        }
    return Transcription(deltas, transcript, usage)
