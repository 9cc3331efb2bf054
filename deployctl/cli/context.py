"""What a command works on, located from its options: the manifest, the state and the console.

Every command that reads or writes state locates it the same way (``state_location``): see
``deployctl.state.backends`` for the order (``--state``, ``DEPLOYCTL_STATE``, the manifest's
``state:``, the default next to the manifest). The environment comes from the manifest (``-f``)
or from ``-e``.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from deployctl.cli.arguments import check_parallelism, parse_vars
from deployctl.errors import StateError

if TYPE_CHECKING:
    from deployctl.console.rich_console import RichConsole
    from deployctl.executor.console import Console
    from deployctl.manifest.model import Manifest
    from deployctl.model.state import StateDocument
    from deployctl.state.backends import StateLocation
    from deployctl.state.protocol import StateBackend


def load(args: argparse.Namespace, path: str | None = None) -> Manifest:
    """The manifest of ``-f`` (or at ``path``: one of several), with ``--var`` overrides."""
    from deployctl.manifest import load_manifest

    return load_manifest(path or args.manifest, variables=parse_vars(args.var))


def state_location(
    args: argparse.Namespace, manifest: Manifest | None, environment: str | None
) -> StateLocation:
    """Where the state lives: ``--state``, ``DEPLOYCTL_STATE``, the manifest's ``state:``, or
    ``state/<environment>.json`` next to the manifest (``deployctl.state.backends``)."""
    from deployctl.state.backends import resolve_location

    declared = None
    if manifest is not None and manifest.state is not None:
        declared = (manifest.state.value, str(manifest.state.location or manifest.path))
    return resolve_location(
        option=getattr(args, "state", None),
        environ=os.environ,
        manifest_state=declared,
        manifest_path=manifest.path if manifest is not None else None,
        environment=environment,
    )


def backend(
    location: StateLocation, environment: str | None = None, console: Console | None = None
) -> StateBackend:
    """The backend at ``location``; ``environment`` names the state in a shared backend and is
    written into a state created from here. Lock takeovers are warnings on ``console``."""
    from deployctl.state.backends import open_backend

    return open_backend(
        location, environment, on_warning=console.warning if console is not None else None
    )


def locate_state(
    args: argparse.Namespace,
) -> tuple[Manifest | None, str | None, StateLocation]:
    """For commands where a manifest is optional: the manifest (if given), the environment and
    the state's location, from ``-f``, ``-e``, ``--state`` or ``DEPLOYCTL_STATE``."""
    manifest = load(args) if getattr(args, "manifest", None) else None
    environment = manifest.environment if manifest else getattr(args, "environment", None)
    return manifest, environment, state_location(args, manifest, environment)


def existing_state(backend: StateBackend, location: StateLocation) -> StateDocument:
    """The state for a read-only command; an error when none was ever written there."""
    state = backend.read()
    if not state.exists:
        raise StateError(
            f"there is no state at {location.describe()} (from {location.origin}): nothing "
            "has been applied to it yet",
            hint="check -f, -e, --state and DEPLOYCTL_STATE",
        )
    return state


def read_environment(
    args: argparse.Namespace, console: RichConsole | None = None
) -> tuple[Manifest, StateLocation, StateDocument]:
    """For read-only commands: the manifest, its state's location and the state as it is (no
    lock). Says on ``console`` where the state is read from."""
    check_parallelism(args)
    manifest = load(args)
    location = state_location(args, manifest, manifest.environment)
    return manifest, location, read_state(location, manifest, console)


def read_state(
    location: StateLocation, manifest: Manifest, console: RichConsole | None = None
) -> StateDocument:
    """The state of ``manifest``'s environment at ``location`` as it is (no lock). Says on
    ``console`` where the state is read from."""
    if console is not None:
        console.print(f"State: {location.describe()} ({location.origin})", err=True)
    return backend(location, manifest.environment, console).read()


def console(args: argparse.Namespace) -> RichConsole:
    """The terminal console (``--no-color``: plain)."""
    from deployctl.console.rich_console import RichConsole

    return RichConsole(color=False if getattr(args, "no_color", False) else None)
