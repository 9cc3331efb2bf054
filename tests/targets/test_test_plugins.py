"""The test plugins' fault injection behaves as the executor's tests rely on."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import require_mlflow

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec
from deployctl.targets.adapter import TargetAdapter

Load = Callable[..., TargetAdapter]
SPEC = DeploymentSpec("models:/m/1")

CREATE = """
import sys
from deployctl.model import DeploymentSpec
from deployctl.targets.loading import load_target
adapter = load_target(sys.argv[1], key="dev")
adapter.create(sys.argv[2], DeploymentSpec("models:/m/1"))
print("survived")
"""


def directory(adapter: TargetAdapter) -> Path:
    return Path(adapter.uri.partition(":")[2])


@pytest.mark.parametrize("scheme", ["seedtest", "pagedtest"])
def test_exit_after_kills_the_process_right_after_the_record_is_written(
    load: Load, scheme: str
) -> None:
    from dtp_common import EXIT_CODE, write_faults

    adapter = load(scheme, key="dev")
    write_faults(directory(adapter), {"exit_after": {"create_deployment": ["crash"]}})
    crashed = subprocess.run(
        [sys.executable, "-c", CREATE, adapter.uri, "crash"], capture_output=True, text=True
    )
    assert crashed.returncode == EXIT_CODE
    assert "survived" not in crashed.stdout
    assert [r.name for r in adapter.list()] == ["crash"]
    survived = subprocess.run(
        [sys.executable, "-c", CREATE, adapter.uri, "other"], capture_output=True, text=True
    )
    assert survived.returncode == 0, survived.stderr


def test_failures_apply_to_the_listed_names_of_each_method(load: Load) -> None:
    from dtp_common import write_faults

    adapter = load("seedtest")
    adapter.create("ok", SPEC)
    adapter.create("bad", SPEC)
    write_faults(
        directory(adapter),
        {"fail": {"update_deployment": ["bad"], "delete_deployment": ["bad"]}},
    )
    adapter.update("ok", DeploymentSpec("models:/m/2"))
    with pytest.raises(TargetError, match="InjectedFault"):
        adapter.update("bad", SPEC)
    with pytest.raises(TargetError, match="InjectedFault"):
        adapter.delete("bad")
    adapter.delete("ok")
    assert [r.name for r in adapter.list()] == ["bad"]


def test_sleep_can_be_set_per_method(load: Load) -> None:
    from dtp_common import write_faults

    adapter = load("seedtest")
    write_faults(directory(adapter), {"sleep": {"list_deployments": 0.3}})
    started = time.monotonic()
    adapter.list()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    with pytest.raises(TargetError):
        adapter.get("ghost")
    assert time.monotonic() - started < 0.3


def test_the_seed_delete_is_not_idempotent_but_the_mlflow_one_is(load: Load) -> None:
    with pytest.raises(TargetError) as info:
        load("seedtest").delete("ghost")
    assert info.value.not_found
    require_mlflow()
    load("mlflowtest").delete("ghost")
