"""chat, speak and events, as a user runs them (no key: the embedded emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import trio_realtime as rt
from trio_realtime import audio


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-m", "trio_realtime", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_chat_answers_each_line_and_sends_audio_files(tmp_path: Path) -> None:
    wav = tmp_path / "hello.wav"
    audio.write_wav(wav, audio.voice_like(800), 24000)
    result = run("chat", stdin=f"hello there\n/audio {wav}\n/quit\n")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("assistant:")]
    assert len(lines) == 2
    assert "hello there" in lines[0]
    assert "seconds of audio" in lines[1]


def test_chat_shows_a_server_error_inline_and_goes_on(tmp_path: Path) -> None:
    short = tmp_path / "short.wav"
    audio.write_wav(short, audio.voice_like(20), 24000)  # under the service's 100 ms minimum
    result = run("chat", stdin=f"/audio {short}\nstill there?\n")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("assistant:")]
    assert len(lines) == 2
    assert "[error: Error committing input audio buffer: buffer too small." in lines[0]
    assert "You said: still there?" in lines[1]
    assert "usage: gpt-realtime: 2 reports" in result.stderr


def test_chat_ends_at_end_of_input() -> None:
    result = run("chat", stdin="one\n")
    assert result.returncode == 0, result.stderr
    assert "one" in result.stdout


def test_speak_writes_the_spoken_reply(tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    audio.write_wav(question, audio.voice_like(1200, sample_rate=16000), 16000)
    reply = tmp_path / "reply.wav"
    result = run("speak", str(question), "-o", str(reply))
    assert result.returncode == 0, result.stderr
    assert "seconds of audio" in result.stdout  # the transcript of the reply
    samples, rate = audio.read_wav(reply)
    assert rate == 24000 and len(samples) > 24000 // 2


def test_events_prints_json_lines_and_records_both_directions(tmp_path: Path) -> None:
    out = tmp_path / "call.jsonl"
    result = run("events", "-m", "Say hi", "-o", str(out))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["type"] == "session.created"
    assert events[-1]["type"] == "response.done"
    recording = rt.read_recording(out)
    assert {entry.dir for entry in recording.entries} == {"send", "recv", "close"}
    assert "sk-local" not in out.read_text()


@pytest.mark.parametrize(
    "command", ["demo", "chat", "serve", "speak", "translate", "transcribe", "events"]
)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout or "e.g." in result.stdout
