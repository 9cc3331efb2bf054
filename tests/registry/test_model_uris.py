"""Which ``models:/`` URIs name a registered model, and how: read as MLflow 3 reads them."""

from __future__ import annotations

import pytest
from support import require_mlflow

from deployctl.errors import RegistryError
from deployctl.registry import RegistryRef, parse_model_uri


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("models:/churn@champion", RegistryRef("churn", alias="champion")),
        ("models:/churn/latest", RegistryRef("churn", alias="latest")),
        ("models:/churn/LATEST", RegistryRef("churn", alias="latest")),
        ("models:/churn/7", RegistryRef("churn", version="7")),
        ("models:/churn/production", RegistryRef("churn", stage="Production")),
        ("models:/churn/Staging", RegistryRef("churn", stage="Staging")),
        ("models:/a@b@c", RegistryRef("a@b", alias="c")),
        ("models:/cat.schema.churn@prod", RegistryRef("cat.schema.churn", alias="prod")),
        (
            "models://prof@databricks/churn@champion",
            RegistryRef("churn", alias="champion", registry="prof@databricks"),
        ),
    ],
)
def test_registry_uris_are_read_into_references(uri: str, ref: RegistryRef) -> None:
    assert parse_model_uri(uri) == ref


@pytest.mark.parametrize(
    "uri",
    [
        "runs:/0123abcd/model",
        "s3://bucket/models/churn",
        "/srv/models/churn",
        "models/churn",
        "file:///srv/models/churn",
        "models:/m-0123456789abcdef",  # an MLflow 3 logged model: its id never moves
        "",
    ],
)
def test_other_uris_are_no_registry_references(uri: str) -> None:
    assert parse_model_uri(uri) is None


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("models:/", "it names no model"),
        ("models:", "it names no model"),
        ("models:/churn/7/extra", "more than NAME and one suffix"),
        ("models:/churn/", "suffix after the model name is empty"),
        ("models:/ /7", "model name is empty"),
        ("models:/churn/Champion", "'Champion' is neither a version, 'latest' nor a stage"),
        ("models:/@champion", "a model name and an alias go either side of '@'"),
        ("models:/churn@", "a model name and an alias go either side of '@'"),
        ("models:/churn@Latest", "'Latest' is reserved by MLflow and never an alias"),
    ],
)
def test_a_models_uri_mlflow_cannot_use_is_an_error_naming_it(uri: str, why: str) -> None:
    with pytest.raises(RegistryError) as raised:
        parse_model_uri(uri)
    assert raised.value.uri == uri
    assert str(raised.value).startswith(f"{uri}: ")
    assert why in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_suffix_that_is_no_stage_is_taken_for_a_misspelt_alias() -> None:
    with pytest.raises(RegistryError) as raised:
        parse_model_uri("models:/churn/Champion")
    assert str(raised.value) == (
        "models:/churn/Champion: not a model URI MLflow can read: 'Champion' is neither a "
        "version, 'latest' nor a stage (None, Staging, Production, Archived) (for the alias "
        "Champion, write models:/churn@Champion; else write models:/NAME/VERSION, "
        "models:/NAME@ALIAS or models:/NAME/latest)"
    )


def test_the_pinned_uri_keeps_the_model_and_the_registry_it_names() -> None:
    plain = parse_model_uri("models:/churn@champion")
    named = parse_model_uri("models://prof@databricks/churn/latest")
    assert plain is not None and named is not None
    assert plain.pinned_uri("7") == "models:/churn/7"
    assert named.pinned_uri("7") == "models://prof@databricks/churn/7"
    assert str(named) == "models://prof@databricks/churn/latest"


@pytest.mark.parametrize(
    ("uri", "reference", "pinned"),
    [
        ("models:/churn@champion", "alias champion", False),
        ("models:/churn/latest", "latest", False),
        ("models:/churn/production", "stage Production", False),
        ("models:/churn/7", "version 7", True),
    ],
)
def test_a_reference_says_what_moves_and_reads_back_as_mlflow_spells_it(
    uri: str, reference: str, pinned: bool
) -> None:
    ref = parse_model_uri(uri)
    assert ref is not None
    assert (ref.reference, ref.pinned) == (reference, pinned)
    assert parse_model_uri(str(ref)) == ref


@pytest.mark.parametrize(
    "uri",
    [
        "models:/churn@champion",
        "models:/churn/latest",
        "models:/churn/Latest",
        "models:/churn/12",
        "models:/churn/Production",
        "models:/a@b@c",
        "models://prof@databricks/churn/3",
        "models:/churn/7?x=1",
    ],
)
def test_references_agree_with_mlflows_own_reading(uri: str) -> None:
    require_mlflow()
    from mlflow.store.artifact.utils.models import _parse_model_uri

    theirs = _parse_model_uri(uri)
    ours = parse_model_uri(uri)
    assert ours is not None
    alias = None if ours.latest else ours.alias
    assert (ours.name, ours.version, alias) == (theirs.name, theirs.version, theirs.alias)
    assert (ours.stage or "").lower() == (theirs.stage or "").lower()
    # MLflow reads "latest" as "no version, no stage, no alias": so does the reference.
    assert ours.latest == (theirs.version is None and theirs.stage is None and alias is None)


@pytest.mark.parametrize(
    "uri", ["models:/", "models:/churn/7/extra", "models:/churn/", "models:/ /7", "models:/churn@"]
)
def test_uris_mlflow_rejects_are_rejected_too(uri: str) -> None:
    require_mlflow()
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.utils.models import _parse_model_uri

    with pytest.raises(MlflowException):
        _parse_model_uri(uri)
    with pytest.raises(RegistryError):
        parse_model_uri(uri)
