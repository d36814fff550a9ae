"""What users' type checkers see: typed_usage/usage.py is clean under mypy and pyright strict.

Both checkers run from an empty directory, so they see trio_realtime as an installed
package (through its ``py.typed``), not with this project's mypy configuration, as in a
user's project. The file also runs against the emulator, so the code it checks is code
that works.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

USAGE = Path(__file__).parent / "typed_usage" / "usage.py"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # PYRIGHT_PYTHON_IGNORE_WARNINGS: no look-up of pyright's latest version on PyPI.
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_usage_passes_mypy_strict(tmp_path: Path) -> None:
    result = _run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(USAGE),
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_usage_passes_pyright_strict(tmp_path: Path) -> None:
    # The file says "# pyright: strict"; --pythonpath: this venv's packages.
    result = _run(
        [sys.executable, "-m", "pyright", "--pythonpath", sys.executable, str(USAGE)], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors, 0 warnings" in result.stdout


def test_usage_runs_against_the_emulator(tmp_path: Path) -> None:
    result = _run([sys.executable, str(USAGE)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
