"""``trio-realtime chat``: a text chat in the terminal that survives mistakes.

A command's error (a missing or unreadable file, a wrong format, an unknown command) is
printed and the chat goes on; a server ``error`` event is shown inline. Ctrl-C during a
reply cancels that reply and keeps the session; Ctrl-C at the prompt, Ctrl-D or
``/quit`` ends the chat, and the usage is printed.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TextIO

import trio

from .. import audio, events as ev
from .._connect import open_realtime_session
from .._prices import ModelPrice
from .._session import RealtimeSession
from .._usage import SessionUsage
from ._commands import target
from ._report import print_usage, usage_lines

__all__ = ["CANCEL_TIMEOUT", "COMMANDS", "chat"]

CANCEL_TIMEOUT = 5.0
"""Seconds an interrupted reply may take to end before the chat moves on regardless."""

COMMANDS: Mapping[str, str] = {
    "/audio FILE.wav": "send a WAV recording (any rate, channels, width) as your turn",
    "/usage": "show the tokens used so far (and the cost, with --prices)",
    "/help": "list these commands",
    "/quit": "end the chat (also Ctrl-D, or Ctrl-C at the prompt)",
}
"""The chat's commands and what each does (``/help`` prints them)."""

_HELP = "\n".join(
    [
        *(f"  {name:<17} {what}" for name, what in COMMANDS.items()),
        "  Ctrl-C            during a reply: stop the reply (the chat goes on)",
    ]
)


class ChatError(Exception):
    """A chat command could not run; printed, and the chat goes on."""


class _Chat:
    """One chat: its session, where it prints, and the reply an interrupt would cancel."""

    def __init__(
        self,
        session: RealtimeSession,
        out: TextIO,
        err: TextIO,
        prices: Mapping[str, ModelPrice] | None,
    ) -> None:
        self.session = session
        self.out = out
        self.err = err
        self.prices = prices
        self.reply_scope: trio.CancelScope | None = None

    async def watch_interrupts(self, chat_scope: trio.CancelScope) -> None:
        """Ctrl-C: cancel the reply in progress, or end the chat at the prompt."""
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            async for _ in signals:
                if self.reply_scope is not None:
                    self.reply_scope.cancel("Ctrl-C during a reply")
                else:
                    chat_scope.cancel("Ctrl-C at the prompt")

    async def handle(self, text: str) -> bool:
        """Run one line; False when the chat should end."""
        if text in ("/quit", "/exit"):
            return False
        try:
            if text == "/help":
                print(_HELP, file=self.err)
            elif text == "/usage":
                for line in usage_lines(self.session.usage(), self.prices):
                    print(line, file=self.err)
            elif text == "/audio" or text.startswith("/audio "):
                await self._send_audio(text.removeprefix("/audio").strip())
                await self.reply()
            elif text.startswith("/"):
                name = text.split(" ", 1)[0]
                raise ChatError(f"unknown command {name}; /help lists the commands")
            else:
                await self.session.send_user_message(text, cancel_active=True)
                await self.reply()
        except ChatError as exc:
            print(f"error: {exc}", file=self.err)
        return True

    async def _send_audio(self, name: str) -> None:
        if not name:
            raise ChatError("/audio needs a file: /audio FILE.wav")
        try:
            samples, rate = audio.read_wav(Path(name))
        except OSError as exc:
            raise ChatError(f"cannot read {name}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise ChatError(f"{name} is not a usable WAV file: {exc}") from exc
        await self.session.append_audio(samples, sample_rate=rate)
        await self.session.commit_audio()
        await self.session.create_response(cancel_active=True)

    async def reply(self) -> None:
        """Stream the reply; Ctrl-C cancels it (here and on the server)."""
        self.out.write("assistant: ")
        self.out.flush()
        with trio.CancelScope() as scope:
            self.reply_scope = scope
            try:
                await self._stream_reply()
            finally:
                self.reply_scope = None
        if scope.cancelled_caught:
            self.out.write(" [stopped]")
            await self._end_stopped_reply()
        self.out.write("\n")
        self.out.flush()

    async def _stream_reply(self) -> None:
        async for event in self.session:
            if isinstance(event, ev.ResponseTextDeltaEvent | ev.ResponseAudioTranscriptDeltaEvent):
                self.out.write(event.delta)
                self.out.flush()
            elif isinstance(event, ev.ErrorEvent):
                self.out.write(f"[error: {event.error.message}] ")
                self.out.flush()
            elif isinstance(event, ev.ResponseDoneEvent):
                return

    async def _end_stopped_reply(self) -> None:
        """Cancel the stopped response and read up to its end, so the next reply is clean."""
        with trio.move_on_after(CANCEL_TIMEOUT):
            # The session knows of a response once its reader has it, maybe before this
            # loop reads its response.created: cancel each response once, else the second
            # cancel's error ("no active response") lands in the next reply.
            cancelled = self.session.active_response_id
            if cancelled is not None:
                await self.session.cancel_response(cancelled)
            async for event in self.session:
                created = event.response.id if isinstance(event, ev.ResponseCreatedEvent) else None
                if created and created != cancelled:
                    await self.session.cancel_response(created)
                elif isinstance(event, ev.ResponseDoneEvent):
                    return


async def chat(
    *,
    url: str | None = None,
    api_key: str | None = None,
    model: str = "gpt-realtime",
    emulator: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
    lines: AsyncIterator[str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> SessionUsage:
    """An interactive text chat (see the module docstring); returns the usage.

    Reads ``lines`` (default: standard input). Must run in the main thread (it handles
    SIGINT itself while the session is open).
    """
    config = ev.SessionConfig(output_modalities=["text"])
    prompt = lines is None and sys.stdin.isatty()
    async with target(url, api_key, force_emulator=emulator) as where:
        print(f"chatting with {where.describe()}; /help lists the commands", file=err)
        async with open_realtime_session(
            model, url=where.url, api_key=where.api_key, session=config
        ) as session:
            state = _Chat(session, out, err, prices)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(state.watch_interrupts, nursery.cancel_scope)
                if prompt:
                    _prompt(out)
                async for line in lines if lines is not None else _stdin_lines():
                    text = line.strip()
                    if text and not await state.handle(text):
                        break
                    if prompt:
                        _prompt(out)
                nursery.cancel_scope.cancel("the chat ended")
            if prompt:
                out.write("\n")
        usage = session.usage()
    print_usage(usage, prices, err)
    return usage


def _prompt(out: TextIO) -> None:
    out.write("you: ")
    out.flush()


async def _stdin_lines() -> AsyncIterator[str]:
    while True:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        yield line
