"""Which received messages the reader may leave unparsed, for the consumer to parse.

The rule (one owner, tested in ``tests/test_engine_deferred.py``): the reader parses
every message the session must see as it arrives (the kinds it observes, errors, which
replies wait for, and everything while a receive interceptor is installed) and any
message it cannot place; a message of another known ``type`` goes into the inbox as it
came, and whoever takes it parses it (``_inbox``). The ``type`` is read from the text's
start, where the service and the emulator (compact) and ``json.dumps`` put it; a message
that begins otherwise is parsed by the reader.
"""

from __future__ import annotations

from ..events import ErrorEvent, RealtimeEvent
from ..events._base import wire_names

__all__ = ["Deferral"]

_TYPE_FIRST = ('{"type":"', '{"type": "')


class Deferral:
    """The ``type`` values of one protocol the reader leaves unparsed."""

    __slots__ = ("_kinds", "_types")

    def __init__(self, classes: tuple[type[RealtimeEvent], ...]) -> None:
        self._kinds = {name: cls for cls in classes for name in wire_names(cls)}
        self._types: frozenset[str] = frozenset()

    def update(self, observed: frozenset[type[RealtimeEvent]], *, intercepted: bool) -> None:
        """Defer every known kind but ``observed`` and errors; nothing while ``intercepted``."""
        self._types = (
            frozenset()
            if intercepted
            else frozenset(
                name
                for name, cls in self._kinds.items()
                if cls not in observed and cls is not ErrorEvent
            )
        )

    def applies(self, message: str) -> bool:
        """``message`` may go into the inbox unparsed."""
        if not message.startswith(_TYPE_FIRST):
            return False
        start = 9 if message[8] == '"' else 10
        return message[start : message.find('"', start)] in self._types
