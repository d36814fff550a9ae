"""The heartbeat: a dead peer is found within ``interval + timeout``; a slow consumer never is one.

trio-websocket's ``ping()`` never wakes on a dead connection, so every ping waits under a
timeout. While the reader is parked because the consumer does not read (the inbox is
full), pings are not counted against the peer: TCP backpressure is not a dead peer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio

from .._transport import Transport, TransportClosed
from ._inbox import Inbox
from ._stats import ReceiveCounters

__all__ = ["Heartbeat", "run_heartbeat"]


@dataclass(frozen=True)
class Heartbeat:
    """Ping the server every ``interval`` seconds; a pong later than ``timeout`` is a dead peer.

    A consumer that does not read events never trips the heartbeat: while the reader
    waits for room in the events stream, pings are not counted against the peer.
    """

    interval: float = 20.0
    timeout: float = 20.0

    def __post_init__(self) -> None:
        if not (self.interval > 0 and self.timeout > 0):
            raise ValueError("heartbeat interval and timeout must be positive seconds")


async def run_heartbeat(
    config: Heartbeat,
    transport: Transport,
    inbox: Inbox,
    counters: ReceiveCounters,
    on_dead: Callable[[float], None],
) -> None:
    """The heartbeat task: returns when the connection closes, or after ``on_dead(timeout)``."""
    while True:
        await anyio.sleep(config.interval)
        if inbox.reader_waiting:
            continue
        start = anyio.current_time()
        counters.pings_sent += 1
        with anyio.move_on_after(config.timeout) as scope:
            try:
                await transport.ping()
            except TransportClosed:
                return
        if scope.cancelled_caught:
            if inbox.reader_waiting:
                continue
            on_dead(config.timeout)
            return
        counters.last_ping_rtt = anyio.current_time() - start
