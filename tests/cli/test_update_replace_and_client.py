"""A target's ``update: replace`` and ``client: per_action``, end to end through the CLI, with the
fakes of mlflow-triton-control (cannot update) and mlflow-torchserve (keeps each create's config
on its client)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support import require_mlflow, run_cli, write_manifest

from deployctl.manifest.loader import load_manifest
from deployctl.model.calls import CallPolicy

TRITON_CONFIG = '{s3_profile_id: 7, image: "nvcr.io/nvidia/tritonserver:26.06-py3"}'
REASON = "target 'tr' cannot update in place (update: replace)"


@pytest.fixture(autouse=True)
def _plugins(test_plugins: ModuleType) -> None:
    require_mlflow()


def triton_manifest(
    tmp_path: Path, model: str = "iris", *, settings: str = "", deployment: str = ""
) -> Path:
    """One triton-control target ``tr`` with deployment ``iris`` at ``s3://models/repo/MODEL``;
    ``settings`` and ``deployment`` are extra YAML lines of the target and of the deployment."""
    text = f"""\
version: 1
environment: dev
targets:
  tr:
    uri: tritontest:{tmp_path / "tr"}
{settings}    defaults:
      flavor: triton
      config: {TRITON_CONFIG}
    deployments:
      iris:
        model_uri: s3://models/repo/{model}
{deployment}"""
    return write_manifest(tmp_path / "dev.yaml", text)


def torchserve_manifest(tmp_path: Path, client: str | None) -> Path:
    """One torchserve target ``ts`` with two deployments whose configs share no archive key:
    ``a`` sets a model_file, ``b`` extra_files."""
    setting = f"    client: {client}\n" if client else ""
    text = f"""\
version: 1
environment: dev
targets:
  ts:
    uri: torchservetest:{tmp_path / "ts"}
{setting}    deployments:
      a:
        model_uri: models:/a/1
        config: {{handler: a_handler.py, model_file: net.py}}
      b:
        model_uri: models:/b/1
        config: {{handler: b_handler.py, extra_files: vocab.txt}}
"""
    return write_manifest(tmp_path / "dev.yaml", text)


def cli(tmp_path: Path, *args: str, code: int = 0) -> str:
    result = run_cli(*args, cwd=tmp_path)
    assert result.code == code, result.out + result.err
    return result.out + result.err


def apply(tmp_path: Path, *args: str, code: int = 0) -> str:
    return cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", *args, code=code)


def methods(directory: Path) -> list[str]:
    from dtp_common import read_calls

    return [c["method"] for c in read_calls(directory)]


def live_model(tmp_path: Path) -> str:
    from dtp_common import Store

    record = Store(f"tritontest:{tmp_path / 'tr'}").read("iris")
    assert record is not None
    return str(record["model_uri"])


def archives(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    import dtp_torchserve

    return dtp_torchserve.archives(tmp_path / "ts", name)


def leaked(tmp_path: Path) -> list[str]:
    """The archive settings a deployment was built with but did not ask for."""
    (a,) = archives(tmp_path, "a")
    (b,) = archives(tmp_path, "b")
    found = []
    if a["extra_files"] is not None:
        found.append(f"a got extra_files {a['extra_files']}")
    if b["model_file"] is not None:
        found.append(f"b got model_file {b['model_file']}")
    if (a["handler"], b["handler"]) != ("a_handler.py", "b_handler.py"):
        found.append(f"handlers {a['handler']}, {b['handler']}")
    return found


# -- update: replace -------------------------------------------------------------------------


def test_update_replace_plans_a_model_change_as_a_replace_and_applies_it(
    tmp_path: Path,
) -> None:
    triton_manifest(tmp_path, settings="    update: replace\n")
    apply(tmp_path)
    triton_manifest(tmp_path, "iris2", settings="    update: replace\n")
    shown = cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode", code=2)
    assert "± replace tr/iris" in shown and REASON in shown
    assert "1 to replace" in shown
    planned = json.loads(run_cli("plan", "-f", "dev.yaml", "--json", cwd=tmp_path).out)
    (change,) = planned["resource_changes"]
    assert change["change"]["actions"] == ["delete", "create"]
    assert change["action_reason"] == "replace_because_cannot_update"
    assert REASON in change["action_reason_text"]
    before = len(methods(tmp_path / "tr"))
    apply(tmp_path)
    reads = ("list_deployments", "get_deployment")
    changes = [m for m in methods(tmp_path / "tr")[before:] if m not in reads]
    assert changes == ["delete_deployment", "create_deployment"]
    assert live_model(tmp_path) == "s3://models/repo/iris2"
    cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode")


def test_without_update_replace_the_apply_fails_with_the_plugin_message_and_the_fix(
    tmp_path: Path,
) -> None:
    triton_manifest(tmp_path)
    apply(tmp_path)
    triton_manifest(tmp_path, "iris2")
    shown = cli(tmp_path, "plan", "-f", "dev.yaml")
    assert "~ update tr/iris" in shown
    # JSON lines: the result's message whole (the terminal's table wraps it).
    failed = apply(tmp_path, "--json", code=1)
    assert "Updating deployments is not supported" in failed
    assert "set 'update: replace' on it in the manifest" in failed
    assert live_model(tmp_path) == "s3://models/repo/iris"
    # Following the advice converges.
    triton_manifest(tmp_path, "iris2", settings="    update: replace\n")
    apply(tmp_path)
    assert live_model(tmp_path) == "s3://models/repo/iris2"


def test_prevent_destroy_refuses_a_replace_that_update_replace_would_plan(
    tmp_path: Path,
) -> None:
    guard = "        lifecycle: {prevent_destroy: true}\n"
    triton_manifest(tmp_path, settings="    update: replace\n", deployment=guard)
    apply(tmp_path)
    triton_manifest(tmp_path, "iris2", settings="    update: replace\n", deployment=guard)
    refused = cli(tmp_path, "plan", "-f", "dev.yaml", code=1)
    assert "tr/iris is protected by lifecycle.prevent_destroy" in refused
    assert "update: replace on target 'tr', and a change to model_uri" in refused
    assert live_model(tmp_path) == "s3://models/repo/iris"


def test_adopting_a_deployment_that_differs_imports_it_and_the_next_apply_replaces_it(
    tmp_path: Path,
) -> None:
    from dtp_triton import TritonControlDeploymentClient

    made_elsewhere = TritonControlDeploymentClient(f"tritontest:{tmp_path / 'tr'}")
    made_elsewhere.create_deployment(
        "iris", "s3://models/repo/iris", "triton", {"s3_profile_id": 7, "image": "triton:25"}
    )
    triton_manifest(
        tmp_path, "iris2", settings="    update: replace\n", deployment="        adopt: true\n"
    )
    shown = apply(tmp_path)
    assert "imported into state as it is" in shown
    assert "the next plan replaces it to match the manifest: model_uri" in shown
    assert live_model(tmp_path) == "s3://models/repo/iris"  # nothing changed on the target
    assert "update_deployment" not in methods(tmp_path / "tr")
    replaced = cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode", code=2)
    assert "± replace tr/iris" in replaced and REASON in replaced
    apply(tmp_path)
    assert live_model(tmp_path) == "s3://models/repo/iris2"
    cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode")


# -- client: per_action ----------------------------------------------------------------------


def test_a_shared_client_leaks_one_create_s_config_into_the_other(tmp_path: Path) -> None:
    torchserve_manifest(tmp_path, client=None)
    apply(tmp_path)
    assert leaked(tmp_path), archives(tmp_path, "a") + archives(tmp_path, "b")


def test_per_action_builds_a_client_for_each_create_and_nothing_leaks(tmp_path: Path) -> None:
    import dtp_torchserve

    torchserve_manifest(tmp_path, client="per_action")
    apply(tmp_path)
    assert leaked(tmp_path) == []
    creates = dtp_torchserve.clients_of(tmp_path / "ts", "create_deployment")
    reads = dtp_torchserve.clients_of(tmp_path / "ts", "get_deployment")
    assert len(set(creates)) == 2 and not set(creates) & set(reads)


def test_a_saved_plan_carries_the_client_setting_to_apply(tmp_path: Path) -> None:
    torchserve_manifest(tmp_path, client="per_action")
    cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "plan.json")
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert saved["target_calls"]["ts"]["client"] == "per_action"
    cli(tmp_path, "apply", "plan.json", "--auto-approve")
    assert leaked(tmp_path) == []


def test_a_saved_plan_without_the_client_setting_applies_with_one_shared_client(
    tmp_path: Path,
) -> None:
    # What a plan saved before 'client:' existed holds: no "client" key. The plan, not the
    # manifest (which asks for per_action), decides how its changes are made.
    torchserve_manifest(tmp_path, client="per_action")
    cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "plan.json")
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    del saved["target_calls"]["ts"]["client"]
    (tmp_path / "plan.json").write_text(json.dumps(saved), encoding="utf-8")
    cli(tmp_path, "show", "plan.json")
    cli(tmp_path, "apply", "plan.json", "--auto-approve")
    assert leaked(tmp_path)


# -- the manifest ----------------------------------------------------------------------------


def test_both_settings_default_to_in_place_and_shared(tmp_path: Path) -> None:
    target = load_manifest(triton_manifest(tmp_path)).targets[0]
    assert target.update == "in_place"
    assert target.calls is None  # the defaults: the plan records nothing for the target
    explicit = "    update: in_place\n    client: shared\n"
    target = load_manifest(triton_manifest(tmp_path, settings=explicit)).targets[0]
    assert (target.update, target.calls) == ("in_place", None)
    chosen = "    update: replace\n    client: per_action\n    retry: {attempts: 2}\n"
    target = load_manifest(triton_manifest(tmp_path, settings=chosen)).targets[0]
    assert target.update == "replace"
    assert target.calls == CallPolicy(attempts=2, client="per_action")


@pytest.mark.parametrize(
    ("setting", "column"),
    [("update: replce", 13), ("client: per-action", 13), ("update: true", 13)],
)
def test_a_bad_value_is_one_line_naming_file_line_and_column(
    tmp_path: Path, setting: str, column: int
) -> None:
    triton_manifest(tmp_path, settings=f"    {setting}\n")
    result = run_cli("validate", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    key = setting.partition(":")[0]
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"dev.yaml:6:{column}: ")
    assert f"targets.tr.{key}" in line
    assert "Traceback" not in result.err
