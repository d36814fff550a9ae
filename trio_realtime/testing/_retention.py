"""What the emulator keeps of each connection for inspection, and for how long."""

from __future__ import annotations

import dataclasses

__all__ = ["DEFAULT_RETENTION", "SERVE_RETENTION", "Retention"]


@dataclasses.dataclass(frozen=True)
class Retention:
    """What the emulator keeps of each connection for inspection, and for how long.

    Whatever the retention, a connection keeps its counts (:meth:`EmulatorConnection.statistics`)
    and its timeline (one small entry per event: time, direction, type, size) for as long
    as it is kept, and the state its live session needs (items, audio for truncation) only
    while it is open. A connection no longer kept, and no longer referenced by the user,
    is freed.

    Raises:
        ValueError: ``closed_connections`` is negative.
    """

    events: bool = True
    """Keep every event in ``received`` / ``sent`` (what ``recording()`` needs); False
    keeps counts and the timeline only."""
    audio: bool = False
    """Keep base64 audio payloads in those events; False replaces each by a marker of its
    size (``"<4800 bytes of audio omitted>"``), which a replay turns into silence."""
    closed_connections: int | None = 16
    """How many closed connections ``Emulator.connections`` keeps (the latest ones); None
    keeps every one. Open connections are always kept."""

    def __post_init__(self) -> None:
        if self.closed_connections is not None and self.closed_connections < 0:
            raise ValueError(
                f"closed_connections must be None or >= 0, got {self.closed_connections}"
            )


DEFAULT_RETENTION = Retention()
"""``open_emulator``, ``serve_emulator``, ``run_emulator_in_thread`` and the fixture."""
SERVE_RETENTION = Retention(events=False, closed_connections=4)
"""``trio-realtime serve``: counts and the timeline, no payloads."""
