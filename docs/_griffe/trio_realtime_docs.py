"""Griffe extension for the docs site: render the library's docstrings as a user reads them.

Two adjustments, made on the loaded API (the library's source is not touched):

- Sphinx roles (``:class:`Name```, ``:func:`~pkg.name```, ...) become optional autorefs:
  a link when the target is rendered on the site, plain code when it is not (a private
  name, another project's object). Markdown has no roles; left alone they render as
  literal text.
- Functions decorated with ``contextlib.asynccontextmanager`` / ``contextmanager`` are
  shown as what they are to a caller: they return a context manager for ``async with``
  / ``with``, not an ``async`` function returning an iterator.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|attr|mod|exc|obj|const):`(~?)([^`<>]+)`")
_EXTERNAL_ROOTS = ("anyio", "numpy", "pydantic", "trio", "trio_realtime")
_CONTEXT_MANAGERS = {
    "contextlib.asynccontextmanager": ("AbstractAsyncContextManager", "async-context-manager"),
    "contextlib.contextmanager": ("AbstractContextManager", "context-manager"),
}


def _identifier(obj: griffe.Object, name: str) -> str:
    """The full path ``name`` means inside ``obj``'s scope, else ``name`` itself."""
    if name.split(".", 1)[0] in _EXTERNAL_ROOTS:
        return name
    scope: griffe.Object | None = obj
    while scope is not None:
        if scope.is_class or scope.is_module:
            members = scope.all_members if isinstance(scope, griffe.Class) else scope.members
            if name in members:
                return f"{scope.path}.{name}"
            try:
                return scope.resolve(name)
            except griffe.NameResolutionError:
                pass
        scope = scope.parent
    return name


def _rewrite_roles(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        short, name = match.group(1), match.group(2).strip()
        title = name.rsplit(".", 1)[-1] if short else name
        identifier = _identifier(obj, name)
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )

    return _ROLE.sub(replace, text)


def _as_context_manager(function: griffe.Function) -> None:
    for decorator in function.decorators:
        shown = _CONTEXT_MANAGERS.get(decorator.callable_path)
        if shown is None:
            continue
        manager, label = shown
        returns = function.returns
        if isinstance(returns, griffe.ExprSubscript):
            function.returns = griffe.ExprSubscript(
                griffe.ExprName(manager, parent=function.parent), returns.slice
            )
        function.labels.discard("async")
        function.labels.discard("generator")
        function.labels.add(label)
        return


class TrioRealtimeDocs(griffe.Extension):
    """Rewrite roles in every docstring and present context-manager factories as such."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name == "trio_realtime":
            self._walk(pkg, set())

    def _walk(self, obj: griffe.Object | griffe.Alias, seen: set[str]) -> None:
        if obj.is_alias or obj.path in seen:
            return
        seen.add(obj.path)
        assert isinstance(obj, griffe.Object)
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = _rewrite_roles(obj, obj.docstring.value)
        if isinstance(obj, griffe.Function):
            _as_context_manager(obj)
        for member in list(obj.members.values()):
            self._walk(member, seen)
