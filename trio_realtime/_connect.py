"""The public ``open_realtime_session()`` and ``open_transcription_session()``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Unpack

from ._engine import ConversationOptions, open_engine, resolve
from ._session import DEFAULT_MODEL, RealtimeSession, SessionInput, TranscriptionSession
from ._sideband import SidebandSession
from ._transport import _websockets  # noqa: F401  (the default transport: see below)
from .events._parse import build_server_parser

__all__ = ["open_realtime_session", "open_transcription_session"]

# With the sessions, not in the first one: opening the first session of a process costs
# what the next ones do (docs/benchmarks.md, start-up). The default transport comes
# with them too (7 ms, as the official client's import brings its own).
build_server_parser()


@asynccontextmanager
async def open_realtime_session(
    model: str | None = None,
    *,
    session: SessionInput | None = None,
    **options: Unpack[ConversationOptions],
) -> AsyncIterator[RealtimeSession]:
    """Open a Realtime conversation session: ``async with open_realtime_session(...) as s:``.

    Entering connects, waits for ``session.created`` and, with ``session=``, sends it as
    ``session.update`` and waits for ``session.updated``, all within
    ``connect_timeout``. The block runs beside the session's reader, writer and
    heartbeat tasks; leaving it closes the connection (close 1000 within
    ``close_timeout``), also on error or cancellation.

    ``options`` are the :class:`~trio_realtime.ConversationOptions` (each with its type,
    default and meaning there): ``api_key`` defaults to ``OPENAI_API_KEY`` (an ephemeral
    ``ek_`` secret works, and so does a callable returning one); ``url`` to
    ``OPENAI_WEBSOCKET_BASE_URL`` / ``OPENAI_BASE_URL`` / ``wss://api.openai.com/v1``;
    ``heartbeat=None`` turns pings off; audio waits locally up to ``audio_buffer_ms`` and
    goes out in frames of ``audio_chunk_ms``.

    ``call_id`` (from a ``realtime.call.incoming`` webhook, after
    ``client.calls.accept``) joins that call's session as its sideband instead
    (``?call_id=`` replaces ``?model=``): the session is a :class:`SidebandSession`.

    The block raises exactly one exception, never a group: its own exception
    unchanged, a cancellation from outside unchanged, or one of the errors below. Every
    event received before the session ended is delivered to ``async for`` before the
    failure; a failure carries what was queued but not written in ``.unsent`` and what was
    received but never read in ``.unread`` (docs: cancellation and closing).

    Raises:
        TypeError: an unknown option.
        ConnectError: the connection could not be opened (DNS, TCP, TLS, handshake, an
            HTTP status at the upgrade: its ``status``).
        AuthenticationError: the service refused the credentials.
        ConnectTimeout: no session within ``connect_timeout``.
        SessionClosed: the server closed with a code other than 1000, or the connection
            dropped (1006).
        HeartbeatTimeout: the peer stopped answering pings.
        ServerError: the initial ``session=`` was rejected.
        InterceptorError: an interceptor's hook raised.
        ValueError: an empty ``call_id``.
    """
    resolved = resolve(ConversationOptions, options)
    call_id = resolved["call_id"]
    if call_id is not None and (not isinstance(call_id, str) or not call_id):
        raise ValueError(f"call_id must be a non-empty string, got {call_id!r}")
    query = (
        {"call_id": call_id}
        if call_id
        else {"model": model or (None if resolved["azure"] is not None else DEFAULT_MODEL)}
    )
    make: Callable[[ConversationOptions], RealtimeSession] = (
        (lambda options: SidebandSession(options, call_id=call_id)) if call_id else RealtimeSession
    )
    async with open_engine(make, resolved, path="realtime", query=query, session=session) as opened:
        yield opened


@asynccontextmanager
async def open_transcription_session(
    *,
    session: SessionInput | None = None,
    **options: Unpack[ConversationOptions],
) -> AsyncIterator[TranscriptionSession]:
    """Open a transcription session: ``async with open_transcription_session(...) as s:``.

    Connects with ``?intent=transcription`` (no model); ``session`` (a
    :class:`~trio_realtime.events.TranscriptionSessionConfig` or a dict: transcription
    model, language, prompt, delay, turn detection or ``None`` for manual commit, noise
    reduction, ``include`` for logprobs) is sent as ``session.update`` before the block
    starts. Options, closing rules and exceptions are those of
    :func:`open_realtime_session`.
    """
    resolved = resolve(ConversationOptions, options)
    if resolved["call_id"] is not None:
        raise ValueError("call_id= joins a call's conversation session: use open_realtime_session")
    async with open_engine(
        TranscriptionSession,
        resolved,
        path="realtime",
        query={"intent": "transcription"},
        session=session,
    ) as opened:
        yield opened
