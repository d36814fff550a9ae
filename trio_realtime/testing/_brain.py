"""The emulator's "model": scriptable replies, a deterministic default, tool arguments."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ..events import ConversationItem, ResponseCreateParams, SessionConfig, UserMessageItem
from ._arguments import argument_sets, example_arguments, tools_named_in

__all__ = [
    "Brain",
    "BrainReply",
    "BrainRequest",
    "default_brain",
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

    After function call outputs: reports them. Otherwise calls tools when ``tool_choice``
    forces one or, with ``"auto"``, when the user's text asks for them (``get_weather``
    matches "get weather" and "what's the weather"), with arguments taken from the text
    where it names them (:func:`example_arguments`): several tools, or one call per place
    named, in one response unless ``parallel_tool_calls`` is false. Else answers
    ``"You said: <text>"`` to text and ``"I heard N.N seconds of audio."`` to audio.
    """
    forced = request.tool_choice == "required" or isinstance(request.tool_choice, dict)
    outputs = _trailing_outputs(request.items)
    if outputs and not forced:
        plural = "s" if len(outputs) > 1 else ""
        return BrainReply(text=f"The function{plural} returned: {'; '.join(outputs)}")
    calls = forced_tool_calls(request)
    if not calls and request.tool_choice == "auto" and request.user_text:
        earlier = _earlier_user_texts(request.items)
        calls = [
            (tool["name"], arguments)
            for tool in tools_named_in(request.tools, request.user_text)
            for arguments in argument_sets(
                tool.get("parameters"), request.user_text, earlier=earlier
            )
        ]
        if not _parallel(request):
            calls = calls[:1]
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
    text = request.user_text
    earlier = _earlier_user_texts(request.items)
    if isinstance(choice, dict) and choice.get("type", "function") == "function":
        name = str(choice.get("name", ""))
        tool = next((tool for tool in request.tools if tool.get("name") == name), {})
        return [(name, example_arguments(tool.get("parameters"), text, earlier=earlier))]
    if choice == "required" and request.tools:
        tool = next(iter(tools_named_in(request.tools, text or "")), request.tools[0])
        return [(tool["name"], example_arguments(tool.get("parameters"), text, earlier=earlier))]
    return []


def _earlier_user_texts(items: Sequence[ConversationItem]) -> list[str]:
    """The text of the user messages before the latest one, latest first."""
    texts = [
        " ".join(part.text for part in item.content if part.type == "input_text" and part.text)
        for item in reversed(items)
        if isinstance(item, UserMessageItem)
    ]
    return texts[1:]


def _trailing_outputs(items: Sequence[ConversationItem]) -> list[str]:
    """The outputs of the function calls answered since the model last spoke."""
    outputs: list[str] = []
    for item in reversed(items):
        if item.type == "function_call_output":
            outputs.insert(0, str(getattr(item, "output", "")))
        elif item.type != "function_call":
            break
    return outputs


def _parallel(request: BrainRequest) -> bool:
    for setting in (request.response.parallel_tool_calls, request.session.parallel_tool_calls):
        if setting is not None:
            return setting
    return True


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
