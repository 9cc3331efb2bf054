"""``plan -f environments/`` and several ``-f``: every environment planned against its own
state, in one report (terminal, ``--json``, ``--markdown``), with one exit code."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
from support import REPO, run_cli

# The layout `deployctl init` writes: environments/{dev,staging,prod}.yaml over ../base.yaml.
BASE = """
version: 1
targets:
  local:
    uri: local:.deployctl/${var.env}
    defaults:
      flavor: python_function
      config: {workers: 1}
    deployments:
      churn:
        model_uri: models:/churn/${var.churn_version}
      fraud:
        model_uri: models:/fraud/3
"""


def environment(name: str, churn_version: str, extra: str = "") -> str:
    return (
        f"extends: ../base.yaml\nenvironment: {name}\n"
        f'variables: {{env: {name}, churn_version: "{churn_version}"}}\n{extra}'
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def setup(tmp_path: Path) -> Path:
    write(tmp_path / "base.yaml", BASE)
    for name, version in (("dev", "7"), ("staging", "6"), ("prod", "5")):
        write(tmp_path / "environments" / f"{name}.yaml", environment(name, version))
    return tmp_path / "environments"


def sections(out: str) -> dict[str, str]:
    """The terminal report's sections by environment name (the summary line left out)."""
    found = {}
    for part in out.split("── Environment ")[1:]:
        name, _, body = part.partition(" ")
        found[name] = body.split("\nEnvironments: ")[0]
    return found


def plan_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    return schema


def test_a_folder_plans_every_environment_against_its_own_state(tmp_path: Path) -> None:
    setup(tmp_path)
    applied = run_cli("apply", "-f", "environments/dev.yaml", "--auto-approve", cwd=tmp_path)
    assert applied.code == 0, applied.err

    result = run_cli("plan", "-f", "environments/", cwd=tmp_path)

    assert result.code == 0, result.err
    found = sections(result.out)
    assert list(found) == ["dev", "prod", "staging"]  # by file name; base.yaml is no environment
    assert found["dev"].startswith("(environments/dev.yaml) ──")
    assert "No changes." in found["dev"]
    assert 'model_uri: "models:/churn/5"' in found["prod"]
    assert "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged." in found["staging"]
    assert result.out.rstrip().endswith(
        "Environments: dev: no changes; prod: 2 to create, 0 to update, 0 to delete, 0 "
        "unchanged; staging: 2 to create, 0 to update, 0 to delete, 0 unchanged."
    )
    for name in ("dev", "prod", "staging"):
        assert f"State: environments/state/{name}.json (the default)" in result.err
    assert not (tmp_path / "environments" / "state" / "prod.json").exists()  # plan wrote nothing


def test_detailed_exitcode_is_2_when_any_environment_has_changes(tmp_path: Path) -> None:
    folder = setup(tmp_path)
    for name in ("dev", "staging"):
        applied = run_cli("apply", "-f", f"{folder / name}.yaml", "--auto-approve", cwd=tmp_path)
        assert applied.code == 0, applied.err
    args = ("plan", "-f", "environments", "--detailed-exitcode")
    assert run_cli(*args, cwd=tmp_path).code == 2
    assert run_cli("apply", "-f", f"{folder}/prod.yaml", "--auto-approve", cwd=tmp_path).code == 0
    converged = run_cli(*args, cwd=tmp_path)
    assert converged.code == 0, converged.out + converged.err
    assert "Environments: dev: no changes; prod: no changes; staging: no changes." in converged.out


def test_a_failed_environment_fails_the_run_and_the_others_are_still_reported(
    tmp_path: Path,
) -> None:
    folder = setup(tmp_path)
    write(folder / "staging.yaml", "extends: ../base.yaml\nenvironment: staging\n")

    result = run_cli("plan", "-f", "environments", "--detailed-exitcode", cwd=tmp_path)

    assert result.code == 1
    found = sections(result.out)
    assert list(found) == ["dev", "prod", "staging"]
    assert "Plan: 2 to create" in found["dev"] and "Plan: 2 to create" in found["prod"]
    # Located where the offending value was written: in the base, not in staging.yaml.
    assert (
        "base.yaml:4:10: undefined variable 'env' in field 'uri' of target 'local'"
        in (found["staging"])
    )
    assert "staging: failed." in result.out
    assert "Traceback" not in result.err


def test_json_is_a_list_of_the_plan_documents(tmp_path: Path) -> None:
    setup(tmp_path)
    result = run_cli("plan", "-f", "environments", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    documents = json.loads(result.out)
    assert [d["environment"] for d in documents] == ["dev", "prod", "staging"]
    for document in documents:
        jsonschema.validate(document, plan_schema())
        assert document["summary"]["create"] == 2
        assert document["manifest"]["path"].endswith(f"{document['environment']}.yaml")


def test_json_leaves_a_failed_environment_out_and_says_why_on_stderr(tmp_path: Path) -> None:
    folder = setup(tmp_path)
    write(folder / "prod.yaml", environment("prod", "5", "bogus: 1\n"))
    result = run_cli("plan", "-f", "environments", "--json", cwd=tmp_path)
    assert result.code == 1
    assert [d["environment"] for d in json.loads(result.out)] == ["dev", "staging"]
    assert "── Environment prod (environments/prod.yaml) ──" in result.err
    assert "environments/prod.yaml:4:1: unknown field 'bogus' in the manifest" in result.err


def test_markdown_is_one_comment_with_a_section_per_environment(tmp_path: Path) -> None:
    folder = setup(tmp_path)
    write(folder / "staging.yaml", "extends: ../base.yaml\nenvironment: staging\n")
    result = run_cli("plan", "-f", "environments", "--markdown", cwd=tmp_path)
    assert result.code == 1
    lines = result.out.splitlines()
    # One marker for the whole comment; none of a one-environment comment (a bot updating
    # dev's own comment must not take this one for it).
    assert lines[0] == "<!-- deployctl plan: dev, prod, staging -->"
    assert result.out.count("<!--") == 1
    assert lines[1] == "### deployctl plan for 3 environments"
    assert "| `dev` | 2 to create, 0 to update, 0 to delete, 0 unchanged. |" in lines
    assert "| `staging` | ❌ failed |" in lines
    headings = [line for line in lines if line.startswith("#### ")]
    assert headings == [
        "#### deployctl plan for `dev`",
        "#### deployctl plan for `prod`",
        "#### deployctl plan for `staging`",
    ]
    assert "> ❌ **The plan failed** (`environments/staging.yaml`):" in lines
    assert any(line.startswith("base.yaml:4:10: undefined variable 'env'") for line in lines)
    assert "base.yaml:4:10: undefined variable 'env'" in result.err  # for the CI log too


def test_several_files_are_planned_each_once(tmp_path: Path) -> None:
    setup(tmp_path)
    two = run_cli(
        "plan", "-f", "environments/prod.yaml", "-f", "environments/dev.yaml", cwd=tmp_path
    )
    assert two.code == 0, two.err
    assert list(sections(two.out)) == ["prod", "dev"]  # in the order given
    again = run_cli("plan", "-f", "environments", "-f", "environments/dev.yaml", cwd=tmp_path)
    assert list(sections(again.out)) == ["dev", "prod", "staging"]


def test_a_base_inside_the_folder_is_not_an_environment(tmp_path: Path) -> None:
    folder = tmp_path / "environments"
    write(folder / "base.yaml", BASE)
    write(folder / "shared.yml", "extends: base.yaml\nvariables: {churn_version: '1'}\n")
    write(folder / "dev.yaml", "extends: shared.yml\nenvironment: dev\nvariables: {env: dev}\n")
    result = run_cli("plan", "-f", "environments", cwd=tmp_path)
    assert result.code == 0, result.err
    assert list(sections(result.out)) == ["dev"]


def test_one_file_is_planned_exactly_as_before(tmp_path: Path) -> None:
    setup(tmp_path)
    human = run_cli("plan", "-f", "environments/dev.yaml", cwd=tmp_path)
    assert human.code == 0, human.err
    assert "── Environment" not in human.out and "Environments:" not in human.out
    assert human.out.rstrip().endswith("Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.")
    document = json.loads(
        run_cli("plan", "-f", "environments/dev.yaml", "--json", cwd=tmp_path).out
    )
    assert isinstance(document, dict) and document["environment"] == "dev"
    comment = run_cli("plan", "-f", "environments/dev.yaml", "--markdown", cwd=tmp_path).out
    assert comment.startswith("<!-- deployctl plan: dev -->\n### deployctl plan for `dev`\n")


def test_out_with_several_environments_is_refused_before_anything_runs(tmp_path: Path) -> None:
    setup(tmp_path)
    result = run_cli("plan", "-f", "environments", "--out", "plan.json", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith("Error: --out saves the plan of one environment")
    assert "deployctl plan -f MANIFEST --out PLANFILE" in result.err
    assert "Reading" not in result.err
    assert not (tmp_path / "plan.json").exists()


def test_a_folder_without_environments_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path / "empty" / "notes.txt", "nothing here\n")
    empty = run_cli("plan", "-f", "empty", cwd=tmp_path)
    assert empty.code == 1
    assert "-f empty: the folder holds no environment manifest (no *.yaml or *.yml file)" in (
        empty.err
    )
    write(tmp_path / "bases" / "base.yaml", BASE)
    write(tmp_path / "bases" / "mid.yaml", "extends: base.yaml\n")
    write(tmp_path / "bases" / "top.yaml", "extends: mid.yaml\n")
    only = run_cli("plan", "-f", "bases", cwd=tmp_path)
    assert only.code == 1
    assert "(only bases)" not in only.err  # top.yaml is extended by no one: an environment
    assert "top.yaml:1:1: the manifest is missing required field 'environment'" in only.out
    missing = run_cli("plan", "-f", "nowhere", "-f", "bases", cwd=tmp_path)
    assert missing.code == 1
    assert "Error: -f nowhere: no such file or folder" in missing.err


def test_two_manifests_of_one_environment_are_refused(tmp_path: Path) -> None:
    folder = setup(tmp_path)
    write(folder / "prod-copy.yaml", environment("prod", "4"))
    result = run_cli("plan", "-f", "environments", cwd=tmp_path)
    assert result.code == 1
    headers = [line for line in result.out.splitlines() if line.startswith("── Environment")]
    assert headers == [
        "── Environment dev (environments/dev.yaml) ──",
        "── Environment prod (environments/prod-copy.yaml) ──",
        "── Environment prod (environments/prod.yaml) ──",
        "── Environment staging (environments/staging.yaml) ──",
    ]
    assert (
        "Error: environments/prod.yaml is environment 'prod', as environments/prod-copy.yaml is"
        in result.out
    )


def test_environments_may_not_share_a_local_state_file(tmp_path: Path) -> None:
    setup(tmp_path)
    base = (tmp_path / "base.yaml").read_text()
    (tmp_path / "base.yaml").write_text(base + "state: {path: state/all.json}\n")
    result = run_cli("plan", "-f", "environments", cwd=tmp_path)
    assert result.code == 1
    assert "Plan: 2 to create" in sections(result.out)["dev"]
    assert (
        "Error: environment 'prod' would use the state file state/all.json (from state: in "
        "base.yaml:13:1) of environment 'dev'" in result.out
    )


def test_a_saved_plan_is_stale_when_a_base_changes(tmp_path: Path) -> None:
    setup(tmp_path)
    saved = run_cli("plan", "-f", "environments/dev.yaml", "--out", "dev.plan.json", cwd=tmp_path)
    assert saved.code == 0, saved.err
    base = tmp_path / "base.yaml"
    base.write_text(base.read_text().replace("workers: 1", "workers: 2"))
    result = run_cli("apply", "dev.plan.json", cwd=tmp_path)
    assert result.code == 1
    assert "environments/dev.yaml changed since the plan was made" in result.err
    assert not (tmp_path / ".deployctl" / "dev").exists()  # nothing was applied
