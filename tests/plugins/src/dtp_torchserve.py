"""A fake of mlflow-torchserve 0.1.0 against TorchServe 0.12: the plugin's code, a fake server.

The plugin (``TorchServePlugin``) is reproduced as released, quirks included; TorchServe's
management API is replaced by JSON files under the target directory (``torchservetest:/abs/dir``,
one file per model name holding its versions, ``dtp_common``). What matters to deployctl:

- ``list_deployments`` returns ``[{<modelName>: {"modelName": ..., "modelUrl": ...}}]``: the name
  is the only key of each item;
- ``get_deployment`` returns ``{"deploy": "<JSON text>"}``, the text of TorchServe's describe: a
  JSON *list* with one object per version asked for (``x``: the default version, ``x/2.0``: that
  one, ``x/all``: every version), each with ``modelName``, ``modelVersion``, ``modelUrl`` (here:
  the model URI it was created from), ``minWorkers``, ``maxWorkers``, ``batchSize``, ...; a
  missing name raises ``ValueError`` (status code 404);
- ``create_deployment`` needs ``handler`` in config, returns ``{"name": "<name>/1.0", ...}``, and
  on a name that exists registers the next version (``2.0``, not the default) instead of failing;
- ``update_deployment`` scales workers (``min_worker``, ``max_worker``; TorchServe's defaults when
  left out: 1, and ``min_worker``), reports success and **ignores** ``model_uri``;
- ``delete_deployment`` of a missing name raises ``Exception`` (status code 404); of the default
  version while others exist, status code 403;
- **the leak**: the client keeps each create's config in ``self.server_config``; ``handler``,
  ``model_file``, ``extra_files`` and ``requirements_file`` stay there and reach every later
  create on the same client object that does not set them (MLflow's CLI builds a client per
  command and never sees it). ``archives(DIR, name)`` shows what each version was built with.

Each client has an id (``client_id``), logged with each call (``kwargs.client`` in
``calls.jsonl``), so tests can tell which client made which call.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from dtp_common import Store, read_calls, record_run_local
from mlflow.deployments import BaseDeploymentClient, PredictionsResponse

SCHEME = "torchservetest"

# The config keys that build the model archive (torch-model-archiver), not the registration.
_ARCHIVE_KEYS = [
    "VERSION",
    "MODEL_FILE",
    "HANDLER",
    "EXTRA_FILES",
    "REQUIREMENTS_FILE",
    "EXPORT_PATH",
]
_clients = itertools.count(1)


class _Response:
    """What ``requests`` would return from TorchServe's management API."""

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.text = json.dumps(body, indent=2)
        self.content = self.text.encode("utf-8")


def _error(status: int, kind: str, message: str) -> _Response:
    return _Response(status, {"code": status, "type": kind, "message": message})


def _not_found(name: str) -> _Response:
    return _error(404, "ModelNotFoundException", f"Model not found: {name}")


class _Server:
    """TorchServe's management API over the target directory's files."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _split(path: str) -> tuple[str, str | None]:
        name, _, version = path.partition("/")
        return name, version or None

    def describe(self, path: str) -> _Response:
        """GET /models/{name}[/{version}|/all]."""
        name, version = self._split(path)
        model = self.store.read(name)
        if model is None:
            return _not_found(name)
        versions = model["versions"]
        if version == "all":
            return _Response(200, [versions[v]["describe"] for v in sorted(versions, key=float)])
        wanted = version or model["default"]
        if wanted not in versions:
            return _error(
                404, "ModelVersionNotFoundException", f"Model version: {wanted} does not exist"
            )
        return _Response(200, [versions[wanted]["describe"]])

    def models(self) -> _Response:
        """GET /models."""
        listed = []
        for name in self.store.names():
            model = self.store.read(name)
            if model is not None:
                default = model["versions"][model["default"]]["describe"]
                listed.append({"modelName": name, "modelUrl": default["modelUrl"]})
        return _Response(200, {"models": listed})

    def register(self, archive: dict[str, Any], query: dict[str, str], client: str) -> _Response:
        """POST /models?url=<mar>&<query>: a new version; the first one is the default."""
        name, version = archive["model_name"], archive["version"]
        workers = int(query.get("initial_workers", "1"))
        describe = {
            "modelName": name,
            "modelVersion": version,
            "modelUrl": archive["serialized_file"],
            "runtime": "python",
            "minWorkers": workers,
            "maxWorkers": workers,
            "batchSize": int(query.get("batch_size", "1")),
            "maxBatchDelay": int(query.get("max_batch_delay", "100")),
            "responseTimeout": int(query.get("response_timeout", "120")),
            "loadedAtStartup": False,
            "workers": _workers(workers),
        }
        with self.store.locked():
            model = self.store.read(name) or {"modelName": name, "default": version, "versions": {}}
            if version in model["versions"]:
                return _error(
                    409,
                    "ConflictStatusException",
                    f"Model version {version} is already registered for model {name}",
                )
            model["versions"][version] = {
                "describe": describe,
                "archive": archive,
                "registration": query,
                "client": client,
            }
            self.store.write(name, model)
        status = f'Model "{name}" Version: {version} registered with {workers} initial workers'
        return _Response(200, {"status": status})

    def scale(self, path: str, query: dict[str, str], set_default: bool) -> _Response:
        """PUT /models/{name}[/{version}][/set-default]?min_worker=..&max_worker=.."""
        name, version = self._split(path)
        with self.store.locked():
            model = self.store.read(name)
            if model is None:
                return _not_found(name)
            if set_default:
                if version is None or version not in model["versions"]:
                    return _error(
                        404,
                        "ModelVersionNotFoundException",
                        f"Model version {version} does not exist for model {name}",
                    )
                model["default"] = version
                self.store.write(name, model)
                status = f'Default version successfully updated for model "{name}" to "{version}"'
                return _Response(200, {"status": status})
            wanted = version or model["default"]
            if wanted not in model["versions"]:
                return _not_found(f"{name}/{wanted}")
            low = int(query.get("min_worker", "1"))
            high = int(query.get("max_worker", str(low)))
            if high < low:
                return _error(
                    400, "BadRequestException", "max_worker cannot be less than min_worker."
                )
            describe = model["versions"][wanted]["describe"]
            describe.update(minWorkers=low, maxWorkers=high, workers=_workers(low))
            self.store.write(name, model)
        return _Response(202, {"status": "Processing worker updates..."})

    def unregister(self, path: str) -> _Response:
        """DELETE /models/{name}[/{version}]."""
        name, version = self._split(path)
        with self.store.locked():
            model = self.store.read(name)
            if model is None:
                return _not_found(name)
            wanted = version or model["default"]
            if wanted not in model["versions"]:
                return _error(
                    404, "ModelVersionNotFoundException", f"Model version: {wanted} does not exist"
                )
            if wanted == model["default"] and len(model["versions"]) > 1:
                return _error(
                    403, "InvalidModelVersionException", f"Can't remove default version: {wanted}"
                )
            del model["versions"][wanted]
            if model["versions"]:
                self.store.write(name, model)
            else:
                self.store.remove(name)
        return _Response(200, {"status": f'Model "{name}" unregistered'})


def _workers(count: int) -> list[dict[str, Any]]:
    started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return [
        {
            "id": str(9000 + i),
            "startTime": started,
            "status": "READY",
            "memoryUsage": 0,
            "gpu": False,
        }
        for i in range(count)
    ]


class TorchServePlugin(BaseDeploymentClient):
    """mlflow-torchserve's client, its HTTP calls made on the fake server."""

    def __init__(self, uri):
        super().__init__(target_uri=uri)
        # mlflow_torchserve.config.Config: what the environment sets, then each create's config.
        self.server_config = {
            "export_path": os.environ.get("EXPORT_PATH"),
            "config_properties": os.environ.get("CONFIG_PROPERTIES"),
            "torchserve_address_names": ["inference_address", "management_address", "export_url"],
            "export_uri": os.environ.get("EXPORT_URL"),
        }
        self.client_id = f"{os.getpid()}-{next(_clients)}"
        self.store = Store(uri)
        self._server = _Server(self.store)
        self.default_limit = 100

    def _call(self, method, name, *args, **kwargs):
        return self.store.call(method, name, *args, client=self.client_id, **kwargs)

    def __validate_mandatory_arguments(self):
        if "handler" not in self.server_config:
            raise Exception("Config Variable HANDLER - missing")

    def create_deployment(self, name, model_uri, flavor=None, config=None):
        with self._call("create_deployment", name, name, model_uri, flavor, config=config):
            version = 1.0
            is_version_provided = False
            if config:
                for key in config:
                    if key.upper() == "VERSION":
                        version = float(config[key])
                        is_version_provided = True
                    self.server_config[key.lower()] = str(config[key])

            self.__validate_mandatory_arguments()

            if not is_version_provided:
                version = self.__get_max_version(name)

            for key in ("extra_files", "requirements_file", "model_file"):
                if key not in self.server_config:
                    self.server_config[key] = None

            archive = {
                "model_name": name,
                "version": str(version),
                "serialized_file": model_uri,
                "handler": self.server_config["handler"],
                "model_file": self.server_config["model_file"],
                "extra_files": self.server_config["extra_files"],
                "requirements_file": self.server_config["requirements_file"],
            }
            # As released: ``config.items()`` fails when config is None.
            config_registration = {
                key: val for key, val in config.items() if key.upper() not in _ARCHIVE_KEYS
            }
            self.register_model(archive, config=config_registration)
            return {"name": name + "/" + str(version), "flavor": flavor}

    def delete_deployment(self, name):
        with self._call("delete_deployment", name, name):
            resp = self._server.unregister(name)
            if resp.status_code != 200:
                raise Exception(
                    f"Unable to delete deployment for name {name}. "
                    f"Server returned status code {resp.status_code} and response: {resp.content}"
                )
            return None

    def update_deployment(self, name, model_uri=None, flavor=None, config=None):
        with self._call(
            "update_deployment", name, name, model_uri=model_uri, flavor=flavor, config=config
        ):
            # model_uri and flavor are accepted to match the base signature, and not used.
            query: dict[str, str] = {}
            set_default = False
            if config is not None:
                for key in config:
                    if key.lower() != "set-default":
                        query[key] = str(config[key])
                set_default = "set-default" in [key.lower() for key in config]
            resp = self._server.scale(name, query, set_default)
            if resp.status_code not in [200, 202]:
                raise Exception(
                    f"Unable to update deployment with name {name}. "
                    f"Server returned status code {resp.status_code} and response: {resp.content}"
                )
            return {"flavor": flavor}

    def list_deployments(self):
        with self._call("list_deployments", None) as faults:
            resp = self._server.models()
            if resp.status_code != 200:
                raise Exception("Unable to list deployments")
            hidden = set(faults.get("hide_from_list") or [])
            return [
                {model["modelName"]: model}
                for model in json.loads(resp.text)["models"]
                if model["modelName"] not in hidden
            ]

    def get_deployment(self, name):
        with self._call("get_deployment", name, name):
            return self._get(name)

    def _get(self, name):
        resp = self._server.describe(name)
        if resp.status_code != 200:
            raise ValueError(
                f"Unable to get deployments with name {name}. "
                f"Server returned status code {resp.status_code} and response: {resp.content}"
            )
        return {"deploy": resp.text}

    def predict(self, deployment_name, df):
        with self._call("predict", deployment_name, deployment_name):
            described = json.loads(self._get(deployment_name)["deploy"])[0]
            rows = len(df) if df is not None else 0
            return PredictionsResponse({"predictions": [described["modelUrl"]] * rows})

    def register_model(self, mar_file_path, config=None):
        query = {str(key): str(val) for key, val in (config or {}).items()}
        query.setdefault("initial_workers", str(1))
        resp = self._server.register(mar_file_path, query, self.client_id)
        if resp.status_code != 200:
            # As released: a tuple of the format string and the text, never formatted.
            raise Exception("Unable to register the model - {}", resp.text)
        return True

    def __get_max_version(self, name):
        try:
            get_response = self._get(name + "/all")
        except ValueError:
            get_response = None
        max_version = 1.0
        if get_response:
            for model in json.loads(get_response["deploy"]):
                model_version = float(model["modelVersion"])
                if model_version > max_version:
                    max_version = model_version
            max_version += 1.0
        return max_version


def archives(directory: str | os.PathLike[str], name: str) -> list[dict[str, Any]]:
    """What each version of model ``name`` was built and registered with, by version: the
    archive's settings (``handler``, ``model_file``, ...), the registration query and the id of
    the client that created it. Empty when there is no such model."""
    model = Store(f"{SCHEME}:{Path(directory)}").read(name)
    if model is None:
        return []
    versions = model["versions"]
    return [
        {
            **versions[v]["archive"],
            "registration": versions[v]["registration"],
            "client": versions[v]["client"],
        }
        for v in sorted(versions, key=float)
    ]


def clients_of(directory: str | os.PathLike[str], method: str) -> list[str]:
    """The client id of each logged call of ``method``, in order."""
    return [c["kwargs"]["client"] for c in read_calls(directory) if c["method"] == method]


def run_local(name, model_uri, flavor=None, config=None):
    """Returns (and logs, see ``dtp_common.record_run_local``) what it was given; the real
    plugin starts TorchServe in docker and creates the deployment there."""
    return record_run_local(
        {
            "form": "torchserve",
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": config,
        }
    )


def target_help():
    return (
        "torchservetest:/abs/dir - a fake of mlflow-torchserve against TorchServe: config needs "
        "handler; min_worker/max_worker scale on update; model_uri updates are ignored."
    )
