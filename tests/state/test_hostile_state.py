"""A state file that was tampered with or broken is an error naming the file, never acted on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployctl.errors import StateError
from deployctl.state.local import LocalStateBackend


def record(target: str = "local", name: str = "churn", **extra: Any) -> dict[str, Any]:
    return {
        "address": f"{target}/{name}",
        "target": target,
        "name": name,
        "target_uri": "local:/srv",
        "model_uri": "models:/churn/3",
        "flavor": None,
        "config": {},
        "live": None,
        "applied_at": "2026-01-01T00:00:00.000000Z",
        "previous": None,
        **extra,
    }


def state_file(tmp_path: Path, deployments: list[Any], **top: Any) -> LocalStateBackend:
    path = tmp_path / "dev.json"
    document = {
        "format_version": 1,
        "lineage": "3f1c",
        "serial": 4,
        "environment": "dev",
        "deployments": deployments,
        **top,
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return LocalStateBackend(path, environment="dev")


def test_a_record_named_like_a_path_is_refused(tmp_path: Path) -> None:
    backend = state_file(tmp_path, [record(name="../../x")])
    with pytest.raises(StateError, match=r"dev\.json has a record whose name '\.\./\.\./x'"):
        backend.read()


def test_an_address_that_disagrees_with_target_and_name_is_refused(tmp_path: Path) -> None:
    backend = state_file(tmp_path, [record(address="local/other")])
    with pytest.raises(StateError, match="its address must be local/churn"):
        backend.read()


def test_the_same_address_twice_is_refused(tmp_path: Path) -> None:
    backend = state_file(tmp_path, [record(), record()])
    with pytest.raises(StateError, match=r"dev\.json records local/churn more than once"):
        backend.read()


@pytest.mark.parametrize("serial", [-1, 2**53])
def test_a_serial_out_of_range_is_refused(tmp_path: Path, serial: int) -> None:
    backend = state_file(tmp_path, [], serial=serial)
    with pytest.raises(StateError, match=f"serial {serial}, outside 0 to"):
        backend.read()


def test_deeply_nested_json_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(StateError, match="nested too deeply"):
        LocalStateBackend(path, environment="dev").read()


def test_nan_in_a_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    state_file(tmp_path, [record(config={"x": 1})])
    path.write_text(path.read_text().replace('{"x": 1}', '{"x": NaN}'), encoding="utf-8")
    with pytest.raises(StateError, match="NaN is not a JSON number"):
        LocalStateBackend(path, environment="dev").read()
