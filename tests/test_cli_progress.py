"""The CLI's progress line: one line on a terminal, redrawn in place, nothing elsewhere."""

from __future__ import annotations

import io

import pytest

from trio_realtime._cli._report import REDRAW_EVERY_S, Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_line_shows_sent_received_and_speed_redrawn_at_most_every_tenth_second() -> None:
    err, clock = Tty(), Clock()
    progress = Progress(io.StringIO(), err, 60.0, clock=clock)
    for _ in range(10):  # a second of audio sent in 0.05 s: one redraw
        clock.now += 0.005
        progress.sent(0.1)
    assert err.getvalue().count("\r\x1b[K") == 1
    clock.now += REDRAW_EVERY_S
    progress.received(0.5)
    assert progress.line() == "sent 1.0/60.0 s  received 0.5 s  sending at 20.0x real time"
    assert err.getvalue().endswith(progress.line())
    progress.finish()
    assert err.getvalue().endswith(progress.line() + "\n")


def test_nothing_is_shown_in_a_pipe_or_when_disabled() -> None:
    for err, enabled in ((io.StringIO(), True), (Tty(), False)):
        out = io.StringIO()
        progress = Progress(out, err, 10.0, enabled=enabled)
        progress.sent(1.0)
        progress.text("hello ")
        progress.text("world")
        progress.finish()
        assert err.getvalue() == ""
        assert out.getvalue() == "hello world\n"  # streamed as it came, ended by finish()


@pytest.mark.parametrize("columns", [20, 41])
def test_text_on_the_terminal_goes_above_the_line_in_whole_words(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    out, err = Tty(), Tty()
    progress = Progress(out, err, 10.0)
    text = "hola esto es una prueba del emulador de traducción en tiempo real"
    words = text.split(" ")
    for word in words:
        progress.text(word + " ")
    progress.finish()
    lines = out.getvalue().splitlines()
    assert " ".join(lines).split() == words
    assert all(len(line) < columns for line in lines)
