"""Resolving moving ``models:/`` URIs against a real MLflow model registry (file store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from conftest import Registry, unresolved

from deployctl.errors import ResolutionError
from deployctl.registry import resolve


def test_an_alias_resolves_to_the_version_it_points_at(registry: Registry) -> None:
    registry.model("alias_resolves", versions=3, aliases={"champion": 2})
    found = resolve(["models:/alias_resolves@champion"], tracking_uri=registry.uri)
    resolution = found["models:/alias_resolves@champion"]
    assert (resolution.name, resolution.alias, resolution.version) == (
        "alias_resolves",
        "champion",
        "2",
    )
    assert resolution.pinned_uri == "models:/alias_resolves/2"
    assert str(resolution) == "models:/alias_resolves@champion → models:/alias_resolves/2"


def test_when_the_alias_moves_the_next_resolution_follows_and_says_so(
    registry: Registry,
) -> None:
    name = registry.model("alias_moves", versions=3, aliases={"champion": 2})
    before = resolve([f"models:/{name}@champion"], tracking_uri=registry.uri)
    registry.move(name, "champion", 3)
    after = resolve([f"models:/{name}@champion"], tracking_uri=registry.uri)
    assert after[f"models:/{name}@champion"].pinned_uri == f"models:/{name}/3"
    assert after[f"models:/{name}@champion"].moved_from(
        before[f"models:/{name}@champion"].version
    ) == ("alias champion moved 2 → 3")
    assert after[f"models:/{name}@champion"].moved_from("3") is None


def test_latest_is_the_highest_version_and_a_stage_the_highest_in_it(registry: Registry) -> None:
    name = registry.model(
        "latest_and_stage", versions=12, stages={3: "Production", 5: "Production"}
    )
    found = resolve(
        [f"models:/{name}/latest", f"models:/{name}/production"], tracking_uri=registry.uri
    )
    latest, production = found[f"models:/{name}/latest"], found[f"models:/{name}/production"]
    assert (latest.alias, latest.pinned_uri) == ("latest", f"models:/{name}/12")
    assert (production.stage, production.pinned_uri) == ("Production", f"models:/{name}/5")
    assert latest.moved_from("11") == "latest moved 11 → 12"
    assert production.moved_from("3") == "stage Production moved 3 → 5"


def test_versions_stay_as_written_and_other_uris_are_left_out(registry: Registry) -> None:
    found = resolve(["models:/churn/7", "runs:/abc/model", "s3://b/m"], tracking_uri=registry.uri)
    assert list(found) == ["models:/churn/7"]
    assert found["models:/churn/7"].moved_from("6") is None  # the manifest changed, not the alias
    assert (found["models:/churn/7"].version, found["models:/churn/7"].pinned_uri) == (
        "7",
        "models:/churn/7",
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """Every registry call resolve makes, counted by (method, first argument)."""
    from mlflow import MlflowClient

    counts: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    for method in ("get_model_version_by_alias", "search_model_versions", "get_registered_model"):
        monkeypatch.setattr(
            MlflowClient, method, _counted(getattr(MlflowClient, method), method, counts, lock)
        )
    return counts


def _counted(
    original: Callable[..., object],
    method: str,
    counts: Counter[tuple[str, str]],
    lock: threading.Lock,
) -> Callable[..., object]:
    def counted(self: object, first: str, *args: object, **kwargs: object) -> object:
        with lock:
            counts[(method, first)] += 1
        return original(self, first, *args, **kwargs)

    return counted


def test_each_distinct_reference_is_looked_up_once(
    registry: Registry, calls: Counter[tuple[str, str]]
) -> None:
    name = registry.model("looked_up_once", versions=4, aliases={"champion": 2, "challenger": 4})
    calls.clear()  # setting aliases up calls the registry too
    uris = [
        f"models:/{name}@champion",
        f"models:/{name}@champion",
        f"models:/{name}@challenger",
        f"models:/{name}/latest",
        f"models:/{name}/LATEST",  # MLflow reads it as the same reference
        f"models:/{name}/3",
    ]
    found = resolve(uris * 3, tracking_uri=registry.uri)
    assert {uri: r.version for uri, r in found.items()} == {
        f"models:/{name}@champion": "2",
        f"models:/{name}@challenger": "4",
        f"models:/{name}/latest": "4",
        f"models:/{name}/LATEST": "4",
        f"models:/{name}/3": "3",
    }
    assert calls == {
        ("get_model_version_by_alias", name): 2,  # champion and challenger
        ("search_model_versions", f"name='{name}'"): 1,  # latest
    }


def test_lookups_run_concurrently_up_to_max_workers(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    aliases = {f"a{i}": 1 for i in range(7)}
    name = registry.model("concurrent", versions=1, aliases=aliases)
    running, most = 0, 0
    lock = threading.Lock()
    original = MlflowClient.get_model_version_by_alias

    def slow(self: object, model: str, alias: str) -> object:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return original(self, model, alias)

    monkeypatch.setattr(MlflowClient, "get_model_version_by_alias", slow)
    uris = [f"models:/{name}@{alias}" for alias in aliases]
    assert len(resolve(uris, tracking_uri=registry.uri, max_workers=8)) == 7
    assert most >= 3  # the first lookup alone, then the six others together
    most = 0
    assert len(resolve(uris, tracking_uri=registry.uri, max_workers=2)) == 7
    assert most == 2


def test_a_missing_alias_is_named_with_the_aliases_there_are(registry: Registry) -> None:
    name = registry.model("missing_alias", versions=2, aliases={"champion": 1, "shadow": 2})
    bare = registry.model("no_aliases", versions=1)
    with pytest.raises(ResolutionError) as raised:
        resolve(
            [f"models:/{name}@champoin", f"models:/{name}@canary", f"models:/{bare}@champion"],
            tracking_uri=registry.uri,
        )
    lines = unresolved(raised.value)
    where = f"in the model registry at {registry.uri}"
    assert lines[f"models:/{name}@champoin"] == (
        f"models:/{name}@champoin: model '{name}' has no alias 'champoin' {where} (did you mean "
        "'champion'? Its aliases: champion (version 1), shadow (version 2))"
    )
    assert lines[f"models:/{name}@canary"].endswith(
        f"(set it on a version in the MLflow UI or with MlflowClient().set_registered_model_alias("
        f"'{name}', 'canary', VERSION), or use one of its aliases: champion (version 1), shadow "
        "(version 2))"
    )
    assert lines[f"models:/{bare}@champion"].endswith(
        "(it has no aliases: set one in the MLflow UI or with MlflowClient()."
        f"set_registered_model_alias('{bare}', 'champion', VERSION), or pin a version: "
        f"models:/{bare}/VERSION)"
    )


def test_a_missing_model_or_version_is_an_error_per_uri_in_the_order_given(
    registry: Registry,
) -> None:
    empty = registry.model("no_versions", versions=0)
    unstaged = registry.model("unstaged", versions=1)
    uris = [
        "models:/nonexistent@champion",
        f"models:/{empty}/latest",
        "models:/churn/7",  # fine: needs no registry
        f"models:/{unstaged}/Staging",
        "models:/nonexistent/latest",
        "models:/nonexistent/3/extra",
    ]
    with pytest.raises(ResolutionError) as raised:
        resolve(uris, tracking_uri=registry.uri)
    lines = unresolved(raised.value)
    assert list(lines) == [uri for uri in uris if uri != "models:/churn/7"]
    where = f"in the model registry at {registry.uri}"
    assert lines["models:/nonexistent@champion"] == (
        f"models:/nonexistent@champion: no model 'nonexistent' {where} (check the model name, or "
        "register the model)"
    )
    assert lines["models:/nonexistent/latest"].startswith("models:/nonexistent/latest: no model")
    assert lines[f"models:/{empty}/latest"] == (
        f"models:/{empty}/latest: model '{empty}' has no versions {where} (register a version of "
        "it first)"
    )
    assert lines[f"models:/{unstaged}/Staging"] == (
        f"models:/{unstaged}/Staging: model '{unstaged}' has no version in stage Staging {where} "
        "(move a version to Staging, or use an alias instead, as MLflow deprecated stages: "
        f"models:/{unstaged}@ALIAS)"
    )
    assert "not a model URI MLflow can read" in lines["models:/nonexistent/3/extra"]


def test_without_mlflow_moving_uris_say_how_to_install_it(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` fails, as without it
    # Nothing to resolve: MLflow is not needed (nor imported).
    assert list(resolve(["models:/churn/3", "runs:/abc/model"])) == ["models:/churn/3"]
    with pytest.raises(ResolutionError) as raised:
        resolve(["models:/churn@champion", "models:/churn/3", "models:/fraud/latest"])
    assert unresolved(raised.value) == {
        uri: f"{uri}: resolving it needs MLflow, which is not installed "
        "(pip install 'deployctl[mlflow]')"
        for uri in ("models:/churn@champion", "models:/fraud/latest")
    }


def test_an_unreachable_registry_fails_at_once(registry: Registry, closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(ResolutionError) as raised:
        resolve(
            ["models:/churn@champion", "models:/churn/latest"],
            tracking_uri=f"http://alice:s3cret@127.0.0.1:{closed_port}",
        )
    assert time.monotonic() - started < 5  # not MLflow's minutes of retries
    lines = unresolved(raised.value)
    assert lines["models:/churn@champion"] == (
        f"models:/churn@champion: cannot reach the model registry at http://127.0.0.1:{closed_port}"
        " (connection refused) (check that it runs, and that MLFLOW_TRACKING_URI (or tracking_uri "
        "under the manifest's registry:) is its address)"
    )
    assert "s3cret" not in str(raised.value)


def test_a_registry_that_refuses_gives_its_reason_on_one_line(
    registry: Registry, refusing_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(ResolutionError) as raised:
        resolve(["models:/churn@champion"], tracking_uri=refusing_server)
    (line,) = unresolved(raised.value).values()
    shown = refusing_server.replace("alice:s3cret@", "")
    assert line == (
        f"models:/churn@champion: the model registry at {shown} failed: PERMISSION_DENIED: "
        "alice may not read model churn; ask an admin for READ on it (check the registry's "
        "address and your access to it)"
    )


def test_with_no_registry_named_the_error_says_how_to_name_one(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # MLflow's default registry lives in the current directory
    with pytest.raises(ResolutionError) as raised:
        resolve(["models:/churn@champion"])
    (line,) = unresolved(raised.value).values()
    assert "MLflow's default model registry (" in line
    assert "none was named" in line
    assert line.endswith(
        "name one in MLFLOW_TRACKING_URI or the manifest's registry: {tracking_uri: URI})"
    )


def test_a_registry_named_in_the_uri_must_be_one_mlflow_knows(registry: Registry) -> None:
    with pytest.raises(ResolutionError) as raised:
        resolve(["models://someone@example/churn@champion"], tracking_uri=registry.uri)
    assert unresolved(raised.value) == {
        "models://someone@example/churn@champion": "models://someone@example/churn@champion: "
        "'someone@example' names no registry MLflow knows (write models://PROFILE@databricks/... "
        "or name the registry in MLFLOW_REGISTRY_URI)"
    }


# Resolves argv[2:] in registry argv[1] in a fresh interpreter, as `deployctl plan` would, with
# MLflow's first-use set-up of its registry stores slowed down (each scheme registered 20 ms
# apart) so that a lookup racing it finds the table half built every time, not now and then.
RESOLVE_IN_A_NEW_PROCESS = """
import json, sys, time
from mlflow.tracking._model_registry.registry import ModelRegistryStoreRegistry

register = ModelRegistryStoreRegistry.register

def slow_register(self, scheme, builder):
    time.sleep(0.02)
    register(self, scheme, builder)

ModelRegistryStoreRegistry.register = slow_register

from deployctl.registry import resolve
found = resolve(sys.argv[2:], tracking_uri=sys.argv[1])
print(json.dumps({uri: r.pinned_uri for uri, r in found.items()}))
"""


def test_a_fresh_process_resolves_concurrently_from_its_first_lookup(registry: Registry) -> None:
    # MLflow sets up its registry stores on first use, not thread-safely: concurrent first
    # lookups in a new process found "file" registries unsupported (mlflow/mlflow#11283).
    aliases = {f"a{i}": i % 3 + 1 for i in range(4)}
    name = registry.model("fresh_process", versions=3, aliases=aliases)
    uris = [f"models:/{name}@{alias}" for alias in aliases] + [f"models:/{name}/latest"]
    proc = subprocess.run(
        [sys.executable, "-c", RESOLVE_IN_A_NEW_PROCESS, registry.uri, *uris],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        **{f"models:/{name}@{alias}": f"models:/{name}/{v}" for alias, v in aliases.items()},
        f"models:/{name}/latest": f"models:/{name}/3",
    }
