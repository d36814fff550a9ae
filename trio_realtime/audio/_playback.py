"""Playback bookkeeping for barge-in: how much of each assistant audio part the user heard."""

from __future__ import annotations

import math

__all__ = ["PlaybackTracker"]

_Key = tuple[str, int]
_EPSILON_MS = 1e-6


class PlaybackTracker:
    """Track audio received and actually played per (item_id, content_index), for truncation.

    Report audio deltas with :meth:`on_audio_received` and what the speaker has played with
    :meth:`on_played`; on interruption, send ``conversation.item.truncate`` with
    :meth:`truncate_point`, which never points past the audio received (the service rejects
    a truncation longer than the item's audio). Audio parts are assumed to play one after
    another in the order they arrive. Amounts are in bytes or milliseconds; bytes are converted
    at ``bytes_per_ms`` (PCM16 at 24 kHz: 48; G.711 at 8 kHz: 8). Not thread-safe.
    Raises ValueError for a non-positive rate, width or ``bytes_per_ms``.
    """

    def __init__(
        self,
        *,
        sample_rate: float = 24000,
        sample_width: int = 2,
        bytes_per_ms: float | None = None,
    ) -> None:
        if bytes_per_ms is None:
            if not (sample_rate > 0 and math.isfinite(sample_rate)):
                raise ValueError(f"sample_rate must be a positive number, got {sample_rate!r}")
            if sample_width <= 0:
                raise ValueError(f"sample_width must be a positive number, got {sample_width!r}")
            bytes_per_ms = sample_rate * sample_width / 1000.0
        if not (bytes_per_ms > 0 and math.isfinite(bytes_per_ms)):
            raise ValueError(f"bytes_per_ms must be a positive number, got {bytes_per_ms!r}")
        self._bytes_per_ms = float(bytes_per_ms)
        self._received: dict[_Key, float] = {}
        self._played: dict[_Key, float] = {}

    @property
    def bytes_per_ms(self) -> float:
        """Bytes of audio per millisecond (48.0 for PCM16 at 24 kHz, 8.0 for G.711)."""
        return self._bytes_per_ms

    def __repr__(self) -> str:
        return (
            f"<PlaybackTracker bytes_per_ms={self._bytes_per_ms:g} parts={len(self._received)} "
            f"current={self.current!r}>"
        )

    def _amount_ms(self, nbytes: int | None, ms: float | None) -> float:
        if nbytes is not None and ms is None:
            if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
                raise ValueError(f"nbytes must be a non-negative whole number, got {nbytes!r}")
            return nbytes / self._bytes_per_ms
        if ms is not None and nbytes is None:
            if not (ms >= 0 and math.isfinite(ms)):
                raise ValueError(f"ms must be a non-negative number, got {ms!r}")
            return float(ms)
        raise TypeError(f"give exactly one of nbytes and ms, got nbytes={nbytes!r}, ms={ms!r}")

    def on_audio_received(
        self,
        item_id: str,
        content_index: int = 0,
        nbytes: int | None = None,
        *,
        ms: float | None = None,
    ) -> None:
        """Record an audio delta of ``nbytes`` bytes (or ``ms`` milliseconds) for an item part.

        Call it as each ``response.output_audio.delta`` arrives, with the decoded length.
        Raises TypeError unless exactly one of ``nbytes`` and ``ms`` is given, ValueError if
        it is negative.
        """
        amount = self._amount_ms(nbytes, ms)
        key = (item_id, content_index)
        self._received[key] = self._received.pop(key, 0.0) + amount

    def on_played(
        self,
        item_id: str,
        content_index: int = 0,
        *,
        ms: float | None = None,
        nbytes: int | None = None,
    ) -> None:
        """Record that a further ``ms`` milliseconds (or ``nbytes`` bytes) of a part were played.

        Report what actually reached the speaker, as it does. Raises TypeError unless exactly
        one of ``ms`` and ``nbytes`` is given, ValueError if it is negative.
        """
        amount = self._amount_ms(nbytes, ms)
        key = (item_id, content_index)
        self._played[key] = self._played.get(key, 0.0) + amount

    def received_ms(self, item_id: str, content_index: int = 0) -> int:
        """Whole milliseconds of audio received for a part (0 if none)."""
        return _whole_ms(self._received.get((item_id, content_index), 0.0))

    def played_ms(self, item_id: str, content_index: int = 0) -> int:
        """Whole milliseconds reported played for a part (0 if none), not clamped to received."""
        return _whole_ms(self._played.get((item_id, content_index), 0.0))

    @property
    def current(self) -> tuple[str, int] | None:
        """The part being played: the last one to receive audio, unless fully played (then None).

        A part counts as fully played once the playback reported has caught up with the audio
        received, so report played audio as it plays, not ahead of time.
        """
        if not self._received:
            return None
        key = next(reversed(self._received))
        if self._played.get(key, 0.0) + _EPSILON_MS >= self._received[key]:
            return None
        return key

    def truncate_point(self) -> tuple[str, int, int] | None:
        """``(item_id, content_index, audio_end_ms)`` for ``conversation.item.truncate``, or None.

        For the :attr:`current` part: whole milliseconds played, clamped to the audio received.
        None when nothing is left unplayed (no truncation needed).
        """
        key = self.current
        if key is None:
            return None
        end = min(self._played.get(key, 0.0), self._received[key])
        return key[0], key[1], _whole_ms(end)

    def reset(self) -> None:
        """Forget every part (for example after a truncation, or when a session restarts)."""
        self._received.clear()
        self._played.clear()


def _whole_ms(ms: float) -> int:
    """Floor, forgiving float error just below a whole millisecond."""
    return math.floor(ms + _EPSILON_MS)
