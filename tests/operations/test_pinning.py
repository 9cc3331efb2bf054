"""Which desired model URIs are resolved through the registry at plan time (without MLflow: the
reading is MLflow's, done by ``model.model_uris``)."""

from __future__ import annotations

import pytest

from deployctl.errors import RegistryError
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.model.model_uris import parse_model_uri
from deployctl.operations.pinning import moving_uris, pin_models
from deployctl.planner import DesiredTarget

URIS = [
    "models:/churn/3",
    "models:/churn/03",
    "models:/a b/3",
    "models:/churn@champion",
    "models:/churn/latest",
    "models:/churn/LATEST",
    "models:/churn/Production",
    "models://p@databricks/churn/3",
    "models://p@databricks/churn@champion",
    "models:/m/0-v2",
    "models:/churn@latest",
    "runs:/abc/model",
    "s3://bucket/model",
]


def desired(*uris: str) -> list[DesiredTarget]:
    return [
        DesiredTarget(DesiredDeployment("t", f"d{i}", DeploymentSpec(uri)), "local:/x")
        for i, uri in enumerate(uris)
    ]


@pytest.mark.parametrize("uri", URIS)
def test_a_uri_is_resolved_exactly_when_it_moves_or_is_a_malformed_alias(uri: str) -> None:
    try:
        ref = parse_model_uri(uri)
        moves = ref is not None and not ref.pinned
    except RegistryError:
        moves = "@" in uri  # a malformed alias is reported by resolving; other text is not
    assert (uri in moving_uris(desired(uri))) == moves


def test_without_a_uri_that_moves_nothing_is_asked_and_nothing_changes() -> None:
    items = desired("models:/churn/3", "runs:/abc/model", "models:/m/0-v2")
    assert pin_models(items, tracking_uri="http://127.0.0.1:9") is items


def test_only_the_selected_deployments_are_resolved_and_none_is_dropped() -> None:
    items = desired("models:/churn@champion", "models:/fraud@champion")
    # The unselected alias is not asked about (the registry does not answer: it would fail).
    out = pin_models(items, tracking_uri="http://127.0.0.1:9", selected=lambda a: a == "t/d9")
    assert out == items
    assert moving_uris(items, lambda a: a == "t/d1") == {"models:/fraud@champion": ["t/d1"]}
