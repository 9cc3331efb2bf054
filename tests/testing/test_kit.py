"""The conformance kit's mechanics in-process: throw-away names, clean-up, describing errors."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from deployctl.errors import TargetError
from deployctl.model import NAME_RE
from deployctl.targets.local import LocalDeploymentClient
from deployctl.testing.kit import ConformanceTarget, describe_failure, describe_raised
from deployctl.testing.options import KitOptions


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
