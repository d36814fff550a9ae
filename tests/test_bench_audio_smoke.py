"""The audio ingestion benchmark runs and reports what docs/benchmarks.md quotes (no timing
asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "audio.py"
CONTENDERS = {"trio_realtime", "trio_realtime[trio-websocket]", "openai", "convert only"}


def test_audio_bench_quick_json() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)

    assert report["quick"] is True
    assert report["source"] == {
        "sample_rate": 48000,
        "channels": 2,
        "dtype": "float32",
        "block_ms": 100,
    }
    assert report["target"] == {"sample_rate": 24000, "format": "audio/pcm", "append_ms": 100}
    assert report["audio_s"] > 0
    assert set(report["results"]) == CONTENDERS
    for row in report["results"].values():
        assert row["x_realtime"] > 0
        assert row["cpu_ms_per_audio_s"] > 0
        assert len(row["wall_s"]) == len(row["cpu_s"]) == report["runs"]
        # Every contender sent all of the audio (within a resampler's edge samples).
        assert abs(row["audio_sent_ms"] - report["audio_s"] * 1000) <= 5
    assert set(report["ratios"]) == {
        "trio_realtime_speed_over_openai",
        "openai_cpu_over_trio_realtime",
        "trio_realtime[trio-websocket]_speed_over_openai",
        "openai_cpu_over_trio_realtime[trio-websocket]",
    }
    assert all(value > 0 for value in report["ratios"].values())
