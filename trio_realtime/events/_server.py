"""Server events of the Realtime conversation protocol: one class per event.

Classes that cover the GA and beta spellings of one event (``response.output_text.delta``
and ``response.text.delta``) default to the GA spelling and keep the one they parsed.
"""

# Annotations are evaluated here, not postponed (no `from __future__ import annotations`):
# pydantic would otherwise evaluate every annotation string while building the classes,
# a third of their cost at import.
from typing import Any, Literal, get_args

from ._audio import AudioDeltaMixin
from ._base import RealtimeEvent
from ._types import (
    ContentPart,
    ConversationInfo,
    ConversationItem,
    DetectedLanguage,
    ErrorDetails,
    LogProb,
    RateLimit,
    Response,
    SessionObject,
    TranscriptionError,
    TranscriptionUsage,
)

__all__ = [
    "ConversationCreatedEvent",
    "ConversationItemAddedEvent",
    "ConversationItemCreatedEvent",
    "ConversationItemDeletedEvent",
    "ConversationItemDoneEvent",
    "ConversationItemRetrievedEvent",
    "ConversationItemTruncatedEvent",
    "ErrorEvent",
    "InputAudioBufferClearedEvent",
    "InputAudioBufferCommittedEvent",
    "InputAudioBufferDtmfEventReceivedEvent",
    "InputAudioBufferSpeechStartedEvent",
    "InputAudioBufferSpeechStoppedEvent",
    "InputAudioBufferTimeoutTriggeredEvent",
    "InputAudioTranscriptionCompletedEvent",
    "InputAudioTranscriptionDeltaEvent",
    "InputAudioTranscriptionFailedEvent",
    "InputAudioTranscriptionSegmentEvent",
    "McpListToolsCompletedEvent",
    "McpListToolsFailedEvent",
    "McpListToolsInProgressEvent",
    "OutputAudioBufferClearedEvent",
    "OutputAudioBufferStartedEvent",
    "OutputAudioBufferStoppedEvent",
    "RateLimitsUpdatedEvent",
    "ResponseAudioDeltaEvent",
    "ResponseAudioDoneEvent",
    "ResponseAudioTranscriptDeltaEvent",
    "ResponseAudioTranscriptDoneEvent",
    "ResponseContentPartAddedEvent",
    "ResponseContentPartDoneEvent",
    "ResponseCreatedEvent",
    "ResponseDoneEvent",
    "ResponseFunctionCallArgumentsDeltaEvent",
    "ResponseFunctionCallArgumentsDoneEvent",
    "ResponseMcpCallArgumentsDeltaEvent",
    "ResponseMcpCallArgumentsDoneEvent",
    "ResponseMcpCallCompletedEvent",
    "ResponseMcpCallFailedEvent",
    "ResponseMcpCallInProgressEvent",
    "ResponseOutputItemAddedEvent",
    "ResponseOutputItemDoneEvent",
    "ResponseTextDeltaEvent",
    "ResponseTextDoneEvent",
    "SERVER_EVENT_CLASSES",
    "ServerEvent",
    "ServerEventBase",
    "SessionCreatedEvent",
    "SessionUpdatedEvent",
    "TranscriptionSessionCreatedEvent",
    "TranscriptionSessionUpdatedEvent",
]


class ServerEventBase(RealtimeEvent):
    """Base class of server events: each carries the server's own ``event_id``."""

    event_id: str | None = None


# -- session and conversation -----------------------------------------------------------


class ErrorEvent(ServerEventBase):
    """An error from the server. Not fatal unless the server closes the socket after it."""

    type: Literal["error"] = "error"
    error: ErrorDetails


class SessionCreatedEvent(ServerEventBase):
    """The first event of every connection: the session with its defaults."""

    type: Literal["session.created"] = "session.created"
    session: SessionObject


class SessionUpdatedEvent(ServerEventBase):
    """The full effective session after a ``session.update``."""

    type: Literal["session.updated"] = "session.updated"
    session: SessionObject


class TranscriptionSessionCreatedEvent(ServerEventBase):
    """Beta: a transcription session was created."""

    type: Literal["transcription_session.created"] = "transcription_session.created"
    session: dict[str, Any]


class TranscriptionSessionUpdatedEvent(ServerEventBase):
    """Beta: a transcription session was updated."""

    type: Literal["transcription_session.updated"] = "transcription_session.updated"
    session: dict[str, Any]


class ConversationCreatedEvent(ServerEventBase):
    """A conversation was created (listed in the schema; not sent by the GA service)."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


class ConversationItemAddedEvent(ServerEventBase):
    """GA: an item was added to the conversation (audio data omitted)."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    item: ConversationItem
    previous_item_id: str | None = None


class ConversationItemDoneEvent(ServerEventBase):
    """GA: an item of the conversation is final (audio data omitted)."""

    type: Literal["conversation.item.done"] = "conversation.item.done"
    item: ConversationItem
    previous_item_id: str | None = None


class ConversationItemCreatedEvent(ServerEventBase):
    """Beta: an item was created in the conversation."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    item: ConversationItem
    previous_item_id: str | None = None


class ConversationItemRetrievedEvent(ServerEventBase):
    """The full item, audio included, answering ``conversation.item.retrieve``."""

    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: ConversationItem


class ConversationItemTruncatedEvent(ServerEventBase):
    """An assistant audio item was truncated at ``audio_end_ms``."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeletedEvent(ServerEventBase):
    """An item was deleted from the conversation."""

    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


# -- input audio transcription ------------------------------------------------------------


class InputAudioTranscriptionDeltaEvent(ServerEventBase):
    """Incremental transcript of the user's input audio."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[LogProb] | None = None


class InputAudioTranscriptionCompletedEvent(ServerEventBase):
    """The final transcript of the user's input audio."""

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsage | None = None
    logprobs: list[LogProb] | None = None
    languages: list[DetectedLanguage] | None = None
    """The languages detected in the audio (``gpt-transcribe``); empty: none reliably."""


class InputAudioTranscriptionFailedEvent(ServerEventBase):
    """Transcription of the user's input audio failed."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int
    error: TranscriptionError


class InputAudioTranscriptionSegmentEvent(ServerEventBase):
    """A diarized segment of the user's input audio."""

    type: Literal["conversation.item.input_audio_transcription.segment"] = (
        "conversation.item.input_audio_transcription.segment"
    )
    item_id: str
    content_index: int
    id: str
    text: str
    speaker: str
    start: float
    end: float


# -- input and output audio buffers ------------------------------------------------------


class InputAudioBufferCommittedEvent(ServerEventBase):
    """The input audio buffer was committed into a user item."""

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferClearedEvent(ServerEventBase):
    """The input audio buffer was cleared."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStartedEvent(ServerEventBase):
    """Server VAD heard speech start (stop playback: the user is talking)."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class InputAudioBufferSpeechStoppedEvent(ServerEventBase):
    """Server VAD heard speech end."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class InputAudioBufferTimeoutTriggeredEvent(ServerEventBase):
    """Server VAD's ``idle_timeout_ms`` fired: empty audio is committed and answered."""

    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int
    audio_end_ms: int
    item_id: str


class InputAudioBufferDtmfEventReceivedEvent(ServerEventBase):
    """SIP only: a DTMF key was pressed. Carries no ``event_id``."""

    type: Literal["input_audio_buffer.dtmf_event_received"] = (
        "input_audio_buffer.dtmf_event_received"
    )
    event: str
    received_at: int


class OutputAudioBufferStartedEvent(ServerEventBase):
    """WebRTC/SIP only: the server started streaming audio."""

    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str


class OutputAudioBufferStoppedEvent(ServerEventBase):
    """WebRTC/SIP only: the output audio buffer drained."""

    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str


class OutputAudioBufferClearedEvent(ServerEventBase):
    """WebRTC/SIP only: the output audio buffer was cleared."""

    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str


# -- responses ----------------------------------------------------------------------------


class ResponseCreatedEvent(ServerEventBase):
    """A response started (status ``in_progress``)."""

    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseDoneEvent(ServerEventBase):
    """A response ended; always sent. Check ``response.status``."""

    type: Literal["response.done"] = "response.done"
    response: Response


class ResponseOutputItemAddedEvent(ServerEventBase):
    """The response added an output item."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: ConversationItem


class ResponseOutputItemDoneEvent(ServerEventBase):
    """An output item of the response is final (also on interruption)."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: ConversationItem


class _ContentEvent(ServerEventBase):
    """A server event about one content part of a response's output item."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int


class ResponseContentPartAddedEvent(_ContentEvent):
    """A content part (``text`` or ``audio``) was added to an output item."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ContentPart


class ResponseContentPartDoneEvent(_ContentEvent):
    """A content part is final."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ContentPart


class ResponseTextDeltaEvent(_ContentEvent):
    """A piece of the response's text (``response.output_text.delta`` / ``response.text.delta``)."""

    type: Literal["response.output_text.delta", "response.text.delta"] = (
        "response.output_text.delta"
    )
    delta: str


class ResponseTextDoneEvent(_ContentEvent):
    """The response's text is final (``response.output_text.done`` / ``response.text.done``)."""

    type: Literal["response.output_text.done", "response.text.done"] = "response.output_text.done"
    text: str


class ResponseAudioDeltaEvent(AudioDeltaMixin, _ContentEvent):
    """A chunk of the response's audio, base64 in the session's output format.

    Wire names ``response.output_audio.delta`` / ``response.audio.delta``.
    """

    type: Literal["response.output_audio.delta", "response.audio.delta"] = (
        "response.output_audio.delta"
    )
    delta: str


class ResponseAudioDoneEvent(_ContentEvent):
    """The response's audio is complete.

    Wire names ``response.output_audio.done`` / ``response.audio.done``.
    """

    type: Literal["response.output_audio.done", "response.audio.done"] = (
        "response.output_audio.done"
    )


class ResponseAudioTranscriptDeltaEvent(_ContentEvent):
    """A piece of the transcript of the response's audio.

    Wire names ``response.output_audio_transcript.delta`` / ``response.audio_transcript.delta``.
    """

    type: Literal["response.output_audio_transcript.delta", "response.audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class ResponseAudioTranscriptDoneEvent(_ContentEvent):
    """The transcript of the response's audio is final.

    Wire names ``response.output_audio_transcript.done`` / ``response.audio_transcript.done``.
    """

    type: Literal["response.output_audio_transcript.done", "response.audio_transcript.done"] = (
        "response.output_audio_transcript.done"
    )
    transcript: str


class ResponseFunctionCallArgumentsDeltaEvent(ServerEventBase):
    """A piece of a function call's JSON arguments."""

    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDoneEvent(ServerEventBase):
    """A function call is complete: run ``name`` with ``arguments`` and send the output."""

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
    name: str | None = None


class ResponseMcpCallArgumentsDeltaEvent(ServerEventBase):
    """A piece of an MCP call's arguments."""

    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    delta: str


class ResponseMcpCallArgumentsDoneEvent(ServerEventBase):
    """An MCP call's arguments are final."""

    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    arguments: str


class ResponseMcpCallInProgressEvent(ServerEventBase):
    """An MCP call started."""

    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


class ResponseMcpCallCompletedEvent(ServerEventBase):
    """An MCP call completed."""

    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"
    item_id: str
    output_index: int


class ResponseMcpCallFailedEvent(ServerEventBase):
    """An MCP call failed."""

    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
    item_id: str
    output_index: int


class McpListToolsInProgressEvent(ServerEventBase):
    """Listing an MCP server's tools started."""

    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class McpListToolsCompletedEvent(ServerEventBase):
    """An MCP server's tools were listed."""

    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class McpListToolsFailedEvent(ServerEventBase):
    """Listing an MCP server's tools failed."""

    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str


class RateLimitsUpdatedEvent(ServerEventBase):
    """Rate limits after a response (sent after ``response.done``)."""

    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


ServerEvent = (
    ErrorEvent
    | SessionCreatedEvent
    | SessionUpdatedEvent
    | TranscriptionSessionCreatedEvent
    | TranscriptionSessionUpdatedEvent
    | ConversationCreatedEvent
    | ConversationItemAddedEvent
    | ConversationItemDoneEvent
    | ConversationItemCreatedEvent
    | ConversationItemRetrievedEvent
    | ConversationItemTruncatedEvent
    | ConversationItemDeletedEvent
    | InputAudioTranscriptionDeltaEvent
    | InputAudioTranscriptionCompletedEvent
    | InputAudioTranscriptionFailedEvent
    | InputAudioTranscriptionSegmentEvent
    | InputAudioBufferCommittedEvent
    | InputAudioBufferClearedEvent
    | InputAudioBufferSpeechStartedEvent
    | InputAudioBufferSpeechStoppedEvent
    | InputAudioBufferTimeoutTriggeredEvent
    | InputAudioBufferDtmfEventReceivedEvent
    | OutputAudioBufferStartedEvent
    | OutputAudioBufferStoppedEvent
    | OutputAudioBufferClearedEvent
    | ResponseCreatedEvent
    | ResponseDoneEvent
    | ResponseOutputItemAddedEvent
    | ResponseOutputItemDoneEvent
    | ResponseContentPartAddedEvent
    | ResponseContentPartDoneEvent
    | ResponseTextDeltaEvent
    | ResponseTextDoneEvent
    | ResponseAudioDeltaEvent
    | ResponseAudioDoneEvent
    | ResponseAudioTranscriptDeltaEvent
    | ResponseAudioTranscriptDoneEvent
    | ResponseFunctionCallArgumentsDeltaEvent
    | ResponseFunctionCallArgumentsDoneEvent
    | ResponseMcpCallArgumentsDeltaEvent
    | ResponseMcpCallArgumentsDoneEvent
    | ResponseMcpCallInProgressEvent
    | ResponseMcpCallCompletedEvent
    | ResponseMcpCallFailedEvent
    | McpListToolsInProgressEvent
    | McpListToolsCompletedEvent
    | McpListToolsFailedEvent
    | RateLimitsUpdatedEvent
)
"""Any server event of the conversation protocol (a union, discriminated by ``type``)."""

SERVER_EVENT_CLASSES: tuple[type[ServerEventBase], ...] = get_args(ServerEvent)
"""Every server event class of the conversation protocol, in reference order."""
