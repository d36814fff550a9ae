"""The session's connections, one after another: the first, then a new one for every drop
the resume policy takes (``_resume``), each brought up to date before it is used.

Between connections the outbox holds everything (the frame in flight goes back first) and
the inbox stays open, so the caller's block sees one session. Attempts back off, and run
out by the policy's bounds; an authentication error ends the session at once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from .._errors import (
    AuthenticationError,
    ConnectTimeout,
    RealtimeError,
    ResumeExhausted,
    SessionClosed,
)
from .._transport import ConnectRequest, Transport, TransportFactory
from ._lifecycle import NORMAL_CLOSE, Drop, first_leaf

if TYPE_CHECKING:
    from ._core import Engine

__all__ = ["run_connections"]

logger = logging.getLogger("trio_realtime.session")


async def _serve_connection(
    engine: Engine,
    transport: Transport,
    *,
    resume: tuple[Drop, int] | None,
    opened: Callable[[], Awaitable[None]],
) -> None:
    """Run one connection's tasks until it ends; ``resume``: the drop and attempt it replaces.

    A resumed connection is brought up to date (``engine._resume_on``) before anything
    else is written to it or read from it. When the connection ends in a way the resume
    policy takes, its writer stops at a frame boundary and the socket is aborted, so a
    send stuck on a dead socket cannot hold the move up.
    """
    life = engine._life
    if resume is None:
        engine._attach(transport)
    else:
        engine._transport = transport
        await engine._resume_on(transport, *resume)
        engine._attach(transport)
        life.resumed()
    with anyio.CancelScope() as life.connection_scope:
        async with anyio.create_task_group() as tasks:
            for task in engine._connection_tasks():
                tasks.start_soon(task)
            await opened()
            await life.wait_connection_over()
            drop = life.drop
            if drop is None:
                await anyio.sleep_forever()  # until a failure or the close stops the tasks
                return
            engine._outbox.stop_writing()
            with anyio.CancelScope(shield=True):
                if drop.reason == "rollover":
                    with anyio.move_on_after(life.close_timeout):
                        await transport.aclose(NORMAL_CLOSE, "rollover")
                await transport.abort()
            tasks.cancel_scope.cancel()
    if life.drop is None:
        await anyio.sleep_forever()  # the close handshake still needs this connection
    engine._outbox.detach()


async def run_connections(
    engine: Engine,
    factory: TransportFactory,
    request: Callable[[], Awaitable[ConnectRequest]],
    opening: Callable[[], Awaitable[None]],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """The session's connections, one after another: the first, then one for every drop
    the resume policy takes, until the session ends or the attempts run out."""
    life = engine._life

    async def first_opened() -> None:
        await life.wait_opened()
        await opening()
        task_status.started()

    with life.background:
        async with anyio.create_task_group() as session_tasks:
            for task in engine._session_tasks():
                session_tasks.start_soon(task)
            async with factory(await request()) as transport:
                try:
                    await _serve_connection(engine, transport, resume=None, opened=first_opened)
                except BaseException:
                    await _close_while_connected(engine)
                    raise
            policy = engine._resume
            while life.drop is not None and policy is not None:
                drop = life.drop
                logger.info("the connection ended (%s, %d): resuming", drop.reason, drop.code)
                started = anyio.current_time()
                attempt = 0
                last: BaseException | None = None
                while True:
                    attempt += 1
                    spent = anyio.current_time() - started
                    if attempt > policy.max_attempts or spent > policy.max_total:
                        engine._fail(_exhausted(drop, attempt - 1, spent, last), code=drop.code)
                        return
                    await anyio.sleep(policy.delay(attempt))
                    outcome, lasted = await _attempt(engine, factory, request, drop, attempt)
                    if outcome is None:
                        again = life.drop
                        if again is None or lasted >= policy.stable_after:
                            break  # served: a later drop starts a new move
                        drop = again  # dropped again at once: one more failed attempt
                        outcome = SessionClosed(again.code, f"dropped again after {lasted:.1f} s")
                    if isinstance(outcome, AuthenticationError):
                        engine._fail(outcome)
                        return
                    last = outcome
                    logger.info("resume attempt %d failed: %s", attempt, outcome)


async def _attempt(
    engine: Engine,
    factory: TransportFactory,
    request: Callable[[], Awaitable[ConnectRequest]],
    drop: Drop,
    attempt: int,
) -> tuple[BaseException | None, float]:
    """One connect to replace a dropped connection, served until it ends: (None, how long
    it lasted once ready); or the error of an attempt that failed before it was ready."""
    served = False
    ready_at = math.inf
    with anyio.CancelScope(deadline=anyio.current_time() + engine._connect_timeout) as deadline:

        async def ready() -> None:
            nonlocal served, ready_at
            served = True
            ready_at = anyio.current_time()
            deadline.deadline = math.inf

        try:
            async with factory(await request()) as transport:
                try:
                    await _serve_connection(engine, transport, resume=(drop, attempt), opened=ready)
                except BaseException:
                    if served:
                        await _close_while_connected(engine)
                    raise
        except Exception as exc:
            if served:
                raise
            return first_leaf(exc), 0.0
    if deadline.cancelled_caught and not served:
        timeout = ConnectTimeout(f"no new connection within {engine._connect_timeout:g} s")
        return timeout, 0.0
    return None, anyio.current_time() - ready_at


async def _close_while_connected(engine: Engine) -> None:
    """The connection task is ending (cancelled, or it failed): the close handshake runs
    first, while the connection is still there (the block's end runs it; before the block
    started, this does)."""
    life = engine._life
    with anyio.CancelScope(shield=True):
        if life.body_running:
            with anyio.move_on_after(2 * life.close_timeout):
                await life.wait_closed()
        else:
            await engine._shutdown()


def _exhausted(
    drop: Drop, attempts: int, spent: float, last: BaseException | None
) -> RealtimeError:
    failure = ResumeExhausted(
        drop.code,
        f"could not resume after {attempts} attempt{'s' if attempts != 1 else ''} "
        f"in {spent:.1f} s ({drop.reason}{': ' + drop.detail if drop.detail else ''})",
    )
    failure.__cause__ = last
    return failure
