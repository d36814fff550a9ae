"""Sideband sessions: control of a live SIP or WebRTC call, joined by its ``call_id``."""

from __future__ import annotations

from typing import Any, NoReturn

from ._engine import ConversationOptions
from ._errors import RealtimeError
from ._session import RealtimeSession
from .audio import PlaybackTracker

__all__ = ["SidebandSession"]


class SidebandSession(RealtimeSession):
    """A session joined to a live SIP or WebRTC call by ``call_id``: control, not audio.

    Made by :func:`open_realtime_session` (``call_id=``). Instructions, tools, items,
    responses, function calls and the call's events (``input_audio_buffer.dtmf_event_received``,
    ``output_audio_buffer.started`` / ``stopped`` / ``cleared``) work as on any session;
    the caller's audio and the model's replies travel on the call's media leg, so the
    audio helpers raise :class:`~trio_realtime.RealtimeError` here.
    """

    def __init__(self, options: ConversationOptions, *, call_id: str) -> None:
        super().__init__(options)
        self.call_id = call_id
        """The call this session controls."""

    def _refuse_audio(self, helper: str) -> NoReturn:
        raise RealtimeError(
            f"{helper}() is not available on the sideband session of call {self.call_id}:"
            " the call's media leg (SIP/WebRTC) carries the caller's audio and plays the"
            " model's; use a session opened with model= to send audio yourself"
        )

    async def append_audio(self, samples: Any, *, sample_rate: float = 24000) -> None:
        """Not available on a sideband session: raises RealtimeError."""
        self._refuse_audio("append_audio")

    def append_audio_nowait(self, samples: Any, *, sample_rate: float = 24000) -> None:
        """Not available on a sideband session: raises RealtimeError."""
        self._refuse_audio("append_audio_nowait")

    def append_audio_threadsafe(self, samples: Any, *, sample_rate: float = 24000) -> None:
        """Not available on a sideband session: raises RealtimeError."""
        self._refuse_audio("append_audio_threadsafe")

    async def truncate_to_played(
        self, tracker: PlaybackTracker, *, cancel: bool | None = None
    ) -> tuple[str, int, int] | None:
        """Not available on a sideband session (the service truncates what the caller
        did not hear itself): raises RealtimeError."""
        self._refuse_audio("truncate_to_played")
