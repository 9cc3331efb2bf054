"""Secrets in the operations: reading them, reading them again for a saved plan, and keeping
them out of every message.

- ``for_manifest`` makes the ``Secrets`` of a run from a manifest: its sensitive fields and their
  real values, with the key of its environment (``DEPLOYCTL_SECRET_KEY``, else the default key
  mixed with the environment's name);
- ``for_saved_plan`` makes them for a saved plan, which holds no secret: each one is read again
  (from the environment variables the plan names, and from the manifest the plan was made from,
  whose SHA-256 it records), and a plan whose secrets no longer hash as they did is refused,
  naming the address and the field;
- ``check_resolvable`` refuses, before anything changes, a plan with a value it cannot send;
- ``RedactingConsole`` and ``redacting`` write every secret value the run knows as
  ``(sensitive)`` in apply events, warnings and errors (a plugin's error may quote what it was
  sent).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from deployctl.errors import DeployctlError, PlanError, PlanFileError, StalePlanError
from deployctl.executor.console import Console
from deployctl.manifest.model import DesiredDeployment, Manifest
from deployctl.model import Address
from deployctl.model.secrets import Secrets
from deployctl.model.sensitive import (
    MARKER,
    Path,
    SecretKey,
    SensitiveField,
    dotted,
    is_masked,
    marker_paths,
    scalars_at,
    value_at,
    values_at,
)
from deployctl.planner.plan import Plan, ResourceChange

if TYPE_CHECKING:
    from deployctl.executor.results import ActionResult, ApplyReport

SEND_AGAIN = (
    "apply it where the same environment variables (and DEPLOYCTL_SECRET_KEY) are set as when "
    "it was made, or make the plan again"
)


def secret_key(environment: str, environ: Mapping[str, str] | None = None) -> SecretKey:
    """The key of ``environment``'s markers (``environ``: ``os.environ`` by default)."""
    return SecretKey.for_environment(environment, os.environ if environ is None else environ)


def for_manifest(manifest: Manifest, environ: Mapping[str, str] | None = None) -> Secrets:
    """The secrets of ``manifest``'s deployments (their values as the manifest was loaded)."""
    fields = {d.address: d.sensitive for d in manifest.deployments() if d.sensitive}
    values = {
        d.address: list(values_at(d.spec.to_json(), [f.path for f in d.sensitive]))
        for d in manifest.deployments()
        if d.sensitive
    }
    return Secrets(secret_key(manifest.environment, environ), fields, values)


def masked_deployment(deployment: DesiredDeployment, secrets: Secrets) -> DesiredDeployment:
    """``deployment`` with its secrets masked, as the planner must see it."""
    if not secrets.fields(deployment.address):
        return deployment
    return replace(deployment, spec=secrets.mask_spec(deployment.address, deployment.spec))


def _sends(change: ResourceChange) -> bool:
    """Whether applying ``change`` may send its ``after`` spec to a plugin."""
    return change.after is not None and not change.state_only


def for_saved_plan(
    plan: Plan, *, manifest_path: str | None = None, environ: Mapping[str, str] | None = None
) -> Secrets:
    """The secrets of a saved plan, read again; ``StalePlanError`` when one changed since the
    plan was made (``manifest_path``: ``-f``, else the manifest the plan names)."""
    environ = os.environ if environ is None else environ
    key = secret_key(plan.environment, environ)
    fields = {c.address: c.sensitive for c in plan.changes if c.sensitive}
    needed = [c for c in plan.actionable() if _sends(c) and any(marker_paths(c.desired.to_json()))]
    if not needed:
        return Secrets(key, fields)
    from deployctl.manifest import load_manifest

    path = manifest_path or plan.manifest_path
    if path is None:
        raise PlanFileError(
            "the saved plan sends sensitive values but does not say which manifest it was made "
            "from, so they cannot be read again",
            hint="pass -f MANIFEST",
        )
    manifest = load_manifest(path, environ=environ)
    values = {}
    for address, sensitive in fields.items():
        desired = manifest.deployment(Address.parse(address))
        if desired is not None:
            paths = [f.path for f in (*sensitive, *desired.sensitive)]
            values[address] = list(values_at(desired.spec.to_json(), paths))
    changed = [
        line
        for change in needed
        for line in _changed_since(change, manifest.deployment(Address.parse(change.address)), key)
    ]
    if changed:
        raise StalePlanError(
            "sensitive values changed since the plan was made (the plan keeps their keyed "
            "hashes, and these no longer match):\n" + "\n".join(f"  {c}" for c in changed),
            hint=SEND_AGAIN,
        )
    return Secrets(key, fields, values)


def _changed_since(
    change: ResourceChange, desired: DesiredDeployment | None, key: SecretKey
) -> list[str]:
    """One line per secret of ``desired`` that the plan's ``after`` hashes otherwise."""
    if desired is None:
        return []  # check_resolvable says so if a value is missing
    ignored = [tuple(p.split(".")) for p in desired.lifecycle.ignore_changes]
    after = change.desired.to_json()
    lines = []
    for path, value in scalars_at(desired.spec.to_json(), [f.path for f in desired.sensitive]):
        if any(path[: len(i)] == i for i in ignored):
            continue  # the plan keeps the target's value there, not the manifest's
        planned = value_at(after, path)
        if planned is None:
            continue
        same = planned[MARKER] == key.digest(value) if is_masked(planned) else planned == value
        if not same:
            lines.append(f"{change.address}: {dotted(path)} ({_source(desired.sensitive, path)})")
    return lines


def _source(fields: tuple[SensitiveField, ...], path: Path) -> str:
    covering = [f for f in fields if f.covers(path)]
    if not covering:
        return "its value is not known"
    return max(covering, key=lambda f: len(f.path)).source()


def check_resolvable(plan: Plan, secrets: Secrets | None) -> None:
    """Refuse (``PlanError``) a plan with a sensitive value deployctl cannot send: it keeps
    only hashes, and no value it knows (from the manifest, or reported by the target) has it."""
    lines = []
    for change in plan.actionable():
        if not _sends(change):
            continue
        if secrets is None:
            missing = list(marker_paths(change.desired.to_json()))
        else:
            missing = secrets.unresolved(change.address, change.desired)
        lines += [
            f"  {change.address}: {dotted(p)} ({_source(change.sensitive, p)})" for p in missing
        ]
    if lines:
        raise PlanError(
            "cannot send these sensitive values: deployctl keeps only their keyed hashes, and "
            "neither the manifest nor the target has a value that matches:\n" + "\n".join(lines),
            hint=SEND_AGAIN,
        )


class RedactingConsole:
    """A ``Console`` that writes every secret ``secrets`` knows as ``(sensitive)`` in what it
    passes on to ``console`` (action errors and notes, warnings)."""

    def __init__(self, console: Console, secrets: Secrets) -> None:
        self._console = console
        self._secrets = secrets

    def refresh_started(self, targets: list[str]) -> None:
        self._console.refresh_started(targets)

    def refresh_finished(self) -> None:
        self._console.refresh_finished()

    def warning(self, message: str) -> None:
        self._console.warning(self._secrets.redact(message))

    def apply_started(self, plan: Plan) -> None:
        self._console.apply_started(plan)

    def action_started(self, change: ResourceChange) -> None:
        self._console.action_started(change)

    def action_finished(self, result: ActionResult) -> None:
        self._console.action_finished(self._result(result))

    def apply_finished(self, report: ApplyReport) -> None:
        results = tuple(self._result(r) for r in report.results)
        self._console.apply_finished(replace(report, results=results))

    def _result(self, result: ActionResult) -> ActionResult:
        redact = self._secrets.redact
        error = redact(result.error) if result.error else result.error
        note = redact(result.note) if result.note else result.note
        warnings = tuple(redact(w) for w in result.warnings)
        return replace(result, error=error, note=note, warnings=warnings)


@contextlib.contextmanager
def redacting(secrets: Secrets) -> Iterator[None]:
    """Write the secrets ``secrets`` knows as ``(sensitive)`` in a ``DeployctlError`` that
    leaves the block (a plugin's error may quote a value it was given or holds)."""
    try:
        yield
    except DeployctlError as exc:
        exc.message = secrets.redact(exc.message)
        if exc.hint:
            exc.hint = secrets.redact(exc.hint)
        exc.args = (exc.message,)
        raise


__all__ = [
    "RedactingConsole",
    "check_resolvable",
    "for_manifest",
    "for_saved_plan",
    "masked_deployment",
    "redacting",
    "secret_key",
]
