"""A deployment plugin written for MLflow 3: a ``BaseDeploymentClient`` subclass.

MLflow 3 signatures (``endpoint=None`` keywords, ``delete_deployment(name, config=None,
endpoint=None)``, ``predict(deployment_name=None, inputs=None, endpoint=None)``),
``MlflowException`` with ``RESOURCE_DOES_NOT_EXIST`` / ``RESOURCE_ALREADY_EXISTS``, an idempotent
delete, and the documentation stub's ``run_local(target, name, model_uri, ...)``.
"""

from __future__ import annotations

from typing import Any

from dtp_common import Store, record_run_local
from mlflow.deployments import BaseDeploymentClient, PredictionsResponse
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

SCHEME = "mlflowtest"


def _no_endpoint(endpoint: Any) -> None:
    if endpoint is not None:
        raise MlflowException("mlflowtest has no endpoints", INVALID_PARAMETER_VALUE)


class MlflowTestDeploymentClient(BaseDeploymentClient):
    """Deployments as JSON files under the target directory (MLflow 3 signatures)."""

    def __init__(self, target_uri: str) -> None:
        super().__init__(target_uri)
        self.store = Store(target_uri)

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "create_deployment", name, name, model_uri, flavor, config=config, endpoint=endpoint
        ) as f:
            _no_endpoint(endpoint)
            with self.store.locked():
                if self.store.read(name) is not None:
                    raise MlflowException(
                        f"deployment {name} already exists", RESOURCE_ALREADY_EXISTS
                    )
                record = {
                    "name": name,
                    "model_uri": model_uri,
                    "flavor": flavor,
                    "config": dict(config or {}),
                    "state": "READY",
                }
                self.store.write(name, record)
            self.store.exit_after(f, "create_deployment", name)
            return record

    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "update_deployment",
            name,
            name,
            model_uri=model_uri,
            flavor=flavor,
            config=config,
            endpoint=endpoint,
        ) as f:
            _no_endpoint(endpoint)
            with self.store.locked():
                record = self._get(name)
                if model_uri is not None:
                    record["model_uri"] = model_uri
                if flavor is not None:
                    record["flavor"] = flavor
                if config is not None:
                    record["config"] = dict(config)
                self.store.write(name, record)
            self.store.exit_after(f, "update_deployment", name)
            return record

    def delete_deployment(self, name, config=None, endpoint=None):
        with self.store.call(
            "delete_deployment", name, name, config=config, endpoint=endpoint
        ) as f:
            _no_endpoint(endpoint)
            with self.store.locked():
                self.store.remove(name)
            self.store.exit_after(f, "delete_deployment", name)

    def list_deployments(self, endpoint=None):
        with self.store.call("list_deployments", None, endpoint=endpoint) as f:
            _no_endpoint(endpoint)
            records = (self.store.read(n) for n in self.store.visible_names(f))
            return [r for r in records if r is not None]

    def get_deployment(self, name, endpoint=None):
        with self.store.call("get_deployment", name, name, endpoint=endpoint):
            _no_endpoint(endpoint)
            return self._get(name)

    def predict(self, deployment_name=None, inputs=None, endpoint=None):
        with self.store.call("predict", deployment_name, deployment_name, endpoint=endpoint):
            record = self._get(deployment_name)
            rows = len(inputs) if inputs is not None else 0
            return PredictionsResponse({"predictions": [record["model_uri"]] * rows})

    def _get(self, name):
        record = self.store.read(name)
        if record is None:
            raise MlflowException(f"deployment {name} does not exist", RESOURCE_DOES_NOT_EXIST)
        return record


def run_local(target, name, model_uri, flavor=None, config=None):
    """Returns (and logs, see ``dtp_common.record_run_local``) what it was given; a real plugin
    would serve the model until stopped."""
    return record_run_local(
        {
            "form": "mlflow-stub",
            "target": target,
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": config,
        }
    )


def target_help():
    return "mlflowtest:/abs/dir - a test target written for MLflow 3."
