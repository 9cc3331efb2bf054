"""The target pool: each target loaded (and its client connected) once, on first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.errors import TargetError, TargetNotFoundError
from deployctl.manifest import load_manifest
from deployctl.model.calls import CallPolicy
from deployctl.targets.pool import TargetPool
from deployctl.targets.records import DEFAULT_RECORD_SHAPE

MANIFEST = """\
version: 1
environment: dev
targets:
  mapped:
    uri: local:{directory}/mapped
    fields: {{name: EndpointName}}
    deployments: {{}}
  plain:
    uri: local:{directory}/plain
    deployments: {{}}
  slow:
    uri: local:{directory}/slow
    timeout: {{read: 1m, write: 45m}}
    retry: {{attempts: 5, backoff: 1s}}
"""


def test_a_target_is_loaded_once_and_then_reused(tmp_path: Path) -> None:
    pool = TargetPool()
    first = pool.get("dev", f"local:{tmp_path}")
    assert pool.get("dev", f"local:{tmp_path}") is first
    assert (first.key, first.uri) == ("dev", f"local:{tmp_path}")


def test_each_key_and_uri_gets_its_own_adapter(tmp_path: Path) -> None:
    pool = TargetPool()
    dev = pool.get("dev", f"local:{tmp_path}/a")
    assert pool.get("dev", f"local:{tmp_path}/b") is not dev
    assert pool.get("prod", f"local:{tmp_path}/a") is not dev


def test_the_manifest_fields_of_a_target_shape_its_records(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text(MANIFEST.format(directory=tmp_path), encoding="utf-8")
    pool = TargetPool.for_manifest(load_manifest(path))
    assert pool.fields("mapped") == {"name": "EndpointName"}
    assert pool.fields("plain") == {}
    mapped = pool.get("mapped", f"local:{tmp_path}/mapped")
    assert mapped.record_shape == DEFAULT_RECORD_SHAPE.with_fields({"name": "EndpointName"})
    assert pool.get("plain", f"local:{tmp_path}/plain").record_shape is DEFAULT_RECORD_SHAPE


def test_fields_given_to_the_pool_are_copied(tmp_path: Path) -> None:
    given = {"dev": {"status": "state"}}
    pool = TargetPool(given)
    given["dev"]["status"] = "changed"
    assert pool.fields("dev") == {"status": "state"}
    pool.fields("dev")["status"] = "changed too"
    assert pool.get("dev", f"local:{tmp_path}").record_shape.status[0] == "state"


def test_a_target_that_fails_to_load_is_not_remembered(
    tmp_path: Path, test_plugins: object
) -> None:
    pool = TargetPool()
    with pytest.raises(TargetNotFoundError):
        pool.get("x", "nosuch:/x")
    for _ in range(2):  # the constructor is tried again each time
        with pytest.raises(TargetError) as info:
            pool.get("cluster", f"ctorfail:{tmp_path}")
        assert info.value.call == "connect"


def test_each_target_is_called_with_its_manifest_timeout_and_retry(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text(MANIFEST.format(directory=tmp_path), encoding="utf-8")
    pool = TargetPool.for_manifest(load_manifest(path))
    slow = CallPolicy(read_timeout=60.0, write_timeout=2700.0, attempts=5, backoff=1.0)
    assert pool.calls("slow") == slow
    assert pool.get("slow", f"local:{tmp_path}/slow").policy == slow
    assert pool.get("plain", f"local:{tmp_path}/plain").policy == CallPolicy()


def test_a_pool_for_a_saved_plan_takes_the_policies_it_recorded(tmp_path: Path) -> None:
    policy = CallPolicy(write_timeout=60.0, attempts=1)
    pool = TargetPool({}, {"dev": policy})
    assert pool.get("dev", f"local:{tmp_path}").policy is policy
    assert pool.calls("other") == CallPolicy()
