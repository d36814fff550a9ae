"""The emulator's "model": scriptable replies, a deterministic default, tool arguments."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ..events import ConversationItem, ResponseCreateParams, SessionConfig

__all__ = [
    "Brain",
    "BrainReply",
    "BrainRequest",
    "default_brain",
    "example_arguments",
    "forced_tool_calls",
    "transcript_for_audio",
]

Samples: TypeAlias = npt.NDArray[np.int16]


@dataclasses.dataclass(frozen=True)
class BrainRequest:
    """What the emulated model is asked to answer.

    ``user_text`` and ``user_audio`` come from the latest user message of ``items``:
    its ``input_text`` and its ``input_audio`` decoded to PCM16 at 24 kHz.
    ``tools`` and ``tool_choice`` are the effective ones (the response's override, else
    the session's).
    """

    session: SessionConfig
    """The session's effective configuration."""
    items: tuple[ConversationItem, ...]
    """The context: the conversation, or the response's own ``input``."""
    user_text: str | None
    """Text of the latest user message, if it has any."""
    user_audio: Samples | None
    """Audio of the latest user message (int16, 24 kHz mono), if it has any."""
    response: ResponseCreateParams
    """The ``response.create`` parameters (empty for a VAD-created response)."""
    tools: tuple[dict[str, Any], ...] = ()
    """Function tools available to this response, as JSON objects."""
    tool_choice: Any = "auto"
    """``"auto"``, ``"none"``, ``"required"`` or ``{"type": "function", "name": ...}``."""
    instructions: str = ""
    """The instructions in force for this response."""


@dataclasses.dataclass(frozen=True)
class BrainReply:
    """What the emulated model answers.

    In audio mode the emulator speaks ``text`` (the transcript) with ``audio`` (int16,
    24 kHz mono), or with a synthesized voice of plausible length when ``audio`` is None.
    Each tool call is a ``(name, arguments)`` pair and becomes a ``function_call`` item;
    the arguments are sent as JSON, or exactly as given when a string (a test's bad JSON).
    """

    text: str = ""
    audio: Samples | None = None
    tool_calls: Sequence[tuple[str, dict[str, Any] | str]] = ()


Brain: TypeAlias = Callable[[BrainRequest], BrainReply | Awaitable[BrainReply]]
"""A callable (sync or async) answering a :class:`BrainRequest` with a :class:`BrainReply`.

Raising an exception makes the response fail (``response.done`` with status ``failed``).
"""


def default_brain(request: BrainRequest) -> BrainReply:
    """The deterministic default model.

    After a function call's output: reports it. Otherwise calls a tool when
    ``tool_choice`` forces one or, with ``"auto"``, when a tool's name appears in the
    user's text (``get_weather`` matches "get weather"); else answers
    ``"You said: <text>"`` to text and ``"I heard N.N seconds of audio."`` to audio.
    """
    last = request.items[-1] if request.items else None
    forced = request.tool_choice == "required" or isinstance(request.tool_choice, dict)
    if getattr(last, "type", None) == "function_call_output" and not forced:
        return BrainReply(text=f"The function returned: {getattr(last, 'output', '')}")
    calls = forced_tool_calls(request)
    if not calls and request.tool_choice == "auto" and request.user_text:
        tool = _tool_named_in(request.tools, request.user_text)
        if tool is not None:
            calls = [(tool["name"], example_arguments(tool.get("parameters")))]
    if calls:
        return BrainReply(tool_calls=calls)
    if request.user_text:
        return BrainReply(text=f"You said: {request.user_text}")
    if request.user_audio is not None:
        return BrainReply(text=f"I heard {request.user_audio.size / 24000:.1f} seconds of audio.")
    return BrainReply(text="Hello! How can I help you today?")


def forced_tool_calls(request: BrainRequest) -> list[tuple[str, dict[str, Any]]]:
    """The calls ``tool_choice`` forces: the named function, or one tool for "required"."""
    choice = request.tool_choice
    if isinstance(choice, dict) and choice.get("type", "function") == "function":
        name = str(choice.get("name", ""))
        tool = next((tool for tool in request.tools if tool.get("name") == name), {})
        return [(name, example_arguments(tool.get("parameters")))]
    if choice == "required" and request.tools:
        tool = _tool_named_in(request.tools, request.user_text or "") or request.tools[0]
        return [(tool["name"], example_arguments(tool.get("parameters")))]
    return []


def _tool_named_in(tools: Sequence[dict[str, Any]], text: str) -> dict[str, Any] | None:
    lowered = text.lower()
    for tool in tools:
        name = str(tool.get("name", "")).lower()
        if name and (name in lowered or name.replace("_", " ") in lowered):
            return tool
    return None


_STRING_HINTS = (
    (("city", "location", "place", "address", "destination"), "San Francisco"),
    (("country",), "United States"),
    (("email",), "user@example.com"),
    (("url", "link", "uri"), "https://example.com"),
    (("date", "day"), "2025-01-15"),
    (("time",), "12:00"),
    (("name",), "Alex"),
    (("unit",), "celsius"),
    (("language", "lang"), "en"),
    (("phone",), "+1-555-0100"),
    (("query", "search", "question", "text", "message"), "hello"),
)
_FORMATS = {
    "date": "2025-01-15",
    "date-time": "2025-01-15T12:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def example_arguments(schema: Any) -> dict[str, Any]:
    """Plausible arguments for a function's ``parameters`` JSON Schema.

    Required properties (all of them when none is marked required) get a value of their
    type: the first ``enum`` value, a ``const`` or ``default``, a string suggested by the
    property's name or ``format``, the ``minimum`` of a number, and so on.
    """
    value = _example(schema if isinstance(schema, dict) else {"type": "object"}, "")
    return value if isinstance(value, dict) else {}


def _example(schema: dict[str, Any], name: str) -> Any:
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and isinstance(options[0], dict):
            return _example(options[0], name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((option for option in kind if option != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {
            prop: _example(properties.get(prop) or {}, prop)
            for prop in required
            if isinstance(prop, str)
        }
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            items = {}
        return [_example(items, name) for _ in range(max(1, int(schema.get("minItems", 1))))]
    if kind == "integer":
        return _number(schema, 1, int)
    if kind == "number":
        return _number(schema, 1.0, float)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def _number(schema: dict[str, Any], fallback: float, cast: Callable[[Any], Any]) -> Any:
    minimum = schema.get("minimum", schema.get("exclusiveMinimum"))
    maximum = schema.get("maximum", schema.get("exclusiveMaximum"))
    value = fallback
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        value = minimum + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    elif isinstance(maximum, int | float) and not isinstance(maximum, bool) and maximum < value:
        value = maximum
    return cast(value)


def _string(schema: dict[str, Any], name: str) -> str:
    text = _FORMATS.get(str(schema.get("format")), "")
    if not text:
        words = set(re.split(r"[^a-z]+", name.lower()))
        text = next(
            (value for hints, value in _STRING_HINTS if words.intersection(hints)), "example"
        )
    minimum = schema.get("minLength")
    if isinstance(minimum, int) and len(text) < minimum:
        text = text + "x" * (minimum - len(text))
    maximum = schema.get("maxLength")
    if isinstance(maximum, int) and len(text) > maximum:
        text = text[:maximum]
    return text


_WORDS = [
    "hello",
    "this",
    "is",
    "a",
    "test",
    "of",
    "the",
    "realtime",
    "emulator",
    "speaking",
    "clearly",
    "into",
    "the",
    "microphone",
    "about",
    "the",
    "weather",
    "today",
    "and",
    "what",
    "we",
    "might",
    "do",
    "this",
    "afternoon",
]


def transcript_for_audio(duration_s: float) -> str:
    """A deterministic transcript for ``duration_s`` of speech (about 2.5 words a second)."""
    count = max(1, round(duration_s * 2.5))
    words = [_WORDS[index % len(_WORDS)] for index in range(count)]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + "."
