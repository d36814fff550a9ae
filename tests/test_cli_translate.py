"""The translate and transcribe commands, as a user runs them (no key: embedded emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trio_realtime import audio


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "trio_realtime", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    audio.write_wav(path, np.stack([audio.voice_like(2000, sample_rate=44100)] * 2, axis=1), 44100)
    return path


def test_translate_writes_the_translated_speech_and_prints_the_text(speech: Path) -> None:
    result = run("translate", str(speech), "--to", "es", "--fast")
    assert result.returncode == 0, result.stderr
    assert "embedded emulator" in result.stderr
    assert result.stdout.strip()
    output = speech.with_suffix(".es.wav")
    samples, rate = audio.read_wav(output)
    assert rate == 24000
    assert len(samples) / rate == pytest.approx(2.0, abs=0.3)


def test_transcribe_prints_the_transcript(speech: Path) -> None:
    result = run("transcribe", str(speech), "--fast")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_json_gives_the_result_and_its_usage_and_cost(speech: Path, tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "gpt-4o-transcribe": {"audio_input": 6.0, "text_output": 10.0},
                "gpt-realtime-translate": {"audio_minute": 0.06},
            }
        )
    )
    result = run("transcribe", str(speech), "--fast", "--json", "--prices", str(prices))
    assert result.returncode == 0, result.stderr
    transcribed = json.loads(result.stdout)
    usage = transcribed["usage"]["by_model"]["gpt-4o-transcribe"]
    assert transcribed["text"] and usage["input_audio_tokens"] > 0
    expected = (usage["input_audio_tokens"] * 6.0 + usage["output_text_tokens"] * 10.0) / 1e6
    assert transcribed["usage"]["cost"]["usd"] == pytest.approx(expected)
    result = run(
        "translate", str(speech), "--to", "es", "--fast", "--json", "--prices", str(prices)
    )
    assert result.returncode == 0, result.stderr
    translated = json.loads(result.stdout)
    assert translated["text"] and translated["audio_seconds"] == pytest.approx(2.0, abs=0.3)
    assert translated["usage"]["by_model"]["gpt-realtime-translate"]["seconds"] == 2.0
    assert translated["usage"]["cost"]["usd"] == pytest.approx(2 / 60 * 0.06)
    assert result.stderr == ""  # no progress, no messages


def test_an_unusable_price_table_is_refused_with_exit_code_2(speech: Path, tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"gpt-4o-transcribe": {"audio_in": 6}}')
    result = run("transcribe", str(speech), "--prices", str(prices))
    assert result.returncode == 2
    assert "error: --prices:" in result.stderr and "expected an object with keys" in result.stderr


def test_a_missing_file_is_a_clear_error_with_exit_code_1(tmp_path: Path) -> None:
    result = run("transcribe", str(tmp_path / "missing.wav"))
    assert result.returncode == 1
    assert result.stderr.startswith("error:") or "\nerror:" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_explains_each_command_with_an_example() -> None:
    for command in ("translate", "transcribe", "serve"):
        result = run(command, "--help")
        assert result.returncode == 0
        assert command in result.stdout
    assert "Example" in run("translate", "--help").stdout
