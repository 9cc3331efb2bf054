"""Missing packages: which Python package to install when a plugin cannot import a module.

A plugin that needs a package nobody installed fails with ``ModuleNotFoundError: No module named
'sklearn'``, which names the *import* name; ``pip install`` wants the *distribution* name
(``scikit-learn``). ``missing_package`` reads the exception (or the one it was raised from) and
says what to install:

- a module no installed distribution provides: the distribution of that name, or of the
  well-known names that differ (``_DISTRIBUTIONS``), or for a module inside a namespace package
  (``google.cloud.aiplatform``, ``azure.ai.ml``) its dotted name with dashes, as those
  distributions are named (``google-cloud-aiplatform``);
- a top-level module whose distribution *is* installed (``importlib.metadata.
  packages_distributions()`` knows it) but whose files are gone: a reinstall of that
  distribution;
- a submodule that an installed distribution does not have (``mlflow.foo``): that
  distribution's version is the problem, not a missing package.

Nothing is imported to find out: ``importlib.util.find_spec`` looks the top-level name up.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from typing import Final

# Import names whose distribution is named differently and that no installed distribution can
# tell us about (they are missing): the ones ML deployment plugins commonly need.
_DISTRIBUTIONS: Final = {
    "sklearn": "scikit-learn",
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "google.protobuf": "protobuf",
}
# Namespace packages shared by many distributions (google-cloud-storage, azure-ai-ml): when the
# namespace itself is missing, Python names only it, and which distribution was meant is unknown.
_NAMESPACE_ROOTS: Final = frozenset({"google", "azure"})
# How far down an exception's chain of causes deployctl looks (plugins wrap what failed).
_CHAIN_LIMIT: Final = 8


@dataclass(frozen=True)
class MissingPackage:
    """A module a plugin could not import, and the distribution that provides it.

    ``installed`` is that distribution's version when it is installed after all: its files are
    gone (``module`` is its top-level package), or it lacks the submodule ``module``.
    """

    module: str
    distribution: str | None
    installed: str | None = None

    @property
    def broken(self) -> bool:
        """The distribution is installed but its top-level module cannot be found."""
        return self.installed is not None and "." not in self.module

    def explanation(self) -> str:
        """What is missing, in words: ``the plugin needs the Python package 'X'``."""
        if self.distribution is None:
            return (
                f"the plugin needs a Python package of the '{self.module}' namespace "
                f"({self.module}-…), and none is installed"
            )
        if self.installed is None:
            text = f"the plugin needs the Python package '{self.distribution}'"
            if _canonical(self.module) != _canonical(self.distribution):
                text += f" (import name '{self.module}')"
            return text
        if self.broken:
            return (
                f"the plugin needs the Python package '{self.distribution}', which is "
                f"installed ({self.installed}) without its module '{self.module}'"
            )
        return (
            f"the plugin needs the Python module '{self.module}', which the installed "
            f"{self.distribution} {self.installed} does not have"
        )

    def fix(self) -> str:
        """The command (or step) that installs what is missing."""
        if self.distribution is None:
            return f"pip install the {self.module}-… package that the plugin's documentation names"
        if self.installed is None:
            return f"pip install {self.distribution}"
        if self.broken:
            return f"pip install --force-reinstall {self.distribution}"
        return f"install the version of {self.distribution} that the plugin needs"

    def __str__(self) -> str:
        return f"{self.explanation()}: {self.fix()}"


def missing_package(exc: BaseException) -> MissingPackage | None:
    """The package ``exc`` says is missing: a ``ModuleNotFoundError`` naming a module, or an
    exception raised from one (plugins wrap it: ``raise ImportError("...") from exc``); ``None``
    for any other exception."""
    module = missing_module_name(exc)
    return None if module is None else package_for(module)


def package_for(module: str) -> MissingPackage:
    """The distribution to install for the import name ``module``, which cannot be imported."""
    top = module.partition(".")[0]
    spec = _find_spec(top)
    known = _installed_distributions(top)
    if spec is None:
        if len(known) == 1:  # installed, yet the module is gone: a broken install
            name = known[0]
            return MissingPackage(top, name, _version(name))
        if module in _NAMESPACE_ROOTS:
            return MissingPackage(module, None)
        return MissingPackage(module, _distribution_for(module, namespace=top in _NAMESPACE_ROOTS))
    if _is_namespace(spec):
        return MissingPackage(module, _distribution_for(module, namespace=True))
    if len(known) == 1 and module != top:
        name = known[0]
        return MissingPackage(module, name, _version(name))
    return MissingPackage(module, known[0] if len(known) == 1 else _distribution_for(module))


def missing_module_name(exc: BaseException) -> str | None:
    """The name of the module ``exc`` (or an exception it was raised from) could not find."""
    for current in exception_chain(exc):
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name
    return None


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it was raised from (its ``__cause__``, else its ``__context__``
    unless suppressed), and so on: each exception once, at most ``_CHAIN_LIMIT`` of them."""
    seen: set[int] = set()
    current: BaseException | None = exc
    for _ in range(_CHAIN_LIMIT):
        if current is None or id(current) in seen:
            return
        seen.add(id(current))
        yield current
        cause = current.__cause__
        if cause is None and not current.__suppress_context__:
            cause = current.__context__
        current = cause


def _distribution_for(module: str, *, namespace: bool = False) -> str:
    for name in (module, module.partition(".")[0]):
        if name in _DISTRIBUTIONS:
            return _DISTRIBUTIONS[name]
    if namespace:
        # google.cloud.aiplatform -> google-cloud-aiplatform, azure.ai.ml -> azure-ai-ml.
        return module.replace(".", "-").replace("_", "-")
    return module.partition(".")[0]


def _find_spec(name: str) -> ModuleSpec | None:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _is_namespace(spec: ModuleSpec) -> bool:
    return spec.submodule_search_locations is not None and spec.origin in (None, "namespace")


def _installed_distributions(top: str) -> list[str]:
    """The installed distributions that declare the top-level module ``top`` (deduplicated:
    a distribution seen twice on ``sys.path`` is listed twice)."""
    from importlib import metadata  # only when an import failed: it takes 10 ms to import

    return sorted(set(metadata.packages_distributions().get(top, [])))


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


__all__ = ["MissingPackage", "missing_module_name", "missing_package", "package_for"]
