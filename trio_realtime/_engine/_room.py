"""Room for producers, granted first come, first served: invariant 5 of the outbox.

When room appears every waiter that now fits is granted, in the order they came; a newcomer
never overtakes a waiter; a cancelled waiter takes nothing; a failure wakes every waiter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ._backend import LoopEvent

__all__ = ["Room", "Waiter"]

_EPSILON = 1e-6
"""Room in milliseconds is a float: sums that differ by less than this are equal."""


class Waiter:
    """A caller's claim on room: granted now, granted later, or failed."""

    __slots__ = ("amount", "event", "failure", "granted")

    def __init__(self, amount: float) -> None:
        self.amount = amount
        self.granted = False
        self.failure: BaseException | None = None
        self.event: LoopEvent | None = None


class Room:
    """Capacity handed out first come, first served (invariant 5 of the outbox).

    ``used`` counts what is queued plus what was granted to a caller about to queue it.
    An amount larger than the whole capacity is granted when nothing is used, so a big
    request waits its turn instead of waiting forever.
    """

    def __init__(self, capacity: float, new_event: Callable[[], LoopEvent]) -> None:
        self.capacity = capacity
        self.used = 0.0
        self.waiters: deque[Waiter] = deque()
        self._new_event = new_event
        self._failure: BaseException | None = None

    def _fits(self, amount: float) -> bool:
        return self.used + amount <= self.capacity + _EPSILON or self.used <= _EPSILON

    def take_nowait(self, amount: float) -> bool:
        """Take ``amount`` if it fits now and nobody waits; False otherwise."""
        if self.waiters or not self._fits(amount) or self._failure is not None:
            return False
        self.used += amount
        return True

    def request(self, amount: float) -> Waiter:
        """Claim ``amount``: granted at once when that is fair, else queued behind the waiters."""
        waiter = Waiter(amount)
        if self._failure is not None:
            waiter.failure = self._failure
        elif self.take_nowait(amount):
            waiter.granted = True
        else:
            self.waiters.append(waiter)
        return waiter

    async def take(self, amount: float) -> None:
        """Wait until ``amount`` is granted (suspends only when it must wait).

        Raises the failure given to :meth:`fail`. A cancelled caller takes nothing.
        """
        if self.take_nowait(amount):
            return
        waiter = self.request(amount)
        if not waiter.granted and waiter.failure is None:
            waiter.event = event = self._new_event()
            try:
                await event.wait()
            except BaseException:
                self.withdraw(waiter)
                raise
        if waiter.failure is not None:
            raise waiter.failure

    def withdraw(self, waiter: Waiter) -> None:
        """A claimant gave up (cancelled): its room goes back, or it leaves the queue."""
        if waiter.granted:
            waiter.granted = False
            self.give_back(waiter.amount)
        elif waiter in self.waiters:
            self.waiters.remove(waiter)
            self._grant()

    def give_back(self, amount: float) -> None:
        """Room became free (a frame left the queue, or a claim was not used)."""
        self.used -= amount
        if self.used < _EPSILON:
            self.used = 0.0
        if self.waiters:
            self._grant()

    def adjust(self, delta: float) -> None:
        """Change what is used by ``delta`` (what was queued differs from what was claimed)."""
        if delta < 0:
            self.give_back(-delta)
        else:
            self.used += delta

    def _grant(self) -> None:
        waiters = self.waiters
        while waiters and self._fits(waiters[0].amount):
            waiter = waiters.popleft()
            self.used += waiter.amount
            waiter.granted = True
            if waiter.event is not None:
                waiter.event.set()

    def fail(self, failure: BaseException) -> None:
        """No more room will come: every waiter, now and later, gets ``failure``."""
        self._failure = failure
        while self.waiters:
            waiter = self.waiters.popleft()
            waiter.failure = failure
            if waiter.event is not None:
                waiter.event.set()
