"""Response streaming: one model response, from response.created to rate_limits.updated.

The full GA sequence (reference 6.2-6.4): output items with their content parts and
deltas, ``conversation.item.added`` / ``.done`` for items written to the conversation,
``response.done`` with usage. A cancel (client or barge-in) ends the part in progress,
marks the item incomplete and the response cancelled.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import logging
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import trio
from pydantic import TypeAdapter

from ..events import (
    ConversationItem,
    ConversationItemAddedEvent,
    ConversationItemDoneEvent,
    RateLimitsUpdatedEvent,
    ResponseAudioDeltaEvent,
    ResponseAudioDoneEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseAudioTranscriptDoneEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseCreateParams,
    ResponseDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    SessionConfig,
)
from ._brain import BrainReply, BrainRequest, default_brain, forced_tool_calls
from ._conversation import StreamingAudio, public_item
from ._formats import bytes_per_ms, synthesize_voice, to_output_format

if TYPE_CHECKING:
    from ._realtime import EmulatedSession

__all__ = ["ResponseRun"]

log = logging.getLogger("trio_realtime.testing")

_CHUNK_MS = 100
_TOKEN_PIECE = re.compile(r"\s*\S+")


@functools.cache
def _item_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(ConversationItem)


class ResponseRun:
    """One response being produced; ``done`` is set after ``response.done`` is queued."""

    def __init__(
        self,
        session: EmulatedSession,
        params: dict[str, Any],
        *,
        context: list[dict[str, Any]] | None,
    ) -> None:
        config = session.config
        link = session.link
        self.session = session
        self.link = link
        self.id = link.ids.make("resp_")
        self.params = params
        self.in_conversation = params.get("conversation", "auto") != "none"
        self.context = context
        self.modalities: list[str] = list(
            params.get("output_modalities") or config["output_modalities"]
        )
        output = (params.get("audio") or {}).get("output") or {}
        session_output = config["audio"]["output"]
        self.format: dict[str, Any] = output.get("format") or session_output["format"]
        self.voice = output.get("voice", session_output["voice"])
        self.tools: list[dict[str, Any]] = [
            tool
            for tool in params.get("tools", config.get("tools") or [])
            if tool.get("type", "function") == "function"
        ]
        self.tool_choice = params.get("tool_choice", config.get("tool_choice", "auto"))
        self.instructions = str(params.get("instructions", config.get("instructions", "")))
        self.max_output_tokens = params.get(
            "max_output_tokens", config.get("max_output_tokens", "inf")
        )
        self.metadata = params.get("metadata")
        self.done = trio.Event()
        self.cancel_reason: str | None = None
        self.output: list[dict[str, Any]] = []
        self.output_audio_ms = 0
        self._think_scope: trio.CancelScope | None = None
        self._wake = trio.Event()
        self._text_tokens = 0
        self._audio_tokens = 0

    # -- control ------------------------------------------------------------------------

    def cancel(self, reason: str) -> None:
        """Stop producing: the part in progress ends, then ``response.done`` (cancelled)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            if self._think_scope is not None:
                self._think_scope.cancel("response cancelled")
            self.wake()

    # -- the sequence -------------------------------------------------------------------

    async def announce(self) -> None:
        """Send ``response.created`` (before the next client event is handled)."""
        await self.link.emit(ResponseCreatedEvent, response=self._response("in_progress"))

    async def run(self) -> None:
        """Produce the rest of the response; always ends with ``response.done``."""
        try:
            reply, failure = await self._think()
            status, details = "completed", None
            if failure is not None:
                status = "failed"
                details = {
                    "type": "failed",
                    "error": {"type": "server_error", "code": "brain_error", "message": failure},
                }
            elif reply is not None:
                incomplete = await self._produce(reply)
                if incomplete:
                    status, details = (
                        "incomplete",
                        {
                            "type": "incomplete",
                            "reason": "max_output_tokens",
                        },
                    )
            if self.cancel_reason is not None and status != "failed":
                status, details = "cancelled", {"type": "cancelled", "reason": self.cancel_reason}
            final = self._response(status, details, usage=self._usage())
            await self.link.emit(ResponseDoneEvent, response=final)
            self.session.response_finished(self)
            await self.link.emit(RateLimitsUpdatedEvent, rate_limits=[self.session.rate_limit()])
        finally:
            self.session.response_finished(self)
            self.done.set()

    def _response(
        self,
        status: str,
        details: dict[str, Any] | None = None,
        *,
        usage: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": details,
            "output": [public_item(item) for item in self.output],
            "conversation_id": self.session.conversation_id if self.in_conversation else None,
            "output_modalities": self.modalities,
            "max_output_tokens": self.max_output_tokens,
            "audio": {"output": {"format": self.format, "voice": self.voice}},
            "usage": usage,
            "metadata": self.metadata,
        }

    async def _think(self) -> tuple[BrainReply | None, str | None]:
        try:
            request = self._request()
        except Exception as exc:
            log.warning("the emulator could not build the brain's request", exc_info=True)
            return None, f"{type(exc).__name__}: {exc}"
        brain: Callable[[BrainRequest], Any] = self.link.options.brain or default_brain
        with trio.CancelScope() as scope:
            self._think_scope = scope
            if self.cancel_reason is not None:
                scope.cancel("response cancelled")
            try:
                reply = brain(request)
                if inspect.isawaitable(reply):
                    reply = await reply
            except Exception as exc:
                log.warning("the emulator's brain failed", exc_info=True)
                return None, f"{type(exc).__name__}: {exc}"
        self._think_scope = None
        if scope.cancelled_caught:
            return None, None
        if not isinstance(reply, BrainReply):
            return None, f"the brain returned {type(reply).__name__}, not a BrainReply"
        calls: list[tuple[str, dict[str, Any] | str]] = list(reply.tool_calls)
        if self.tool_choice == "none":
            calls = []
        elif not calls:
            calls = list(forced_tool_calls(request))
        return BrainReply(text=reply.text, audio=reply.audio, tool_calls=calls), None

    def _request(self) -> BrainRequest:
        items = self.context if self.context is not None else self.session.context_items()
        adapter = _item_adapter()
        user_text: str | None = None
        user_audio: npt.NDArray[np.int16] | None = None
        for item in reversed(items):
            if item.get("type") == "message" and item.get("role") == "user":
                user_text, user_audio = self.session.user_content(item)
                break
        return BrainRequest(
            session=SessionConfig.model_validate(self.session.config),
            items=tuple(adapter.validate_python(item) for item in items),
            user_text=user_text,
            user_audio=user_audio,
            response=ResponseCreateParams.model_validate(self.params),
            tools=tuple(self.tools),
            tool_choice=self.tool_choice,
            instructions=self.instructions,
        )

    async def _produce(self, reply: BrainReply) -> bool:
        """Stream the reply's items; True if ``max_output_tokens`` cut it short."""
        budget = math.inf if self.max_output_tokens == "inf" else int(self.max_output_tokens)
        incomplete = False
        if reply.text or not reply.tool_calls:
            text = reply.text
            if len(text) > budget * 4:
                text, incomplete = text[: int(budget * 4)], True
            await self._message(text, reply.audio, cut=incomplete)
        for name, arguments in reply.tool_calls:
            if self.cancel_reason is not None or incomplete:
                break
            await self._function_call(name, arguments)
        return incomplete

    # -- output items -------------------------------------------------------------------

    async def _add_item(self, item: dict[str, Any]) -> int:
        output_index = len(self.output)
        self.output.append(item)
        await self.link.emit(
            ResponseOutputItemAddedEvent,
            response_id=self.id,
            output_index=output_index,
            item=item,
        )
        if self.in_conversation:
            previous = self.session.conversation.insert(dict(item))
            await self.link.emit(ConversationItemAddedEvent, previous_item_id=previous, item=item)
        return output_index

    async def _finish_item(self, output_index: int, item: dict[str, Any]) -> None:
        self.output[output_index] = item
        shown = public_item(item)
        if self.in_conversation:
            conversation = self.session.conversation
            if item["id"] in conversation:
                conversation.replace(item)
                previous = _previous_of(conversation.items(), item["id"])
                await self.link.emit(
                    ConversationItemDoneEvent, previous_item_id=previous, item=shown
                )
        await self.link.emit(
            ResponseOutputItemDoneEvent, response_id=self.id, output_index=output_index, item=shown
        )

    async def _message(self, text: str, audio: npt.NDArray[np.int16] | None, *, cut: bool) -> None:
        item_id = self.link.ids.make("item_")
        started = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        output_index = await self._add_item(started)
        where = {
            "response_id": self.id,
            "item_id": item_id,
            "output_index": output_index,
            "content_index": 0,
        }
        if "audio" in self.modalities:
            part, stopped = await self._audio_part(where, text, audio)
        else:
            part, stopped = await self._text_part(where, text)
        stored = self.session.conversation.get(item_id) if self.in_conversation else None
        if stored is not None and stored.streaming is not None:
            part = stored.streaming.part()  # a truncate may have come after the last chunk
            stopped = stopped or stored.streaming.cut_ms is not None
        status = "incomplete" if stopped or cut else "completed"
        await self._finish_item(output_index, {**started, "status": status, "content": [part]})

    async def _text_part(self, where: dict[str, Any], text: str) -> tuple[dict[str, Any], bool]:
        link = self.link
        await link.emit(ResponseContentPartAddedEvent, **where, part={"type": "text", "text": ""})
        sent: list[str] = []
        stopped = False
        for piece in _TOKEN_PIECE.findall(text):
            if self.cancel_reason is not None:
                stopped = True
                break
            sent.append(piece)
            await link.emit(
                ResponseTextDeltaEvent,
                **where,
                delta=piece,
                obfuscation=link.ids.obfuscation(piece),
            )
        final = "".join(sent)
        self._text_tokens += _text_tokens(final)
        await link.emit(ResponseTextDoneEvent, **where, text=final)
        await link.emit(ResponseContentPartDoneEvent, **where, part={"type": "text", "text": final})
        return {"type": "output_text", "text": final}, stopped

    async def _audio_part(
        self, where: dict[str, Any], text: str, audio: npt.NDArray[np.int16] | None
    ) -> tuple[dict[str, Any], bool]:
        link = self.link
        format_type = str(self.format.get("type", "audio/pcm"))
        samples = audio if audio is not None else synthesize_voice(text)
        data = to_output_format(samples, format_type)
        chunk = _CHUNK_MS * bytes_per_ms(format_type)
        chunks = [data[start : start + chunk] for start in range(0, len(data), chunk)]
        pieces = _TOKEN_PIECE.findall(text)
        await link.emit(
            ResponseContentPartAddedEvent, **where, part={"type": "audio", "transcript": ""}
        )
        sent = self._stream(where, bytes_per_ms(format_type))
        stopped = False
        pace = self.link.options.audio_pace
        start = trio.current_time()
        total = max(1, len(chunks))
        for index in range(total):
            if pace:
                await self._sleep_until(start + index * _CHUNK_MS / 1000 / pace)
            if self.cancel_reason is not None or sent.cut_ms is not None:
                stopped = True
                break
            due = -(-len(pieces) * (index + 1) // total)
            while len(sent.transcript) < due:
                piece = pieces[len(sent.transcript)]
                sent.transcript.append(piece)
                await link.emit(
                    ResponseAudioTranscriptDeltaEvent,
                    **where,
                    delta=piece,
                    obfuscation=link.ids.obfuscation(piece),
                )
            if index < len(chunks):
                sent.audio += chunks[index]
                await link.emit(
                    ResponseAudioDeltaEvent,
                    **where,
                    delta=base64.b64encode(chunks[index]).decode("ascii"),
                )
        part = sent.part()
        final = str(part["transcript"])
        duration_ms = sent.heard_ms
        self.output_audio_ms += duration_ms
        self._audio_tokens += duration_ms // 50
        self._text_tokens += _text_tokens(final)
        await link.emit(ResponseAudioDoneEvent, **where)
        await link.emit(ResponseAudioTranscriptDoneEvent, **where, transcript=final)
        await link.emit(
            ResponseContentPartDoneEvent, **where, part={"type": "audio", "transcript": final}
        )
        return part, stopped

    def _stream(self, where: dict[str, Any], bytes_per_ms: int) -> StreamingAudio:
        """The audio part being sent, held by its item so a truncate can cut it mid-stream."""
        sent = StreamingAudio(content_index=where["content_index"], bytes_per_ms=bytes_per_ms)
        stored = self.session.conversation.get(where["item_id"]) if self.in_conversation else None
        if stored is not None:
            stored.streaming = sent
        return sent

    def wake(self) -> None:
        """Stop waiting for the next audio chunk's time (a cancel or a truncate)."""
        self._wake.set()
        if self.cancel_reason is None:
            self._wake = trio.Event()

    async def _sleep_until(self, deadline: float) -> None:
        with trio.move_on_at(deadline):
            await self._wake.wait()

    async def _function_call(self, name: str, arguments: dict[str, Any] | str) -> None:
        link = self.link
        item_id = link.ids.make("item_")
        call_id = link.ids.make("call_", 16)
        started = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id,
            "arguments": "",
        }
        output_index = await self._add_item(started)
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        where = {
            "response_id": self.id,
            "item_id": item_id,
            "output_index": output_index,
            "call_id": call_id,
        }
        for start in range(0, len(text), 12):
            await link.emit(
                ResponseFunctionCallArgumentsDeltaEvent, **where, delta=text[start : start + 12]
            )
        await link.emit(ResponseFunctionCallArgumentsDoneEvent, **where, name=name, arguments=text)
        self._text_tokens += _text_tokens(text)
        await self._finish_item(output_index, {**started, "status": "completed", "arguments": text})

    # -- accounting ---------------------------------------------------------------------

    def _usage(self) -> dict[str, Any]:
        items = self.context if self.context is not None else self.session.context_items()
        text_in = _text_tokens(self.instructions)
        audio_in = 0
        for item in items:
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                text_in += _text_tokens(str(part.get("text") or part.get("transcript") or ""))
                if part.get("audio"):
                    audio_in += len(part["audio"]) * 3 // 4 // (48 * 50)
            text_in += _text_tokens(str(item.get("arguments") or item.get("output") or ""))
        input_tokens = text_in + audio_in
        output_tokens = self._text_tokens + self._audio_tokens
        return {
            "total_tokens": input_tokens + output_tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {
                "text_tokens": self._text_tokens,
                "audio_tokens": self._audio_tokens,
            },
        }

    @property
    def total_tokens(self) -> int:
        return int(self._usage()["total_tokens"])


def _text_tokens(text: str) -> int:
    return -(-len(text) // 4)


def _previous_of(items: list[Any], item_id: str) -> str | None:
    previous: str | None = None
    for stored in items:
        if stored.id == item_id:
            return previous
        previous = stored.id
    return None
