"""What the CLI shows besides replies: a progress line on a terminal, and usage at the end."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from .._prices import ModelPrice
from .._usage import SessionUsage, TokenUsage

__all__ = ["Progress", "Reporting", "print_json", "print_usage", "usage_lines"]

REDRAW_EVERY_S = 0.1
"""The progress line is redrawn at most this often (seconds of wall time)."""
_CLEAR_LINE = "\r\x1b[K"


class Progress:
    """One status line on a terminal: audio sent (of the total), received, sending speed.

    Shown only when ``err`` is a terminal and ``enabled``; otherwise every method is a
    no-op, so pipes and ``--json`` output stay clean. Text the command streams to ``out``
    goes through :meth:`text`: when ``out`` shares the terminal, it is written in whole
    lines above the status line instead of being overwritten by it.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        total_s: float,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.err = err
        self.total_s = total_s
        self.shown = enabled and err.isatty()
        self.sent_s = 0.0
        self.received_s: float | None = None
        self._clock = clock
        self._started = self._sent_at = clock()
        self._drawn_at: float | None = None
        self._pending = ""
        self._lines = self.shown and out.isatty()
        self._line_open = False

    def sent(self, seconds: float) -> None:
        """Count ``seconds`` more of audio sent."""
        self.sent_s += seconds
        self._sent_at = self._clock()
        self._draw()

    def received(self, seconds: float) -> None:
        """Count ``seconds`` more of audio received."""
        self.received_s = (self.received_s or 0.0) + seconds
        self._draw()

    def text(self, delta: str) -> None:
        """Stream reply text to ``out`` without tangling it with the status line."""
        if not self._lines:
            self.out.write(delta)
            self.out.flush()
            self._line_open = not delta.endswith("\n") if delta else self._line_open
            return
        self._pending += delta
        if "\n" in self._pending:
            done, self._pending = self._pending.rsplit("\n", 1)
            self._above(done)
        width = shutil.get_terminal_size().columns - 1
        while len(self._pending) > width:
            cut = self._pending.rfind(" ", 0, width + 1)
            cut = cut if cut > 0 else width
            self._above(self._pending[:cut])
            self._pending = self._pending[cut:].lstrip(" ")

    def line(self) -> str:
        """The status line's text."""
        elapsed = max(self._sent_at - self._started, 1e-6)
        parts = [f"sent {self.sent_s:.1f}/{self.total_s:.1f} s"]
        if self.received_s is not None:
            parts.append(f"received {self.received_s:.1f} s")
        parts.append(f"sending at {self.sent_s / elapsed:.1f}x real time")
        return "  ".join(parts)

    def finish(self) -> None:
        """End the streamed text's last line, then draw the final figures and end the line."""
        if self._pending:
            self._above(self._pending)
            self._pending = ""
        elif self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False
        if self.shown:
            self._draw(force=True)
            self.err.write("\n")
            self.err.flush()
            self.shown = False

    def _above(self, text: str) -> None:
        self.err.write(_CLEAR_LINE)
        self.err.flush()
        self.out.write(text + "\n")
        self.out.flush()
        self._draw(force=True)

    def _draw(self, *, force: bool = False) -> None:
        if not self.shown:
            return
        now = self._clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_EVERY_S:
            return
        self._drawn_at = now
        self.err.write(f"{_CLEAR_LINE}{self.line()}")
        self.err.flush()


@dataclass(frozen=True)
class Reporting:
    """Where a file command reports: for people on ``err``, or one JSON object on ``out``.

    With ``as_json``, messages and progress are silent and the result, with its usage,
    is printed as one JSON object at the end.
    """

    out: TextIO
    err: TextIO
    as_json: bool = False
    prices: Mapping[str, ModelPrice] | None = None

    def note(self, text: str) -> None:
        """A message for people (silent under ``--json``)."""
        if not self.as_json:
            print(text, file=self.err)

    def progress(self, total_s: float) -> Progress:
        """A progress line for ``total_s`` seconds of audio (none under ``--json``)."""
        return Progress(self.out, self.err, total_s, enabled=not self.as_json)

    def text(self, progress: Progress, delta: str) -> None:
        """Reply text as it streams (not under ``--json``: it is in the result)."""
        if not self.as_json:
            progress.text(delta)

    def result(self, command: str, usage: SessionUsage, **fields: Any) -> None:
        """End the command: the usage on ``err``, or the result and usage as JSON."""
        if self.as_json:
            print_json(
                self.out, {"command": command, **fields, "usage": usage.to_dict(self.prices)}
            )
        else:
            print_usage(usage, self.prices, self.err)


def _describe(usage: TokenUsage) -> str:
    parts = []
    if usage.requests:
        parts.append(f"{usage.requests} report{'s' * (usage.requests != 1)}")
    if usage.total_tokens or usage.input_tokens or usage.output_tokens:
        image = f", {usage.input_image_tokens} image" if usage.input_image_tokens else ""
        parts.append(
            f"{usage.input_tokens} tokens in ({usage.input_text_tokens} text,"
            f" {usage.input_audio_tokens} audio{image}; {usage.cached_tokens} cached)"
        )
        parts.append(
            f"{usage.output_tokens} out ({usage.output_text_tokens} text,"
            f" {usage.output_audio_tokens} audio)"
        )
    if usage.seconds:
        parts.append(f"{usage.seconds:.1f} s of audio")
    return ", ".join(parts) or "nothing"


def usage_lines(usage: SessionUsage, prices: Mapping[str, ModelPrice] | None = None) -> list[str]:
    """The usage as lines for people: tokens per model, then the cost estimate if priced."""
    if not usage.by_model:
        return ["usage: none reported"]
    lines = [f"usage: {model}: {_describe(u)}" for model, u in usage.by_model.items()]
    if prices is not None:
        estimate = usage.cost(prices)
        note = "" if estimate.complete else f" (not priced: {', '.join(estimate.unpriced)})"
        lines.append(f"cost: ${estimate.usd:.6f} estimated{note}")
    return lines


def print_usage(
    usage: SessionUsage,
    prices: Mapping[str, ModelPrice] | None,
    err: TextIO,
) -> None:
    """Print the usage (and cost) for people, on ``err``."""
    for line in usage_lines(usage, prices):
        print(line, file=err)


def print_json(out: TextIO, data: Mapping[str, Any]) -> None:
    """One JSON object on its own line."""
    out.write(json.dumps(data) + "\n")
    out.flush()
