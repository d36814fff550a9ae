"""bench/phone.py runs and reports what docs/guides/deploying.md quotes (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "phone.py"


def test_phone_bench_quick_json() -> None:
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
    (row,) = report["rows"]
    assert row["workers"] == 1 and row["calls"] == 3
    assert row["completed"] == 3  # every call answered, talked through and hung up
    assert row["agent_cpu_s"] > 0 and row["emulator_cpu_percent"] > 0
    assert set(report["sustained_calls_by_workers"]) == {"1"}
