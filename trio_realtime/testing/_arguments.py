"""Function-call arguments: the user's words where they name a value, else the JSON Schema.

"What does get_weather say for Paris?" gives ``{"city": "Paris"}``; "the weather in Paris
and Tokyo" gives one call per city when parallel calls are allowed. A value the text does
not name comes from the schema: its ``enum``, ``const``, ``default``, ``format``, bounds,
or a plausible string suggested by the property's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["argument_sets", "example_arguments", "tools_named_in"]

_PLACE_WORDS = frozenset(
    {"city", "location", "place", "address", "destination", "town", "region", "where"}
)
_STRING_HINTS = (
    (_PLACE_WORDS, "San Francisco"),
    (frozenset({"country"}), "United States"),
    (frozenset({"email"}), "user@example.com"),
    (frozenset({"url", "link", "uri"}), "https://example.com"),
    (frozenset({"date", "day"}), "2025-01-15"),
    (frozenset({"time"}), "12:00"),
    (frozenset({"name"}), "Alex"),
    (frozenset({"unit"}), "celsius"),
    (frozenset({"language", "lang"}), "en"),
    (frozenset({"phone"}), "+1-555-0100"),
    (frozenset({"query", "search", "question", "text", "message", "prompt"}), "hello"),
)
_FORMATS = {
    "date": "2025-01-15",
    "date-time": "2025-01-15T12:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_GENERIC_VERBS = frozenset(
    {
        "get",
        "set",
        "fetch",
        "find",
        "lookup",
        "look",
        "up",
        "search",
        "check",
        "do",
        "make",
        "call",
        "run",
        "query",
        "retrieve",
        "current",
        "show",
        "list",
        "tool",
    }
)
_PREPOSITION = re.compile(r"\b(?:in|for|at|to|from|near|about)\s+(?=[A-Z])")
_CAPITALISED = re.compile(r"[A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*)*")
_CLAUSE_END = re.compile(r"[?.!;:\n]")
_PATTERNS = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "url": re.compile(r"https?://\S+[^\s.,;:!?)]"),
    "date": re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
}


def _words(name: str) -> set[str]:
    return {word for word in re.split(r"[^a-z]+", name.lower()) if word}


def tools_named_in(tools: Sequence[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The tools the text asks for, in the tools' order.

    A tool is asked for when its name appears (``get_weather`` or "get weather"), or
    every word of its name but generic verbs does ("what's the weather" asks for
    ``get_weather``).
    """
    lowered = text.lower()
    said = _words(text)
    named = []
    for tool in tools:
        name = str(tool.get("name", "")).lower()
        salient = _words(name) - _GENERIC_VERBS
        if name and (
            name in lowered or name.replace("_", " ") in lowered or (salient and salient <= said)
        ):
            named.append(tool)
    return named


def places_in(text: str) -> list[str]:
    """The places a text names after a preposition: "for Paris and New York" names two."""
    found: list[str] = []
    for match in _PREPOSITION.finditer(text):
        end = _CLAUSE_END.search(text, match.end())
        clause = text[match.end() : end.start() if end else len(text)]
        for place in _CAPITALISED.findall(clause):
            if place != "I" and place not in found:
                found.append(place)
    return found


def example_arguments(
    schema: Any, text: str | None = None, *, earlier: Sequence[str] = ()
) -> dict[str, Any]:
    """Plausible arguments for a function's ``parameters`` JSON Schema.

    Required properties (all of them when none is marked required) get a value of their
    type. With ``text`` (the user's words), values it names come first: a place after
    "in"/"for"/"at" for a city or location, an ``enum`` value it mentions, a number
    before the property's name ("for 3 days"), an email, URL or ISO date it contains.
    ``earlier`` (older user messages, latest first) supplies a place ``text`` does not
    name ("Paris is lovely." then "What's the weather?"). Otherwise: the first ``enum``
    value, a ``const`` or ``default``, a string suggested by the property's name or
    ``format``, the ``minimum`` of a number, and so on.
    """
    places = _places(text, earlier)
    value = _example(
        schema if isinstance(schema, dict) else {"type": "object"},
        "",
        _Words(text or "", places[0] if places else None),
    )
    return value if isinstance(value, dict) else {}


def argument_sets(
    schema: Any, text: str | None = None, *, earlier: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """One set of arguments per place the text names (parallel calls), else one set."""
    arguments = example_arguments(schema, text, earlier=earlier)
    places = _places(text, earlier)
    keys = [key for key in arguments if _words(key) & _PLACE_WORDS]
    if len(places) < 2 or not keys:
        return [arguments]
    return [{**arguments, keys[0]: place} for place in places]


def _places(text: str | None, earlier: Sequence[str]) -> list[str]:
    """The places the latest message names, else those of the latest earlier one naming any."""
    for said in (text or "", *earlier):
        places = places_in(said)
        if places:
            return places
    return []


class _Words:
    """The user's words, as ``_example`` asks them for values."""

    def __init__(self, text: str, place: str | None) -> None:
        self.text = text
        self.place = place

    def string(self, name: str) -> str | None:
        words = _words(name)
        if self.place and words & _PLACE_WORDS:
            return self.place
        for key, pattern in _PATTERNS.items():
            if key in words or (key == "url" and words & {"link", "uri"}):
                found = pattern.search(self.text)
                if found:
                    return found.group(0)
        if self.text and words & {"query", "search", "question", "text", "message", "prompt"}:
            return self.text.strip()
        return None

    def choice(self, options: Sequence[Any]) -> Any:
        said = _words(self.text)
        return next((option for option in options if str(option).lower() in said), None)

    def number(self, name: str) -> float | None:
        stems = {word.rstrip("s") for word in _words(name)}
        for amount, word in re.findall(r"(\d+(?:\.\d+)?)\s+([A-Za-z]+)", self.text):
            if word.lower().rstrip("s") in stems:
                return float(amount)
        return None


def _example(schema: dict[str, Any], name: str, said: _Words) -> Any:
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        mentioned = said.choice(schema["enum"])
        return schema["enum"][0] if mentioned is None else mentioned
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and isinstance(options[0], dict):
            return _example(options[0], name, said)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((option for option in kind if option != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {
            prop: _example(properties.get(prop) or {}, prop, said)
            for prop in required
            if isinstance(prop, str)
        }
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            items = {}
        return [_example(items, name, said) for _ in range(max(1, int(schema.get("minItems", 1))))]
    if kind == "integer":
        return _number(schema, said.number(name), 1, int)
    if kind == "number":
        return _number(schema, said.number(name), 1.0, float)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name, said)


def _number(
    schema: dict[str, Any], said: float | None, fallback: float, cast: Callable[[Any], Any]
) -> Any:
    minimum = _bound(schema.get("minimum", schema.get("exclusiveMinimum")))
    maximum = _bound(schema.get("maximum", schema.get("exclusiveMaximum")))
    in_bounds = said is not None and (minimum is None or said >= minimum)
    if said is not None and in_bounds and (maximum is None or said <= maximum):
        return cast(said)
    value = fallback
    if minimum is not None:
        value = minimum + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    elif maximum is not None and maximum < value:
        value = maximum
    return cast(value)


def _bound(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _string(schema: dict[str, Any], name: str, said: _Words) -> str:
    text = said.string(name) or _FORMATS.get(str(schema.get("format")), "")
    if not text:
        words = _words(name)
        text = next((value for hints, value in _STRING_HINTS if words & hints), "example")
    minimum = schema.get("minLength")
    if isinstance(minimum, int) and len(text) < minimum:
        text = text + "x" * (minimum - len(text))
    maximum = schema.get("maxLength")
    if isinstance(maximum, int) and len(text) > maximum:
        text = text[:maximum]
    return text
