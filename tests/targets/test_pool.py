"""The target pool: each target loaded (and its client connected) once, on first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.errors import TargetError, TargetNotFoundError
from deployctl.manifest import load_manifest
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
