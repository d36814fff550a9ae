"""Every example runs as documented (against the embedded emulator), so none rots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def test_every_example_says_what_it_shows_and_how_to_run_it() -> None:
    for path in EXAMPLES.glob("*.py"):
        header = path.read_text().split('"""')[1]
        assert "Run" in header, f"{path.name} has no 'Run:' line in its header"


def test_text_chat() -> None:
    result = run("text_chat.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("assistant:") == 2


def test_usage_and_cost() -> None:
    result = run("usage_and_cost.py")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("gpt-realtime: 2 reports") == 2 and "gpt-4o-transcribe: 1 reports" in out
    assert out.count("estimated cost: $0.00") == 2
    assert "the client's sessions: " in out


def test_long_call() -> None:
    result = run("long_call.py")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "close, close 1006" in out and "rollover, close 1000" in out
    assert out.count("assistant:") == 4
    assert "resumptions: 2" in out


def test_tools() -> None:
    result = run("tools.py")
    assert result.returncode == 0, result.stderr
    assert "[tool] get_weather(" in result.stdout
    assert "temp_c" in result.stdout


def test_cancellation() -> None:
    result = run("cancellation.py")
    assert result.returncode == 0, result.stderr
    assert "abandoned after" in result.stdout
    assert "active response now: None" in result.stdout
    assert "second response: completed" in result.stdout
    assert "server saw close code 1000" in result.stdout


def test_translation(tmp_path: Path) -> None:
    out = tmp_path / "es.wav"
    result = run("translation.py", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "translation:" in result.stdout
    assert out.stat().st_size > 44
