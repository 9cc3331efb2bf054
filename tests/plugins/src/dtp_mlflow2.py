"""A deployment plugin written for MLflow 2's interface, duck-typed (no MLflow import).

MLflow 2 signatures: ``update_deployment(name, model_uri=None, flavor=None, config=None)`` and no
``endpoint`` parameters anywhere. Errors carry MLflow's ``error_code`` strings the way
``MlflowException`` does: ``RESOURCE_DOES_NOT_EXIST`` for a missing name,
``RESOURCE_ALREADY_EXISTS`` for an existing one, ``INVALID_PARAMETER_VALUE`` for a ``replicas``
config value that is not a positive whole number, ``BAD_REQUEST`` for a flavor other than
``python_function``. Records report model_uri and flavor but not config (like
mlflow-tritonserver). ``run_local(name, model_uri, flavor=None, config=None)`` is the form
MLflow's CLI calls.
"""

from __future__ import annotations

from typing import Any

from dtp_common import Store, record_run_local

SCHEME = "mlflow2test"


class PluginError(Exception):
    """Shaped like ``MlflowException``: a message and an ``error_code`` string."""

    def __init__(self, message: str, error_code: str = "INTERNAL_ERROR") -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


def _check(flavor: str | None, config: Any) -> None:
    if flavor not in (None, "python_function"):
        raise PluginError(f"unsupported flavor {flavor!r}", "BAD_REQUEST")
    replicas = (config or {}).get("replicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise PluginError(
            f"config replicas must be a positive whole number, not {replicas!r}",
            "INVALID_PARAMETER_VALUE",
        )


class Mlflow2DeploymentClient:
    """Deployments as JSON files under the target directory (MLflow 2 signatures)."""

    def __init__(self, target_uri: str) -> None:
        self.target_uri = target_uri
        self.store = Store(target_uri)

    def create_deployment(self, name, model_uri, flavor=None, config=None):
        with self.store.call("create_deployment", name, name, model_uri, flavor, config) as f:
            _check(flavor, config)
            with self.store.locked():
                if self.store.read(name) is not None:
                    raise PluginError(
                        f"deployment {name} already exists", "RESOURCE_ALREADY_EXISTS"
                    )
                record = {
                    "name": name,
                    "model_uri": model_uri,
                    "flavor": flavor,
                    "config": dict(config or {}),
                }
                self.store.write(name, record)
            self.store.exit_after(f, "create_deployment", name)
            return self._describe(record)

    def update_deployment(self, name, model_uri=None, flavor=None, config=None):
        with self.store.call(
            "update_deployment", name, name, model_uri=model_uri, flavor=flavor, config=config
        ) as f:
            _check(flavor, config)
            with self.store.locked():
                record = self._read(name)
                if model_uri is not None:
                    record["model_uri"] = model_uri
                if flavor is not None:
                    record["flavor"] = flavor
                if config is not None:
                    record["config"] = dict(config)
                self.store.write(name, record)
            self.store.exit_after(f, "update_deployment", name)
            return self._describe(record)

    def delete_deployment(self, name):
        with self.store.call("delete_deployment", name, name) as f:
            with self.store.locked():
                self.store.remove(name)
            self.store.exit_after(f, "delete_deployment", name)

    def list_deployments(self):
        with self.store.call("list_deployments") as f:
            records = (self.store.read(n) for n in self.store.visible_names(f))
            return [self._describe(r) for r in records if r is not None]

    def get_deployment(self, name):
        with self.store.call("get_deployment", name, name):
            return self._describe(self._read(name))

    def predict(self, deployment_name=None, df=None):
        with self.store.call("predict", deployment_name, deployment_name):
            record = self._read(deployment_name)
            return {"predictions": [record["model_uri"]] * (len(df) if df is not None else 0)}

    def _read(self, name: str) -> dict[str, Any]:
        record = self.store.read(name)
        if record is None:
            raise PluginError(f"deployment {name} does not exist", "RESOURCE_DOES_NOT_EXIST")
        return record

    @staticmethod
    def _describe(record: dict[str, Any]) -> dict[str, Any]:
        # The config is applied but not reported back.
        return {
            "name": record["name"],
            "model_uri": record["model_uri"],
            "flavor": record["flavor"],
            "state": "READY",
        }


def run_local(name, model_uri, flavor=None, config=None):
    """Returns (and logs, see ``dtp_common.record_run_local``) what it was given; a real plugin
    would serve the model until stopped."""
    return record_run_local(
        {
            "form": "mlflow-cli",
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": config,
        }
    )


def target_help():
    return "mlflow2test:/abs/dir - a test target written to MLflow 2's plugin interface."
