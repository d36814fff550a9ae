"""When and how a session moves to a new connection (``resume=ResumePolicy(...)``).

The policy says which ends are worth a new connection (close codes, ``session_expired``,
a dead peer), when to move ahead of the 60-minute cap (``rollover_before``), and how hard
to try (attempts, total time, backoff with jitter). It never resumes after a 1000 close,
an authentication error, ``insufficient_quota`` or an invalid model: those would fail
again. The engine's connection loop (``_lifecycle``) asks it; what goes over to the new
connection is the session's business (``trio_realtime._carry``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..events import ConversationItem

__all__ = [
    "DEFAULT_RESUME_CODES",
    "FATAL_ERROR_CODES",
    "ResumePolicy",
    "ResumeReason",
]

DEFAULT_RESUME_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1015})
"""The close codes worth a new connection (the official client's reconnect set)."""

FATAL_ERROR_CODES = frozenset(
    {
        "invalid_api_key",
        "insufficient_quota",
        "model_not_found",
        "invalid_model",
        "organization_deactivated",
        "account_deactivated",
    }
)
"""``error`` codes after which a new connection would fail the same way."""

ResumeReason = Literal["close", "session_expired", "rollover", "heartbeat"]
"""Why a session moved: the server closed or dropped the connection, the session hit its
maximum duration, the client moved ahead of it, or the peer stopped answering pings."""

CarryHook = Callable[[Sequence["ConversationItem"]], Sequence["ConversationItem"]]
"""Chooses (or summarises) the items carried to the new connection, oldest first."""


@dataclass(frozen=True)
class ResumePolicy:
    """How a session survives the 60-minute cap and dropped connections.

    Inside the same ``async with`` and ``async for``, the session moves to a new
    connection when the server closes with one of ``close_codes``, sends
    ``session_expired`` (``on_session_expired``), the heartbeat finds the peer gone, or,
    with ``rollover_before`` set, that many seconds before the session's ``expires_at``
    at a turn boundary (no response in progress, no user speech; at most
    ``rollover_wait`` seconds of waiting for one). The configuration and the
    conversation go over (``carry`` chooses the items; by default the most recent ones
    within ``carry_chars`` characters of text), unsent events are replayed once, and a
    :class:`~trio_realtime.events.SessionResumedEvent` says what happened.

    Retries back off exponentially from ``backoff_initial`` to ``backoff_max`` seconds
    with ``jitter`` (a fraction of each delay), for at most ``max_attempts`` connects and
    ``max_total`` seconds per move (a connection that drops within ``stable_after``
    seconds is one more attempt); then the block raises ``ResumeExhausted``.
    """

    close_codes: frozenset[int] = DEFAULT_RESUME_CODES
    on_session_expired: bool = True
    on_heartbeat_timeout: bool = True
    rollover_before: float | None = None
    rollover_wait: float = 60.0
    max_attempts: int = 5
    max_total: float = 60.0
    stable_after: float = 10.0
    """A new connection that ends sooner than this counts as a failed attempt of the same
    move (a server that keeps dropping runs out of attempts instead of looping)."""
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.2
    carry: CarryHook | None = None
    carry_chars: int = 32_000
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    """The jitter's source of randomness (a test may pin it)."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.rollover_before is not None and self.rollover_before <= 0:
            raise ValueError("rollover_before must be a positive number of seconds")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction of the delay, from 0 to 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before connect ``attempt`` (1-based; the first waits nothing)."""
        if attempt <= 1:
            return 0.0
        base = min(self.backoff_max, self.backoff_initial * float(2 ** (attempt - 2)))
        spread: float = self.jitter * (2 * self.random() - 1)
        return base * (1 + spread)

    def resumes_close(self, code: int, error_code: str | None) -> bool:
        """Whether a close with ``code`` (after an ``error`` with ``error_code``) is resumed."""
        if error_code in FATAL_ERROR_CODES or code in (1000, 3000):
            return False
        if error_code == "session_expired":
            return self.on_session_expired
        return code in self.close_codes
