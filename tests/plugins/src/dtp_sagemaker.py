"""A fake of MLflow's own ``sagemaker`` target (mlflow 3.17 against moto): shapes and quirks.

Endpoints are JSON files under ``DIR/records`` and SageMaker models under ``DIR/models`` (the
target URI is ``sagemakertest:/abs/dir``; the real one is ``sagemaker:/REGION[/ROLE_ARN]``),
with ``dtp_common``'s fault injection and call log. What matters for deployctl, as the real
plugin does it (``mlflow/sagemaker/__init__.py``):

- ``list_deployments`` returns ``list_endpoints()["Endpoints"]``: raw AWS items
  ``{EndpointName, EndpointArn, CreationTime, LastModifiedTime, EndpointStatus}`` with **no
  ``name``**, newest first, one page of at most ten (the plugin never asks for the next);
- ``get_deployment`` returns the whole ``describe_endpoint`` response: ``EndpointConfigName``,
  ``ProductionVariants: [{VariantName, DeployedImages, CurrentWeight, DesiredWeight,
  CurrentInstanceCount, DesiredInstanceCount, InstanceType}]``, datetimes, and boto3's
  ``ResponseMetadata`` (a new ``RequestId`` and ``date`` on every call). One liberty: it also
  carries ``Tags``, a mapping of the tags on the endpoint's model, ``model_uri`` among them
  (the real plugin tags its models so; reading them takes a ``list_tags`` call);
- config keys are the plugin's (``instance_type``, default ``ml.m4.xlarge``;
  ``instance_count``, default 1, cast with ``int``; ``archive``/``synchronous`` parsed as
  ``value == "True"`` when not booleans; ``mode`` ``create``/``replace``/``add``; ``tags``...);
  others are ignored. An update replaces the endpoint's config: keys left out take their
  defaults again. The instance count and type reach ``ProductionVariants[0]``;
- create returns ``{"name", "flavor"}``; creating an existing name raises
  ``INVALID_PARAMETER_VALUE``; update needs a ``model_uri``;
- ``delete_deployment(name, config)``: ``archive: true`` keeps the endpoint's models (and
  replaced ones on update), otherwise they are deleted with it (see ``models``); a delete of a
  missing name raises botocore's ``ClientError`` (``ValidationException``);
- get of a missing name raises ``MlflowException`` with the default ``INTERNAL_ERROR`` code
  ("There was an error while retrieving the deployment: ... Could not find endpoint ...").

``read_record``/``store_record`` let tests change an endpoint behind deployctl's back.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

from dtp_common import Store, record_run_local
from mlflow.deployments import BaseDeploymentClient, PredictionsResponse
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

try:
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover - boto3 is part of deployctl's test extras

    class ClientError(Exception):  # type: ignore[no-redef]
        """Shaped like ``botocore.exceptions.ClientError``."""

        def __init__(self, error_response: dict[str, Any], operation_name: str) -> None:
            self.response = error_response
            self.operation_name = operation_name
            error = error_response["Error"]
            super().__init__(
                f"An error occurred ({error['Code']}) when calling the {operation_name} "
                f"operation: {error['Message']}"
            )


SCHEME = "sagemakertest"
REGION = "us-east-1"
ACCOUNT = "123456789012"
MODELS = "models"
PAGE_SIZE = 10
DEFAULT_INSTANCE_TYPE = "ml.m4.xlarge"
DEFAULT_INSTANCE_COUNT = 1
APP_NAME_TAG = "app_name"
_INT_FIELDS = {"instance_count", "timeout_seconds"}
_BOOL_FIELDS = {"synchronous", "archive"}
_DICT_FIELDS = {"vpc_config", "data_capture_config", "tags", "env"}


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def _unique(base: str, suffix: str) -> str:
    return f"{base}{suffix}{uuid.uuid4().hex[:20]}"


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _deployment_config(custom: dict[str, Any] | None, *, create: bool) -> dict[str, Any]:
    """The plugin's defaults with ``custom`` applied as ``_apply_custom_config`` does."""
    config: dict[str, Any] = {
        "region_name": REGION,
        "archive": False,
        "instance_type": DEFAULT_INSTANCE_TYPE,
        "instance_count": DEFAULT_INSTANCE_COUNT,
        "synchronous": True,
        "timeout_seconds": 1200,
        "variant_name": None,
        "env": None,
        "tags": None,
        "mode": "create" if create else "replace",
    }
    _apply_custom(config, custom or {})
    return config


def _apply_custom(config: dict[str, Any], custom: dict[str, Any]) -> None:
    for key, value in custom.items():
        if key not in config:
            continue  # the real plugin ignores keys it does not know
        if key in _INT_FIELDS and not isinstance(value, int):
            value = int(value)
        elif key in _BOOL_FIELDS and not isinstance(value, bool):
            value = value == "True"
        elif key in _DICT_FIELDS and value is not None and not isinstance(value, dict):
            value = json.loads(value)
        config[key] = value


def _not_found(name: str, operation: str) -> ClientError:
    message = f'Could not find endpoint "{_arn("endpoint", name)}".'
    return ClientError(
        {
            "Error": {"Code": "ValidationException", "Message": message},
            "ResponseMetadata": _response_metadata(400),
        },
        operation,
    )


def _response_metadata(status: int = 200) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "RequestId": request_id,
        "HTTPStatusCode": status,
        "HTTPHeaders": {
            "x-amzn-requestid": request_id,
            "content-type": "application/x-amz-json-1.1",
            "date": formatdate(usegmt=True),
        },
        "RetryAttempts": 0,
    }


class SageMakerTestDeploymentClient(BaseDeploymentClient):
    """SageMaker endpoints as JSON files, described as boto3 describes them."""

    def __init__(self, target_uri: str) -> None:
        super().__init__(target_uri)
        self.store = Store(target_uri)
        self.models = self.store.dir / MODELS

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "create_deployment", name, name, model_uri, flavor, config=config, endpoint=endpoint
        ) as f:
            final = _deployment_config(config, create=True)
            flavor = flavor or "python_function"
            with self.store.locked():
                if self.store.read(name) is not None and final["mode"] == "create":
                    raise MlflowException(
                        f"You are attempting to deploy an application with name: {name} in "
                        "'create' mode. However, an application with the same name already "
                        "exists. If you want to update this application, deploy in 'add' or "
                        "'replace' mode.",
                        error_code=INVALID_PARAMETER_VALUE,
                    )
                self._deploy(name, model_uri, flavor, final)
            self.store.exit_after(f, "create_deployment", name)
            return {"name": name, "flavor": flavor}

    def update_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "update_deployment",
            name,
            name,
            model_uri=model_uri,
            flavor=flavor,
            config=config,
            endpoint=endpoint,
        ) as f:
            final = _deployment_config(config, create=False)
            if model_uri is None:
                raise MlflowException(
                    "A model_uri must be provided when updating a SageMaker deployment",
                    error_code=INVALID_PARAMETER_VALUE,
                )
            if final["mode"] not in ("add", "replace"):
                raise MlflowException(
                    f"Invalid mode `{final['mode']}` for deployment to a pre-existing application",
                    error_code=INVALID_PARAMETER_VALUE,
                )
            flavor = flavor or "python_function"
            with self.store.locked():
                self._deploy(name, model_uri, flavor, final)
            self.store.exit_after(f, "update_deployment", name)
            return {"name": name, "flavor": flavor}

    def delete_deployment(self, name, config=None, endpoint=None):
        with self.store.call(
            "delete_deployment", name, name, config=config, endpoint=endpoint
        ) as f:
            final = {"region_name": REGION, "archive": False, "synchronous": True}
            final["timeout_seconds"] = 300
            _apply_custom(final, dict(config or {}))
            if not final["archive"] and not final["synchronous"]:
                raise MlflowException(
                    "Resources must be archived when `delete()` is executed in non-synchronous "
                    "mode. Either set `synchronous=True` or `archive=True`.",
                    error_code=INVALID_PARAMETER_VALUE,
                )
            with self.store.locked():
                record = self.store.read(name)
                if record is None:
                    raise _not_found(name, "DescribeEndpoint")
                self.store.remove(name)
                if not final["archive"]:
                    for variant in record["ProductionVariants"]:
                        self._remove_model(variant["ModelName"])
            self.store.exit_after(f, "delete_deployment", name)

    def list_deployments(self, endpoint=None):
        with self.store.call("list_deployments", None, endpoint=endpoint) as f:
            records = [self.store.read(n) for n in self.store.visible_names(f)]
            found = sorted(
                (r for r in records if r is not None),
                key=lambda r: r["CreationTime"],
                reverse=True,
            )
            return [
                {
                    "EndpointName": r["EndpointName"],
                    "EndpointArn": r["EndpointArn"],
                    "CreationTime": _time(r["CreationTime"]),
                    "LastModifiedTime": _time(r["LastModifiedTime"]),
                    "EndpointStatus": r["EndpointStatus"],
                }
                for r in found[:PAGE_SIZE]
            ]

    def get_deployment(self, name, endpoint=None):
        with self.store.call("get_deployment", name, name, endpoint=endpoint):
            record = self.store.read(name)
            if record is None:
                exc = _not_found(name, "DescribeEndpoint")
                raise MlflowException(
                    message=f"There was an error while retrieving the deployment: {exc}\n"
                )
            return self._described(record)

    def predict(self, deployment_name=None, inputs=None, endpoint=None, params=None):
        with self.store.call("predict", deployment_name, deployment_name, endpoint=endpoint):
            record = self.store.read(deployment_name)
            if record is None:
                raise _not_found(deployment_name, "InvokeEndpoint")
            rows = len(inputs) if inputs is not None else 0
            return PredictionsResponse({"predictions": [record["Tags"]["model_uri"]] * rows})

    # -- the endpoint and its models --

    def _deploy(self, name: str, model_uri: str, flavor: str, final: dict[str, Any]) -> None:
        """Create ``name`` or, in ``replace``/``add`` mode, point it at a new model."""
        model_name = _unique(name, "-model-")
        tags = {APP_NAME_TAG: name, **(final["tags"] or {}), "model_uri": str(model_uri)}
        self.models.mkdir(parents=True, exist_ok=True)
        _write(
            self.models / f"{model_name}.json",
            {
                "ModelName": model_name,
                "ModelArn": _arn("model", model_name),
                "model_uri": str(model_uri),
                "flavor": flavor,
                "Tags": tags,
            },
        )
        existing = self.store.read(name)
        now = time.time()
        variant = {
            "VariantName": final["variant_name"] or model_name,
            "ModelName": model_name,
            "DeployedImages": [
                {
                    "SpecifiedImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlflow-pyfunc",
                    "ResolvedImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlflow-pyfunc",
                    "ResolutionTime": now,
                }
            ],
            "CurrentWeight": 1.0,
            "DesiredWeight": 1.0,
            "CurrentInstanceCount": final["instance_count"],
            "DesiredInstanceCount": final["instance_count"],
            "InstanceType": final["instance_type"],
        }
        variants = [variant]
        if existing is not None:
            replaced = existing["ProductionVariants"]
            if final["mode"] == "add":
                variant["CurrentWeight"] = variant["DesiredWeight"] = 0.0
                variants = [*replaced, variant]
            elif not final["archive"]:
                for old in replaced:
                    self._remove_model(old["ModelName"])
        config_name = _unique(name, "-config-")
        self.store.write(
            name,
            {
                "EndpointName": name,
                "EndpointArn": _arn("endpoint", name),
                "EndpointConfigName": config_name,
                "ProductionVariants": variants,
                "EndpointStatus": "InService",
                "CreationTime": existing["CreationTime"] if existing else now,
                "LastModifiedTime": now,
                "Tags": tags,
            },
        )

    def _remove_model(self, model_name: str) -> None:
        (self.models / f"{model_name}.json").unlink(missing_ok=True)

    @staticmethod
    def _described(record: dict[str, Any]) -> dict[str, Any]:
        """``record`` as boto3's ``describe_endpoint`` returns it (datetimes, metadata)."""
        described = json.loads(json.dumps(record))
        described["CreationTime"] = _time(record["CreationTime"])
        described["LastModifiedTime"] = _time(record["LastModifiedTime"])
        for variant in described["ProductionVariants"]:
            for image in variant.get("DeployedImages", []):
                image["ResolutionTime"] = _time(image["ResolutionTime"])
        described["ResponseMetadata"] = _response_metadata()
        return described


def _write(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def models(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The SageMaker models the target in ``directory`` holds (archived ones included)."""
    files = sorted((Path(directory) / MODELS).glob("*.json"))
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def read_record(directory: str | os.PathLike[str], name: str) -> dict[str, Any] | None:
    """The stored endpoint ``name`` (times in epoch seconds, no ``ResponseMetadata``)."""
    return Store(f"{SCHEME}:{os.fspath(directory)}").read(name)


def store_record(directory: str | os.PathLike[str], name: str, record: dict[str, Any]) -> None:
    """Replace the stored endpoint ``name`` (a change made behind deployctl's back)."""
    Store(f"{SCHEME}:{os.fspath(directory)}").write(name, record)


def run_local(name, model_uri, flavor=None, config=None):
    """MLflow's own form; returns (and logs) what it was given instead of serving."""
    return record_run_local(
        {
            "form": "sagemaker",
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": config,
        }
    )


def target_help():
    return (
        "The 'sagemakertest' target fakes MLflow's sagemaker target: URIs look like "
        "sagemakertest:/abs/dir. Records are describe_endpoint responses: map them with "
        "fields: {name: EndpointName, status: EndpointStatus, model_uri: Tags.model_uri, "
        "config.instance_count: ProductionVariants.0.CurrentInstanceCount}. Delete reads "
        "archive, synchronous, timeout_seconds and region_name from config."
    )
