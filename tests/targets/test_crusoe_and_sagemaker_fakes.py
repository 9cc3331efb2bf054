"""The fakes of mlflow-crusoe (``crusoetest``) and MLflow's sagemaker target (``sagemakertest``)
behave as the real plugins do (shared/plugins.md), so tests against them mean something; and
deployctl reads what they say as it must (missing names, errors)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec
from deployctl.targets.loading import load_target
from deployctl.targets.plugin_errors import not_found_evidence

LLAMA = "meta-llama/Llama-3.3-70B-Instruct"


@pytest.fixture
def crusoe(tmp_path: Path, test_plugins: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    import dtp_crusoe

    monkeypatch.setenv("CRUSOE_API_KEY", "test-key")
    return dtp_crusoe.CrusoeTestDeploymentClient(f"crusoetest:{tmp_path}")


@pytest.fixture
def sagemaker(tmp_path: Path, test_plugins: ModuleType) -> Any:
    import dtp_sagemaker

    return dtp_sagemaker.SageMakerTestDeploymentClient(f"sagemakertest:{tmp_path}")


def error_code(exc: BaseException) -> str | None:
    return getattr(exc, "error_code", None)


# -- crusoe ----------------------------------------------------------------------------------


def test_crusoe_keeps_the_model_and_each_config_key_flat_at_the_top(crusoe: Any) -> None:
    created = crusoe.create_deployment("chat", LLAMA, config={"temperature": 1, "top_p": "0.5"})
    assert created == {"name": "chat", "model": LLAMA, "flavor": None}
    record = crusoe.get_deployment("chat")
    assert {k: v for k, v in record.items() if not k.endswith("_at")} == {
        "name": "chat",
        "model": LLAMA,
        "api_base": "https://api.crusoe.ai/v1",
        "temperature": 1.0,
        "max_tokens": 1024,  # a default, reported although never configured
        "top_p": 0.5,
        "_api_key_source": "env",
    }
    assert isinstance(record["temperature"], float)
    assert crusoe.list_deployments() == [record]


def test_crusoe_needs_an_api_key_and_never_stores_it(
    crusoe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRUSOE_API_KEY")
    with pytest.raises(Exception, match="CRUSOE_API_KEY") as caught:
        crusoe.create_deployment("chat", LLAMA)
    assert error_code(caught.value) == "INVALID_PARAMETER_VALUE"
    crusoe.create_deployment("chat", LLAMA, config={"api_key": "secret"})
    record = crusoe.get_deployment("chat")
    assert record["_api_key_source"] == "config"
    assert "secret" not in repr(record)


def test_crusoe_update_merges_config_so_a_removed_key_stays(crusoe: Any) -> None:
    crusoe.create_deployment("chat", LLAMA, config={"temperature": 0.7, "top_p": 0.9})
    crusoe.update_deployment("chat", config={"temperature": 0.2})
    record = crusoe.get_deployment("chat")
    assert (record["temperature"], record["top_p"], record["model"]) == (0.2, 0.9, LLAMA)
    crusoe.update_deployment("chat", model_uri="deepseek-ai/DeepSeek-V3")
    assert crusoe.get_deployment("chat")["model"] == "deepseek-ai/DeepSeek-V3"


def test_crusoe_delete_is_idempotent_and_get_of_a_missing_name_says_so(crusoe: Any) -> None:
    crusoe.create_deployment("chat", LLAMA)
    with pytest.raises(Exception) as exists:
        crusoe.create_deployment("chat", LLAMA)
    assert error_code(exists.value) == "RESOURCE_ALREADY_EXISTS"
    crusoe.delete_deployment("chat")
    crusoe.delete_deployment("chat")
    with pytest.raises(Exception) as missing:
        crusoe.get_deployment("chat")
    assert error_code(missing.value) == "RESOURCE_DOES_NOT_EXIST"
    assert not_found_evidence(missing.value) == "explicit"


# -- sagemaker -------------------------------------------------------------------------------


def test_sagemaker_lists_raw_aws_items_without_a_name(sagemaker: Any) -> None:
    sagemaker.create_deployment("churn", "models:/churn/3")
    (item,) = sagemaker.list_deployments()
    assert set(item) == {
        "EndpointName",
        "EndpointArn",
        "CreationTime",
        "LastModifiedTime",
        "EndpointStatus",
    }
    assert isinstance(item["CreationTime"], datetime)


def test_sagemaker_lists_one_page_of_ten_newest_first(sagemaker: Any) -> None:
    for index in range(12):
        sagemaker.create_deployment(f"e{index:02d}", "models:/m/1")
    names = [item["EndpointName"] for item in sagemaker.list_deployments()]
    assert names == [f"e{index:02d}" for index in range(11, 1, -1)]
    assert sagemaker.get_deployment("e00")["EndpointName"] == "e00"  # get finds the rest


def test_sagemaker_get_is_describe_endpoint_with_new_request_metadata_each_call(
    sagemaker: Any,
) -> None:
    created = sagemaker.create_deployment(
        "churn", "models:/churn/3", config={"instance_count": "2", "instance_type": "ml.m5.large"}
    )
    assert created == {"name": "churn", "flavor": "python_function"}
    first, second = sagemaker.get_deployment("churn"), sagemaker.get_deployment("churn")
    (variant,) = first["ProductionVariants"]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    assert variant["InstanceType"] == "ml.m5.large"
    assert first["Tags"]["model_uri"] == "models:/churn/3"
    assert first["ResponseMetadata"]["RequestId"] != second["ResponseMetadata"]["RequestId"]
    without = [{k: v for k, v in d.items() if k != "ResponseMetadata"} for d in (first, second)]
    assert without[0] == without[1]


def test_sagemaker_update_replaces_the_config_so_a_key_left_out_takes_its_default(
    sagemaker: Any, tmp_path: Path
) -> None:
    import dtp_sagemaker

    sagemaker.create_deployment("churn", "models:/churn/3", config={"instance_count": 3})
    sagemaker.update_deployment("churn", "models:/churn/4", config={"temperature": 1})
    (variant,) = sagemaker.get_deployment("churn")["ProductionVariants"]
    assert (variant["CurrentInstanceCount"], variant["InstanceType"]) == (1, "ml.m4.xlarge")
    (model,) = dtp_sagemaker.models(tmp_path)  # the replaced model was not archived
    assert model["model_uri"] == "models:/churn/4"
    with pytest.raises(Exception, match="model_uri must be provided"):
        sagemaker.update_deployment("churn", None)


def test_sagemaker_create_of_an_existing_name_is_refused(sagemaker: Any) -> None:
    sagemaker.create_deployment("churn", "models:/churn/3")
    with pytest.raises(Exception, match="already exists") as caught:
        sagemaker.create_deployment("churn", "models:/churn/3")
    assert error_code(caught.value) == "INVALID_PARAMETER_VALUE"


def test_sagemaker_archive_on_delete_keeps_the_models(sagemaker: Any, tmp_path: Path) -> None:
    import dtp_sagemaker

    sagemaker.create_deployment("kept", "models:/kept/1")
    sagemaker.create_deployment("gone", "models:/gone/1")
    sagemaker.delete_deployment("kept", config={"archive": True})
    sagemaker.delete_deployment("gone", config={"archive": "False"})
    assert [m["model_uri"] for m in dtp_sagemaker.models(tmp_path)] == ["models:/kept/1"]
    assert sagemaker.list_deployments() == []
    sagemaker.create_deployment("x", "models:/x/1")
    with pytest.raises(Exception, match="must be archived"):
        sagemaker.delete_deployment("x", config={"synchronous": False})


def test_sagemaker_missing_names_raise_as_the_real_plugin_does(sagemaker: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(Exception, match="Could not find endpoint") as got:
        sagemaker.get_deployment("churn")
    assert type(got.value).__name__ == "MlflowException"
    assert error_code(got.value) == "INTERNAL_ERROR"
    sagemaker.create_deployment("churn", "models:/churn/3")
    sagemaker.delete_deployment("churn")
    with pytest.raises(ClientError) as again:
        sagemaker.delete_deployment("churn")
    assert again.value.response["Error"]["Code"] == "ValidationException"


def test_deployctl_reads_a_missing_sagemaker_endpoint_as_not_found_from_its_words(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    adapter = load_target(f"sagemakertest:{tmp_path}", key="sm")
    adapter.create("churn", DeploymentSpec("models:/churn/3"))
    adapter.delete("churn", {"archive": False})
    with pytest.raises(TargetError) as caught:
        adapter.get("churn")
    assert caught.value.not_found
    assert caught.value.cause is not None
    assert not_found_evidence(caught.value.cause) == "message"
