"""Realtime and transcription sessions: configuration, conversation, input audio, turns."""

from __future__ import annotations

import base64
import binascii
import copy
import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import trio

from ..events import (
    ConversationItemAddedEvent,
    ConversationItemCreateEvent,
    ConversationItemDeletedEvent,
    ConversationItemDeleteEvent,
    ConversationItemDoneEvent,
    ConversationItemRetrievedEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncatedEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    InputAudioBufferTimeoutTriggeredEvent,
    InputAudioTranscriptionCompletedEvent,
    InputAudioTranscriptionDeltaEvent,
    RealtimeEvent,
    ResponseCancelEvent,
    ResponseCreateEvent,
    SessionConfig,
    SessionCreatedEvent,
    SessionUpdatedEvent,
    SessionUpdateEvent,
    TranscriptionSessionConfig,
    WireModel,
    parse_client_event,
)
from ._apierrors import ApiError
from ._config import (
    apply_session_update,
    default_realtime_session,
    default_transcription_session,
    validate_item,
    validate_response_params,
)
from ._conversation import Conversation, public_item
from ._formats import bytes_per_ms, decode_input_audio
from ._input_audio import InputAudioBuffer, Transcription, transcribe
from ._link import Link
from ._responses import ResponseRun

__all__ = ["EmulatedSession"]

_MIN_COMMIT_MS = 100
_RATE_LIMIT_TOKENS = 15_000_000
_REALTIME_EVENTS = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
    }
)
_TRANSCRIPTION_EVENTS = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.delete",
    }
)


class EmulatedSession:
    """The state machine of a realtime (or transcription) connection.

    ``config``: the session to start with (a client secret's), instead of the defaults.
    """

    checks_events = True

    def __init__(
        self, link: Link, *, transcription: bool, config: dict[str, Any] | None = None
    ) -> None:
        self.link = link
        self.transcription = transcription
        self.supported = _TRANSCRIPTION_EVENTS if transcription else _REALTIME_EVENTS
        ids = link.ids
        expires_at = int(time.time() + link.options.session_max_s)
        session_id = ids.make("sess_")
        if config is not None:
            self.config: dict[str, Any] = {
                **copy.deepcopy(config),
                "id": session_id,
                "expires_at": expires_at,
            }
        elif transcription:
            self.config = default_transcription_session(session_id, expires_at)
        else:
            self.config = default_realtime_session(
                session_id, link.model or "gpt-realtime", expires_at
            )
        self.conversation = Conversation()
        self.conversation_id = ids.make("conv_")
        self.active: ResponseRun | None = None
        self.running: dict[str, ResponseRun] = {}
        self.tokens_used = 0
        self.input = InputAudioBuffer()
        self._speech_item: str | None = None
        self._speech_start = 0
        self._idle_scope: trio.CancelScope | None = None

    # -- the Session protocol ----------------------------------------------------------

    def parse(self, obj: dict[str, Any]) -> RealtimeEvent:
        return parse_client_event(obj)

    def config_model(self) -> WireModel:
        if self.transcription:
            return TranscriptionSessionConfig.model_validate(self.config)
        return SessionConfig.model_validate(self.config)

    def conversation_items(self) -> list[dict[str, Any]]:
        """The conversation's items in order, as ``conversation.item.done`` shows them."""
        return [public_item(stored.data) for stored in self.conversation.items()]

    async def start(self) -> None:
        await self.link.emit(SessionCreatedEvent, session=self.config)
        self.link.nursery.start_soon(self._idle_watch)

    async def handle(self, event: RealtimeEvent, raw: dict[str, Any]) -> None:
        if isinstance(event, SessionUpdateEvent):
            await self._session_update(raw)
        elif isinstance(event, InputAudioBufferAppendEvent):
            await self._append(event.audio)
        elif event.type == "input_audio_buffer.commit":
            await self._commit_manually()
        elif event.type == "input_audio_buffer.clear":
            await self._clear()
        elif isinstance(event, ConversationItemCreateEvent):
            await self._create_item(raw)
        elif isinstance(event, ConversationItemRetrieveEvent):
            item = self.conversation.retrieve(event.item_id)
            await self.link.emit(ConversationItemRetrievedEvent, item=item)
        elif isinstance(event, ConversationItemDeleteEvent):
            self.conversation.delete(event.item_id)
            await self.link.emit(ConversationItemDeletedEvent, item_id=event.item_id)
        elif isinstance(event, ConversationItemTruncateEvent):
            await self._truncate(event)
        elif isinstance(event, ResponseCreateEvent):
            params = validate_response_params(raw.get("response"))
            await self.create_response(params)
        elif isinstance(event, ResponseCancelEvent):
            await self._cancel(event.response_id)

    # -- session ------------------------------------------------------------------------

    async def _session_update(self, raw: dict[str, Any]) -> None:
        update = raw.get("session")
        self.config = apply_session_update(
            self.config, update, has_assistant_audio=self.conversation.has_assistant_audio()
        )
        await self.link.emit(SessionUpdatedEvent, session=self.config)

    @property
    def input_format(self) -> str:
        return str(self.config["audio"]["input"]["format"]["type"])

    @property
    def input_rate(self) -> int:
        return 24000 if self.input_format == "audio/pcm" else 8000

    def rate_limit(self) -> dict[str, Any]:
        return {
            "name": "tokens",
            "limit": _RATE_LIMIT_TOKENS,
            "remaining": max(0, _RATE_LIMIT_TOKENS - self.tokens_used),
            "reset_seconds": 0.001,
        }

    # -- input audio --------------------------------------------------------------------

    def _turn_detection(self) -> dict[str, Any] | None:
        turn = self.config["audio"]["input"].get("turn_detection")
        return turn if isinstance(turn, dict) else None

    async def _append(self, audio: str) -> None:
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(
                "invalid_value",
                "Invalid 'audio': expected base64-encoded audio data.",
                "audio",
            ) from exc
        self.link.record.input_audio_bytes += len(data)
        turn = self._turn_detection()
        if turn is None:
            self._speech_item = None
        for change in self.input.append(data, self.input_format, turn):
            if change.kind == "start":
                await self._speech_started(change.sample)
            else:
                await self._speech_stopped(change.sample)

    async def _clear(self) -> None:
        self.input.clear()
        self._speech_item = None
        await self.link.emit(InputAudioBufferClearedEvent)

    async def _speech_started(self, sample: int) -> None:
        self._disarm_idle()
        sample = max(sample, self.input.start)
        self._speech_item = self.link.ids.make("item_")
        self._speech_start = sample
        await self.link.emit(
            InputAudioBufferSpeechStartedEvent,
            audio_start_ms=self.input.ms(sample),
            item_id=self._speech_item,
        )
        turn = self._turn_detection() or {}
        active = self.active
        if active is not None and turn.get("interrupt_response", True):
            active.cancel("turn_detected")
            await active.done.wait()

    async def _speech_stopped(self, sample: int) -> None:
        item_id = self._speech_item or self.link.ids.make("item_")
        self._speech_item = None
        await self.link.emit(
            InputAudioBufferSpeechStoppedEvent,
            audio_end_ms=self.input.ms(sample),
            item_id=item_id,
        )
        await self._commit(item_id, start=self._speech_start, end=sample)
        turn = self._turn_detection() or {}
        if not self.transcription and turn.get("create_response", True) and self.active is None:
            await self.create_response({})

    async def _commit_manually(self) -> None:
        buffered_ms = self.input.buffered_ms()
        if buffered_ms < _MIN_COMMIT_MS:
            raise ApiError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least"
                f" {_MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
            )
        item_id = self._speech_item or self.link.ids.make("item_")
        self._speech_item = None
        self.input.reset_vad()
        await self._commit(item_id, start=self.input.start, end=self.input.end)

    async def _commit(self, item_id: str, *, start: int, end: int) -> None:
        audio = self.input.take(start, end)
        previous = self.conversation.last_id()
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [
                {
                    "type": "input_audio",
                    "audio": base64.b64encode(audio).decode("ascii"),
                    "transcript": None,
                }
            ],
        }
        await self.link.emit(
            InputAudioBufferCommittedEvent, previous_item_id=previous, item_id=item_id
        )
        previous = self.conversation.insert(item)
        shown = public_item(item)
        await self.link.emit(ConversationItemAddedEvent, previous_item_id=previous, item=shown)
        await self.link.emit(ConversationItemDoneEvent, previous_item_id=previous, item=shown)
        settings = self.config["audio"]["input"].get("transcription")
        if settings is not None:
            await self._transcribe(item_id, audio, str(settings.get("model") or ""))

    def transcription_of(self, item_id: str, audio: bytes, model: str) -> Transcription:
        """The input transcription of a committed item (a phone call's caller knows its words)."""
        return transcribe(audio, self.input_format, model)

    async def _transcribe(self, item_id: str, audio: bytes, model: str) -> None:
        result = self.transcription_of(item_id, audio, model)
        logprobs = "item.input_audio_transcription.logprobs" in (self.config.get("include") or [])
        for delta in result.deltas:
            extra: dict[str, Any] = {"obfuscation": self.link.ids.obfuscation(delta)}
            if logprobs:
                extra["logprobs"] = [_logprob(delta)]
            await self.link.emit(
                InputAudioTranscriptionDeltaEvent,
                item_id=item_id,
                content_index=0,
                delta=delta,
                **extra,
            )
        completed: dict[str, Any] = {}
        if logprobs:
            completed["logprobs"] = [_logprob(delta) for delta in result.deltas]
        await self.link.emit(
            InputAudioTranscriptionCompletedEvent,
            item_id=item_id,
            content_index=0,
            transcript=result.transcript,
            usage=result.usage,
            **completed,
        )
        stored = self.conversation.get(item_id)
        if stored is not None:
            content = [dict(part) for part in stored.data["content"]]
            content[0]["transcript"] = result.transcript
            self.conversation.replace({**stored.data, "content": content})

    # -- idle timeout (server_vad idle_timeout_ms) ---------------------------------------

    def arm_idle(self, playback_ms: int) -> None:
        """Start the idle timer: response audio plays for ``playback_ms``, then the wait."""
        turn = self._turn_detection()
        if turn is None or turn.get("type") != "server_vad" or self._idle_scope is None:
            return
        idle_ms = turn.get("idle_timeout_ms")
        if idle_ms:
            self._idle_scope.deadline = trio.current_time() + (playback_ms + idle_ms) / 1000

    def _disarm_idle(self) -> None:
        if self._idle_scope is not None:
            self._idle_scope.deadline = math.inf

    async def _idle_watch(self) -> None:
        while True:
            with trio.CancelScope() as self._idle_scope:
                await trio.sleep_forever()
            self._idle_scope = None
            if self.active is None and self._speech_item is None:
                await self._idle_timeout()

    async def _idle_timeout(self) -> None:
        item_id = self.link.ids.make("item_")
        await self.link.emit(
            InputAudioBufferTimeoutTriggeredEvent,
            audio_start_ms=self.input.ms(self.input.start),
            audio_end_ms=self.input.ms(self.input.end),
            item_id=item_id,
        )
        self.input.reset_vad()
        await self._commit(item_id, start=self.input.start, end=self.input.end)
        turn = self._turn_detection() or {}
        if turn.get("create_response", True) and self.active is None:
            await self.create_response({})

    # -- conversation -------------------------------------------------------------------

    async def _create_item(self, raw: dict[str, Any]) -> None:
        kind = raw["item"].get("type")
        if kind == "item_reference" or kind not in (
            "message",
            "function_call",
            "function_call_output",
            "mcp_approval_response",
        ):
            supported = ("message", "function_call", "function_call_output")
            raise ApiError.invalid_value(kind, supported, "item.type")
        item = validate_item(raw["item"])
        if kind == "function_call_output":
            call_id = item.get("call_id")
            if not any(
                stored.data.get("type") == "function_call" and stored.data.get("call_id") == call_id
                for stored in self.conversation.items()
            ):
                raise ApiError(
                    "invalid_tool_call_id",
                    f"Tool call ID '{call_id}' not found in conversation.",
                )
        item.setdefault("id", self.link.ids.make("item_"))
        item.setdefault("status", "completed")
        previous = self.conversation.insert(item, raw.get("previous_item_id"))
        shown = public_item(item)
        await self.link.emit(ConversationItemAddedEvent, previous_item_id=previous, item=shown)
        await self.link.emit(ConversationItemDoneEvent, previous_item_id=previous, item=shown)

    async def _truncate(self, event: ConversationItemTruncateEvent) -> None:
        output = self.config["audio"]["output"]["format"]["type"]
        self.conversation.truncate(
            event.item_id, event.content_index, event.audio_end_ms, bytes_per_ms(output)
        )
        for run in self.running.values():
            if any(item["id"] == event.item_id for item in run.output):
                run.wake()
        await self.link.emit(
            ConversationItemTruncatedEvent,
            item_id=event.item_id,
            content_index=event.content_index,
            audio_end_ms=event.audio_end_ms,
        )

    def context_items(self) -> list[dict[str, Any]]:
        """The conversation as the model sees it now."""
        return [stored.data for stored in self.conversation.items()]

    def user_content(self, item: dict[str, Any]) -> tuple[str | None, npt.NDArray[np.int16] | None]:
        """A user message's text and its audio as PCM16 at 24 kHz."""
        texts: list[str] = []
        audio: list[npt.NDArray[np.int16]] = []
        for part in item.get("content") or ():
            if not isinstance(part, dict):
                continue
            if part.get("type") == "input_text" and part.get("text"):
                texts.append(str(part["text"]))
            elif part.get("type") == "input_audio" and part.get("audio") is not None:
                data = base64.b64decode(str(part["audio"]))
                samples = decode_input_audio(data, self.input_format)
                if self.input_rate != 24000 and samples.size:
                    from ..audio import resample

                    samples = resample(samples, self.input_rate, 24000)
                audio.append(samples)
        joined = np.concatenate(audio) if audio else None
        return (" ".join(texts) if texts else None), joined

    # -- responses ----------------------------------------------------------------------

    async def create_response(self, params: dict[str, Any]) -> None:
        """Start a response (in the background); at most one in the default conversation."""
        if self.transcription:
            raise ApiError(
                "invalid_value",
                "Responses are not supported in transcription sessions.",
                "type",
            )
        conversation = params.get("conversation", "auto")
        if conversation not in ("auto", "none"):
            raise ApiError.invalid_value(conversation, ("auto", "none"), "response.conversation")
        context = self._response_input(params["input"]) if "input" in params else None
        if conversation == "auto" and self.active is not None:
            raise ApiError(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress:"
                f" {self.active.id}. Wait until the response is finished before creating a new"
                " one.",
            )
        run = ResponseRun(self, params, context=context)
        if run.in_conversation:
            self.active = run
        self.running[run.id] = run
        self._disarm_idle()
        try:
            await run.announce()
        finally:
            self.link.nursery.start_soon(run.run)

    def _response_input(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        context: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if item.get("type") == "item_reference":
                stored = self.conversation.get(str(item.get("id")))
                if stored is None:
                    raise ApiError(
                        "invalid_value",
                        f"Item with id '{item.get('id')}' not found in the conversation.",
                        f"response.input[{index}].id",
                    )
                context.append(stored.data)
            else:
                context.append({"id": self.link.ids.make("item_"), **item})
        return context

    def response_finished(self, run: ResponseRun) -> None:
        """Called by a run once its ``response.done`` is queued (and again at its end)."""
        if self.running.pop(run.id, None) is None:
            return
        self.tokens_used += run.total_tokens
        if self.active is run:
            self.active = None
            if run.cancel_reason is None:
                self.arm_idle(run.output_audio_ms)

    async def _cancel(self, response_id: str | None) -> None:
        run = self.running.get(response_id) if response_id else self.active
        if run is None or run.cancel_reason is not None:
            raise ApiError(
                "response_cancel_not_active", "Cancellation failed: no active response found"
            )
        run.cancel("client_cancelled")
        await run.done.wait()


def _logprob(token: str) -> dict[str, Any]:
    return {"token": token, "logprob": -0.01, "bytes": list(token.encode("utf-8"))}
