"""Server VAD: energy-based speech detection over the real PCM16 samples.

Audio is cut into 10 ms frames; a frame is voiced when its energy
(:func:`trio_realtime.audio.frame_energy`: 0 at -60 dBFS, 1 at full scale) reaches the
session's ``threshold``, so the default 0.5 means -30 dBFS. Speech starts after
``_ONSET_FRAMES`` voiced frames in a row (reported from the first, minus
``prefix_padding_ms``) and stops once ``silence_duration_ms`` of unvoiced frames follow,
at the end of that silence, as the service reports ``audio_end_ms``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["VadEvent", "VoiceActivityDetector", "eagerness_silence_ms"]

_FRAME_MS = 10
_ONSET_FRAMES = 3


@dataclasses.dataclass(frozen=True)
class VadEvent:
    """A change of speech state at ``sample`` (counted from the session's first sample)."""

    kind: Literal["start", "stop"]
    sample: int


def eagerness_silence_ms(eagerness: str | None) -> int:
    """How long semantic VAD's eagerness waits for more speech, emulated as silence."""
    return {"high": 250, "low": 1000}.get(eagerness or "auto", 500)


class VoiceActivityDetector:
    """Turns a stream of samples into speech start and stop events."""

    def __init__(
        self,
        *,
        sample_rate: int,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 200,
    ) -> None:
        self.sample_rate = sample_rate
        self.threshold = threshold
        self.prefix_padding = prefix_padding_ms * sample_rate // 1000
        self.frame = sample_rate * _FRAME_MS // 1000
        self.silence_frames = max(1, -(-silence_duration_ms // _FRAME_MS))
        self.position = 0
        """Samples consumed so far (whole frames; a partial frame waits in ``_pending``)."""
        self.speaking = False
        self._pending: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._voiced_run = 0
        self._silent_run = 0

    def reset(self, position: int) -> None:
        """Forget any speech in progress; the next sample is number ``position``."""
        self.position = position
        self.speaking = False
        self._pending = np.zeros(0, dtype=np.int16)
        self._voiced_run = 0
        self._silent_run = 0

    def feed(self, samples: npt.NDArray[np.int16]) -> list[VadEvent]:
        """Process appended samples; return the speech starts and stops they contain."""
        from ..audio import frame_energy

        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % self.frame
        self._pending = samples[whole:].copy()
        if whole == 0:
            return []
        voiced = frame_energy(samples[:whole], self.frame) >= self.threshold
        events: list[VadEvent] = []
        for is_voiced in voiced.tolist():
            frame_start = self.position
            self.position += self.frame
            if not self.speaking:
                self._voiced_run = self._voiced_run + 1 if is_voiced else 0
                if self._voiced_run >= _ONSET_FRAMES:
                    onset = frame_start - (_ONSET_FRAMES - 1) * self.frame
                    events.append(VadEvent("start", max(0, onset - self.prefix_padding)))
                    self.speaking = True
                    self._silent_run = 0
            elif is_voiced:
                self._silent_run = 0
            else:
                self._silent_run += 1
                if self._silent_run >= self.silence_frames:
                    events.append(VadEvent("stop", self.position))
                    self.speaking = False
                    self._voiced_run = 0
        return events
