"""Tool calls: typed Python functions as tools (``Tools``) and the runner that answers them."""

from __future__ import annotations

from ._calls import (
    ToolCall,
    ToolEvent,
    ToolFinished,
    ToolOutcome,
    ToolPolicy,
    ToolRunnerStatistics,
    ToolStarted,
    default_error_output,
)
from ._registry import ToolArgumentsError, Tools, ToolSpec
from ._runner import ToolRunner, open_tool_runner

__all__ = [
    "ToolArgumentsError",
    "ToolCall",
    "ToolEvent",
    "ToolFinished",
    "ToolOutcome",
    "ToolPolicy",
    "ToolRunner",
    "ToolRunnerStatistics",
    "ToolSpec",
    "ToolStarted",
    "Tools",
    "default_error_output",
    "open_tool_runner",
]
