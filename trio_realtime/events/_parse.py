"""Parsing: one discriminated-union validation in pydantic-core, straight from JSON text.

The validators are built on first use; the conversation sessions build the server
events' one when they are imported (:func:`build_server_parser`), so that the first
session does not wait for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter, ValidationError

from .._errors import ProtocolError
from . import _base
from ._base import RealtimeEvent, UnknownRealtimeEvent, wire_names
from ._client import CLIENT_EVENT_CLASSES, ClientEvent
from ._server import SERVER_EVENT_CLASSES, ServerEvent
from ._translation import (
    TRANSLATION_CLIENT_EVENT_CLASSES,
    TRANSLATION_SERVER_EVENT_CLASSES,
    TranslationClientEvent,
    TranslationServerEvent,
)

__all__ = [
    "build_server_parser",
    "parse_client_event",
    "parse_server_event",
    "parse_translation_client_event",
    "parse_translation_server_event",
]

RawEvent = str | bytes | bytearray | memoryview | Mapping[str, Any]
"""What the parsers accept: JSON text, UTF-8 JSON bytes, or an already-decoded mapping."""

_E = TypeVar("_E", bound=RealtimeEvent)


class _Parser:
    """One union of event classes, validated as a single discriminated union."""

    def __init__(self, union: Any, classes: tuple[type[RealtimeEvent], ...]) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(Annotated[union, Field(discriminator="type")])
        self.known_types = frozenset(name for cls in classes for name in wire_names(cls))

    def parse(self, raw: RawEvent) -> Any:
        if isinstance(raw, memoryview):
            raw = raw.tobytes()
        if isinstance(raw, str | bytes | bytearray):
            try:
                return self.adapter.validate_json(raw)
            except ValidationError as exc:
                return self._unknown(_decode_object(raw), exc)
        if isinstance(raw, Mapping):
            obj = raw if isinstance(raw, dict) else dict(raw)
            if not all(isinstance(key, str) for key in obj):
                raise ProtocolError("expected a JSON object: every key must be a string")
            try:
                return self.adapter.validate_python(obj)
            except ValidationError as exc:
                return self._unknown(obj, exc)
        raise ProtocolError(
            f"expected a Realtime event as JSON text, bytes or a mapping, got {type(raw).__name__}"
        )

    def _unknown(self, obj: dict[str, Any], exc: ValidationError) -> UnknownRealtimeEvent:
        kind = obj.get("type")
        known = isinstance(kind, str) and kind in self.known_types
        return UnknownRealtimeEvent(
            type=kind if isinstance(kind, str) else "",
            raw=obj,
            error=exc if known else None,
        )


def _decode_object(raw: str | bytes | bytearray) -> dict[str, Any]:
    """Decode a frame pydantic rejected, to tell a bad frame from an unknown event."""
    try:
        text = raw if isinstance(raw, str) else raw.decode("utf-8")
        obj = json.loads(text)
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"expected UTF-8 JSON text, got undecodable bytes: {exc}") from exc
    except RecursionError as exc:
        raise ProtocolError("expected a JSON object, got JSON nested too deeply") from exc
    except ValueError as exc:
        raise ProtocolError(f"expected a JSON object, got invalid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON object, got a JSON {type(obj).__name__}")
    return obj


@cache
def _server() -> _Parser:
    return _Parser(ServerEvent, SERVER_EVENT_CLASSES)


def build_server_parser() -> None:
    """Build the validator of :func:`parse_server_event` now rather than on its first call.

    It takes ~15 ms once per process (more with pydantic's one-time plugin scan): a program
    pays them when it imports the sessions, not when its first session gets its first event.
    """
    _server()


@cache
def _client() -> _Parser:
    return _Parser(ClientEvent, CLIENT_EVENT_CLASSES)


@cache
def _translation_server() -> _Parser:
    return _Parser(TranslationServerEvent, TRANSLATION_SERVER_EVENT_CLASSES)


@cache
def _translation_client() -> _Parser:
    return _Parser(TranslationClientEvent, TRANSLATION_CLIENT_EVENT_CLASSES)


def parse_server_event(raw: RawEvent) -> ServerEvent | UnknownRealtimeEvent:
    """Parse one server event of the conversation protocol.

    An unrecognised or missing ``type``, or a known type whose payload does not
    validate, gives :class:`UnknownRealtimeEvent` instead of raising.

    Raises:
        ProtocolError: ``raw`` is not a JSON object (bad JSON, a list, not UTF-8).
    """
    result: ServerEvent | UnknownRealtimeEvent = _server().parse(raw)
    return result


def parse_client_event(raw: RawEvent) -> ClientEvent | UnknownRealtimeEvent:
    """Parse one client event of the conversation protocol (what the emulator receives).

    Raises:
        ProtocolError: ``raw`` is not a JSON object.
    """
    result: ClientEvent | UnknownRealtimeEvent = _client().parse(raw)
    return result


def parse_translation_server_event(
    raw: RawEvent,
) -> TranslationServerEvent | UnknownRealtimeEvent:
    """Parse one server event of the translation protocol.

    Raises:
        ProtocolError: ``raw`` is not a JSON object.
    """
    result: TranslationServerEvent | UnknownRealtimeEvent = _translation_server().parse(raw)
    return result


def parse_translation_client_event(
    raw: RawEvent,
) -> TranslationClientEvent | UnknownRealtimeEvent:
    """Parse one client event of the translation protocol.

    Raises:
        ProtocolError: ``raw`` is not a JSON object.
    """
    result: TranslationClientEvent | UnknownRealtimeEvent = _translation_client().parse(raw)
    return result


_base._server_parser[0] = parse_server_event
