"""Several environments in one run (``plan -f environments/`` or several ``-f``): which
manifests are environments, and each one's plan or the error that stopped it.

A folder holds environments and the bases they share: every ``*.yaml``/``*.yml`` file in it
(not in its subfolders, not hidden) is an environment unless another file of the folder
``extends:`` it. Each environment is planned as ``plan -f FILE`` plans it, against its own
state; one that fails does not stop the others. Two manifests of one run may not name the same
environment, nor share a local state file (a ``state: {path: …}`` in a base, or one
``--state FILE``): each would be planned against the other's deployments.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from deployctl.errors import DeployctlError, UsageError

if TYPE_CHECKING:
    from deployctl.manifest.model import Manifest
    from deployctl.planner.plan import Plan
    from deployctl.state.backends import StateLocation

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class EnvironmentPlan:
    """One environment of a run: its manifest (as named on the command line or found in a
    folder), its name (the file's stem when the manifest could not be read), and its plan or
    the error that stopped it."""

    manifest: str
    environment: str
    plan: Plan | None = None
    error: DeployctlError | None = None

    @property
    def failed(self) -> bool:
        return self.plan is None


class EnvironmentPlanner(Protocol):
    """What planning one environment takes; the CLI provides it from its options."""

    def load(self, path: str) -> Manifest:
        """The manifest at ``path``."""
        ...

    def locate(self, manifest: Manifest) -> StateLocation:
        """Where ``manifest``'s state lives."""
        ...

    def plan(self, manifest: Manifest, location: StateLocation) -> Plan:
        """``manifest`` planned against the state at ``location``."""
        ...


def environment_manifests(arguments: Sequence[str]) -> list[str]:
    """The environment manifests that ``-f`` arguments name, each once: a file as given, a
    folder's environments sorted by file name. ``UsageError`` for a path that does not exist
    and for a folder without environments."""
    found: list[str] = []
    seen: set[str] = set()
    for argument in arguments:
        if os.path.isdir(argument):
            paths = folder_environments(argument)
        elif os.path.exists(argument):
            paths = [argument]
        else:
            raise UsageError(
                f"-f {argument}: no such file or folder",
                hint="give an environment's manifest or a folder of them",
            )
        for path in paths:
            identity = os.path.realpath(path)
            if identity not in seen:
                seen.add(identity)
                found.append(path)
    return found


def folder_environments(folder: str) -> list[str]:
    """The environments of ``folder``: its manifests that no other of them extends."""
    from deployctl.manifest.extends import base_paths

    names = sorted(
        name
        for name in os.listdir(folder)
        if name.endswith(MANIFEST_SUFFIXES)
        and not name.startswith(".")
        and os.path.isfile(os.path.join(folder, name))
    )
    manifests = [os.path.join(folder, name) for name in names]
    bases = {os.path.realpath(base) for path in manifests for base in base_paths(path)}
    environments = [path for path in manifests if os.path.realpath(path) not in bases]
    if not environments:
        what = "only bases" if manifests else "no *.yaml or *.yml file"
        raise UsageError(
            f"-f {folder}: the folder holds no environment manifest ({what})",
            hint="an environment's manifest names its environment; a file that another one "
            "extends is a base",
        )
    return environments


def plan_environments(
    manifests: Sequence[str], planner: EnvironmentPlanner
) -> Iterator[EnvironmentPlan]:
    """Each manifest's plan (or error), in order, as soon as it is made."""
    names: dict[str, str] = {}
    state_files: dict[Path, str] = {}
    for path in manifests:
        environment = Path(path).stem
        try:
            manifest = planner.load(path)
            environment = manifest.environment
            _check_own_environment(path, environment, names)
            location = planner.locate(manifest)
            _check_own_state(location, environment, state_files)
            yield EnvironmentPlan(path, environment, plan=planner.plan(manifest, location))
        except DeployctlError as error:
            yield EnvironmentPlan(path, environment, error=error)


def _check_own_environment(path: str, environment: str, names: dict[str, str]) -> None:
    other = names.setdefault(environment, path)
    if other != path:
        raise UsageError(
            f"{path} is environment '{environment}', as {other} is: each manifest of a run "
            "must name its own environment",
            hint="correct environment: in one of them",
        )


def _check_own_state(
    location: StateLocation, environment: str, state_files: dict[Path, str]
) -> None:
    if not location.is_local:
        return  # a shared backend keeps one state per environment
    state_file = Path(os.path.abspath(location.local_path))
    other = state_files.setdefault(state_file, environment)
    if other != environment:
        raise UsageError(
            f"environment '{environment}' would use the state file {location.describe()} "
            f"(from {location.origin}) of environment '{other}'",
            hint="give each environment its own state: state: {path: …} in each environment's "
            "manifest (not in a base), a shared backend URL, or leave it to the default "
            "state/<environment>.json",
        )


def has_changes(results: Sequence[EnvironmentPlan]) -> bool:
    """Whether any environment's plan has changes."""
    return any(result.plan is not None and result.plan.has_changes for result in results)


def any_failed(results: Sequence[EnvironmentPlan]) -> bool:
    return any(result.failed for result in results)
