"""The conformance kit in-process: throw-away names, clean-up, error texts, the update check."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from deployctl.errors import TargetError
from deployctl.model import NAME_RE
from deployctl.model.live import LiveRecord
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.local import LocalDeploymentClient
from deployctl.targets.records import RecordShapeError
from deployctl.testing.kit import (
    ConformanceTarget,
    describe_failure,
    describe_raised,
    is_record_shape_error,
    refuses_updates,
)
from deployctl.testing.options import KitOptions
from deployctl.testing.test_conformance import unchanged_fields


class CodedError(Exception):
    """Shaped like MlflowException: the code is a string attribute."""

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.error_code = error_code


def local_kit(directory: Path) -> ConformanceTarget:
    return ConformanceTarget.load(KitOptions(f"local:{directory}"))


def test_throw_away_names_are_unique_per_run_and_valid_deployment_names(tmp_path: Path) -> None:
    first, second = local_kit(tmp_path), local_kit(tmp_path)

    names = [first.name("create"), first.missing_name(), second.name("create")]

    assert len(set(names)) == 3
    for name in names:
        assert re.fullmatch(r"dctl-conf-[0-9a-f]{8}-[a-z]+", name)
        assert NAME_RE.match(name) and len(name) <= 63


def test_cleanup_deletes_the_runs_deployments_and_nothing_else(tmp_path: Path) -> None:
    LocalDeploymentClient(f"local:{tmp_path}").create_deployment("keep-me", "models:/keep/1")
    kit = local_kit(tmp_path)
    kit.create(kit.name("made"))
    kit.name("never-made")

    assert kit.cleanup() == []
    assert [p.stem for p in (tmp_path / "deployments").glob("*.json")] == ["keep-me"]


def test_cleanup_reports_a_deployment_it_could_not_delete(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    kit = ConformanceTarget.load(KitOptions(f"seedtest:{tmp_path}"))
    name = kit.name("stuck")
    kit.create(name)
    test_plugins.write_faults(tmp_path, {"fail": {"delete_deployment": True}})

    assert kit.cleanup() == [
        f"the conformance kit could not delete its deployment {name!r} on seedtest:{tmp_path}: "
        f"delete_deployment raised InjectedFault (no error_code): injected failure: "
        f"delete_deployment {name}; delete it by hand"
    ]


def test_describe_raised_names_the_type_the_error_code_and_the_message() -> None:
    assert describe_raised(ValueError("deployment x not found.")) == (
        "ValueError (no error_code): deployment x not found"
    )
    assert describe_raised(CodedError("gone", "RESOURCE_DOES_NOT_EXIST")) == (
        "CodedError (error_code RESOURCE_DOES_NOT_EXIST): gone"
    )
    assert describe_raised(KeyError()) == "KeyError (no error_code)"


def test_a_deployctl_error_is_described_by_the_plugin_exception_it_wraps() -> None:
    cause = CodedError("boom", "INTERNAL_ERROR")
    wrapped = TargetError("CodedError: boom", target="t", call="get_deployment", cause=cause)

    assert describe_raised(wrapped) == "CodedError (error_code INTERNAL_ERROR): boom"
    assert describe_failure("get_deployment", wrapped) == (
        "get_deployment raised CodedError (error_code INTERNAL_ERROR): boom"
    )


def test_an_update_refused_as_not_supported_is_told_apart_from_other_failures() -> None:
    refused = TargetError(
        "MlflowException: Updating deployments is not supported",
        target="t",
        call="update_deployment",
        cause=CodedError("Updating deployments is not supported", "INTERNAL_ERROR"),
    )

    assert refuses_updates(refused)
    assert refuses_updates(NotImplementedError())
    assert refuses_updates(ValueError("update is unsupported for this model type"))
    assert not refuses_updates(ValueError("model s3://b/m2 could not be loaded"))
    assert not refuses_updates(CodedError("quota exceeded", "RESOURCE_EXHAUSTED"))


def test_the_update_config_defaults_to_the_create_config() -> None:
    same = KitOptions("local:/x", config={"workers": 2})
    other = KitOptions("local:/x", config={"workers": 2}, update_config={"workers": 3})

    assert same.config_after_update == {"workers": 2}
    assert other.config_after_update == {"workers": 3}


def record(model_uri: str | None = None, config: dict[str, object] | None = None) -> LiveRecord:
    return LiveRecord(name="d", raw={"name": "d"}, model_uri=model_uri, config=config)


def test_the_update_check_compares_the_model_and_the_config_keys_the_update_changed() -> None:
    options = KitOptions(
        "local:/x", config={"t": 0.1, "k": "a"}, update_config={"t": 0.5, "k": "a", "n": 1}
    )

    # Ignored: model_uri and t stay; k was not changed by the update, n is not reported.
    ignored = unchanged_fields(
        options, record("m:/1", {"t": 0.1, "k": "a"}), record("m:/1", {"t": 0.1, "k": "a"})
    )
    taken = unchanged_fields(options, record("m:/1", {"t": 0.1}), record("m:/2", {"t": 0.5}))
    unreported = unchanged_fields(options, record(), record())

    assert ignored == (["model_uri 'm:/1'", "config key 't' 0.1"], ["model_uri", "config.t"])
    assert taken == ([], ["model_uri", "config.t"])
    assert unreported == ([], [])


def test_a_mapped_field_the_record_lacks_is_named_with_its_path(tmp_path: Path) -> None:
    fields = {"model_uri": "Tags.model_uri", "status": "state", "config.temperature": "temp"}
    kit = ConformanceTarget.load(KitOptions(f"local:{tmp_path}", fields=fields))

    found = kit.record("d", {"Tags": {"model_uri": "m:/1"}, "temp": 0.2, "state": "READY"})
    lacking = kit.record("d", {"model_uri": "m:/1", "status": "READY"})

    assert kit.unmapped(found) == []
    assert kit.unmapped(lacking) == ["config.temperature (temp)"]
    assert kit.unmapped(kit.record("d", {"name": "d"})) == [
        "model_uri (Tags.model_uri)",
        "status (state)",
        "config.temperature (temp)",
    ]


class NoUpdateClient:
    """A client as some plugins write it: everything but update_deployment."""

    def create_deployment(
        self, name: str, model_uri: str, flavor: str | None = None, config: object = None
    ) -> dict[str, str]:
        return {"name": name}

    def get_deployment(self, name: str) -> dict[str, str]:
        return {"name": name}

    def list_deployments(self) -> list[dict[str, str]]:
        return []

    def delete_deployment(self, name: str) -> None:
        return None


def test_a_client_without_update_deployment_is_told_apart(tmp_path: Path) -> None:
    without = ConformanceTarget(
        TargetAdapter("conformance", "noupdate:/x", NoUpdateClient()), KitOptions("noupdate:/x")
    )

    assert without.has_no_update()
    assert not local_kit(tmp_path).has_no_update()


def test_a_record_deployctl_cannot_read_is_described_as_what_the_plugin_returned() -> None:
    shape_error = RecordShapeError("a record without a name ({'id': 7})")
    wrapped = TargetError("unreadable", target="t", call="list_deployments")
    wrapped.__cause__ = shape_error

    assert is_record_shape_error(wrapped)
    assert not is_record_shape_error(TargetError("boom", target="t", call="list_deployments"))
    assert describe_failure("list_deployments", wrapped) == (
        "list_deployments returned a record without a name ({'id': 7})"
    )
