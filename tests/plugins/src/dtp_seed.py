"""A deployment plugin written to the seed API (``shared/seed/deployment_plugin_api.txt``).

No MLflow import: a duck-typed client with the seed's signatures, including the stray leading
``target`` of ``update_deployment``, a ``delete_deployment`` that raises for a missing name, a
``get_deployment`` that raises ``ValueError``, ``predict(deployment_name, df)`` and
``run_local(model_uri, flavor=None, config=None)``. Faults: see ``dtp_common``.
"""

from __future__ import annotations

from typing import Any

from dtp_common import Store, record_run_local

SCHEME = "seedtest"


class SeedDeploymentClient:
    """Deployments as JSON files under the target directory (seed signatures)."""

    def __init__(self, target_uri: str) -> None:
        self.target_uri = target_uri
        self.store = Store(target_uri)

    def create_deployment(
        self, name: str, model_uri: str, flavor: str | None = None, config: Any = None
    ) -> dict[str, Any]:
        with self.store.call("create_deployment", name, name, model_uri, flavor, config) as f:
            with self.store.locked():
                if self.store.read(name) is not None:
                    raise ValueError(f"deployment {name} already exists")
                record = {
                    "name": name,
                    "model_uri": model_uri,
                    "flavor": flavor,
                    "config": dict(config or {}),
                    "status": "ready",
                }
                self.store.write(name, record)
            self.store.exit_after(f, "create_deployment", name)
            return record

    def update_deployment(
        self,
        target: str,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: Any = None,
    ) -> None:
        with self.store.call(
            "update_deployment",
            name,
            target,
            name,
            model_uri=model_uri,
            flavor=flavor,
            config=config,
        ) as f:
            if target != self.target_uri:
                raise ValueError(f"update_deployment: target {target!r} is not {self.target_uri!r}")
            with self.store.locked():
                record = self.store.read(name)
                if record is None:
                    raise ValueError(f"deployment {name} not found")
                if model_uri is not None:
                    record["model_uri"] = model_uri
                if flavor is not None:
                    record["flavor"] = flavor
                if config is not None:
                    record["config"] = dict(config)
                self.store.write(name, record)
            self.store.exit_after(f, "update_deployment", name)

    def delete_deployment(self, name: str) -> None:
        with self.store.call("delete_deployment", name, name) as f:
            with self.store.locked():
                if not self.store.remove(name):
                    raise ValueError(f"deployment {name} not found")
            self.store.exit_after(f, "delete_deployment", name)

    def get_deployment(self, name: str) -> dict[str, Any]:
        with self.store.call("get_deployment", name, name):
            record = self.store.read(name)
            if record is None:
                raise ValueError(f"deployment {name} not found")
            return record

    def list_deployments(self) -> list[dict[str, Any]]:
        with self.store.call("list_deployments") as f:
            records = (self.store.read(n) for n in self.store.visible_names(f))
            return [r for r in records if r is not None]

    def predict(self, deployment_name: str, df: Any) -> Any:
        with self.store.call("predict", deployment_name, deployment_name):
            record = self.get_deployment(deployment_name)
            out = df.copy()
            out["prediction"] = record["model_uri"]
            return out


def run_local(model_uri: str, flavor: str | None = None, config: Any = None) -> dict[str, Any]:
    """Returns (and logs, see ``dtp_common.record_run_local``) what it was given; a real plugin
    would serve the model until stopped."""
    return record_run_local(
        {"form": "seed", "model_uri": model_uri, "flavor": flavor, "config": config}
    )


def target_help() -> str:
    return "seedtest:/abs/dir - a test target written to the seed plugin API."
