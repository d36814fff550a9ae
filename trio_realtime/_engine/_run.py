"""Running a session around the caller's block: connect, open, close, and raise exactly one
exception (the table in :func:`run_engine`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .._endpoint import build_connect_request
from .._errors import ConnectTimeout
from .._transport import ConnectRequest, TransportFactory, select_transport
from ._connections import run_connections
from ._lifecycle import first_leaf, is_cancellation
from ._options import SessionOptions

if TYPE_CHECKING:
    from ._core import Engine

__all__ = ["open_engine", "run_engine"]

_E = TypeVar("_E", bound="Engine")
_O = TypeVar("_O", bound=SessionOptions)


@asynccontextmanager
async def run_engine(
    engine: _E,
    factory: TransportFactory,
    request: ConnectRequest | Callable[[], Awaitable[ConnectRequest]],
    *,
    connect_timeout: float,
    opening: Callable[[_E], Awaitable[Any]] | None = None,
) -> AsyncIterator[_E]:
    """Connect ``engine``, run its tasks around the caller's block, and close it.

    The block starts once the server's first event arrived (and ``opening``, run with the
    engine, returned). ``request`` may be a function making one per connect (a key
    provider is asked again when the session moves to a new connection). On the way out
    the block raises exactly one exception, the first row that applies:

    ====  ===============================================  ==================================
    row   what happened                                    the ``async with`` raises
    ====  ===============================================  ==================================
    1     the block raised (not a cancellation)            that exception, unchanged
    2     the session failed                               the failure (``RealtimeError``)
    3     connecting or the transport raised               that error (one, never a group)
    4     the connect deadline passed before opening       ``ConnectTimeout``
    5     the block was cancelled from outside             that cancellation, unchanged
    6     none of these                                    nothing
    ====  ===============================================  ==================================

    Whatever the row, the failure (if any) carries ``unsent`` (frames never written) and
    ``unread`` (events received but never taken).
    """
    life = engine._life
    user_exc: BaseException | None = None
    raised: BaseException | None = None
    chain = engine._chain

    async def connect_request() -> ConnectRequest:
        made = await request() if callable(request) else request
        return await chain.connect(made) if chain is not None else made

    async def open_session() -> None:
        if opening is not None:
            await opening(engine)

    connect_scope = anyio.CancelScope(deadline=anyio.current_time() + connect_timeout)
    try:
        async with anyio.create_task_group() as task_group:
            life.task_group = task_group
            try:
                with connect_scope:
                    await task_group.start(
                        run_connections, engine, factory, connect_request, open_session
                    )
                    life.body_running = True
                if life.body_running:
                    try:
                        yield engine
                    except BaseException as exc:
                        user_exc = exc
            finally:
                await engine._shutdown(flush=life.body_running and user_exc is None)
    except BaseException as exc:
        raised = exc
    finally:
        engine.events.end()
        unread = engine.events.close()
        if life.failure is not None and unread:
            life.failure.unread = (*life.failure.unread, *unread)
    if user_exc is not None and not is_cancellation(user_exc):
        raise user_exc
    if life.failure is not None:
        raise life.failure
    if raised is not None:
        leaf = first_leaf(raised)
        if is_cancellation(leaf) and user_exc is not None:
            raise user_exc
        raise leaf
    if connect_scope.cancelled_caught and not life.body_running:
        raise ConnectTimeout(f"no session within the connect timeout ({connect_timeout:g} s)")
    if user_exc is not None:
        raise user_exc


@asynccontextmanager
async def open_engine(
    make_engine: Callable[[_O], _E],
    options: _O,
    *,
    path: str,
    query: Mapping[str, str | None],
    session: object,
) -> AsyncIterator[_E]:
    """What every ``open_*_session`` does: resolve the endpoint, make the engine, run it.

    ``options`` are resolved (:func:`~trio_realtime._engine._options.resolve`);
    ``session``, when not None, is sent with the engine's ``update_session`` before the
    caller's block starts.
    """
    factory = select_transport(options["transport"])

    async def request() -> ConnectRequest:
        return await build_connect_request(
            path=path,
            query=query,
            api_key=options["api_key"],
            url=options["url"],
            azure=options["azure"],
            headers=options["headers"],
            max_message_size=options["max_message_size"],
        )

    first = await request()  # a bad URL or a missing key fails before anything starts
    requests = iter([first])

    async def next_request() -> ConnectRequest:
        return next(requests, None) or await request()

    engine = make_engine(options)

    async def configure(opened: _E) -> None:
        if session is not None:
            await opened.update_session(session)  # type: ignore[attr-defined]

    async with run_engine(
        engine,
        factory,
        next_request,
        connect_timeout=options["connect_timeout"],
        opening=configure,
    ) as opened:
        yield opened
