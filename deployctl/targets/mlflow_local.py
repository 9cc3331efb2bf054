"""The ``local`` target as an MLflow deployment plugin, for MLflow's own tools.

Registered as entry point ``local`` in the ``mlflow.deployments`` group, so
``mlflow deployments list -t local:/path`` and ``mlflow.deployments.get_deploy_client`` drive the
same directories deployctl does. MLflow's loader wants exactly one ``BaseDeploymentClient``
subclass plus module functions ``run_local`` and ``target_help``; the behaviour is
``LocalDeploymentClient``'s. deployctl itself uses ``deployctl.targets.local`` (no MLflow import).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow.deployments import BaseDeploymentClient, PredictionsResponse

from deployctl.targets import local
from deployctl.targets.local import LocalDeploymentClient


class MlflowLocalDeploymentClient(LocalDeploymentClient, BaseDeploymentClient):
    """``LocalDeploymentClient`` as MLflow sees it: MLflow 3 signatures, MlflowException errors."""

    def __init__(self, target_uri: str) -> None:
        LocalDeploymentClient.__init__(self, target_uri)

    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """As ``LocalDeploymentClient.update_deployment``, but an empty config is no change.

        MLflow's CLI passes ``config={}`` when no ``-C`` option was given; taking that as
        "clear the config" would wipe it on every ``mlflow deployments update``.
        """
        return LocalDeploymentClient.update_deployment(
            self, name, model_uri, flavor, config or None, endpoint
        )

    def predict(
        self, deployment_name: str | None = None, inputs: Any = None, endpoint: str | None = None
    ) -> PredictionsResponse:
        """Score ``inputs`` (a DataFrame) with the deployment's model; MLflow's response type."""
        if deployment_name is None:
            raise local.local_error(
                "predict needs a deployment name", local.INVALID_PARAMETER_VALUE
            )
        raw = LocalDeploymentClient.predict(self, deployment_name, inputs, endpoint)
        return PredictionsResponse({"predictions": _jsonable(raw)})


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and hasattr(value, "columns"):
        return to_dict(orient="records")
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return value


def run_local(
    name: str, model_uri: str, flavor: str | None = None, config: Mapping[str, Any] | None = None
) -> None:
    """Serve ``model_uri`` locally (blocks); see ``deployctl.targets.local.run_local``.

    Takes the arguments in the order MLflow's CLI passes them:
    ``plugin.run_local(name, model_uri, flavor, config)``.
    """
    local.serve_model(model_uri, flavor, config)


def target_help() -> str:
    """The local target's help text."""
    return local.target_help()
