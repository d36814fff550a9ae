"""The receive benchmark runs and reports what docs/benchmarks.md quotes (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "receive.py"
CLIENTS = {
    "openai",
    "websockets+json",
    "trio-websocket+json",
    "trio_realtime[websockets/trio]",
    "trio_realtime[websockets/asyncio]",
    "trio_realtime[trio-websocket/trio]",
    "transport+parse[websockets/trio]",
    "transport+parse[websockets/asyncio]",
}


def test_receive_bench_quick_json() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", "--events", "200"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)

    assert report["quick"] is True
    assert report["events"] == 200
    assert report["mix"] == {
        "audio_delta": 10,
        "transcript_delta": 10,
        "text_delta": 3,
        "response_done": 1,
    }
    assert set(report["results"]) == CLIENTS
    for row in report["results"].values():
        assert row["backend"] in ("trio", "asyncio")
        assert row["events_per_s"] > 0
        assert row["cpu_us_per_event"] > 0
        assert row["wall_us_per_event"] > 0
    assert set(report["ratios"]) == CLIENTS
    for ratios in report["ratios"].values():
        assert set(ratios) == {"events_per_s_over_openai", "cpu_over_floor"}
    assert report["ratios"]["openai"]["events_per_s_over_openai"] == 1.0
    assert report["ratios"]["websockets+json"]["cpu_over_floor"] == 1.0
    assert set(report["targets"]) == {"trio", "asyncio"}
    for target in report["targets"].values():
        assert set(target) == {"client", "events_per_s_over_openai", "cpu_over_floor", "met"}
