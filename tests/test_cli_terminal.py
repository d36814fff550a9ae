"""The CLI at a terminal: chat survives mistakes and Ctrl-C, file commands show progress.

Each test runs ``trio-realtime`` on a pseudo-terminal and types into it, so Ctrl-C is
the terminal's own SIGINT and the progress line sees a real terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from trio_realtime import audio
from trio_realtime.testing import (
    BrainReply,
    BrainRequest,
    Emulator,
    default_brain,
    run_emulator_in_thread,
)

from ._terminal import WAIT, Terminal, clean_env, cli

pytestmark = pytest.mark.skipif(not hasattr(os, "forkpty"), reason="no pseudo-terminals")


class _SlowBrain:
    """Answers like the default model, but never finishes a reply to "slow"."""

    def __init__(self) -> None:
        self.thinking = threading.Event()
        """Set once a slow reply is under way (its response exists)."""

    async def __call__(self, request: BrainRequest) -> BrainReply:
        if request.user_text and "slow" in request.user_text:
            self.thinking.set()
            await trio.sleep_forever()  # until the response is cancelled
        return default_brain(request)


@pytest.fixture
def brain() -> _SlowBrain:
    return _SlowBrain()


@pytest.fixture
def emulator(brain: _SlowBrain) -> Iterator[Emulator]:
    with run_emulator_in_thread(brain=brain) as emulator:
        yield emulator


@pytest.fixture
def chat(emulator: Emulator) -> Iterator[Terminal]:
    terminal = Terminal(cli("chat", "--url", emulator.url, "--api-key", "sk-test"), env=clean_env())
    try:
        terminal.expect("/help lists the commands")
        terminal.expect("you: ")
        yield terminal
    finally:
        terminal.close()


def test_a_bad_audio_path_is_reported_and_the_chat_goes_on(chat: Terminal) -> None:
    chat.send(b"/audio examples/nonexist.wav\r")
    chat.expect(r"error: cannot read examples/nonexist\.wav: No such file or directory")
    chat.expect("you: ")
    chat.send(b"hello after the mistake\r")
    chat.expect("assistant: You said: hello after the mistake")
    chat.send(b"/help\r")
    for command in ("/audio FILE.wav", "/usage", "/help", "/quit"):
        chat.expect(command)
    chat.send(b"/quit\r")
    assert chat.wait() == 0
    assert "usage: gpt-realtime: 1 report" in chat.text


def test_a_file_that_is_not_a_wav_is_reported_and_the_chat_goes_on(
    chat: Terminal, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio")
    chat.send(f"/audio {notes}\r".encode())
    chat.expect("is not a usable WAV file")
    chat.send(b"still here?\r")
    chat.expect("assistant: You said: still here\\?")
    chat.send(b"\x04")  # Ctrl-D at the prompt ends the chat
    assert chat.wait() == 0
    assert "usage: gpt-realtime" in chat.text


def test_ctrl_c_during_a_reply_stops_it_and_the_next_message_works(
    chat: Terminal, emulator: Emulator, brain: _SlowBrain
) -> None:
    chat.send(b"tell me something slow\r")
    chat.expect("assistant: ")
    assert brain.thinking.wait(WAIT), "the slow reply never started"
    chat.send(b"\x03")  # Ctrl-C while the reply is in progress
    chat.expect(r"\[stopped\]")
    chat.expect("you: ")
    chat.send(b"and now quickly\r")
    chat.expect("assistant: You said: and now quickly")
    chat.expect("you: ")
    chat.send(b"\x03")  # Ctrl-C at the prompt ends the chat
    assert chat.wait() == 0
    connection = emulator.connections[0]
    assert "response.cancel" in [event.type for event in connection.received]
    done = [e["response"]["status"] for e in connection.sent if e["type"] == "response.done"]
    assert done == ["cancelled", "completed"]
    assert "usage: gpt-realtime: 2 reports" in chat.text  # the stopped reply and the next


@pytest.fixture(scope="module")
def minute_of_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "minute.wav"
    audio.write_wav(path, audio.voice_like(60_000, sample_rate=16000), 16000)
    return path


def test_speak_shows_progress_on_a_terminal(minute_of_speech: Path, tmp_path: Path) -> None:
    terminal = Terminal(
        cli("speak", str(minute_of_speech), "-o", str(tmp_path / "reply.wav")), env=clean_env()
    )
    try:
        terminal.expect(r"sent 60\.0/60\.0 s  received \d+\.\d s  sending at \d+\.\dx real time")
        assert terminal.wait() == 0
    finally:
        terminal.close()
    assert "I heard 60.0 seconds of audio." in terminal.text
    assert "usage: gpt-realtime: 1 report" in terminal.text
    assert terminal.text.count("\r\x1b[K") >= 1  # redrawn in place, one line


def test_speak_shows_no_progress_under_json(minute_of_speech: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.wav"
    terminal = Terminal(
        cli("speak", str(minute_of_speech), "-o", str(reply), "--json"), env=clean_env()
    )
    try:
        assert terminal.wait() == 0
    finally:
        terminal.close()
    assert "sent " not in terminal.text and "real time" not in terminal.text
    assert "\x1b[K" not in terminal.text
    result = json.loads(terminal.text)
    assert result["command"] == "speak" and result["output"] == str(reply)
    assert result["transcript"] == "I heard 60.0 seconds of audio."
    assert result["usage"]["by_model"]["gpt-realtime"]["input_audio_tokens"] > 0


def test_speak_in_a_pipe_shows_no_progress(minute_of_speech: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        cli("speak", str(minute_of_speech), "-o", str(tmp_path / "reply.wav")),
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    assert "real time" not in result.stderr and "\r" not in result.stderr
    assert "usage: gpt-realtime: 1 report" in result.stderr
