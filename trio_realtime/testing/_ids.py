"""Deterministic ids in the service's shape: a prefix and 21 base62 characters."""

from __future__ import annotations

import random
import string

__all__ = ["IdFactory"]

_BASE62 = string.digits + string.ascii_letters


class IdFactory:
    """Makes ``event_…``, ``sess_…``, ``item_…`` ids and ``obfuscation`` padding.

    Seeded, so one connection's ids are the same on every run.
    """

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)

    def make(self, prefix: str, length: int = 21) -> str:
        """Return ``prefix`` followed by ``length`` base62 characters."""
        return prefix + "".join(self._rng.choices(_BASE62, k=length))

    def event(self) -> str:
        """Return a server event id."""
        return self.make("event_")

    def obfuscation(self, delta: str) -> str:
        """Return padding for a delta event, as the service adds to hide delta lengths."""
        return "".join(self._rng.choices(_BASE62, k=max(1, 16 - len(delta))))
