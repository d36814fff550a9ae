"""The README's example runs as written, against the emulator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_the_shape_example_holds_a_conversation_with_the_emulator() -> None:
    code = re.search(r"## The shape\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None, "README lost its example"
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Say hello" in result.stdout
