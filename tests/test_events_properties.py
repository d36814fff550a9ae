"""Property tests: every parser has exactly two outcomes, whatever arrives on the wire.

A parser returns a :class:`RealtimeEvent` (a known event, or an
:class:`UnknownRealtimeEvent` carrying the raw object) or raises
:class:`trio_realtime.ProtocolError`. Nothing else may escape: a reader task that gets a
``KeyError`` or ``RecursionError`` from a hostile frame takes the whole session down.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import trio_realtime
from trio_realtime import ProtocolError, RealtimeEvent, UnknownRealtimeEvent, events as ev

FIXTURES = Path(__file__).parent / "fixtures" / "events"

Parser = Callable[[Any], RealtimeEvent]

PROTOCOLS: dict[str, tuple[Parser, tuple[type[RealtimeEvent], ...], tuple[str, ...]]] = {
    "server": (
        trio_realtime.parse_server_event,
        ev.SERVER_EVENT_CLASSES,
        ("server", "server_beta"),
    ),
    "client": (trio_realtime.parse_client_event, ev.CLIENT_EVENT_CLASSES, ("client",)),
    "translation_server": (
        trio_realtime.parse_translation_server_event,
        ev.TRANSLATION_SERVER_EVENT_CLASSES,
        ("translation_server",),
    ),
    "translation_client": (
        trio_realtime.parse_translation_client_event,
        ev.TRANSLATION_CLIENT_EVENT_CLASSES,
        ("translation_client",),
    ),
}

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _wire_names(cls: type[RealtimeEvent]) -> tuple[str, ...]:
    names: tuple[str, ...] = getattr(cls.model_fields["type"].annotation, "__args__", ())
    return names


def _fixtures(files: tuple[str, ...]) -> list[dict[str, Any]]:
    events = []
    for name in files:
        for fixture in json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")):
            events.append(fixture["event"])
    return events


ALL_TYPES = sorted(
    {n for _, classes, _ in PROTOCOLS.values() for c in classes for n in _wire_names(c)}
)
FIELD_NAMES = sorted(
    {f for _, classes, _ in PROTOCOLS.values() for c in classes for f in c.model_fields}
    | {"session", "item", "response", "audio", "input", "output", "content", "role", "status"}
)

JSONISH_ALPHABET = '{}[]":,0123456789.-eEtrufalsn \\'
"""Characters that make random text look like JSON, so the decoder's corners get hit."""

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=10)
random_objects = st.dictionaries(keys, json_values, max_size=6)
objects_with_a_type = st.builds(
    lambda fields, kind: {**fields, "type": kind},
    random_objects,
    st.sampled_from(ALL_TYPES) | st.text(max_size=20),
)


@st.composite
def mutated_fixtures(draw: st.DrawFn, files: tuple[str, ...]) -> dict[str, Any]:
    """A realistic event with one value somewhere inside replaced, dropped or added."""
    event = copy.deepcopy(draw(st.sampled_from(_fixtures(files))))
    target: Any = event
    while True:
        children = list(target.items()) if isinstance(target, dict) else list(enumerate(target))
        containers = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
        if not containers or draw(st.booleans()):
            break
        _, target = draw(st.sampled_from(containers))
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if isinstance(target, dict) and target:
        key = draw(st.sampled_from(sorted(target)))
        if action == "drop":
            del target[key]
        elif action == "add":
            target[draw(keys)] = draw(json_values)
        else:
            target[key] = draw(json_values)
    elif isinstance(target, list) and target:
        index = draw(st.integers(0, len(target) - 1))
        if action == "drop":
            del target[index]
        else:
            target[index] = draw(json_values)
    return event


def check_outcome(
    parse: Parser, raw: Any, expected_raw: dict[str, Any] | None
) -> RealtimeEvent | None:
    """Parse ``raw``, check the documented outcomes; return the event (None on ProtocolError)."""
    try:
        event = parse(raw)
    except ProtocolError:
        assert expected_raw is None, "a JSON object must never raise ProtocolError"
        return None
    assert isinstance(event, RealtimeEvent)
    if isinstance(event, UnknownRealtimeEvent):
        if expected_raw is not None:
            assert event.raw == expected_raw
            assert event.to_dict() == expected_raw
        assert json.loads(event.to_json()) == event.raw
    else:
        assert parse(event.to_json()) == event
        assert parse(event.to_dict()) == event
    return event


def has_unhashable_nested_tag(value: Any, top: bool = True) -> bool:
    """True for the inputs of a known bug: a nested ``type``/``role`` that is a list or object.

    ``_item_tag`` evaluates ``kind in frozenset(...)`` and raises ``TypeError`` (see the
    strict xfail in test_events_roundtrip.py); such inputs are left out here so the
    properties keep looking for other failures.
    """
    if isinstance(value, dict):
        if not top and any(isinstance(value.get(k), dict | list) for k in ("type", "role")):
            return True
        return any(has_unhashable_nested_tag(v, top=False) for v in value.values())
    if isinstance(value, list):
        return any(has_unhashable_nested_tag(v, top=False) for v in value)
    return False


def check_object(parse: Parser, obj: dict[str, Any], ensure_ascii: bool) -> None:
    assume(not has_unhashable_nested_tag(obj))
    text = json.dumps(obj, ensure_ascii=ensure_ascii)
    results = [
        check_outcome(parse, obj, obj),
        check_outcome(parse, text, obj),
        check_outcome(parse, text.encode(), obj),
    ]
    kinds = {type(r) for r in results}
    assert len(kinds) == 1, f"dict, str and bytes input disagree: {kinds}"
    dumped = [r.to_dict() for r in results if r is not None]
    assert all(d == dumped[0] for d in dumped)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@PROPERTY_SETTINGS
@given(obj=random_objects, ensure_ascii=st.booleans())
def test_arbitrary_json_objects(protocol: str, obj: dict[str, Any], ensure_ascii: bool) -> None:
    check_object(PROTOCOLS[protocol][0], obj, ensure_ascii)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@PROPERTY_SETTINGS
@given(obj=objects_with_a_type, ensure_ascii=st.booleans())
def test_objects_with_a_known_or_random_type(
    protocol: str, obj: dict[str, Any], ensure_ascii: bool
) -> None:
    check_object(PROTOCOLS[protocol][0], obj, ensure_ascii)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@PROPERTY_SETTINGS
@given(data=st.data(), ensure_ascii=st.booleans())
def test_mutated_realistic_events(protocol: str, data: st.DataObject, ensure_ascii: bool) -> None:
    parse, _, files = PROTOCOLS[protocol]
    obj = data.draw(mutated_fixtures(files))
    check_object(parse, obj, ensure_ascii)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@PROPERTY_SETTINGS
@given(value=json_values)
def test_json_values_that_are_not_objects_raise_protocol_error(protocol: str, value: Any) -> None:
    parse = PROTOCOLS[protocol][0]
    text = json.dumps(value)
    if isinstance(value, dict):
        check_object(parse, value, ensure_ascii=True)
        return
    for raw in (text, text.encode()):
        with pytest.raises(ProtocolError):
            parse(raw)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes(protocol: str, raw: bytes) -> None:
    check_outcome(PROTOCOLS[protocol][0], raw, None)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@PROPERTY_SETTINGS
@given(
    raw=st.text(max_size=200) | st.text(alphabet='{}[]":,0123456789.-eEtrufalsn \\', max_size=60)
)
def test_arbitrary_text(protocol: str, raw: str) -> None:
    check_outcome(PROTOCOLS[protocol][0], raw, None)
