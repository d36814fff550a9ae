"""The Realtime translation protocol (``/v1/realtime/translations``): its own events.

A translation session has no conversation, items or responses: audio goes in
continuously and translated audio and transcripts come out. Its ``session.created``
carries a translation session object, so it has its own classes and parsers.
"""

# Annotations are evaluated here, not postponed (no `from __future__ import annotations`):
# pydantic would otherwise evaluate every annotation string while building the classes,
# a third of their cost at import.
from typing import Literal, get_args

from ._audio import AudioDeltaMixin
from ._base import WireModel
from ._client import ClientEventBase
from ._server import ErrorEvent, ServerEventBase
from ._types import NoiseReduction

__all__ = [
    "TRANSLATION_CLIENT_EVENT_CLASSES",
    "TRANSLATION_SERVER_EVENT_CLASSES",
    "TranslationAudioConfig",
    "TranslationAudioInputConfig",
    "TranslationAudioOutputConfig",
    "TranslationClientEvent",
    "TranslationInputAudioBufferAppendEvent",
    "TranslationInputTranscriptDeltaEvent",
    "TranslationOutputAudioDeltaEvent",
    "TranslationOutputTranscriptDeltaEvent",
    "TranslationServerEvent",
    "TranslationSession",
    "TranslationSessionCloseEvent",
    "TranslationSessionClosedEvent",
    "TranslationSessionConfig",
    "TranslationSessionCreatedEvent",
    "TranslationSessionUpdateEvent",
    "TranslationSessionUpdatedEvent",
    "TranslationTranscriptionConfig",
]


class TranslationTranscriptionConfig(WireModel):
    """Transcription of the source audio: ``{"model": "gpt-realtime-whisper"}``."""

    model: str | None = None
    language: str | None = None


class TranslationAudioInputConfig(WireModel):
    """``audio.input`` of a translation session.

    Omitting a field keeps its value; pass ``None`` explicitly to turn it off.
    """

    transcription: TranslationTranscriptionConfig | None = None
    noise_reduction: NoiseReduction | None = None


class TranslationAudioOutputConfig(WireModel):
    """``audio.output`` of a translation session: the target ``language`` (e.g. ``"es"``)."""

    language: str | None = None


class TranslationAudioConfig(WireModel):
    """``audio`` of a translation session."""

    input: TranslationAudioInputConfig | None = None
    output: TranslationAudioOutputConfig | None = None


class TranslationSessionConfig(WireModel):
    """What a translation ``session.update`` may change: target language, transcription, noise."""

    audio: TranslationAudioConfig | None = None


class TranslationSession(WireModel):
    """A translation session as the server reports it."""

    id: str | None = None
    type: Literal["translation"] | str = "translation"
    object: str | None = None
    model: str | None = None
    expires_at: int | None = None
    audio: TranslationAudioConfig | None = None


# -- server events ------------------------------------------------------------------------


class TranslationSessionCreatedEvent(ServerEventBase):
    """The first event of a translation connection."""

    type: Literal["session.created"] = "session.created"
    session: TranslationSession


class TranslationSessionUpdatedEvent(ServerEventBase):
    """The translation session after a ``session.update``."""

    type: Literal["session.updated"] = "session.updated"
    session: TranslationSession


class TranslationSessionClosedEvent(ServerEventBase):
    """All pending output was sent after ``session.close``; the socket closes next."""

    type: Literal["session.closed"] = "session.closed"


class TranslationInputTranscriptDeltaEvent(ServerEventBase):
    """A piece of the source-language transcript (append-only; add no spaces)."""

    type: Literal["session.input_transcript.delta"] = "session.input_transcript.delta"
    delta: str
    elapsed_ms: int | None = None


class TranslationOutputTranscriptDeltaEvent(ServerEventBase):
    """A piece of the target-language transcript."""

    type: Literal["session.output_transcript.delta"] = "session.output_transcript.delta"
    delta: str
    elapsed_ms: int | None = None


class TranslationOutputAudioDeltaEvent(AudioDeltaMixin, ServerEventBase):
    """A chunk of translated audio: base64 PCM16, 24 kHz mono unless stated."""

    type: Literal["session.output_audio.delta"] = "session.output_audio.delta"
    delta: str
    sample_rate: int | None = None
    channels: int | None = None
    format: Literal["pcm16"] | str | None = None
    elapsed_ms: int | None = None


TranslationServerEvent = (
    ErrorEvent
    | TranslationSessionCreatedEvent
    | TranslationSessionUpdatedEvent
    | TranslationSessionClosedEvent
    | TranslationInputTranscriptDeltaEvent
    | TranslationOutputTranscriptDeltaEvent
    | TranslationOutputAudioDeltaEvent
)
"""Any server event of the translation protocol."""

TRANSLATION_SERVER_EVENT_CLASSES: tuple[type[ServerEventBase], ...] = get_args(
    TranslationServerEvent
)


# -- client events ------------------------------------------------------------------------


class TranslationSessionUpdateEvent(ClientEventBase):
    """Change the target language, transcription or noise reduction."""

    type: Literal["session.update"] = "session.update"
    session: TranslationSessionConfig


class TranslationInputAudioBufferAppendEvent(ClientEventBase):
    """Append base64 PCM16 24 kHz mono audio (processed in 200 ms frames)."""

    type: Literal["session.input_audio_buffer.append"] = "session.input_audio_buffer.append"
    audio: str


class TranslationSessionCloseEvent(ClientEventBase):
    """End gracefully: the server flushes pending output, then sends ``session.closed``."""

    type: Literal["session.close"] = "session.close"


TranslationClientEvent = (
    TranslationSessionUpdateEvent
    | TranslationInputAudioBufferAppendEvent
    | TranslationSessionCloseEvent
)
"""Any client event of the translation protocol."""

TRANSLATION_CLIENT_EVENT_CLASSES: tuple[type[ClientEventBase], ...] = get_args(
    TranslationClientEvent
)
