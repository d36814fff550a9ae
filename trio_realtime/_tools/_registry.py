"""Tools from typed Python functions: :class:`Tools`, the JSON schemas and argument checks.

A registered function's signature becomes a pydantic model: its JSON schema is what the
model sees (``parameters``), and the model's arguments are validated against it before
the function runs. Nothing here does I/O; the runner (``_runner.py``) runs the calls.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, overload

import pydantic
import pydantic_core

from ..events import FunctionTool, Tool

__all__ = ["ToolArgumentsError", "ToolSpec", "Tools"]

_F = TypeVar("_F", bound=Callable[..., Any])

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""What the API accepts as a function name."""
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the function's signature (the text says how)."""


@dataclass(frozen=True)
class ToolSpec:
    """One registered tool: its function, its wire definition and its own timeout."""

    name: str
    description: str
    parameters: dict[str, Any]
    """The JSON Schema of the arguments (an object)."""
    function: Callable[..., Any] = field(repr=False)
    timeout: float | None
    """Seconds the call may run (None: the runner's default)."""
    is_async: bool
    """True for ``async def`` functions; sync ones run in a worker thread."""
    model: type[pydantic.BaseModel] = field(repr=False)

    def definition(self) -> FunctionTool:
        """The ``{"type": "function", ...}`` entry for a session's or response's ``tools``."""
        return FunctionTool(
            name=self.name, description=self.description or None, parameters=self.parameters
        )

    def parse_arguments(self, arguments: str) -> dict[str, Any]:
        """The keyword arguments for ``function`` from the model's JSON ``arguments``.

        Raises:
            ToolArgumentsError: not a JSON object, or not the types the signature asks for.
        """
        try:
            parsed = self.model.model_validate_json(arguments.strip() or "{}")
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(_describe(exc)) from None
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    def output_text(self, result: Any) -> str:
        """The function's result as the text of a ``function_call_output`` (JSON unless str).

        Raises:
            TypeError: the result cannot be serialised to JSON.
        """
        if isinstance(result, str):
            return result
        try:
            return pydantic_core.to_json(result).decode()
        except pydantic_core.PydanticSerializationError as exc:
            raise TypeError(f"{self.name} returned a value that is not JSON: {exc}") from None


class Tools:
    """A registry of functions the model may call; register with :meth:`function`.

    ``definitions()`` gives the session's ``tools`` list
    (``SessionConfig(tools=tools.definitions())``); iterating a ``Tools`` yields the same
    definitions, so config models accept the registry itself at runtime
    (``session={"tools": tools}``). Pass it to :func:`open_tool_runner` to run the calls.
    """

    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec] = {}

    @overload
    def function(self, fn: _F, /) -> _F: ...

    @overload
    def function(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Callable[[_F], _F]: ...

    def function(
        self,
        fn: _F | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> _F | Callable[[_F], _F]:
        """Register a sync or async function as a tool: ``@tools.function`` or with options.

        The name defaults to the function's, the description to its docstring (without
        the ``Args:`` section, whose lines describe the parameters). Parameters need type
        hints; ``Annotated[T, "text"]`` or ``Annotated[T, pydantic.Field(...)]`` describe
        them, defaults make them optional. ``timeout`` (seconds) overrides the runner's.
        Returns the function unchanged.

        Raises:
            ValueError: the name is not 1-64 letters, digits, ``_`` or ``-``, or is taken.
            TypeError: a parameter has no type hint, is ``*args``/``**kwargs``, or its
                type has no JSON schema.
        """

        def register(target: _F) -> _F:
            self.add(target, name=name, description=description, timeout=timeout)
            return target

        return register if fn is None else register(fn)

    def add(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> ToolSpec:
        """Register ``fn`` (what :meth:`function` does) and return its :class:`ToolSpec`."""
        spec = _spec_of(fn, name=name, description=description, timeout=timeout)
        if spec.name in self._specs:
            raise ValueError(f"a tool named {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> ToolSpec | None:
        """The tool registered as ``name``, if any."""
        return self._specs.get(name)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._specs)

    def definitions(self) -> list[Tool]:
        """The function definitions for ``SessionConfig(tools=...)`` or ``response.tools``."""
        return [spec.definition() for spec in self._specs.values()]

    def __iter__(self) -> Iterator[FunctionTool]:
        return (spec.definition() for spec in self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __repr__(self) -> str:
        return f"Tools({self.names()!r})"


def _spec_of(
    fn: Callable[..., Any], *, name: str | None, description: str | None, timeout: float | None
) -> ToolSpec:
    if not callable(fn):
        raise TypeError(f"expected a function, got {type(fn).__name__}")
    tool_name = name if name is not None else getattr(fn, "__name__", "")
    if not isinstance(tool_name, str) or not _NAME.match(tool_name):
        raise ValueError(
            f"invalid tool name {tool_name!r}: expected 1-64 letters, digits, '_' or '-'"
        )
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive seconds or None, got {timeout!r}")
    summary, documented = _split_docstring(inspect.getdoc(fn) or "")
    model = _arguments_model(fn, tool_name, documented)
    try:
        schema = model.model_json_schema()
    except pydantic.PydanticUserError as exc:
        raise TypeError(
            f"{tool_name}: a parameter type has no JSON schema: {_first_line(exc)}"
        ) from None
    return ToolSpec(
        name=tool_name,
        description=description if description is not None else summary,
        parameters=_without_titles(schema),
        function=fn,
        timeout=timeout,
        is_async=inspect.iscoroutinefunction(inspect.unwrap(fn))
        or inspect.iscoroutinefunction(type(fn).__call__),  # an object with async __call__
        model=model,
    )


def _arguments_model(
    fn: Callable[..., Any], tool_name: str, documented: Mapping[str, str]
) -> type[pydantic.BaseModel]:
    try:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(_annotated(fn), include_extras=True)
    except (TypeError, ValueError, NameError) as exc:
        raise TypeError(f"{tool_name}: cannot read the signature: {exc}") from None
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{tool_name}: *args and **kwargs cannot be tool parameters")
        if param.kind is param.POSITIONAL_ONLY:
            raise TypeError(f"{tool_name}: {param.name} is positional-only; tools take keywords")
        if param.name not in hints:
            raise TypeError(
                f"{tool_name}: parameter {param.name!r} has no type hint (the model needs its type)"
            )
        annotation = _described(hints[param.name], documented.get(param.name))
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    try:
        return pydantic.create_model(
            f"{tool_name}_arguments",
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
        raise TypeError(
            f"{tool_name}: a parameter type has no JSON schema: {_first_line(exc)}"
        ) from None


def _annotated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Where ``fn``'s annotations live: itself, a partial's function, an object's __call__."""
    if isinstance(fn, functools.partial):
        return _annotated(fn.func)
    if inspect.isroutine(fn) or inspect.isclass(fn):
        return fn
    return type(fn).__call__


def _described(annotation: Any, documented: str | None) -> Any:
    """``Annotated[T, "text"]`` → a pydantic description; a docstring line fills a gap."""
    text = documented
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        strings = [extra for extra in extras if isinstance(extra, str)]
        if strings:
            text = strings[0]
            others = [extra for extra in extras if not isinstance(extra, str)]
            annotation = Annotated[tuple([base, *others])] if others else base
        elif any(
            isinstance(extra, pydantic.fields.FieldInfo) and extra.description for extra in extras
        ):
            text = None
    if text:
        return Annotated[annotation, pydantic.Field(description=text)]
    return annotation


def _split_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (the docstring without its ``Args:`` section) and each parameter's.

    Google style: under ``Args:``, ``name: text`` lines at one indentation, deeper lines
    continue the text; a line back at the header's indentation ends the section.
    """
    summary: list[str] = []
    params: dict[str, str] = {}
    lines = iter(doc.splitlines())
    for line in lines:
        if not _ARGS_HEADER.match(line):
            summary.append(line)
            continue
        header, base, current = _indent(line), None, None
        for arg_line in lines:
            if not arg_line.strip():
                continue
            indent = _indent(arg_line)
            if indent <= header:
                summary.append(arg_line)
                break
            base = indent if base is None else base
            match = _ARG_LINE.match(arg_line)
            if indent == base and match:
                current = match.group(1)
                params[current] = match.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {arg_line.strip()}".strip()
    return "\n".join(summary).strip(), params


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _without_titles(schema: Any) -> Any:
    """The schema without pydantic's ``title`` keywords (a property named title stays)."""
    if isinstance(schema, dict):
        return {
            key: _without_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_without_titles(value) for value in schema]
    return schema


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _describe(exc: pydantic.ValidationError) -> str:
    """A validation error as one line the model can act on."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        message = error["msg"]
        if error["type"] == "json_invalid":
            message = f"not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
        elif error["type"] == "model_type":
            message = "expected a JSON object"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)
