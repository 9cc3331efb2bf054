"""A fake of mlflow-triton-control 0.3.1: a deployment plugin that cannot update.

Written from the plugin's code (``TritonControlDeploymentClient``): its Triton Control server is
replaced by JSON files under the target directory (``tritontest:/abs/dir``, ``dtp_common``), so
the record shapes and errors are the plugin's own:

- create checks the flavor (``triton`` or none), the name (a lowercase Kubernetes name), the
  config (``s3_profile_id`` and ``image`` required) and the model URI
  (``s3://BUCKET/PREFIX/MODEL``), then polls until ready and returns what get returns;
- records carry the name under ``deployment_name``, the model under ``model_uri`` and no config;
  get adds ``flavor: triton`` to the server's record, list returns the server's records as they
  are;
- every server error is an ``MlflowException`` without an error code (MLflow's default,
  ``INTERNAL_ERROR``) whose text is ``Triton Control returned HTTP <status>: <detail>``: a
  missing name is ``HTTP 404``, an existing one on create ``HTTP 409``;
- ``update_deployment`` raises ``MlflowException("Updating deployments is not supported")``, and
  ``predict`` and ``run_local`` are not supported either;
- the plugin's signatures: no ``endpoint`` on get, list and delete, no ``config`` on delete.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from dtp_common import Store
from mlflow.deployments import BaseDeploymentClient
from mlflow.exceptions import MlflowException

SCHEME = "tritontest"

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def _http(status: int, detail: str) -> MlflowException:
    return MlflowException(f"Triton Control returned HTTP {status}: {detail}")


class TritonControlDeploymentClient(BaseDeploymentClient):
    """Triton Control deployments, kept as JSON files under the target directory."""

    def __init__(self, target_uri):
        super().__init__(target_uri)
        self.store = Store(target_uri)

    # -- the server (POST/GET/DELETE /api/deployments...) --

    def _server_create(self, payload):
        with self.store.locked():
            existing = self.store.names()
            if payload["deployment_name"] in existing:
                raise _http(409, "Deployment name already exists")
            record = {
                "deployment_name": payload["deployment_name"],
                "instance_id": len(existing) + 1,
                "model_uri": payload["model_uri"],
                "model_name": payload["model_name"],
                "status": "ready",
                "status_detail": "Model is ready",
                "url": f"http://{payload['deployment_name']}.triton.svc:8000",
            }
            self.store.write(payload["deployment_name"], record)
        return {"instance_id": record["instance_id"]}

    def _server_get(self, name):
        record = self.store.read(name)
        if record is None:
            raise _http(404, "MLflow deployment not found")
        return record

    # -- the plugin --

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "create_deployment", name, name, model_uri, flavor, config=config, endpoint=endpoint
        ):
            if endpoint is not None:
                raise MlflowException("endpoint is not supported")
            if flavor not in {None, "triton"}:
                raise MlflowException("Only the triton flavor is supported")
            if not _NAME.fullmatch(name):
                raise MlflowException("name must be a lowercase Kubernetes deployment name")
            config = config or {}
            try:
                profile_id = int(config["s3_profile_id"])
                image = str(config["image"]).strip()
            except (KeyError, TypeError, ValueError) as exc:
                raise MlflowException("s3_profile_id and image are required") from exc
            if profile_id <= 0 or not image:
                raise MlflowException("s3_profile_id must be positive and image must not be empty")
            uri = urlsplit(model_uri)
            parts = uri.path.strip("/").split("/")
            if (
                uri.scheme != "s3"
                or not uri.netloc
                or uri.query
                or uri.fragment
                or len(parts) < 2
                or any(part in {"", ".", ".."} for part in parts)
                or not _MODEL.fullmatch(parts[-1])
            ):
                raise MlflowException(
                    "model_uri must be s3://<bucket>/<repository-prefix>/<model-name>"
                )
            self._server_create(
                {
                    "deployment_name": name,
                    "s3_profile_id": profile_id,
                    "model_uri": model_uri,
                    "repository_prefix": "/".join(parts[:-1]),
                    "model_name": parts[-1],
                    "image": image,
                    "model_control_mode": "explicit",
                }
            )
            # The real plugin polls get_deployment until the status is "ready": here it is.
            return {**self._server_get(name), "flavor": "triton"}

    def get_deployment(self, name):
        with self.store.call("get_deployment", name, name):
            return {**self._server_get(name), "flavor": "triton"}

    def list_deployments(self):
        with self.store.call("list_deployments", None) as faults:
            records = (self.store.read(n) for n in self.store.visible_names(faults))
            return [r for r in records if r is not None]

    def delete_deployment(self, name):
        with self.store.call("delete_deployment", name, name):
            with self.store.locked():
                self._server_get(name)
                self.store.remove(name)
            return {"message": "deleted"}

    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "update_deployment", name, name, model_uri=model_uri, flavor=flavor, config=config
        ):
            raise MlflowException("Updating deployments is not supported")

    def predict(self, deployment_name=None, inputs=None, endpoint=None):
        raise MlflowException("Prediction is not supported")


def run_local(target, name, model_uri, flavor=None, config=None):
    raise MlflowException("Local Triton serving is not supported by triton-control")


def target_help():
    return (
        "tritontest:/abs/dir - a fake of mlflow-triton-control: -m s3://BUCKET/PREFIX/MODEL, "
        "config s3_profile_id and image required; update, predict and local serving are "
        "unsupported."
    )
