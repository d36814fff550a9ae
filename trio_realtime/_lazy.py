"""Lazy attributes for a package's ``__init__``: a name's module is imported on first access.

``import trio_realtime`` then costs only what is used (numpy, httpx, the REST client...
load with the first name that needs them). The package lists its names once, in a table
of name -> private submodule; an ``if TYPE_CHECKING:`` block repeats them as imports for
type checkers and the docs, and a test keeps the two equal.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, table: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` (PEP 562) of ``package``, serving ``table``'s names.

    ``table`` maps each public name to the module (relative to ``package``) that defines
    it, or a subpackage's name to itself (``"events": ".events"``). A value is imported
    once, then stored in the package's namespace: later accesses are plain lookups.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> object:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module, package)
        is_subpackage = imported.__name__ == f"{package}.{name}"
        value = imported if is_subpackage else getattr(imported, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace.keys() | table.keys())

    return __getattr__, __dir__
