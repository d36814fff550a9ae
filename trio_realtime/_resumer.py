"""A conversation session's side of a move to a new connection (``resume=ResumePolicy``).

The engine's connection loop (``_engine._connections``) decides *when* a session moves and
retries the connect; :class:`Resumer` brings the new connection up to where the old one
was, before anything else is written to it or read from it:

1. it reads the new ``session.created`` (kept from the application: the session goes on);
2. it sends the last effective configuration (tools included) and waits for
   ``session.updated``;
3. it recreates the carried conversation items with their ids (their ``added`` and
   ``done`` events are kept from the application: it saw those items already);
4. it puts a :class:`~trio_realtime.events.SessionResumedEvent` in the events stream.

Only then does the outbox write again: frames queued before or during the move (the
frame that was in flight first) go out once, in order, on the new connection. It also
watches for the moment to roll over ahead of the session's ``expires_at``: a turn
boundary (no response in progress, no user speech).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import anyio

from ._carry import MIRRORED_EVENTS, ConversationMirror, updatable_config
from ._engine import Drop, ResumePolicy
from ._errors import ServerError
from ._transport import Transport
from .events import (
    ConversationItemAddedEvent,
    ConversationItemCreatedEvent,
    ConversationItemCreateEvent,
    ConversationItemDoneEvent,
    ErrorEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeEvent,
    ResponseCreatedEvent,
    ResponseDoneEvent,
    SessionCreatedEvent,
    SessionResumedEvent,
    SessionUpdatedEvent,
    SessionUpdateEvent,
)

if TYPE_CHECKING:
    from ._session import RealtimeSession

__all__ = ["WATCHED_EVENTS", "Resumer"]

logger = logging.getLogger("trio_realtime.session")

WATCHED_EVENTS: frozenset[type[RealtimeEvent]] = MIRRORED_EVENTS | frozenset(
    (
        InputAudioBufferSpeechStartedEvent,
        InputAudioBufferSpeechStoppedEvent,
        ResponseCreatedEvent,
        ResponseDoneEvent,
    )
)
"""What a resuming session observes beyond its usual events."""

_ITEM_EVENTS = (ConversationItemAddedEvent, ConversationItemCreatedEvent, ConversationItemDoneEvent)


class Resumer:
    """Carries one conversation session across connections."""

    def __init__(self, session: RealtimeSession, policy: ResumePolicy) -> None:
        self._session = session
        self.policy = policy
        self.mirror = ConversationMirror()
        self._hidden: set[str] = set()
        """Ids of carried items whose ``added``/``done`` the application must not see again."""
        self._speaking = False
        self._turn_changed = anyio.Event()

    # -- following the conversation -------------------------------------------------------

    def observe(self, event: RealtimeEvent) -> bool | None:
        """Follow ``event``; False: keep it from the application (a carried item's echo)."""
        if isinstance(event, InputAudioBufferSpeechStartedEvent):
            self._speaking = True
        elif isinstance(event, InputAudioBufferSpeechStoppedEvent):
            self._speaking = False
        elif type(event) in MIRRORED_EVENTS:
            self.mirror.observe(event)
            if isinstance(event, _ITEM_EVENTS) and event.item.id in self._hidden:
                if isinstance(event, ConversationItemDoneEvent):
                    self._hidden.discard(event.item.id)
                return False
            return None
        self._turn_changed.set()
        return None

    def knows(self, item_id: str) -> bool:
        """The current connection's conversation has this item."""
        return item_id in self.mirror

    def at_turn_boundary(self) -> bool:
        """No response in progress and no user speech."""
        return self._session.active_response_id is None and not self._speaking

    # -- rolling over ahead of the cap ----------------------------------------------------

    async def watch_expiry(self) -> None:
        """A connection task: move to a new connection ``rollover_before`` seconds ahead of
        ``expires_at``, at a turn boundary (waiting at most ``rollover_wait`` for one)."""
        before = self.policy.rollover_before
        await self._session._life.wait_opened()
        config = self._session.config
        expires_at = getattr(config, "expires_at", None)
        if before is None or not isinstance(expires_at, int | float):
            return
        await anyio.sleep(max(0.0, expires_at - time.time() - before))
        with anyio.move_on_after(self.policy.rollover_wait):
            while not self.at_turn_boundary():
                self._turn_changed = anyio.Event()
                await self._turn_changed.wait()
        logger.info("rolling over to a new connection ahead of the session's expiry")
        self._session._life.dropped(Drop("rollover", 1000, "rollover"))

    # -- the new connection -----------------------------------------------------------------

    async def bring_up(self, transport: Transport, drop: Drop, attempt: int) -> None:
        """Bring ``transport`` up to where the old connection was (module docstring)."""
        session = self._session
        config = session.config
        previous_id = session.session_id
        interrupted = session.active_response_id
        session.active_response_id = None
        self._speaking = False
        carried, dropped = self.mirror.carried(self.policy)
        early: list[RealtimeEvent | str] = []  # str: deferred, parsed when taken

        created = await self._next(transport, SessionCreatedEvent, early, None)
        session._apply_config(created.session)
        if config is not None:
            event_id = session._new_event_id()
            update = SessionUpdateEvent(event_id=event_id, session=updatable_config(config))
            await transport.send_text(update.to_json())
            updated = await self._next(transport, SessionUpdatedEvent, early, event_id)
            session._apply_config(updated.session)
        self.mirror.reset(carried)
        for item in carried:
            if item.id is not None:
                self._hidden.add(item.id)
            await transport.send_text(ConversationItemCreateEvent(item=item).to_json())

        frames, audio_ms = session._outbox.pending
        resumed = SessionResumedEvent(
            reason=drop.reason,
            close_code=drop.code,
            attempt=attempt,
            gap_ms=(anyio.current_time() - drop.at) * 1000,
            previous_session_id=previous_id,
            session_id=session.session_id,
            items_carried=len(carried),
            items_dropped=dropped,
            replayed_events=frames,
            replayed_audio_ms=audio_ms,
            interrupted_response_id=interrupted,
        )
        logger.info(
            "resumed on %s (%s, attempt %d): %d items carried, %d left, %d events replayed",
            session.session_id,
            drop.reason,
            attempt,
            len(carried),
            dropped,
            frames,
        )
        for event in (resumed, *early):
            if not session.events.put_nowait(event):
                await session.events.put(event)

    async def _next(
        self,
        transport: Transport,
        kind: type[SessionCreatedEvent] | type[SessionUpdatedEvent],
        early: list[RealtimeEvent | str],
        event_id: str | None,
    ) -> SessionCreatedEvent | SessionUpdatedEvent:
        """Read until an event of ``kind``; others are kept for after the resumed event.

        Raises:
            ServerError: an ``error`` for the request ``event_id`` (the attempt failed).
        """
        session = self._session
        while True:
            event = session._parse_frame(await transport.receive())
            if event is None:
                continue
            if isinstance(event, kind):
                return event
            if isinstance(event, ErrorEvent) and event.error.event_id == event_id:
                raise ServerError(
                    f"the new connection refused the carried configuration: {event.error.message}",
                    type=event.error.type,
                    code=event.error.code,
                    param=event.error.param,
                    event_id=event_id,
                )
            if session._accept(event):
                early.append(event)
