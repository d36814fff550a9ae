"""Client events of the Realtime conversation protocol: one class per event.

``event_id`` is optional on every client event; when set, the server echoes it in the
``error.event_id`` of an error the event caused, which is how replies are matched.
"""

# Annotations are evaluated here, not postponed (no `from __future__ import annotations`):
# pydantic would otherwise evaluate every annotation string while building the classes,
# a third of their cost at import.
from typing import Any, Literal, get_args

from ._base import RealtimeEvent
from ._types import ConversationItem, ResponseCreateParams, SessionObject

__all__ = [
    "CLIENT_EVENT_CLASSES",
    "ClientEvent",
    "ClientEventBase",
    "ConversationItemCreateEvent",
    "ConversationItemDeleteEvent",
    "ConversationItemRetrieveEvent",
    "ConversationItemTruncateEvent",
    "InputAudioBufferAppendEvent",
    "InputAudioBufferClearEvent",
    "InputAudioBufferCommitEvent",
    "OutputAudioBufferClearEvent",
    "ResponseCancelEvent",
    "ResponseCreateEvent",
    "SessionUpdateEvent",
    "TranscriptionSessionUpdateEvent",
]


class ClientEventBase(RealtimeEvent):
    """Base class of client events: ``event_id`` is optional."""

    event_id: str | None = None


class SessionUpdateEvent(ClientEventBase):
    """Change the session's configuration; only the fields given change.

    ``session.type`` is required by the service (``"realtime"`` or ``"transcription"``);
    :class:`~trio_realtime.events.SessionConfig` fills it in.
    """

    type: Literal["session.update"] = "session.update"
    session: SessionObject


class TranscriptionSessionUpdateEvent(ClientEventBase):
    """Beta: update a transcription session (GA uses ``session.update``)."""

    type: Literal["transcription_session.update"] = "transcription_session.update"
    session: dict[str, Any]


class InputAudioBufferAppendEvent(ClientEventBase):
    """Append base64 audio (in the session's input format) to the input buffer."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str


class InputAudioBufferCommitEvent(ClientEventBase):
    """Commit the input buffer into a user item (at least 100 ms of audio)."""

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClearEvent(ClientEventBase):
    """Discard the input buffer."""

    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class OutputAudioBufferClearEvent(ClientEventBase):
    """WebRTC/SIP only: cut off the audio being played."""

    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


class ConversationItemCreateEvent(ClientEventBase):
    """Add an item to the conversation, after ``previous_item_id`` (``"root"``: first)."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: ConversationItem
    previous_item_id: str | None = None


class ConversationItemRetrieveEvent(ClientEventBase):
    """Ask for the server's full copy of an item, audio included."""

    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ConversationItemTruncateEvent(ClientEventBase):
    """Cut an assistant audio item at ``audio_end_ms`` (what the user actually heard)."""

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleteEvent(ClientEventBase):
    """Remove an item from the conversation."""

    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ResponseCreateEvent(ClientEventBase):
    """Ask the model for a response, optionally overriding session settings."""

    type: Literal["response.create"] = "response.create"
    response: ResponseCreateParams | None = None


class ResponseCancelEvent(ClientEventBase):
    """Cancel a response (by default the one in progress in the default conversation)."""

    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None


ClientEvent = (
    SessionUpdateEvent
    | InputAudioBufferAppendEvent
    | InputAudioBufferCommitEvent
    | InputAudioBufferClearEvent
    | OutputAudioBufferClearEvent
    | ConversationItemCreateEvent
    | ConversationItemRetrieveEvent
    | ConversationItemTruncateEvent
    | ConversationItemDeleteEvent
    | ResponseCreateEvent
    | ResponseCancelEvent
    | TranscriptionSessionUpdateEvent
)
"""Any client event of the conversation protocol (a union, discriminated by ``type``)."""

CLIENT_EVENT_CLASSES: tuple[type[ClientEventBase], ...] = get_args(ClientEvent)
"""Every client event class of the conversation protocol."""
