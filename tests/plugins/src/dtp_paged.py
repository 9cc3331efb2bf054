"""A duck-typed, SageMaker-like deployment plugin (no MLflow import).

``list_deployments(endpoint=None, pagination_args=None)`` returns pages of two:
``{"deployments": [...], "next_page_token": ...}`` (ask for the next with
``pagination_args={"page_token": token}``). Records are named under ``EndpointName``, report no
flavor/config and the model_uri only under ``Tags.model_uri`` (read with a manifest's ``fields:``
mapping), and hold values that are not JSON (a datetime and a ``Handle``). Every describe
carries boto3's per-request ``ResponseMetadata`` (a new ``RequestId`` and ``date`` each call).
Missing names raise a botocore-style ``ClientError`` (``.response["Error"]["Code"]``), and delete
is not idempotent. ``run_local`` has the form MLflow's CLI calls: ``run_local(name, model_uri,
flavor, config)``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from dtp_common import Store, record_run_local

SCHEME = "pagedtest"
PAGE_SIZE = 2
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class ClientError(Exception):
    """Shaped like ``botocore.exceptions.ClientError``."""

    def __init__(self, code: str, message: str, operation: str) -> None:
        self.response = {"Error": {"Code": code, "Message": message}}
        self.operation_name = operation
        super().__init__(
            f"An error occurred ({code}) when calling the {operation} operation: {message}"
        )


class Handle:
    """Not JSON-serialisable (like the Ray objects some plugins return)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Handle {self.name}>"


def _arn(name: str) -> str:
    return f"arn:aws:sagemaker:local:000000000000:endpoint/{name}"


class PagedDeploymentClient:
    """Deployments as JSON files under the target directory, described SageMaker-style."""

    def __init__(self, target_uri: str) -> None:
        self.target_uri = target_uri
        self.store = Store(target_uri)

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        with self.store.call(
            "create_deployment", name, name, model_uri, flavor, config=config, endpoint=endpoint
        ) as f:
            with self.store.locked():
                if self.store.read(name) is not None:
                    raise ClientError(
                        "ValidationException",
                        f'Cannot create already existing endpoint "{_arn(name)}".',
                        "CreateEndpoint",
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
            with self.store.locked():
                record = self._read(name, "UpdateEndpoint")
                if model_uri is not None:
                    record["model_uri"] = model_uri
                if flavor is not None:
                    record["flavor"] = flavor
                if config is not None:
                    record["config"] = dict(config)
                self.store.write(name, record)
            self.store.exit_after(f, "update_deployment", name)

    def delete_deployment(self, name, config=None, endpoint=None):
        with self.store.call(
            "delete_deployment", name, name, config=config, endpoint=endpoint
        ) as f:
            with self.store.locked():
                self._read(name, "DeleteEndpoint")
                self.store.remove(name)
            self.store.exit_after(f, "delete_deployment", name)

    def get_deployment(self, name, endpoint=None):
        with self.store.call("get_deployment", name, name, endpoint=endpoint):
            return self._describe(self._read(name, "DescribeEndpoint"))

    def list_deployments(self, endpoint=None, pagination_args=None):
        with self.store.call(
            "list_deployments", None, endpoint=endpoint, pagination_args=pagination_args
        ) as f:
            start = int((pagination_args or {}).get("page_token") or 0)
            names = self.store.visible_names(f)
            page = names[start : start + PAGE_SIZE]
            token = str(start + PAGE_SIZE) if start + PAGE_SIZE < len(names) else None
            records = (self.store.read(n) for n in page)
            return {
                "deployments": [self._describe(r) for r in records if r is not None],
                "next_page_token": token,
            }

    def _read(self, name: str, operation: str) -> dict[str, Any]:
        record = self.store.read(name)
        if record is None:
            raise ClientError(
                "ValidationException", f'Could not find endpoint "{_arn(name)}".', operation
            )
        return record

    @staticmethod
    def _describe(record: dict[str, Any]) -> dict[str, Any]:
        name = record["name"]
        return {
            "EndpointName": name,
            "EndpointArn": _arn(name),
            "EndpointStatus": "InService",
            "CreationTime": CREATED,
            "Handle": Handle(name),
            # SageMaker keeps the model elsewhere; deployctl reads it only with a field mapping.
            "Tags": {"model_uri": record["model_uri"]},
            # What boto3 adds to every response: different on every call.
            "ResponseMetadata": {
                "RequestId": str(uuid.uuid4()),
                "HTTPStatusCode": 200,
                "HTTPHeaders": {"date": formatdate(usegmt=True)},
                "RetryAttempts": 0,
            },
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
    return "pagedtest:/abs/dir - a SageMaker-like test target that lists in pages of two."
