"""Imports on first use: a package's ``__getattr__`` (PEP 562) that imports the submodule
holding a name only when the name is first asked for.

A command pays for every module it imports, at every start (a plan of thousands of
deployments imports some 340): importing one submodule of a package, or the package for one
of its names, must not import the rest.
"""

from __future__ import annotations

import sys
from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``, for the names of ``homes`` (name -> submodule):
    each is imported from ``package.submodule`` when first asked for, then kept in the
    package, so that it is looked up once."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
