"""``trio-realtime demo``: a real conversation through the library, in one command.

Without an API key it starts the embedded emulator in-process; with one it talks to the
real service (and says so). Five scenes: a text exchange, a spoken turn with server VAD,
a function call round trip, a barge-in, and a short translation; every event is printed
in a compact form, and a summary closes the run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np
import trio

from .. import audio, events as ev
from .._connect import open_realtime_session
from .._prices import ModelPrice
from .._session import RealtimeSession
from .._translation import TranslationResult, open_translation_session
from .._usage import SessionUsage
from ._commands import target
from ._report import usage_lines

__all__ = ["DemoSummary", "run_demo"]

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@dataclass
class DemoSummary:
    """What the demo measured."""

    events: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    first_delta_ms: list[float] = field(default_factory=list)
    round_trips_ms: list[float] = field(default_factory=list)
    scenes: list[str] = field(default_factory=list)
    usage: SessionUsage = field(default_factory=SessionUsage)
    """The tokens (and translation audio) used, per model."""


class _Printer:
    """Prints events compactly: one line each, text deltas streamed inline."""

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self._inline = False
        self._audio_chunks = 0

    def scene(self, title: str) -> None:
        self._end_inline()
        if not self.as_json:
            self.out.write(f"\n== {title} ==\n")

    def event(self, event: ev.RealtimeEvent) -> None:
        if self.as_json:
            data = event.to_dict()
            for key in ("audio", "delta"):
                if key in data and "audio" in event.type:
                    data[key] = f"<{len(data[key]) * 3 // 4} bytes>"
            self.out.write(json.dumps(data) + "\n")
            return
        if isinstance(event, ev.ResponseTextDeltaEvent | ev.ResponseAudioTranscriptDeltaEvent):
            if not self._inline:
                self.out.write("  assistant: ")
                self._inline = True
            self.out.write(event.delta)
        elif isinstance(event, ev.ResponseAudioDeltaEvent):
            self._audio_chunks += 1
        elif isinstance(event, ev.TranslationOutputTranscriptDeltaEvent):
            if not self._inline:
                self.out.write("  translation: ")
                self._inline = True
            self.out.write(event.delta)
        elif isinstance(
            event, ev.TranslationOutputAudioDeltaEvent | ev.TranslationInputTranscriptDeltaEvent
        ):
            pass
        else:
            self._end_inline()
            self.out.write(f"  {event.type}{_detail(event)}\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self._end_inline()
        if not self.as_json:
            self.out.write(f"  {text}\n")

    def _end_inline(self) -> None:
        if self._inline:
            self.out.write("\n")
            self._inline = False
        if self._audio_chunks:
            self.out.write(f"  ({self._audio_chunks} audio chunks)\n")
            self._audio_chunks = 0


def _detail(event: ev.RealtimeEvent) -> str:
    if isinstance(event, ev.ResponseDoneEvent):
        return f" status={event.response.status}"
    if isinstance(event, ev.ResponseFunctionCallArgumentsDoneEvent):
        return f" {event.name}({event.arguments})"
    if isinstance(event, ev.InputAudioBufferSpeechStartedEvent):
        return f" at {event.audio_start_ms} ms"
    if isinstance(event, ev.InputAudioBufferSpeechStoppedEvent):
        return f" at {event.audio_end_ms} ms"
    if isinstance(event, ev.ConversationItemTruncatedEvent):
        return f" at {event.audio_end_ms} ms"
    if isinstance(event, ev.ErrorEvent):
        return f" {event.error.code}: {event.error.message}"
    if isinstance(event, ev.InputAudioTranscriptionCompletedEvent):
        return f" {event.transcript!r}"
    return ""


async def _until_done(
    session: RealtimeSession, printer: _Printer, summary: DemoSummary, started: float
) -> ev.ResponseDoneEvent:
    first = True
    async for event in session:
        summary.events += 1
        printer.event(event)
        if first and isinstance(
            event,
            ev.ResponseTextDeltaEvent
            | ev.ResponseAudioDeltaEvent
            | ev.ResponseAudioTranscriptDeltaEvent,
        ):
            summary.first_delta_ms.append((trio.current_time() - started) * 1000)
            first = False
        if isinstance(event, ev.ResponseDoneEvent):
            summary.round_trips_ms.append((trio.current_time() - started) * 1000)
            return event
    raise RuntimeError("the session ended before the response was done")  # pragma: no cover


async def _text_scene(session: RealtimeSession, printer: _Printer, summary: DemoSummary) -> None:
    printer.scene("1. Text: send a message, stream the reply")
    printer.note("user: Say hello in five words")
    started = trio.current_time()
    await session.send_user_message("Say hello in five words")
    await _until_done(session, printer, summary, started)


async def _voice_scene(session: RealtimeSession, printer: _Printer, summary: DemoSummary) -> None:
    printer.scene("2. Voice: 1.5 s of speech-like audio, server VAD ends the turn")
    speech = np.concatenate([audio.silence(200), audio.voice_like(1500), audio.silence(800)])
    started = trio.current_time()
    await session.append_audio(speech)
    await _until_done(session, printer, summary, started)


async def _tool_scene(session: RealtimeSession, printer: _Printer, summary: DemoSummary) -> None:
    printer.scene("3. Tools: the model calls get_weather, we answer, it replies")
    await session.update_session(tools=[WEATHER_TOOL], tool_choice="auto")
    printer.note("user: What does get_weather say for Paris?")
    started = trio.current_time()
    await session.send_user_message("What does get_weather say for Paris?")
    done = await _until_done(session, printer, summary, started)
    for item in done.response.output or []:
        if isinstance(item, ev.FunctionCallItem) and item.call_id:
            printer.note(f"tool: get_weather -> {{'temp_c': 18}} for call {item.call_id}")
            started = trio.current_time()
            await session.send_function_output(item.call_id, {"temp_c": 18}, create_response=True)
            await _until_done(session, printer, summary, started)
    await session.update_session(tools=[], tool_choice="auto")


async def _barge_in_scene(
    session: RealtimeSession, printer: _Printer, summary: DemoSummary
) -> None:
    printer.scene("4. Barge-in: interrupt a spoken reply after 300 ms of playback")
    tracker = audio.PlaybackTracker()
    started = trio.current_time()
    await session.send_user_message("Tell me a long story about the sea")
    async for event in session:
        summary.events += 1
        printer.event(event)
        if isinstance(event, ev.ResponseAudioDeltaEvent):
            tracker.on_audio_received(event.item_id, event.content_index, len(event.audio_bytes()))
            if tracker.received_ms(event.item_id, event.content_index) >= 400:
                tracker.on_played(event.item_id, event.content_index, ms=300)
                break
        if isinstance(event, ev.ResponseDoneEvent):
            break
    point = await session.truncate_to_played(tracker, cancel=True)
    printer.note(f"user interrupts: truncate {point}")
    async for event in session:
        summary.events += 1
        printer.event(event)
        if isinstance(event, ev.ConversationItemTruncatedEvent | ev.ErrorEvent):
            break
    summary.round_trips_ms.append((trio.current_time() - started) * 1000)


async def _translation_scene(
    url: str | None, api_key: str | None, printer: _Printer, summary: DemoSummary
) -> None:
    printer.scene("5. Translation: 2 s of speech to Spanish")
    result = TranslationResult()
    config = {"audio": {"output": {"language": "es"}}}
    started = trio.current_time()
    async with open_translation_session(url=url, api_key=api_key, session=config) as t:

        async def feed() -> None:
            await t.append_audio(audio.voice_like(2000, seed=5))
            await t.close_session()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed)
            async for event in t:
                summary.events += 1
                printer.event(event)
                result.add(event)
        summary.bytes_received += t.statistics().bytes_received
        summary.bytes_sent += t.statistics().bytes_sent
    summary.usage += t.usage()
    printer.note(f"{len(result.audio) / result.sample_rate:.1f} s of translated audio")
    summary.round_trips_ms.append((trio.current_time() - started) * 1000)


async def run_demo(
    *,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-realtime",
    emulator: bool = False,
    as_json: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
    out: TextIO = sys.stdout,
) -> DemoSummary:
    """Run the five scenes and print a summary; returns what was measured."""
    printer = _Printer(out, as_json=as_json)
    summary = DemoSummary()
    async with target(url, api_key, force_emulator=emulator) as where:
        if not as_json:
            out.write(f"trio_realtime demo against {where.describe()}\n")
        async with open_realtime_session(model, url=where.url, api_key=where.api_key) as session:
            for scene in (_text_scene, _voice_scene, _tool_scene, _barge_in_scene):
                await scene(session, printer, summary)
                summary.scenes.append(scene.__name__.strip("_").removesuffix("_scene"))
            stats = session.statistics()
            summary.bytes_received += stats.bytes_received
            summary.bytes_sent += stats.bytes_sent
        summary.usage += session.usage()
        await _translation_scene(where.url, where.api_key, printer, summary)
        summary.scenes.append("translation")
    printer.scene("Summary")
    if as_json:
        data = {**summary.__dict__, "usage": summary.usage.to_dict(prices)}
        out.write(json.dumps({"summary": data}) + "\n")
    else:
        first = ", ".join(f"{ms:.0f}" for ms in summary.first_delta_ms)
        trips = ", ".join(f"{ms:.0f}" for ms in summary.round_trips_ms)
        out.write(
            f"  scenes: {len(summary.scenes)}   events: {summary.events}   "
            f"bytes: {summary.bytes_sent} sent, {summary.bytes_received} received\n"
            f"  time to first delta (ms): {first}\n  round trips (ms): {trips}\n"
        )
        for line in usage_lines(summary.usage, prices):
            out.write(f"  {line}\n")
    return summary
