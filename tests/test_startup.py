"""Start-up: what ``import trio_realtime`` loads, and the lazy names that keep it small.

The times are measured in bench/startup.py; here, what can be asserted without timing: the
heavy dependencies stay unloaded until used, and every public name still resolves.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import trio_realtime
import trio_realtime.audio

PACKAGE = Path(trio_realtime.__file__).parent


def run_fresh(code: str) -> None:
    """Run ``code`` in a fresh interpreter; its assertion errors fail the test."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_import_loads_the_session_path_and_nothing_else() -> None:
    run_fresh(
        """
        import sys
        import trio_realtime

        unused = {
            "numpy", "soxr", "httpx", "standardwebhooks", "trio_websocket",
            "trio_realtime._client", "trio_realtime._calls", "trio_realtime._rest",
            "trio_realtime._tools", "trio_realtime._translation", "trio_realtime.webhooks",
            "trio_realtime.testing", "trio_realtime._cli",
        }
        loaded = unused & set(sys.modules)
        assert not loaded, loaded
        assert "trio_realtime._connect" in sys.modules
        # the default transport comes with the sessions, as the official client's does
        assert "trio_realtime._transport._websockets" in sys.modules
        # the first session does not build the server events' validator: import did
        from trio_realtime.events._parse import _server
        assert _server.cache_info().currsize == 1
        """
    )


def test_every_public_name_resolves_on_first_use() -> None:
    run_fresh(
        """
        import sys
        import trio_realtime as rt

        listed = dir(rt)
        for name in rt.__all__:
            assert name in listed, name
            assert getattr(rt, name) is not None, name
        assert rt.RealtimeEvent is rt.events.RealtimeEvent
        assert rt.open_tool_runner.__module__ == "trio_realtime._tools._runner"
        from trio_realtime import RealtimeClient, webhooks
        assert RealtimeClient is rt.RealtimeClient
        assert webhooks is sys.modules["trio_realtime.webhooks"]
        try:
            rt.NoSuchName
        except AttributeError as exc:
            assert "'trio_realtime' has no attribute 'NoSuchName'" in str(exc), exc
        else:
            raise AssertionError("an unknown name resolved")
        """
    )


def test_audio_helpers_load_numpy_with_their_first_use() -> None:
    run_fresh(
        """
        import sys
        import trio_realtime.audio as audio

        tracker = audio.PlaybackTracker()
        assert "numpy" not in sys.modules and "soxr" not in sys.modules
        assert audio.tone(440, 10).dtype.name == "int16"
        assert "numpy" in sys.modules
        assert set(audio.__all__) <= set(dir(audio))
        """
    )


def _lazy_table(module: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """The names a package imports under TYPE_CHECKING, and those its lazy table serves."""
    (block,) = (
        node
        for node in module.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        alias.name: "." * node.level + (node.module or alias.name)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    (call,) = (node for node in ast.walk(ast.Module(block.orelse)) if isinstance(node, ast.Dict))
    served = {
        ast.literal_eval(key): ast.literal_eval(value)
        for key, value in zip(call.keys, call.values, strict=True)
        if key is not None
    }
    return imported, served


@pytest.mark.parametrize("package", [trio_realtime, trio_realtime.audio], ids=lambda p: p.__name__)
def test_the_lazy_table_is_the_type_checkers_imports(package: Any) -> None:
    """Type checkers and the docs read the imports, Python the table: they must agree."""
    imported, served = _lazy_table(ast.parse(Path(package.__file__).read_text()))
    assert served == imported
    assert set(package.__all__) - set(served) <= {"__version__"}  # defined, not imported
    assert set(served) <= set(package.__all__)
