"""The conversation: an ordered list of items, with their audio kept for retrieval."""

from __future__ import annotations

import base64
import copy
import dataclasses
from typing import Any

from ._apierrors import ApiError

__all__ = ["Conversation", "StoredItem", "public_item"]


@dataclasses.dataclass
class StoredItem:
    """An item as the server holds it: the full JSON object, audio included."""

    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])


def public_item(data: dict[str, Any]) -> dict[str, Any]:
    """The item as ``conversation.item.added`` / ``.done`` show it: audio bytes left out."""
    content = data.get("content")
    if not isinstance(content, list) or not any(
        isinstance(part, dict) and "audio" in part for part in content
    ):
        return data
    shown = dict(data)
    shown["content"] = [
        {key: value for key, value in part.items() if key != "audio"}
        if isinstance(part, dict)
        else part
        for part in content
    ]
    return shown


class Conversation:
    """The default conversation of a session."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._items: dict[str, StoredItem] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def items(self) -> list[StoredItem]:
        """The items in conversation order."""
        return [self._items[item_id] for item_id in self._order]

    def get(self, item_id: str) -> StoredItem | None:
        return self._items.get(item_id)

    def last_id(self) -> str | None:
        return self._order[-1] if self._order else None

    def insert(self, data: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Add an item after ``previous_item_id`` (at the end when None, first for "root").

        Returns the id of the item it now follows (None when first).

        Raises:
            ApiError: the id is taken, or ``previous_item_id`` names no item.
        """
        item_id = str(data["id"])
        if item_id in self._items:
            raise ApiError(
                "invalid_value",
                f"Item with id '{item_id}' already exists in the conversation.",
                "item.id",
            )
        if previous_item_id is None:
            position = len(self._order)
        elif previous_item_id == "root":
            position = 0
        elif previous_item_id in self._items:
            position = self._order.index(previous_item_id) + 1
        else:
            raise ApiError(
                "invalid_value",
                f"Error adding item: the previous item with id '{previous_item_id}' does not"
                " exist.",
                "previous_item_id",
            )
        self._order.insert(position, item_id)
        self._items[item_id] = StoredItem(data)
        return self._order[position - 1] if position > 0 else None

    def replace(self, data: dict[str, Any]) -> None:
        """Update a stored item's object (same id)."""
        self._items[str(data["id"])].data = data

    def delete(self, item_id: str) -> None:
        """Remove an item.

        Raises:
            ApiError: no item has this id.
        """
        if item_id not in self._items:
            raise ApiError(
                "item_delete_invalid_item_id",
                f"Error deleting item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        self._order.remove(item_id)
        del self._items[item_id]

    def retrieve(self, item_id: str) -> dict[str, Any]:
        """The full item, audio included.

        Raises:
            ApiError: no item has this id.
        """
        stored = self._items.get(item_id)
        if stored is None:
            raise ApiError(
                "item_retrieve_invalid_item_id",
                f"Error retrieving item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        return copy.deepcopy(stored.data)

    def has_assistant_audio(self) -> bool:
        return any(
            stored.data.get("role") == "assistant"
            and any(
                isinstance(part, dict) and part.get("type") == "output_audio"
                for part in stored.data.get("content") or ()
            )
            for stored in self._items.values()
        )

    def truncate(
        self, item_id: str, content_index: int, audio_end_ms: int, bytes_per_ms: int
    ) -> None:
        """Cut an assistant item's audio at ``audio_end_ms`` and its transcript to match.

        Raises:
            ApiError: unknown item, not assistant audio, or ``audio_end_ms`` past the end.
        """
        stored = self._items.get(item_id)
        if stored is None:
            raise ApiError(
                "item_truncate_invalid_item_id",
                f"Error truncating item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        content = stored.data.get("content")
        if (
            stored.data.get("role") != "assistant"
            or not isinstance(content, list)
            or not 0 <= content_index < len(content)
            or content[content_index].get("type") != "output_audio"
        ):
            raise ApiError(
                "invalid_value",
                "Only assistant messages with audio content can be truncated; item"
                f" '{item_id}' has no audio at content_index {content_index}.",
                "content_index",
            )
        if audio_end_ms < 0:
            raise ApiError.below_minimum("audio_end_ms", 0, audio_end_ms)
        part = dict(content[content_index])
        audio = base64.b64decode(part.get("audio") or "")
        length_ms = len(audio) // bytes_per_ms
        if audio_end_ms > length_ms:
            raise ApiError(
                "invalid_value",
                f"Audio content of {length_ms}ms is already shorter than {audio_end_ms}ms",
                "audio_end_ms",
            )
        kept = audio[: audio_end_ms * bytes_per_ms]
        part["audio"] = base64.b64encode(kept).decode("ascii")
        transcript = str(part.get("transcript") or "")
        if length_ms:
            part["transcript"] = _cut_words(transcript, audio_end_ms / length_ms)
        data = dict(stored.data)
        data["content"] = [*content[:content_index], part, *content[content_index + 1 :]]
        stored.data = data


def _cut_words(text: str, fraction: float) -> str:
    """The first ``fraction`` of ``text``, ending at a word boundary."""
    if fraction >= 1.0:
        return text
    cut = int(len(text) * fraction)
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        head = head.rsplit(" ", 1)[0] if " " in head else ""
    return head.rstrip()
