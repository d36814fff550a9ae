"""The audio examples run as a user runs them, against the embedded emulator (no
OPENAI_API_KEY): examples/voice_file.py end to end, examples/microphone.py with its
stand-in devices (--dry-run), stopped by Ctrl-C, and its messages when sounddevice or a
device is missing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from trio_realtime import audio

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 90
"""Seconds a subprocess may take (the dry run takes about 9 s of real time)."""


def offline_env(**extra: str) -> dict[str, str]:
    """The environment without OPENAI_* (no key, no endpoint): the emulator is used."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    env.update(extra)
    return env


def run_example(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env or offline_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_voice_file_generate_writes_a_reply_wav_and_prints_the_transcript(tmp_path: Path) -> None:
    done = run_example(
        [str(EXAMPLES / "voice_file.py"), "demo.wav", "--generate", "-o", "reply.wav"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "local emulator" in done.stderr

    demo, demo_rate = audio.read_wav(tmp_path / "demo.wav")
    assert demo.ndim == 2 and demo_rate != 24000  # the conversion is part of the demo

    reply, rate = audio.read_wav(tmp_path / "reply.wav")
    assert rate == 24000 and reply.ndim == 1
    assert 0.5 < len(reply) / rate < 10
    assert audio.rms_dbfs(reply) > -40  # a voice, not silence

    # The emulator heard the whole demo turn (about 3 s), and said so.
    match = re.search(r"^assistant: I heard (\d+\.\d) seconds of audio\.$", done.stdout, re.M)
    assert match, done.stdout
    assert 2.0 <= float(match.group(1)) <= 4.0
    assert re.search(r"^you: \S+", done.stdout, re.M)
    assert "wrote reply.wav" in done.stderr


def test_voice_file_takes_a_wav_of_another_rate(tmp_path: Path) -> None:
    speech = np.concatenate(
        [audio.voice_like(1800, sample_rate=16000, seed=3), audio.silence(200, sample_rate=16000)]
    )
    audio.write_wav(tmp_path / "mine.wav", speech, 16000)
    done = run_example([str(EXAMPLES / "voice_file.py"), "mine.wav", "-o", "out.wav"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "assistant: I heard" in done.stdout
    reply, rate = audio.read_wav(tmp_path / "out.wav")
    assert rate == 24000 and len(reply) > rate // 2


def test_voice_file_refuses_a_file_that_is_not_a_wav(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not audio")
    done = run_example([str(EXAMPLES / "voice_file.py"), "notes.wav"], tmp_path)
    assert done.returncode == 2
    assert "cannot read notes.wav" in done.stderr
    assert not (tmp_path / "reply.wav").exists()


def test_microphone_dry_run_converses_and_barges_in(tmp_path: Path) -> None:
    done = run_example(
        [
            str(EXAMPLES / "microphone.py"),
            "--dry-run",
            "--seconds",
            "9",
            "--speaker-wav",
            "speaker.wav",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "local emulator" in done.stderr

    # Two turns were heard and answered.
    assert len(re.findall(r"^assistant: I heard", done.stdout, re.M)) == 2, done.stdout
    assert len(re.findall(r"^you: \S+", done.stdout, re.M)) == 2, done.stdout

    # Talking over the first reply stopped it where it was heard, and the server agreed.
    cut = re.search(r"\[barge-in: reply cut at (\d+) ms, (\d+) ms unplayed\]", done.stderr)
    assert cut, done.stderr
    assert int(cut.group(1)) > 0 and int(cut.group(2)) > 0
    assert f"heard {cut.group(1)} ms" in done.stderr
    assert "server error" not in done.stderr
    assert "1 barge-in(s)" in done.stderr

    # The speaker played assistant audio, less than two whole replies (one was cut).
    played, rate = audio.read_wav(tmp_path / "speaker.wav")
    assert rate == 24000
    voiced_ms = np.count_nonzero(audio.frame_energy(played, rate // 100) > 0) * 10
    assert 1000 < voiced_ms < 2 * 1900


def test_microphone_without_sounddevice_says_what_to_install(tmp_path: Path) -> None:
    hide_sounddevice = (
        "import runpy, sys; sys.modules['sounddevice'] = None; "
        f"sys.argv = [{str(EXAMPLES / 'microphone.py')!r}, '--seconds', '1']; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    done = run_example(["-c", hide_sounddevice], tmp_path)
    assert done.returncode == 1
    assert "pip install 'trio-realtime[audio]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_microphone_without_an_audio_device_says_so(tmp_path: Path) -> None:
    fake = tmp_path / "fake_modules"
    fake.mkdir()
    (fake / "sounddevice.py").write_text(
        "class PortAudioError(Exception):\n"
        "    pass\n"
        "def query_devices(device=None, kind=None):\n"
        "    raise PortAudioError('Error querying device -1')\n"
    )
    done = run_example(
        [str(EXAMPLES / "microphone.py"), "--seconds", "1"],
        tmp_path,
        env=offline_env(PYTHONPATH=str(fake)),
    )
    assert done.returncode == 1
    assert "no usable microphone or speaker (Error querying device -1)" in done.stderr
    assert "--dry-run" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_microphone_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "microphone.py"), "--dry-run", "--seconds", "60"],
        cwd=tmp_path,
        env=offline_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job ignores SIGINT, and children inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("listening"):
                break
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait() == 0, rest
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert "stopped" in rest
    assert "Traceback" not in rest
