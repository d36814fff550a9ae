"""What a conversation carries to a new connection: the configuration and the items.

:class:`ConversationMirror` follows the conversation from the server's events (only for a
session with ``resume=``): items in order, their final form, transcripts of audio, deletes.
On a move it gives the items to recreate on the new connection, as
``conversation.item.create`` accepts them: text stays text, audio goes over as its
transcript (the new session cannot hear the old audio), function calls and their outputs
go over as they are, all with their original ids. The policy's ``carry`` hook (or, by
default, a budget of characters of the most recent items) chooses which.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from ._engine import ResumePolicy
from .events import (
    ConversationItem,
    ConversationItemAddedEvent,
    ConversationItemCreatedEvent,
    ConversationItemDeletedEvent,
    ConversationItemDoneEvent,
    InputAudioTranscriptionCompletedEvent,
    RealtimeEvent,
    SessionObject,
)

__all__ = ["MIRRORED_EVENTS", "ConversationMirror", "updatable_config"]

MIRRORED_EVENTS: frozenset[type[RealtimeEvent]] = frozenset(
    (
        ConversationItemAddedEvent,
        ConversationItemCreatedEvent,
        ConversationItemDoneEvent,
        ConversationItemDeletedEvent,
        InputAudioTranscriptionCompletedEvent,
    )
)
"""The events the mirror follows."""


@functools.cache
def _items() -> TypeAdapter[ConversationItem]:
    """The item validator, built on first use (not at import: it takes milliseconds)."""
    return TypeAdapter(ConversationItem)


_READ_ONLY = frozenset({"id", "object", "expires_at"})


def updatable_config(config: SessionObject) -> SessionObject:
    """The effective configuration as a ``session.update`` can send it (no read-only fields)."""
    data = config.model_dump(exclude_unset=True, exclude=set(_READ_ONLY))
    return type(config).model_validate(data)


def _text_of(part: dict[str, Any]) -> str | None:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        text = part.get("text")
    else:
        text = part.get("transcript")
    return text if isinstance(text, str) and text else None


def _creatable(item: dict[str, Any]) -> dict[str, Any] | None:
    """``item`` as ``conversation.item.create`` takes it, or None when nothing can go over."""
    kind = item.get("type")
    ident = item.get("id")
    if kind == "function_call":
        return {
            "type": "function_call",
            "id": ident,
            "call_id": item.get("call_id"),
            "name": item.get("name"),
            "arguments": item.get("arguments") or "{}",
        }
    if kind == "function_call_output":
        return {
            "type": "function_call_output",
            "id": ident,
            "call_id": item.get("call_id"),
            "output": item.get("output") or "",
        }
    if kind != "message":
        return None
    role = item.get("role")
    if role == "assistant" and item.get("status") == "in_progress":
        return None  # cut mid-stream: reported, not carried as if complete
    text_type = "output_text" if role == "assistant" else "input_text"
    content: list[dict[str, Any]] = []
    for part in item.get("content") or []:
        if part.get("type") == "input_image" and part.get("image_url"):
            content.append({"type": "input_image", "image_url": part["image_url"]})
            continue
        text = _text_of(part)
        if text is not None:
            content.append({"type": text_type, "text": text})
    if not content:
        return None
    return {"type": "message", "id": ident, "role": role, "content": content}


def _size(item: dict[str, Any]) -> int:
    if item["type"] == "message":
        return sum(len(part.get("text") or "") for part in item["content"])
    return len(item.get("arguments") or item.get("output") or "")


class ConversationMirror:
    """The conversation of the current connection, as the server reported it."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        """Wire form of each item by id, in conversation order."""

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def observe(self, event: RealtimeEvent) -> None:
        """Follow one of :data:`MIRRORED_EVENTS`."""
        if isinstance(
            event,
            ConversationItemAddedEvent | ConversationItemCreatedEvent | ConversationItemDoneEvent,
        ):
            data = event.item.to_dict()
            ident = data.get("id")
            if isinstance(ident, str):
                self._place(ident, data, event.previous_item_id)
        elif isinstance(event, ConversationItemDeletedEvent):
            self._items.pop(event.item_id, None)
        elif isinstance(event, InputAudioTranscriptionCompletedEvent):
            item = self._items.get(event.item_id)
            content = item.get("content") if item is not None else None
            if isinstance(content, list) and 0 <= event.content_index < len(content):
                content[event.content_index]["transcript"] = event.transcript

    def _place(self, ident: str, data: dict[str, Any], previous: str | None) -> None:
        known = self._items.get(ident)
        if known is not None:  # the final form of an item we have: keep its place
            for index, part in enumerate(data.get("content") or []):
                old = (known.get("content") or [])[index : index + 1]
                if old and part.get("transcript") is None and old[0].get("transcript"):
                    part["transcript"] = old[0]["transcript"]
            self._items[ident] = data
            return
        if previous is None or previous not in self._items or previous == list(self._items)[-1]:
            self._items[ident] = data
            return
        order = list(self._items.items())
        at = next(i for i, (key, _) in enumerate(order) if key == previous) + 1
        order.insert(at, (ident, data))
        self._items = dict(order)

    def carried(self, policy: ResumePolicy) -> tuple[list[ConversationItem], int]:
        """The items to recreate on a new connection, oldest first, and how many are left."""
        creatable = [c for c in map(_creatable, self._items.values()) if c is not None]
        if policy.carry is not None:
            typed = [_items().validate_python(item) for item in creatable]
            chosen = list(policy.carry(typed))
        else:
            chosen = [_items().validate_python(item) for item in _recent(creatable, policy)]
        return chosen, len(self._items) - len(chosen)

    def reset(self, items: Sequence[ConversationItem]) -> None:
        """The new connection's conversation: exactly ``items``."""
        self._items = {}
        for item in items:
            data = item.to_dict()
            if isinstance(data.get("id"), str):
                self._items[data["id"]] = data


def _recent(items: list[dict[str, Any]], policy: ResumePolicy) -> list[dict[str, Any]]:
    """The most recent items within ``policy.carry_chars``, never an output without its call."""
    kept: list[dict[str, Any]] = []
    budget = policy.carry_chars
    for item in reversed(items):
        budget -= _size(item)
        if budget < 0 and kept:
            break
        kept.append(item)
    kept.reverse()
    calls = {item.get("call_id") for item in kept if item["type"] == "function_call"}
    return [
        item
        for item in kept
        if item["type"] != "function_call_output" or item.get("call_id") in calls
    ]
