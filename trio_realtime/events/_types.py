"""Typed models for what events carry: sessions, items, responses, usage, errors.

Every field the reference marks optional is optional here, enums are open (a newer
value from the service never makes a known event unparseable) and unknown fields are
kept. Literal types document the values known today.
"""

# Annotations are evaluated here, not postponed (no `from __future__ import annotations`):
# pydantic would otherwise evaluate every annotation string while building the classes,
# a third of their cost at import.
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag

from ._base import WireModel

__all__ = [
    "AssistantMessageItem",
    "AudioConfig",
    "AudioFormat",
    "AudioInputConfig",
    "AudioOutputConfig",
    "CachedTokenDetails",
    "ContentPart",
    "ConversationInfo",
    "ConversationItem",
    "DetectedLanguage",
    "ErrorDetails",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "FunctionTool",
    "InputTokenDetails",
    "ItemReference",
    "LogProb",
    "McpApprovalFilter",
    "McpApprovalRequestItem",
    "McpApprovalResponseItem",
    "McpCallError",
    "McpCallItem",
    "McpListToolsItem",
    "McpListedTool",
    "McpTool",
    "McpToolFilter",
    "NoiseReduction",
    "OutputTokenDetails",
    "PromptConfig",
    "RateLimit",
    "ReasoningConfig",
    "Response",
    "ResponseAudioConfig",
    "ResponseCreateParams",
    "ResponseError",
    "ResponseStatusDetails",
    "RetentionRatioTruncation",
    "SessionConfig",
    "SessionObject",
    "SystemMessageItem",
    "TokenLimits",
    "Tool",
    "ToolChoice",
    "TracingConfig",
    "TranscriptionConfig",
    "TranscriptionError",
    "TranscriptionSessionConfig",
    "TranscriptionTokenDetails",
    "TranscriptionUsage",
    "TurnDetection",
    "UnknownItem",
    "UnknownTool",
    "Usage",
    "UserMessageItem",
    "VoiceId",
]

Modality = Literal["text", "audio"]
ItemStatus = Literal["completed", "incomplete", "in_progress"] | str
ResponseStatus = Literal["completed", "cancelled", "failed", "incomplete", "in_progress"] | str
Voice = (
    Literal["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
    | str
)

# -- audio --------------------------------------------------------------------------------


class AudioFormat(WireModel):
    """An audio format: ``{"type": "audio/pcm", "rate": 24000}``, ``audio/pcmu``, ``audio/pcma``."""

    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] | str | None = "audio/pcm"
    """``null`` (or absent) in a request means ``audio/pcm``."""
    rate: int | None = None
    """Sample rate in Hz; only ``audio/pcm`` carries it (24000)."""


class TranscriptionConfig(WireModel):
    """Input audio transcription settings (``audio.input.transcription``)."""

    model: str | None = None
    """e.g. ``gpt-4o-transcribe``, ``whisper-1``, ``gpt-realtime-whisper``."""
    language: str | None = None
    languages: list[str] | None = None
    keywords: list[str] | None = None
    prompt: str | None = None
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | str | None = None


class NoiseReduction(WireModel):
    """Input noise reduction (``audio.input.noise_reduction``)."""

    type: Literal["near_field", "far_field"] | str | None = None
    strength: float | None = None


class TurnDetection(WireModel):
    """Turn detection: ``server_vad`` or ``semantic_vad`` (``audio.input.turn_detection``).

    One model for both kinds: ``threshold``, ``prefix_padding_ms``,
    ``silence_duration_ms`` and ``idle_timeout_ms`` belong to server VAD, ``eagerness``
    to semantic VAD.
    """

    type: Literal["server_vad", "semantic_vad"] | str = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    eagerness: Literal["low", "medium", "high", "auto"] | str | None = None


class AudioInputConfig(WireModel):
    """``audio.input`` of a session: format, transcription, noise reduction, turn detection."""

    format: AudioFormat | None = None
    transcription: TranscriptionConfig | None = None
    noise_reduction: NoiseReduction | None = None
    turn_detection: TurnDetection | None = None


class VoiceId(WireModel):
    """A custom voice: ``{"id": "voice_..."}``."""

    id: str


class AudioOutputConfig(WireModel):
    """``audio.output`` of a session: format, voice and speed."""

    format: AudioFormat | None = None
    voice: Voice | VoiceId | None = None
    speed: float | None = None


class AudioConfig(WireModel):
    """``audio`` of a session."""

    input: AudioInputConfig | None = None
    output: AudioOutputConfig | None = None


# -- tools, tracing, prompts ------------------------------------------------------------


class FunctionTool(WireModel):
    """A function the model may call, with a JSON Schema for its arguments."""

    type: Literal["function"] = "function"
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None


class McpToolFilter(WireModel):
    """Which MCP tools a rule covers: by name, or the read-only ones."""

    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(WireModel):
    """``require_approval`` per tool: those that ``always`` or ``never`` need approval."""

    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(WireModel):
    """A remote MCP server whose tools the model may call."""

    type: Literal["mcp"] = "mcp"
    server_label: str
    server_url: str | None = None
    connector_id: str | None = None
    authorization: str | None = None
    server_description: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | str | McpApprovalFilter | None = None


class UnknownTool(WireModel):
    """A tool of a type this version does not know; its fields are kept as extras."""

    type: str | None = None


def _tool_tag(value: Any) -> str:
    kind = (
        value.get("type", "function") if isinstance(value, dict) else getattr(value, "type", None)
    )
    if kind in ("function", "mcp"):
        return str(kind)
    return "unknown"


Tool = Annotated[
    Annotated[FunctionTool, Tag("function")]
    | Annotated[McpTool, Tag("mcp")]
    | Annotated[UnknownTool, Tag("unknown")],
    Discriminator(_tool_tag),
]


class ToolChoice(WireModel):
    """A forced tool: ``{"type": "function", "name": ...}`` or ``{"type": "mcp", ...}``."""

    type: Literal["function", "mcp"] | str = "function"
    name: str | None = None
    server_label: str | None = None


class TracingConfig(WireModel):
    """Tracing settings (``tracing``), or the string ``"auto"``."""

    workflow_name: str | None = None
    group_id: str | None = None
    metadata: dict[str, Any] | None = None


class TokenLimits(WireModel):
    """Token limits of a retention-ratio truncation."""

    post_instructions: int | None = None
    """Tokens kept after the instructions before truncation starts."""


class RetentionRatioTruncation(WireModel):
    """``truncation: {"type": "retention_ratio", ...}``."""

    type: Literal["retention_ratio"] | str = "retention_ratio"
    retention_ratio: float
    token_limits: TokenLimits | None = None


class PromptConfig(WireModel):
    """A stored prompt reference (``prompt``)."""

    id: str
    version: str | None = None
    variables: dict[str, Any] | None = None


class ReasoningConfig(WireModel):
    """Reasoning settings (``reasoning``) of reasoning models."""

    effort: Literal["minimal", "low", "medium", "high", "xhigh"] | str | None = None


# -- sessions ---------------------------------------------------------------------------


class SessionConfig(WireModel):
    """A realtime (conversation) session: what ``session.update`` sends and the server echoes.

    The server's copy (in ``session.created`` / ``session.updated``) also carries
    ``object``, ``id`` and ``expires_at``. Only the fields you set are sent.
    """

    type: Literal["realtime"] | str = "realtime"
    object: str | None = None
    id: str | None = None
    expires_at: int | None = None
    model: str | None = None
    output_modalities: list[Modality | str] | None = None
    instructions: str | None = None
    audio: AudioConfig | None = None
    include: list[str] | None = None
    tracing: Literal["auto"] | str | TracingConfig | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["auto", "none", "required"] | str | ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    truncation: (
        Literal["auto", "disabled"] | str | RetentionRatioTruncation | dict[str, Any] | None
    ) = None
    prompt: PromptConfig | None = None


class TranscriptionSessionConfig(WireModel):
    """A transcription-only session (``session.type == "transcription"``)."""

    type: Literal["transcription"] = "transcription"
    object: str | None = None
    id: str | None = None
    expires_at: int | None = None
    audio: AudioConfig | None = None
    include: list[str] | None = None


def _session_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "transcription" if kind == "transcription" else "realtime"


SessionObject = Annotated[
    Annotated[SessionConfig, Tag("realtime")]
    | Annotated[TranscriptionSessionConfig, Tag("transcription")],
    Discriminator(_session_tag),
]
"""The session a server event carries: realtime or transcription, by its ``type``."""


# -- conversation items -----------------------------------------------------------------


class ContentPart(WireModel):
    """One part of a message's content, or of ``response.content_part.*``.

    ``type`` is ``input_text``, ``input_audio``, ``input_image``, ``output_text``,
    ``output_audio`` in items, ``text`` / ``audio`` in content-part events.
    """

    type: str | None = None
    text: str | None = None
    audio: str | None = None
    """Base64 audio; omitted by the server except in ``conversation.item.retrieved``."""
    transcript: str | None = None
    image_url: str | None = None
    detail: Literal["auto", "low", "high"] | str | None = None


class _Item(WireModel):
    """The fields every conversation item has: its id, ``object`` and ``status``."""

    id: str | None = None
    object: str | None = None
    status: ItemStatus | None = None


class SystemMessageItem(_Item):
    """A system message item."""

    type: Literal["message"] = "message"
    role: Literal["system"] = "system"
    content: list[ContentPart]


class UserMessageItem(_Item):
    """A user message item: text, audio or image content."""

    type: Literal["message"] = "message"
    role: Literal["user"] = "user"
    content: list[ContentPart]


class AssistantMessageItem(_Item):
    """An assistant message item: ``output_text`` or ``output_audio`` content."""

    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    content: list[ContentPart]


class FunctionCallItem(_Item):
    """A function call the model made; ``arguments`` is a JSON string."""

    type: Literal["function_call"] = "function_call"
    name: str
    arguments: str
    call_id: str | None = None


class FunctionCallOutputItem(_Item):
    """The result of a function call, sent back by the client."""

    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str


class McpApprovalRequestItem(_Item):
    """An MCP tool call waiting for the client's approval."""

    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    server_label: str
    name: str
    arguments: str


class McpApprovalResponseItem(_Item):
    """The client's answer to an :class:`McpApprovalRequestItem`."""

    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    approval_request_id: str
    approve: bool
    reason: str | None = None


class McpListedTool(WireModel):
    """One tool an MCP server offers."""

    name: str
    input_schema: dict[str, Any] | None = None
    description: str | None = None
    annotations: dict[str, Any] | None = None


class McpListToolsItem(_Item):
    """The tools an MCP server offers."""

    type: Literal["mcp_list_tools"] = "mcp_list_tools"
    server_label: str
    tools: list[McpListedTool]


class McpCallError(WireModel):
    """Why an MCP tool call failed: ``protocol_error``, ``tool_execution_error``, ``http_error``."""

    type: Literal["protocol_error", "tool_execution_error", "http_error"] | str
    message: str | None = None
    code: int | None = None
    """The protocol's or HTTP error code (none for a tool execution error)."""


class McpCallItem(_Item):
    """An MCP tool call and its output or error."""

    type: Literal["mcp_call"] = "mcp_call"
    server_label: str
    name: str
    arguments: str
    approval_request_id: str | None = None
    output: str | None = None
    error: McpCallError | None = None


class ItemReference(WireModel):
    """A reference to an existing item, inside ``response.create``'s ``input``."""

    type: Literal["item_reference"] = "item_reference"
    id: str


class UnknownItem(_Item):
    """An item of a type this version does not know; its fields are kept as extras."""

    type: str | None = None


_ITEM_TAGS = frozenset(
    {
        "function_call",
        "function_call_output",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_list_tools",
        "mcp_call",
        "item_reference",
    }
)
_ROLE_TAGS = frozenset({"system", "user", "assistant"})


def _item_tag(value: Any) -> str:
    if isinstance(value, dict):
        kind, role = value.get("type"), value.get("role")
    else:
        kind, role = getattr(value, "type", None), getattr(value, "role", None)
    if not isinstance(kind, str):
        return "unknown"
    if kind == "message" and isinstance(role, str) and role in _ROLE_TAGS:
        return f"message.{role}"
    if kind in _ITEM_TAGS:
        return str(kind)
    return "unknown"


ConversationItem = Annotated[
    Annotated[SystemMessageItem, Tag("message.system")]
    | Annotated[UserMessageItem, Tag("message.user")]
    | Annotated[AssistantMessageItem, Tag("message.assistant")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[McpApprovalRequestItem, Tag("mcp_approval_request")]
    | Annotated[McpApprovalResponseItem, Tag("mcp_approval_response")]
    | Annotated[McpListToolsItem, Tag("mcp_list_tools")]
    | Annotated[McpCallItem, Tag("mcp_call")]
    | Annotated[ItemReference, Tag("item_reference")]
    | Annotated[UnknownItem, Tag("unknown")],
    Discriminator(_item_tag),
]
"""A conversation item, chosen by ``type`` (and ``role`` for messages)."""


class ConversationInfo(WireModel):
    """The conversation of ``conversation.created``."""

    id: str | None = None
    object: str | None = None


# -- responses --------------------------------------------------------------------------


class ResponseError(WireModel):
    """Why a response failed (``status_details.error``)."""

    type: str | None = None
    code: str | None = None
    message: str | None = None


class ResponseStatusDetails(WireModel):
    """Why a response ended as it did (``response.status_details``)."""

    type: Literal["completed", "cancelled", "incomplete", "failed"] | str | None = None
    reason: (
        Literal["turn_detected", "client_cancelled", "max_output_tokens", "content_filter"]
        | str
        | None
    ) = None
    error: ResponseError | None = None


class CachedTokenDetails(WireModel):
    """Cached input tokens by kind."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None


class InputTokenDetails(WireModel):
    """Input token counts by kind, with cached-token details."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens: int | None = None
    cached_tokens_details: CachedTokenDetails | None = None


class OutputTokenDetails(WireModel):
    """Output token counts by kind."""

    text_tokens: int | None = None
    audio_tokens: int | None = None


class Usage(WireModel):
    """Token usage of a response (``response.done``)."""

    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: InputTokenDetails | None = None
    output_token_details: OutputTokenDetails | None = None


class ResponseAudioConfig(WireModel):
    """``audio`` of a response: ``{"output": {"format": ..., "voice": ...}}``."""

    output: AudioOutputConfig | None = None


class Response(WireModel):
    """A model response (``response.created`` / ``response.done``)."""

    id: str | None = None
    object: str | None = None
    status: ResponseStatus | None = None
    status_details: ResponseStatusDetails | None = None
    output: list[ConversationItem] | None = None
    conversation_id: str | None = None
    output_modalities: list[Modality | str] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    audio: ResponseAudioConfig | None = None
    usage: Usage | None = None
    metadata: dict[str, Any] | None = None


class ResponseCreateParams(WireModel):
    """Parameters of ``response.create``: override the session's settings for one response."""

    output_modalities: list[Modality | str] | None = None
    instructions: str | None = None
    audio: ResponseAudioConfig | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["auto", "none", "required"] | str | ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    conversation: Literal["auto", "none"] | str | None = None
    metadata: dict[str, Any] | None = None
    prompt: PromptConfig | None = None
    input: list[ConversationItem] | None = None


# -- errors, limits, transcription -------------------------------------------------------


class ErrorDetails(WireModel):
    """The ``error`` of an ``error`` event.

    ``event_id`` is the client event that caused it, when that event carried an id.
    """

    type: str
    message: str
    code: str | None = None
    param: str | None = None
    event_id: str | None = None


class RateLimit(WireModel):
    """One entry of ``rate_limits.updated``."""

    name: Literal["requests", "tokens"] | str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


class LogProb(WireModel):
    """The log probability of one transcribed token."""

    token: str
    logprob: float
    bytes: list[int]


class DetectedLanguage(WireModel):
    """A language detected in transcribed audio (``gpt-transcribe``)."""

    code: str


class TranscriptionTokenDetails(WireModel):
    """Input tokens of a transcription, by kind."""

    text_tokens: int | None = None
    audio_tokens: int | None = None


class TranscriptionError(WireModel):
    """Why the transcription of an input item failed."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None


class TranscriptionUsage(WireModel):
    """Usage of an input transcription, billed by ``tokens`` or by ``duration``."""

    type: Literal["tokens", "duration"] | str
    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: TranscriptionTokenDetails | None = None
    seconds: float | None = None
