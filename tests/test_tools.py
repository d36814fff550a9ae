"""Tools from typed functions: the schema the model sees, names, argument checks, outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pydantic
import pytest
from hypothesis import given, strategies as st

import trio_realtime as rt
from trio_realtime import events as ev


class Opaque:
    """A type pydantic has no schema for."""


class Address(pydantic.BaseModel):
    street: str
    city: str


def make_tools() -> rt.Tools:
    tools = rt.Tools()

    @tools.function
    def get_weather(
        city: Annotated[str, "The city, e.g. Paris"],
        unit: Literal["celsius", "fahrenheit"] = "celsius",
        days: Annotated[int, pydantic.Field(ge=1, le=7, description="Days ahead")] = 1,
    ) -> dict[str, Any]:
        """Get the weather forecast.

        Uses the national service.

        Args:
            city: ignored, the annotation wins.
            unit: The temperature unit,
                celsius unless asked.
        """
        return {"city": city, "unit": unit, "days": days}

    @tools.function(name="ship-parcel", description="Ship a parcel.", timeout=5.0)
    async def ship(to: Address, weight_kg: float) -> str:
        return f"{to.city}:{weight_kg}"

    return tools


def test_schema_and_description_come_from_the_signature_and_docstring() -> None:
    tools = make_tools()
    assert tools.names() == ["get_weather", "ship-parcel"]
    weather, ship = tools.definitions()
    assert isinstance(weather, ev.FunctionTool) and isinstance(ship, ev.FunctionTool)
    assert weather.name == "get_weather"
    assert weather.description == "Get the weather forecast.\n\nUses the national service."
    assert weather.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "default": "celsius",
                "description": "The temperature unit, celsius unless asked.",
            },
            "days": {
                "type": "integer",
                "minimum": 1,
                "maximum": 7,
                "default": 1,
                "description": "Days ahead",
            },
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    assert ship.description == "Ship a parcel."
    assert ship.parameters is not None
    assert ship.parameters["required"] == ["to", "weight_kg"]
    assert ship.parameters["properties"]["to"] == {"$ref": "#/$defs/Address"}
    assert ship.parameters["$defs"]["Address"]["properties"] == {
        "street": {"type": "string"},
        "city": {"type": "string"},
    }
    spec = tools.get("ship-parcel")
    assert spec is not None and spec.timeout == 5.0 and spec.is_async


def test_a_property_named_title_is_kept() -> None:
    tools = rt.Tools()

    @tools.function
    def note(title: str) -> None:
        """Take a note."""

    [definition] = tools.definitions()
    assert isinstance(definition, ev.FunctionTool) and definition.parameters is not None
    assert definition.parameters["properties"] == {"title": {"type": "string"}}


def test_session_config_accepts_the_registry_and_sends_the_definitions() -> None:
    tools = make_tools()
    config = ev.SessionConfig(tools=tools)
    assert config.tools == tools.definitions()
    wire = json.loads(ev.SessionUpdateEvent(session=config).to_json())
    assert [tool["name"] for tool in wire["session"]["tools"]] == ["get_weather", "ship-parcel"]
    assert ev.ResponseCreateParams(tools=tools).tools == tools.definitions()
    assert len(tools) == 2 and "get_weather" in tools and "nope" not in tools
    assert repr(tools) == "Tools(['get_weather', 'ship-parcel'])"


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "émoji", "dot.ted"])
def test_invalid_names_are_refused_at_registration(name: str) -> None:
    tools = rt.Tools()
    with pytest.raises(ValueError, match="invalid tool name"):
        tools.add(lambda: None, name=name)


def test_a_name_is_registered_once() -> None:
    tools = rt.Tools()

    @tools.function
    def lookup() -> None:
        """Look up."""

    with pytest.raises(ValueError, match="already registered"):
        tools.add(lookup)


def test_signatures_the_model_cannot_call_are_refused() -> None:
    tools = rt.Tools()

    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    def star(*cities: str) -> None: ...

    def keywords(**options: str) -> None: ...

    def positional(city: str, /) -> None: ...

    def callback(on_done: Callable[[], None]) -> None: ...

    def no_schema(thing: Opaque) -> None: ...

    with pytest.raises(TypeError, match="no type hint"):
        tools.add(untyped)
    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        tools.add(star)
    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        tools.add(keywords)
    with pytest.raises(TypeError, match="positional-only"):
        tools.add(positional)
    with pytest.raises(TypeError, match="no JSON"):
        tools.add(no_schema)
    with pytest.raises(TypeError, match="no JSON schema"):
        tools.add(callback)
    with pytest.raises(ValueError, match="timeout"):
        tools.add(lambda: None, name="t", timeout=0)
    assert len(tools) == 0


def test_arguments_are_validated_and_converted() -> None:
    spec = make_tools().get("ship-parcel")
    assert spec is not None
    arguments = spec.parse_arguments(
        '{"to": {"street": "1 Main St", "city": "Oslo"}, "weight_kg": 2}'
    )
    assert arguments == {"to": Address(street="1 Main St", city="Oslo"), "weight_kg": 2.0}
    weather = make_tools().get("get_weather")
    assert weather is not None
    assert weather.parse_arguments('{"city": "Paris"}') == {
        "city": "Paris",
        "unit": "celsius",
        "days": 1,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("{not json", "arguments: not valid JSON (key must be a string at line 1 column 2)"),
        ("[1, 2]", "arguments: expected a JSON object"),
        ('{"unit": "kelvin"}', "city: Field required; unit: Input should be 'celsius' or"),
        ('{"city": "Paris", "days": 9}', "days: Input should be less than or equal to 7"),
        ('{"city": "Paris", "extra": 1}', "extra: Extra inputs are not permitted"),
    ],
)
def test_bad_arguments_are_explained(arguments: str, message: str) -> None:
    spec = make_tools().get("get_weather")
    assert spec is not None
    with pytest.raises(rt.ToolArgumentsError) as info:
        spec.parse_arguments(arguments)
    assert str(info.value).startswith(message)


def test_async_callables_are_recognised() -> None:
    class Lookup:
        async def __call__(self, query: str) -> str:
            return query

    tools = rt.Tools()
    spec = tools.add(Lookup(), name="lookup")
    assert spec.is_async
    assert spec.parameters["required"] == ["query"]


def test_empty_arguments_mean_no_arguments() -> None:
    tools = rt.Tools()

    @tools.function
    def ping() -> str:
        """Ping."""
        return "pong"

    spec = tools.get("ping")
    assert spec is not None and spec.parse_arguments("") == {}


def test_outputs_are_text_or_json() -> None:
    spec = make_tools().get("get_weather")
    assert spec is not None
    assert spec.output_text("as is") == "as is"
    assert spec.output_text({"a": [1, None]}) == '{"a":[1,null]}'
    assert spec.output_text(Address(street="s", city="c")) == '{"street":"s","city":"c"}'
    assert spec.output_text(None) == "null"
    with pytest.raises(TypeError, match="not JSON"):
        spec.output_text(object())


@given(
    city=st.text(max_size=30),
    unit=st.sampled_from(["celsius", "fahrenheit"]),
    days=st.integers(min_value=1, max_value=7),
)
def test_valid_arguments_round_trip_through_json(city: str, unit: str, days: int) -> None:
    spec = make_tools().get("get_weather")
    assert spec is not None
    text = json.dumps({"city": city, "unit": unit, "days": days})
    assert spec.parse_arguments(text) == {"city": city, "unit": unit, "days": days}


@given(st.text(max_size=60))
def test_any_text_is_arguments_or_an_explained_error(text: str) -> None:
    spec = make_tools().get("get_weather")
    assert spec is not None
    try:
        arguments = spec.parse_arguments(text)
    except rt.ToolArgumentsError as exc:
        assert str(exc)
    else:
        assert set(arguments) == {"city", "unit", "days"}
