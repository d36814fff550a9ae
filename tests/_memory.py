"""Shared helpers for engine tests on the in-memory transport (the test plays the server)."""

from __future__ import annotations

from typing import Any

from trio_realtime._transport._memory import MemoryPeer, MemoryServer

__all__ = ["MemoryPeer", "MemoryServer", "created", "response_created", "response_done"]


def created(session_id: str = "sess_test") -> dict[str, Any]:
    return {
        "type": "session.created",
        "event_id": "event_1",
        "session": {"type": "realtime", "object": "realtime.session", "id": session_id},
    }


def response_created(response_id: str, conversation_id: str | None = "conv_1") -> dict[str, Any]:
    return {
        "type": "response.created",
        "event_id": f"event_{response_id}_c",
        "response": {
            "id": response_id,
            "status": "in_progress",
            "conversation_id": conversation_id,
        },
    }


def response_done(response_id: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "response.done",
        "event_id": f"event_{response_id}_d",
        "response": {"id": response_id, "status": status, "conversation_id": "conv_1"},
    }


def text_delta(n: int) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "event_id": f"event_d{n}",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": f"d{n} ",
    }
