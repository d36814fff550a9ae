"""The emulator benchmark runs and reports what docs/emulator.md quotes (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "emulator.py"


def test_emulator_bench_quick_json() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)

    assert report["quick"] is True
    kept = report["retention"]
    assert kept["command"] == "python -m trio_realtime serve --port 0"
    assert len(kept["sessions"]) == 3
    for session in kept["sessions"]:
        assert session["events_sent"] == 1 + kept["turns_per_session"] * 14
        assert session["events_received"] > session["events_sent"]
        assert session["rss_after_mib"] > 0
    assert kept["flat"] in (True, False)

    load = report["load"]
    assert [row["sessions"] for row in load["results"]] == [2, 6]
    for row in load["results"]:
        assert row["events_per_s"] > 0
        assert row["cpu_ms_per_session_s"] >= 0
        assert row["rss_peak_mib"] >= row["rss_idle_mib"] > 0
        assert row["sustained"] in (True, False)
    assert report["machine"]["nproc"] >= 1
