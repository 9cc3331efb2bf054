"""The benchmark's workload: N deployments over 20 targets, as a manifest and as Terraform.

Deployment ``i`` is ``model-IIIIII`` on target ``tNN`` (``i % 20``), with a ``model_uri``, a
``flavor`` and a 5-key ``config`` written out in full (no target defaults), as a person writes
them in block style. The "1% change" manifest differs in the model version of one deployment in
every 100 (at least one), spread over the targets. The same workload for Terraform is one
``terraform_data`` resource per deployment whose ``input`` holds the same fields, and the state
Terraform's apply would have written for it (applying N resources through Terraform itself takes
minutes: its apply is quadratic), so that Terraform's plan has nothing to change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

TARGETS = 20
ENVIRONMENT = "bench"
MANIFEST = "bench.yaml"
CHANGED_MANIFEST = "bench-change.yaml"
# Where a workload's targets keep their records, relative to its directory.
TARGETS_DIR = "targets"
STATE_FILE = Path("state") / f"{ENVIRONMENT}.json"

Kind = Literal["local", "benchtarget"]
KINDS: tuple[Kind, ...] = ("local", "benchtarget")


@dataclass(frozen=True)
class Deployment:
    """One deployment of the workload, the same for deployctl and Terraform."""

    name: str
    target: str
    model_uri: str
    flavor: str
    config: dict[str, Any]


def deployments(count: int, *, changed: bool = False) -> Iterator[Deployment]:
    """The ``count`` deployments; ``changed``: 1% of them (at least one, spread over the
    targets: one in each block of 100) at the next model version."""
    step = max(1, min(100, count))
    for i in range(count):
        name = f"model-{i:06d}"
        block, offset = divmod(i, step)
        version = 4 if changed and offset == block % min(step, TARGETS) else 3
        yield Deployment(
            name=name,
            target=f"t{i % TARGETS:02d}",
            model_uri=f"models:/{name}/{version}",
            flavor="python_function",
            config={
                "workers": 1 + i % 4,
                "memory_mb": 512 * (1 + i % 3),
                "timeout_s": 30,
                "region": "eu-west-1",
                "gpu": False,
            },
        )


def target_uri(kind: Kind, directory: Path, target: str, latency: str | None = None) -> str:
    """The URI of ``target`` in a workload at ``directory``; a benchtarget with a ``latency``
    (even ``0ms``) also logs its calls."""
    if kind == "local":
        return f"local:{TARGETS_DIR}/{target}"  # relative to the manifest
    uri = f"benchtarget:{(directory / TARGETS_DIR / target).resolve()}"
    return uri if latency is None else f"{uri}?latency={latency}&log_calls=1"


def manifest_text(
    kind: Kind, directory: Path, count: int, *, changed: bool = False, latency: str | None = None
) -> str:
    """The manifest of ``count`` deployments on ``kind`` targets kept under ``directory``."""
    by_target: dict[str, list[Deployment]] = {f"t{t:02d}": [] for t in range(TARGETS)}
    for deployment in deployments(count, changed=changed):
        by_target[deployment.target].append(deployment)
    lines = [
        f"# deployctl benchmark: {count} deployments over {TARGETS} {kind} targets.",
        "version: 1",
        f"environment: {ENVIRONMENT}",
        "targets:",
    ]
    for target, members in by_target.items():
        lines += [
            f"  {target}:",
            f"    uri: {target_uri(kind, directory, target, latency)}",
            "    deployments:" if members else "    deployments: {}",
        ]
        for d in members:
            lines += [
                f"      {d.name}:",
                f"        model_uri: {d.model_uri}",
                f"        flavor: {d.flavor}",
                "        config:",
                *(f"          {key}: {_yaml_scalar(value)}" for key, value in d.config.items()),
            ]
    return "\n".join(lines) + "\n"


def write_workload(
    kind: Kind, directory: Path, count: int, *, latency: str | None = None
) -> tuple[Path, Path]:
    """Write the manifest and its 1% change into ``directory``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / MANIFEST
    changed = directory / CHANGED_MANIFEST
    manifest.write_text(manifest_text(kind, directory, count, latency=latency), encoding="utf-8")
    changed.write_text(
        manifest_text(kind, directory, count, changed=True, latency=latency), encoding="utf-8"
    )
    return manifest, changed


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- Terraform -------------------------------------------------------------------------------------


def terraform_config(count: int) -> dict[str, Any]:
    """``main.tf.json``: one ``terraform_data`` resource per deployment, its fields as input."""
    return {
        "resource": {
            "terraform_data": {d.name: {"input": _terraform_input(d)} for d in deployments(count)}
        }
    }


def terraform_state(count: int, terraform_version: str) -> dict[str, Any]:
    """The state Terraform's apply of ``terraform_config(count)`` writes (format version 4)."""
    resources = []
    for i, d in enumerate(deployments(count)):
        value = _terraform_input(d)
        typed = {"value": value, "type": _terraform_type(value)}
        resources.append(
            {
                "mode": "managed",
                "type": "terraform_data",
                "name": d.name,
                "provider": 'provider["terraform.io/builtin/terraform"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {
                            "id": str(uuid.UUID(int=i + 1)),
                            "input": typed,
                            "output": typed,
                            "triggers_replace": None,
                        },
                        "sensitive_attributes": [],
                        "identity_schema_version": 0,
                    }
                ],
            }
        )
    return {
        "version": 4,
        "terraform_version": terraform_version,
        "serial": 1,
        "lineage": str(uuid.UUID(int=count)),
        "outputs": {},
        "resources": resources,
        "check_results": None,
    }


def write_terraform(directory: Path, count: int, terraform_version: str) -> None:
    """Write the Terraform configuration and its applied state into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf.json").write_text(json.dumps(terraform_config(count)), encoding="utf-8")
    (directory / "terraform.tfstate").write_text(
        json.dumps(terraform_state(count, terraform_version)), encoding="utf-8"
    )


def _terraform_input(d: Deployment) -> dict[str, Any]:
    return {"target": d.target, "model_uri": d.model_uri, "flavor": d.flavor, "config": d.config}


def _terraform_type(value: object) -> object:
    """Terraform's JSON type of ``value`` (objects list their attribute types by name)."""
    if isinstance(value, dict):
        return ["object", {key: _terraform_type(value[key]) for key in sorted(value)}]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"
