"""Base classes shared by every wire model: events, sessions, items."""

# Annotations are evaluated here, not postponed (no `from __future__ import annotations`):
# pydantic would otherwise evaluate every annotation string while building the classes,
# a third of their cost at import.
from collections.abc import Callable
from typing import Any, ClassVar

import pydantic
from pydantic import BaseModel, ConfigDict

__all__ = ["RealtimeEvent", "UnknownRealtimeEvent", "WireModel", "wire_names"]


class WireModel(BaseModel):
    """A JSON object of the Realtime protocol.

    Unknown fields are kept (the live service adds undocumented ones such as
    ``obfuscation``) and serialisation emits exactly the keys that were given, so
    ``model.to_dict()`` of a parsed object equals the object parsed. A model built in
    Python emits the defaults of its discriminating fields (``type``, ``role``) even
    when they were not passed; a parsed one never gains a key its input lacked.
    """

    # Declared, not just assigned: pyright reads an unannotated override of a base class
    # attribute as ambiguous and reports every wire model as partially unknown.
    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow", frozen=True, defer_build=True)

    _tag_defaults: ClassVar[dict[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._tag_defaults = {
            name: field.default
            for name in ("type", "role")
            if (field := cls.model_fields.get(name)) is not None and isinstance(field.default, str)
        }

    def __init__(self, /, **data: Any) -> None:
        for name, default in self._tag_defaults.items():
            data.setdefault(name, default)
        super().__init__(**data)

    # Validation (parsing) must not run __init__: it would add the tags to parsed input.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """Return the wire object: JSON-compatible, with no key the input did not have."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        """Return the wire object as compact JSON text."""
        return self.model_dump_json(by_alias=True, exclude_unset=True)


class RealtimeEvent(WireModel):
    """Base class of every Realtime event, sent or received.

    ``type`` is the wire name the event arrived with (or will be sent with); classes
    that cover several historical spellings keep the one they were given.
    """

    type: str

    @classmethod
    def from_json(cls, raw: str | bytes | Any) -> "RealtimeEvent":
        """Parse one server event from JSON text, bytes or a mapping.

        On :class:`RealtimeEvent` itself this parses any server event of the
        conversation protocol (see :func:`parse_server_event`); on a subclass it
        validates that one class and raises :class:`pydantic.ValidationError` if the
        payload does not fit.

        Raises:
            ProtocolError: ``raw`` is not a JSON object.
        """
        if cls is RealtimeEvent:
            return _server_parser[0](raw)
        if isinstance(raw, str | bytes | bytearray):
            return cls.model_validate_json(raw)
        return cls.model_validate(raw)


def _no_parser(raw: object) -> RealtimeEvent:
    raise RuntimeError("trio_realtime.events._parse registers the server parser on import")


_server_parser: list[Callable[[Any], RealtimeEvent]] = [_no_parser]
"""``parse_server_event``, registered by ``_parse`` (which imports this module, not the
other way round), for :meth:`RealtimeEvent.from_json` on the base class."""


class UnknownRealtimeEvent(RealtimeEvent):
    """An event this version of trio_realtime does not know, or could not validate.

    A new server event must never break a client: it arrives as this class, carrying
    the raw object in :attr:`raw` and, when the type was known but the payload did not
    validate, the :class:`pydantic.ValidationError` in :attr:`error`.
    ``to_dict()`` gives back the raw object unchanged.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, frozen=True
    )

    type: str = ""
    """The ``type`` of the raw object when it is a string, else ``""``."""
    raw: dict[str, Any]
    """The JSON object as received."""
    error: pydantic.ValidationError | None = None
    """Why a known type did not validate; ``None`` for an unrecognised type."""

    def to_dict(self) -> dict[str, Any]:
        """Return the raw object as received."""
        return dict(self.raw)

    def to_json(self) -> str:
        """Return the raw object as compact JSON text."""
        import json

        return json.dumps(self.raw, separators=(",", ":"), ensure_ascii=False)


def wire_names(cls: type[RealtimeEvent]) -> tuple[str, ...]:
    """The ``type`` values an event class is parsed from (several spellings map to one)."""
    annotation = cls.model_fields["type"].annotation
    return tuple(getattr(annotation, "__args__", ()))
