"""Helpers shared by the command modules: manifest, state and console from the arguments."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deployctl.errors import DeployctlError, UsageError

if TYPE_CHECKING:
    from deployctl.console.rich_console import RichConsole
    from deployctl.manifest.model import Manifest
    from deployctl.planner.selection import Selection
    from deployctl.state.document import StateDocument
    from deployctl.state.local import LocalStateBackend

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, *, option: str = "--lock-timeout") -> float:
    """``30s``, ``5m``, ``1h``, ``500ms`` or plain seconds, as seconds."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{option}: '{text}' is not a duration; use e.g. 30s, 5m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_vars(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--var '{item}' must have the form NAME=VALUE")
        out[name] = value
    return out


def load(args: argparse.Namespace) -> Manifest:
    from deployctl.manifest import load_manifest

    return load_manifest(args.manifest, variables=parse_vars(args.var))


def state_path(args: argparse.Namespace, environment: str | None) -> str:
    """``--state``, else ``state/<environment>.json``."""
    if getattr(args, "state", None):
        return str(args.state)
    if environment:
        from deployctl.workflow import default_state_path

        return str(default_state_path(environment))
    raise UsageError("say which state to use: -f MANIFEST, -e ENVIRONMENT or --state PATH")


def backend(path: str, environment: str | None = None) -> LocalStateBackend:
    """The state at ``path``; ``environment`` is written into a state created from here."""
    from deployctl.state.local import LocalStateBackend

    return LocalStateBackend(Path(path), environment=environment)


def locate_state(args: argparse.Namespace) -> tuple[Manifest | None, str | None, str]:
    """For commands where a manifest is optional: the manifest (if given), the environment and
    the state path, from ``-f``, ``-e`` or ``--state``."""
    manifest = load(args) if getattr(args, "manifest", None) else None
    environment = manifest.environment if manifest else getattr(args, "environment", None)
    return manifest, environment, state_path(args, environment)


def console(args: argparse.Namespace) -> RichConsole:
    from deployctl.console.rich_console import RichConsole

    return RichConsole(color=False if getattr(args, "no_color", False) else None)


def confirm(question: str) -> None:
    """Ask for 'yes' on a terminal; refuse without one (CI must pass --auto-approve)."""
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask for confirmation on; pass --auto-approve to apply without "
            "asking, or apply a reviewed plan file"
        )
    sys.stdout.write(
        f"\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )
    sys.stdout.flush()
    answer = sys.stdin.readline().strip()
    if answer != "yes":
        raise DeployctlError("cancelled: nothing was changed")


def selection(args: argparse.Namespace) -> Selection:
    from deployctl.planner.selection import Selection

    if getattr(args, "max_deletes", None) is not None and args.max_deletes < 0:
        raise UsageError("--max-deletes must be 0 or more")
    return Selection.parse(getattr(args, "targets", []), getattr(args, "excludes", []))


def read_environment(args: argparse.Namespace) -> tuple[Manifest, str, StateDocument]:
    """For read-only commands: the manifest, its state path and the state as it is (no lock)."""
    check_parallelism(args)
    manifest = load(args)
    path = state_path(args, manifest.environment)
    return manifest, path, backend(path, manifest.environment).read()


def check_parallelism(args: argparse.Namespace) -> None:
    if getattr(args, "parallelism", 1) < 1:
        raise UsageError("--parallelism must be at least 1")
