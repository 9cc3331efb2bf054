"""A fake of mlflow-crusoe 0.1.3 (``crusoe`` target): its record shape and behaviour, no network.

As the real plugin (``mlflow_crusoe/deployment.py``), each deployment is one JSON file; here
under ``DIR/records`` (the target URI is ``crusoetest:/abs/dir``; the real plugin uses
``MLFLOW_CRUSOE_STORE_DIR``), with ``dtp_common``'s fault injection and call log. What matters
for deployctl:

- the record keeps the model under ``model`` (not ``model_uri``) and each config key flat at
  the top of the record, next to ``name``: ``{"name", "model", "api_base", "temperature",
  "max_tokens", "created_at", "updated_at", "_api_key_source"}`` plus ``top_p``,
  ``frequency_penalty``, ``presence_penalty`` and ``stop`` when set; no ``config``, ``flavor``
  or status. ``temperature`` (default 0.1) and ``max_tokens`` (default 1024) are always there,
  cast to float and int; other config keys are dropped;
- create needs an API key (``config["api_key"]`` or ``CRUSOE_API_KEY``) and never stores it;
  it returns ``{"name", "model", "flavor"}``, not the record;
- update MERGES config: a key left out keeps its value (a removed key stays);
- delete is idempotent; get of a missing name raises ``RESOURCE_DOES_NOT_EXIST``.

``store_record``/``read_record`` let tests change a deployment behind deployctl's back.
"""

from __future__ import annotations

import os
import time
from typing import Any

from dtp_common import Store
from mlflow.deployments import BaseDeploymentClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

SCHEME = "crusoetest"
API_KEY_ENV = "CRUSOE_API_KEY"
DEFAULT_API_BASE = "https://api.crusoe.ai/v1"
DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
DEFAULT_TEMPERATURE = 0.1
DEFAULT_MAX_TOKENS = 1024
_UPDATABLE = {
    "api_base": str,
    "temperature": float,
    "max_tokens": int,
    "top_p": float,
    "frequency_penalty": float,
    "presence_penalty": float,
}


def _api_key(config: dict[str, Any]) -> str:
    key = config.get("api_key") or os.environ.get(API_KEY_ENV)
    if not key:
        raise MlflowException(
            f"Crusoe API key not found. Set the {API_KEY_ENV} environment variable or pass "
            "config={'api_key': '...'}.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return str(key)


def _stop(value: Any) -> Any:
    return value.split(",") if isinstance(value, str) else value


class CrusoeTestDeploymentClient(BaseDeploymentClient):
    """Named endpoint configurations kept as JSON files, as mlflow-crusoe keeps them."""

    def __init__(self, target_uri: str) -> None:
        super().__init__(target_uri)
        self.store = Store(target_uri)

    def create_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "create_deployment", name, name, model_uri, flavor, config=config, endpoint=endpoint
        ) as f:
            config = dict(config or {})
            with self.store.locked():
                if self.store.read(name) is not None:
                    raise MlflowException(
                        f"Deployment '{name}' already exists. Use update_deployment() "
                        "to modify it, or delete it first.",
                        error_code=RESOURCE_ALREADY_EXISTS,
                    )
                model = model_uri or config.pop("model", DEFAULT_MODEL)
                _api_key(config)
                now = time.time()
                record: dict[str, Any] = {
                    "name": name,
                    "model": model,
                    "api_base": config.get("api_base", DEFAULT_API_BASE),
                    "temperature": float(config.get("temperature", DEFAULT_TEMPERATURE)),
                    "max_tokens": int(config.get("max_tokens", DEFAULT_MAX_TOKENS)),
                    "created_at": now,
                    "updated_at": now,
                }
                for key in ("top_p", "frequency_penalty", "presence_penalty"):
                    if key in config:
                        record[key] = float(config[key])
                if "stop" in config:
                    record["stop"] = _stop(config["stop"])
                record["_api_key_source"] = "config" if config.get("api_key") else "env"
                self.store.write(name, record)
            self.store.exit_after(f, "create_deployment", name)
            return {"name": name, "model": model, "flavor": flavor}

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
            config = config or {}
            with self.store.locked():
                record = self._load(name)
                if model_uri:
                    record["model"] = model_uri
                for key, cast in _UPDATABLE.items():
                    if key in config:
                        record[key] = cast(config[key])
                if "stop" in config:
                    record["stop"] = _stop(config["stop"])
                record["updated_at"] = time.time()
                self.store.write(name, record)
            self.store.exit_after(f, "update_deployment", name)
            return {"name": name, "model": record["model"], "flavor": flavor}

    def delete_deployment(self, name, config=None, endpoint=None):
        with self.store.call(
            "delete_deployment", name, name, config=config, endpoint=endpoint
        ) as f:
            with self.store.locked():
                self.store.remove(name)  # idempotent, as the real plugin
            self.store.exit_after(f, "delete_deployment", name)

    def list_deployments(self, endpoint=None):
        with self.store.call("list_deployments", None, endpoint=endpoint) as f:
            records = (self.store.read(n) for n in self.store.visible_names(f))
            return [r for r in records if r is not None]

    def get_deployment(self, name, endpoint=None):
        with self.store.call("get_deployment", name, name, endpoint=endpoint):
            return self._load(name)

    def predict(self, deployment_name=None, inputs=None, endpoint=None):
        with self.store.call("predict", deployment_name, deployment_name, endpoint=endpoint):
            if deployment_name is None:
                raise MlflowException(
                    "deployment_name is required.", error_code=INVALID_PARAMETER_VALUE
                )
            record = self._load(deployment_name)
            return {"model": record["model"], "choices": []}

    def _load(self, name: str) -> dict[str, Any]:
        record = self.store.read(name)
        if record is None:
            raise MlflowException(
                f"Deployment '{name}' not found. Use list_deployments() to see "
                "available deployments.",
                error_code=RESOURCE_DOES_NOT_EXIST,
            )
        return record


def read_record(directory: str | os.PathLike[str], name: str) -> dict[str, Any] | None:
    """The stored record of ``name`` on the target in ``directory``, as the plugin keeps it."""
    return Store(f"{SCHEME}:{os.fspath(directory)}").read(name)


def store_record(directory: str | os.PathLike[str], name: str, record: dict[str, Any]) -> None:
    """Replace the stored record of ``name`` (a change made behind deployctl's back)."""
    Store(f"{SCHEME}:{os.fspath(directory)}").write(name, record)


def run_local(name, model_uri, flavor=None, config=None):
    raise MlflowException(
        "The crusoe target serves models on Crusoe's managed inference API; "
        "there is nothing to run locally.",
        error_code=INVALID_PARAMETER_VALUE,
    )


def target_help():
    return (
        "The 'crusoetest' target fakes mlflow-crusoe: URIs look like crusoetest:/abs/dir. "
        "Config keys: api_key, api_base, temperature (default 0.1), max_tokens (default "
        "1024), top_p, frequency_penalty, presence_penalty, stop. The record keeps the "
        "model under 'model' and each config key at its top: map them with fields: "
        "{model_uri: model, config.temperature: temperature, config.max_tokens: max_tokens}."
    )
