"""``trio-realtime demo`` as a new user runs it: no key, the embedded emulator, five scenes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-m", "trio_realtime", "demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_demo_runs_every_scene_on_the_embedded_emulator() -> None:
    result = run_demo()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "embedded emulator" in out
    for scene in ("1. Text", "2. Voice", "3. Tools", "4. Barge-in", "5. Translation", "Summary"):
        assert scene in out
    assert 'get_weather({"city": "Paris"})' in out  # the call follows the user's words
    assert "conversation.item.truncated at 300 ms" in out  # the barge-in truncated
    assert "status=cancelled" in out
    assert "session.closed" in out
    assert "scenes: 5" in out
    assert re.search(r"usage: gpt-realtime: 5 reports, \d+ tokens in .* out ", out)
    assert "usage: gpt-realtime-translate: 2.0 s of audio" in out


def test_demo_json_output_is_one_object_per_line() -> None:
    result = run_demo("--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines[-1]["summary"]["scenes"] == ["text", "voice", "tool", "barge_in", "translation"]
    usage = lines[-1]["summary"]["usage"]
    done = [line["response"]["usage"] for line in lines if line.get("type") == "response.done"]
    assert usage["by_model"]["gpt-realtime"]["output_tokens"] == sum(
        report["output_tokens"] for report in done
    )
    assert any(line.get("type") == "response.done" for line in lines)
    deltas = [line for line in lines if line.get("type") == "response.output_audio.delta"]
    assert deltas and all(line["delta"].endswith("bytes>") for line in deltas)
