"""The parse benchmark runs and reports what docs/benchmarks.md quotes (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "parse.py"


def test_parse_bench_quick_json() -> None:
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
    assert report["mix"] == {
        "audio_delta": 10,
        "transcript_delta": 10,
        "text_delta": 3,
        "response_done": 1,
    }
    assert report["events"] > 0
    assert set(report["results"]) == {"trio_realtime", "openai", "json.loads"}
    for row in report["results"].values():
        assert row["events_per_s"] > 0
        assert row["us_per_event"] > 0
    assert set(report["ratios"]) == {
        "openai_us_over_trio_realtime_us",
        "trio_realtime_us_over_json_loads_us",
    }
    assert set(report["by_kind_us"]) == set(report["mix"])
    for row in report["by_kind_us"].values():
        assert set(row) == set(report["results"])
    assert set(report["cold"]) == {"trio_realtime", "openai"}
    for row in report["cold"].values():
        assert set(row) == {"import_s", "first_parse_s", "second_parse_s"}
        assert all(value > 0 for value in row.values())
