"""The conversation: an ordered list of items, with their audio kept for retrieval."""

from __future__ import annotations

import base64
import copy
import dataclasses
from typing import Any

from ._apierrors import ApiError

__all__ = ["Conversation", "StoredItem", "StreamingAudio", "audio_part", "public_item"]


@dataclasses.dataclass
class StreamingAudio:
    """An assistant audio part still streaming: the audio and transcript sent so far.

    ``cut_ms`` is set by a ``conversation.item.truncate`` during the stream: the response
    sends no more audio for the part, and its final state ends there.
    """

    content_index: int
    bytes_per_ms: int
    audio: bytearray = dataclasses.field(default_factory=bytearray)
    transcript: list[str] = dataclasses.field(default_factory=list)
    cut_ms: int | None = None

    @property
    def sent_ms(self) -> int:
        """Milliseconds of audio sent so far."""
        return len(self.audio) // self.bytes_per_ms

    @property
    def heard_ms(self) -> int:
        """Milliseconds of audio the part holds: what was sent, up to a cut."""
        return self.sent_ms if self.cut_ms is None else min(self.sent_ms, self.cut_ms)

    def part(self) -> dict[str, Any]:
        """The ``output_audio`` part as it stands: what was sent, up to a cut."""
        return audio_part(
            bytes(self.audio), "".join(self.transcript), self.bytes_per_ms, self.cut_ms
        )


@dataclasses.dataclass
class StoredItem:
    """An item as the server holds it: the full JSON object, audio included.

    While an assistant item streams, ``streaming`` holds its audio part so far.
    """

    data: dict[str, Any]
    streaming: StreamingAudio | None = None

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def snapshot(self) -> dict[str, Any]:
        """The item now: a streaming part shows the audio and transcript sent so far."""
        data = copy.deepcopy(self.data)
        if self.streaming is not None:
            content = list(data.get("content") or [])
            index = self.streaming.content_index
            content[index:] = [self.streaming.part()]
            data["content"] = content
        return data


def audio_part(
    audio: bytes, transcript: str, bytes_per_ms: int, end_ms: int | None = None
) -> dict[str, Any]:
    """An ``output_audio`` part, cut at ``end_ms`` (the transcript cut to match)."""
    length_ms = len(audio) // bytes_per_ms
    if end_ms is not None and end_ms < length_ms:
        audio = audio[: end_ms * bytes_per_ms]
        transcript = _cut_words(transcript, end_ms / length_ms)
    return {
        "type": "output_audio",
        "audio": base64.b64encode(audio).decode("ascii"),
        "transcript": transcript,
    }


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
        """Update a stored item's object (same id); it is no longer streaming."""
        stored = self._items[str(data["id"])]
        stored.data = data
        stored.streaming = None

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
        return stored.snapshot()

    def has_assistant_audio(self) -> bool:
        return any(
            stored.data.get("role") == "assistant"
            and (
                stored.streaming is not None
                or any(
                    isinstance(part, dict) and part.get("type") == "output_audio"
                    for part in stored.data.get("content") or ()
                )
            )
            for stored in self._items.values()
        )

    def truncate(
        self, item_id: str, content_index: int, audio_end_ms: int, bytes_per_ms: int
    ) -> None:
        """Cut an assistant item's audio at ``audio_end_ms`` and its transcript to match.

        An item still streaming is cut in the audio sent so far; its response sends no
        more audio for it.

        Raises:
            ApiError: unknown item, no model output audio there (yet), or
                ``audio_end_ms`` past the audio there.
        """
        stored = self._items.get(item_id)
        if stored is None:
            raise ApiError(
                "item_truncate_invalid_item_id",
                f"Error truncating item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        if audio_end_ms < 0:
            raise ApiError.below_minimum("audio_end_ms", 0, audio_end_ms)
        streaming = stored.streaming
        if streaming is not None and streaming.content_index == content_index:
            _check_end(streaming.heard_ms, audio_end_ms)
            streaming.cut_ms = audio_end_ms
            return
        content = stored.data.get("content")
        if not isinstance(content, list):
            content = []
        part = content[content_index] if 0 <= content_index < len(content) else None
        if (
            stored.data.get("role") != "assistant"
            or not isinstance(part, dict)
            or part.get("type") != "output_audio"
        ):
            raise _not_model_audio()
        audio = base64.b64decode(part.get("audio") or "")
        _check_end(len(audio) // bytes_per_ms, audio_end_ms)
        cut = {
            **part,
            **audio_part(audio, str(part.get("transcript") or ""), bytes_per_ms, audio_end_ms),
        }
        data = dict(stored.data)
        data["content"] = [*content[:content_index], cut, *content[content_index + 1 :]]
        stored.data = data


def _not_model_audio() -> ApiError:
    return ApiError("unsupported_content_type", "Only model output audio messages can be truncated")


def _check_end(length_ms: int, audio_end_ms: int) -> None:
    if length_ms == 0:
        raise _not_model_audio()
    if audio_end_ms > length_ms:
        raise ApiError(
            "invalid_value",
            f"Audio content of {length_ms}ms is already shorter than {audio_end_ms}ms",
            "audio_end_ms",
        )


def _cut_words(text: str, fraction: float) -> str:
    """The first ``fraction`` of ``text``, ending at a word boundary."""
    if fraction >= 1.0:
        return text
    cut = int(len(text) * fraction)
    head = text[:cut]
    if cut < len(text) and not text[cut].isspace():
        head = head.rsplit(" ", 1)[0] if " " in head else ""
    return head.rstrip()
