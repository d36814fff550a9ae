"""What the tool runner reports and obeys: calls, tool events, the policy, statistics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "ToolCall",
    "ToolEvent",
    "ToolFinished",
    "ToolOutcome",
    "ToolPolicy",
    "ToolRunnerStatistics",
    "ToolStarted",
    "default_error_output",
]

ToolOutcome: TypeAlias = Literal["succeeded", "failed", "invalid", "timed_out", "cancelled"]
"""How a call ended: returned, raised, bad arguments or unknown tool, timeout, cancelled."""


@dataclass(frozen=True)
class ToolCall:
    """One function call of the model, as the runner received it."""

    name: str
    call_id: str
    arguments: str
    """The JSON text the model wrote (not validated)."""
    item_id: str | None
    response_id: str


@dataclass(frozen=True)
class ToolStarted:
    """A call was taken by the runner (its arguments are checked next)."""

    call: ToolCall


@dataclass(frozen=True)
class ToolFinished:
    """A call ended and its output was sent (or could not be: ``delivered`` is False)."""

    call: ToolCall
    outcome: ToolOutcome
    output: str
    """The ``function_call_output`` text."""
    seconds: float
    """From start to outcome (the tool's latency, not the time to deliver it)."""
    delivered: bool
    """False: the conversation no longer had the call, or the session was closed."""


ToolEvent: TypeAlias = ToolStarted | ToolFinished
"""What ``on_event`` receives."""


def default_error_output(call: ToolCall, exc: Exception) -> str:
    """The output for a tool that raised: ``Error: <name> failed: <Type>: <message>``."""
    return f"Error: {call.name} failed: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class ToolPolicy:
    """How the runner answers calls, interruptions and follow-ups."""

    on_interrupt: Literal["cancel", "finish"] = "cancel"
    """When the user starts speaking or the response is cancelled while its calls run:
    ``"cancel"`` cancels them (their output says so); ``"finish"`` lets them finish and
    delivers their output. Either way the runner asks for no follow-up response."""
    follow_up: bool = True
    """Ask for the next response once every call of a response has its output."""
    timeout: float | None = 60.0
    """Seconds a call may run, unless its tool sets its own; None: no limit."""
    error_output: Callable[[ToolCall, Exception], str] = default_error_output
    """The output sent for a tool that raised (the exception is logged as well)."""

    def __post_init__(self) -> None:
        if self.on_interrupt not in ("cancel", "finish"):
            raise ValueError(
                f"on_interrupt must be 'cancel' or 'finish', got {self.on_interrupt!r}"
            )
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be positive seconds or None, got {self.timeout!r}")


@dataclass(frozen=True)
class ToolRunnerStatistics:
    """A snapshot of a runner's counters (from :meth:`ToolRunner.statistics`)."""

    calls: int
    """Calls taken."""
    running: int
    """Calls not answered yet."""
    succeeded: int
    failed: int
    """Calls whose tool raised."""
    invalid: int
    """Calls with bad arguments or an unknown tool name."""
    timed_out: int
    cancelled: int
    undelivered: int
    """Outputs not delivered: the call was deleted, or the session was closed."""
    follow_ups: int
    """Responses the runner asked for."""
    follow_ups_skipped: int
    """Responses not asked for: the user spoke or the response was cancelled meanwhile."""
    tool_seconds_total: float
    tool_seconds_max: float
