"""deployctl init: the scaffold's manifests validate and converge, and its CI workflows work.

The workflows are read as CI reads them: the deployctl commands of their ``run:``/``script:``
steps are run in the scaffolded repository, in-process and with the environment the workflow
sets (plan --markdown --out, then apply of the saved plan); the whole plan and apply steps once
each under bash, as real processes; and the scripts that post the plan comment against fakes of
the GitHub API (with node, as actions/github-script runs them) and of GitLab's notes API.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from support import CLI_ENV, REPO, Result, deployctl_script, manifest, run_cli, write_manifest

ENVIRONMENTS = ("dev", "staging", "prod")
GITHUB = Path(".github/workflows/deployctl.yml")
GITLAB = Path(".gitlab-ci.yml")
SCAFFOLD = {
    ".deployctl/.gitignore",
    ".github/workflows/deployctl.yml",
    ".gitlab-ci.yml",
    "environments/base.yaml",
    "environments/dev.yaml",
    "environments/prod.yaml",
    "environments/staging.yaml",
    "state/.gitignore",
}
# What each environment's manifest deploys: the base's sample, overridden per environment.
SAMPLE = {
    "dev": {"model_uri": "models:/churn/2", "config": {"workers": 1, "memory_mb": 512}},
    "staging": {"model_uri": "models:/churn/2", "config": {"workers": 1, "memory_mb": 1024}},
    "prod": {"model_uri": "models:/churn/1", "config": {"workers": 2, "memory_mb": 512}},
}


def scaffolded(tmp_path: Path) -> Path:
    result = run_cli("init", "repo", cwd=tmp_path)
    assert result.code == 0, result.err
    return tmp_path / "repo"


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# -- the command -----------------------------------------------------------------------------------


def test_init_writes_the_environments_and_ci_workflows_and_says_what_next(tmp_path: Path) -> None:
    result = run_cli("init", "repo", cwd=tmp_path)
    assert result.code == 0, result.err
    assert files_under(tmp_path / "repo") == SCAFFOLD
    assert f"Wrote {len(SCAFFOLD)} files in repo:" in result.out
    for name in SCAFFOLD:
        assert f"\n  {name}\n" in result.out
    assert "Next steps:" in result.out
    assert "deployctl plan -f repo/environments/dev.yaml" in result.out
    assert result.err == ""


def test_init_defaults_to_the_current_directory(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)
    assert result.code == 0, result.err
    assert files_under(tmp_path) == SCAFFOLD
    assert "in the current directory" in result.out
    assert "deployctl plan -f environments/dev.yaml" in result.out


def test_manifests_name_the_shipped_manifest_schema_for_editors(tmp_path: Path) -> None:
    repo = scaffolded(tmp_path)
    schema = json.loads((REPO / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert schema["$id"].startswith("https://")
    for name in ENVIRONMENTS:
        text = (repo / "environments" / f"{name}.yaml").read_text(encoding="utf-8")
        assert text.splitlines()[0] == f"# yaml-language-server: $schema={schema['$id']}"


def test_no_placeholder_is_left_in_what_init_writes(tmp_path: Path) -> None:
    repo = scaffolded(tmp_path)
    from deployctl import __version__

    for name in SCAFFOLD:
        assert not re.search(r"@[A-Z_]+@", (repo / name).read_text(encoding="utf-8")), name
    for workflow in (GITHUB, GITLAB):
        assert f"deployctl=={__version__}" in (repo / workflow).read_text(encoding="utf-8")


def test_init_refuses_to_overwrite_and_names_every_file_that_exists(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_manifest(repo / "environments" / "dev.yaml", "mine\n")
    write_manifest(repo / ".gitlab-ci.yml", "also mine\n")
    result = run_cli("init", "repo", cwd=tmp_path)
    assert result.code == 1
    assert result.err.count("\n") == 1, result.err  # one line
    assert "2 of the files init writes" in result.err
    assert ".gitlab-ci.yml" in result.err and "environments/dev.yaml" in result.err
    assert "--force" in result.err
    assert "Traceback" not in result.err
    # Nothing at all is written, so a refused init leaves no half scaffold behind.
    assert files_under(repo) == {"environments/dev.yaml", ".gitlab-ci.yml"}
    assert (repo / "environments" / "dev.yaml").read_text() == "mine\n"


def test_init_force_overwrites_its_own_files_only(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_manifest(repo / "environments" / "dev.yaml", "mine\n")
    write_manifest(repo / "environments" / "qa.yaml", "untouched\n")
    result = run_cli("init", "repo", "--force", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "environments/dev.yaml  (overwritten)" in result.out
    assert "environments/prod.yaml  (overwritten)" not in result.out
    assert (repo / "environments" / "dev.yaml").read_text().startswith("# yaml-language-server")
    assert (repo / "environments" / "qa.yaml").read_text() == "untouched\n"


def test_init_into_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "repo").write_text("a file\n")
    result = run_cli("init", "repo", cwd=tmp_path)
    assert result.code == 1
    assert (
        result.err
        == "Error: repo is not a directory (name a directory to scaffold, or leave it out)\n"
    )


def test_templates_are_package_data_of_the_wheel() -> None:
    """Every template file matches pyproject's package-data globs as setuptools expands them
    (recursive globs that skip dot-files: so templates name them dot-NAME)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["deployctl"]
    package = REPO / "deployctl"
    shipped = {
        Path(found).as_posix()
        for pattern in patterns
        for found in glob.glob(pattern, root_dir=package, recursive=True)
        if (package / found).is_file()
    }
    templates = {
        p.relative_to(package).as_posix()
        for p in (package / "templates").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert len(templates) == len(SCAFFOLD)
    assert templates - shipped == set()


# -- the manifests (these need extends:) -----------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_generated_environment_validates(tmp_path: Path, environment: str) -> None:
    repo = scaffolded(tmp_path)
    result = run_cli("validate", "-f", f"environments/{environment}.yaml", cwd=repo)
    assert result.code == 0, result.err
    assert f"valid (environment {environment}, 1 target(s), 1 deployment(s))" in result.out


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_generated_environment_converges_on_the_local_target(
    tmp_path: Path, environment: str
) -> None:
    repo = scaffolded(tmp_path)
    manifest_path = f"environments/{environment}.yaml"
    planned = run_cli("plan", "-f", manifest_path, "--detailed-exitcode", cwd=repo)
    assert planned.code == 2, planned.err
    assert "+ create local/churn" in planned.out
    applied = run_cli("apply", "-f", manifest_path, "--auto-approve", cwd=repo)
    assert applied.code == 0, applied.err
    assert "1 created" in applied.out
    again = run_cli("plan", "-f", manifest_path, "--detailed-exitcode", cwd=repo)
    assert again.code == 0, again.out + again.err
    # The base's sample, with this environment's overrides, is what the target holds; the
    # state is where the manifest's state: says.
    record = json.loads(
        (repo / ".deployctl" / environment / "deployments" / "churn.json").read_text()
    )
    assert {key: record[key] for key in ("model_uri", "config")} == SAMPLE[environment]
    assert record["flavor"] == "python_function"
    assert (repo / "state" / f"{environment}.json").is_file()


# -- the CI workflows: their shape -----------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def github_triggers(workflow: Mapping[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean true; GitHub reads it as "on".
    triggers = workflow["on"] if "on" in workflow else workflow[True]
    assert isinstance(triggers, dict)
    return triggers


def matrix_lists(job: Mapping[str, Any]) -> list[list[str]]:
    """The JSON lists of environments in a job's matrix expression."""
    expression = job["strategy"]["matrix"]["environment"]
    return [json.loads(found) for found in re.findall(r"'(\[[^']*\])'", expression)]


def test_github_workflow_plans_pull_requests_and_applies_the_saved_plan_on_release(
    tmp_path: Path,
) -> None:
    workflow = load_yaml(scaffolded(tmp_path) / GITHUB)
    triggers = github_triggers(workflow)
    assert "pull_request" in triggers
    assert triggers["push"] == {"branches": ["main"], "tags": ["v*"]}
    plan, apply = workflow["jobs"]["plan"], workflow["jobs"]["apply"]
    assert set(workflow["jobs"]) == {"plan", "apply"}
    assert plan["permissions"]["pull-requests"] == "write"
    # Pull requests plan every environment; releases apply each of them (main or a tag).
    assert matrix_lists(plan)[-1] == list(ENVIRONMENTS)
    assert sorted({env for found in matrix_lists(apply) for env in found}) == sorted(ENVIRONMENTS)
    assert apply["needs"] == "plan"
    assert apply["if"] == "github.event_name == 'push'"
    assert apply["environment"] == "${{ matrix.environment }}"
    assert apply["concurrency"]["cancel-in-progress"] is False
    # The plan job's saved plan is the artifact the apply job downloads.
    upload = step_using(plan, "actions/upload-artifact")
    download = step_using(apply, "actions/download-artifact")
    assert upload["with"]["name"] == download["with"]["name"] == "plan-${{ matrix.environment }}"
    assert upload["with"]["path"] == "${{ matrix.environment }}.plan.json"
    comment = step_using(plan, "actions/github-script")
    assert comment["if"].startswith("github.event_name == 'pull_request' && ")
    assert "<!-- deployctl plan: ${environment} -->" in comment["with"]["script"]
    for job in (plan, apply):
        for script in run_scripts(job):
            assert "${{" not in script  # expressions reach scripts through env: only


def test_gitlab_pipeline_plans_merge_requests_and_applies_the_saved_plan_on_release(
    tmp_path: Path,
) -> None:
    pipeline = load_yaml(scaffolded(tmp_path) / GITLAB)
    assert pipeline["stages"] == ["plan", "apply"]
    for environment in ENVIRONMENTS:
        plan, apply = pipeline[f"plan:{environment}"], pipeline[f"apply:{environment}"]
        assert plan["extends"] == ".plan" and apply["extends"] == ".apply"
        assert plan["variables"] == apply["variables"] == {"DEPLOY_ENV": environment}
        assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in plan["rules"]
        assert all("merge_request" not in rule["if"] for rule in apply["rules"])
        assert apply["needs"] == [f"plan:{environment}"]
        assert apply["resource_group"] == f"deployctl-{environment}"
        assert apply["environment"] == {"name": environment}
    assert "$DEPLOY_ENV.plan.json" in pipeline[".plan"]["artifacts"]["paths"]
    assert "DEPLOYCTL_GITLAB_TOKEN" in gitlab_note_script(pipeline)


# -- the CI workflows: their commands, run ---------------------------------------------------------


def step_using(job: Mapping[str, Any], action: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"{action}@")]
    assert isinstance(step, dict)
    return step


def run_scripts(job: Mapping[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def github_job(repo: Path, name: str, environment: str) -> tuple[str, dict[str, str]]:
    """The ``run:`` scripts of a job of the GitHub workflow, joined, and the environment the
    workflow gives them for one environment of the matrix (expressions other than the matrix
    value, such as secrets, are left out)."""
    workflow = load_yaml(repo / GITHUB)
    job = workflow["jobs"][name]
    env: dict[str, str] = {"CI": "true", "GITHUB_ACTIONS": "true"}
    for key, value in {**workflow.get("env", {}), **job.get("env", {})}.items():
        value = str(value).replace("${{ matrix.environment }}", environment)
        if "${{" not in value:
            env[key] = value
    return "\n".join(run_scripts(job)), env


def gitlab_job(repo: Path, name: str, environment: str) -> tuple[str, dict[str, str]]:
    """The script of a job of the GitLab pipeline (its own or what it extends), joined, and the
    variables GitLab gives it."""
    pipeline = load_yaml(repo / GITLAB)
    job = pipeline[f"{name}:{environment}"]
    script = pipeline[job["extends"]]["script"]
    env = {"CI": "true", "GITLAB_CI": "true"}
    env.update({k: str(v) for k, v in {**pipeline["variables"], **job["variables"]}.items()})
    return "\n".join(script), env


@dataclass(frozen=True)
class Command:
    """A deployctl command line of a CI script: its arguments and where its stdout goes."""

    args: tuple[str, ...]
    stdout: str | None


def deployctl_commands(script: str, env: Mapping[str, str]) -> list[Command]:
    """The deployctl commands of a shell script, variables expanded as the shell would
    (``$NAME``, ``${NAME}``; ``$?`` and unknown names are left alone), up to ``||``/``&&``/``;``,
    with a ``> FILE`` redirection taken apart."""

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        line = re.sub(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", expand, line.strip())
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        if not tokens or tokens[0] != "deployctl":
            continue
        args: list[str] = []
        stdout = None
        words = iter(tokens)
        for token in words:
            if token in {"||", "&&", ";", "|"}:
                break
            if token == ">":
                stdout = next(words)
            else:
                args.append(token)
        commands.append(Command(tuple(args), stdout))
    return commands


def run_command(command: Command, repo: Path, env: Mapping[str, str]) -> Result:
    assert command.args[0] == "deployctl"
    result = run_cli(*command.args[1:], cwd=repo, env=env)
    if command.stdout is not None:
        (repo / command.stdout).write_text(result.out, encoding="utf-8")
    return result


JOBS = {"github": github_job, "gitlab": gitlab_job}


@pytest.mark.parametrize("ci", sorted(JOBS))
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_workflow_commands_plan_then_apply_the_saved_plan(
    tmp_path: Path, ci: str, environment: str
) -> None:
    repo = scaffolded(tmp_path)
    script, env = JOBS[ci](repo, "plan", environment)
    (plan,) = deployctl_commands(script, env)
    assert plan.args[:2] == ("deployctl", "plan")
    assert {"--markdown", "--out", "--detailed-exitcode"} <= set(plan.args)
    planned = run_command(plan, repo, env)
    assert planned.code == 2, planned.err  # --detailed-exitcode: changes
    comment = (repo / f"{environment}.plan.md").read_text(encoding="utf-8")
    assert comment.startswith(f"<!-- deployctl plan: {environment} -->\n")
    assert "`local/churn`" in comment
    saved = json.loads((repo / f"{environment}.plan.json").read_text(encoding="utf-8"))
    assert saved["summary"]["create"] == 1

    script, env = JOBS[ci](repo, "apply", environment)
    (apply,) = deployctl_commands(script, env)
    assert apply.args[:3] == ("deployctl", "apply", f"{environment}.plan.json")
    assert "--lock-timeout" in apply.args
    applied = run_command(apply, repo, env)
    assert applied.code == 0, applied.err
    assert "Apply complete! 1 created" in applied.out

    again = run_command(plan, repo, JOBS[ci](repo, "plan", environment)[1])
    assert again.code == 0, again.err
    assert "No changes." in (repo / f"{environment}.plan.md").read_text(encoding="utf-8")


def bash_step(script: str, repo: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """A CI script run as GitHub runs a ``run:`` step (``bash -eo pipefail``), with this
    interpreter's deployctl first on the PATH."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    path = f"{Path(deployctl_script()).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=repo,
        env={**os.environ, **CLI_ENV, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_github_plan_and_apply_steps_run_under_bash(tmp_path: Path) -> None:
    repo = scaffolded(tmp_path)
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    runner = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    workflow = load_yaml(repo / GITHUB)
    (plan_step,) = [s for s in workflow["jobs"]["plan"]["steps"] if s.get("id") == "plan"]
    _, plan_env = github_job(repo, "plan", "dev")

    first = bash_step(plan_step["run"], repo, {**plan_env, **runner})
    assert first.returncode == 0, first.stderr  # exit code 2 (changes) does not fail the step
    assert outputs.read_text() == "changes=true\n"
    assert summary.read_text().startswith("<!-- deployctl plan: dev -->")

    apply_script, apply_env = github_job(repo, "apply", "dev")
    applied = bash_step(apply_script, repo, {**apply_env, **runner})
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete! 1 created" in applied.stdout

    outputs.unlink()
    again = bash_step(plan_step["run"], repo, {**plan_env, **runner})
    assert again.returncode == 0, again.stderr
    assert outputs.read_text() == "changes=false\n"


def test_a_failing_plan_fails_the_github_plan_step(tmp_path: Path) -> None:
    repo = scaffolded(tmp_path)
    manifest_file = repo / "environments" / "dev.yaml"
    manifest_file.write_text(manifest_file.read_text().replace("churn_version", "churn_verison"))
    workflow = load_yaml(repo / GITHUB)
    (plan_step,) = [s for s in workflow["jobs"]["plan"]["steps"] if s.get("id") == "plan"]
    _, env = github_job(repo, "plan", "dev")
    outputs = tmp_path / "github_output"
    runner = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    failed = bash_step(plan_step["run"], repo, {**env, **runner})
    assert failed.returncode == 1
    assert "churn_version" in failed.stderr
    assert not outputs.exists()


# -- posting the plan comment ----------------------------------------------------------------------


def plan_comment(tmp_path: Path, environment: str, *, apply_first: bool = False) -> str:
    """What ``deployctl plan --markdown`` prints for a one-deployment environment."""
    folder = tmp_path / environment
    write_manifest(folder / "m.yaml", manifest(environment=environment))
    if apply_first:
        assert run_cli("apply", "-f", "m.yaml", "--auto-approve", cwd=folder).code == 0
    result = run_cli("plan", "-f", "m.yaml", "--markdown", cwd=folder)
    assert result.code == 0, result.err
    return result.out


GITHUB_SCRIPT_HARNESS = r"""
// Runs a github-script script as actions/github-script does (an async function of require,
// github, context), with a fake of the GitHub API that keeps the comments in a JSON file.
const fs = require('fs');
const file = process.env.COMMENTS;
const comments = JSON.parse(fs.readFileSync(file, 'utf8'));
const issues = {
  listComments: async (p) => ({ data: comments.filter((c) => c.issue === p.issue_number) }),
  createComment: async (p) => {
    comments.push({ id: comments.length + 1, issue: p.issue_number, body: p.body,
                    user: { type: 'Bot' } });
  },
  updateComment: async (p) => { comments.find((c) => c.id === p.comment_id).body = p.body; },
};
const paginate = async (method, params) => (await method(params)).data;
const github = { rest: { issues }, paginate };
const context = { repo: { owner: 'team', repo: 'models' }, issue: { number: 7 } };
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
new AsyncFunction('require', 'github', 'context', process.env.SCRIPT)(require, github, context)
  .then(() => fs.writeFileSync(file, JSON.stringify(comments)))
  .catch((e) => { console.error(e); process.exit(1); });
"""


def test_the_github_comment_script_posts_one_comment_per_environment_and_updates_it(
    tmp_path: Path,
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (it runs actions/github-script's script)")
    workflow = load_yaml(scaffolded(tmp_path) / GITHUB)
    script = step_using(workflow["jobs"]["plan"], "actions/github-script")["with"]["script"]
    work = tmp_path / "runner"
    work.mkdir()
    comments = work / "comments.json"
    human = {"id": 1, "issue": 7, "body": "<!-- deployctl plan: dev --> quoted", "user": {}}
    comments.write_text(json.dumps([human]))
    harness = work / "harness.js"
    harness.write_text(GITHUB_SCRIPT_HARNESS)

    def comment(environment: str, body: str, changes: bool) -> list[dict[str, Any]]:
        (work / f"{environment}.plan.md").write_text(body, encoding="utf-8")
        env = {"SCRIPT": script, "COMMENTS": str(comments), "DEPLOY_ENV": environment}
        env["CHANGES"] = "true" if changes else "false"
        done = subprocess.run(
            [node, str(harness)], cwd=work, env={**os.environ, **env}, capture_output=True
        )
        assert done.returncode == 0, done.stderr
        posted: list[dict[str, Any]] = json.loads(comments.read_text())
        return posted

    changes = plan_comment(tmp_path, "dev")
    posted = comment("dev", changes, changes=True)
    assert [c["body"] for c in posted] == [human["body"], changes]
    no_changes = plan_comment(tmp_path / "after", "dev", apply_first=True)
    posted = comment("dev", no_changes, changes=False)  # updated, not posted again
    assert [c["body"] for c in posted] == [human["body"], no_changes]
    posted = comment("staging", plan_comment(tmp_path, "staging", apply_first=True), False)
    assert len(posted) == 2  # an environment without changes gets no new comment


class FakeGitLab:
    """GitLab's merge-request notes API (list with pages, create, update) on 127.0.0.1."""

    TOKEN = "glpat-test"

    def __init__(self, notes: list[dict[str, Any]]) -> None:
        self.notes = notes
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def do_PUT(self) -> None:
                fake.handle(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v4"

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(request.path)
        self.requests.append(f"{method} {url.path}")
        assert request.headers["PRIVATE-TOKEN"] == self.TOKEN
        assert url.path.startswith("/api/v4/projects/42/merge_requests/7/notes")
        headers: dict[str, str] = {}
        if method == "GET":
            query = parse_qs(url.query)
            page, size = int(query["page"][0]), int(query["per_page"][0])
            body: Any = self.notes[(page - 1) * size : page * size]
            headers["X-Next-Page"] = str(page + 1) if page * size < len(self.notes) else ""
        else:
            sent = json.loads(request.rfile.read(int(request.headers["Content-Length"])))
            if method == "POST":
                body = {"id": len(self.notes) + 1, "body": sent["body"]}
                self.notes.append(body)
            else:
                note_id = int(url.path.rsplit("/", 1)[1])
                body = next(n for n in self.notes if n["id"] == note_id)
                body["body"] = sent["body"]
        data = json.dumps(body).encode()
        request.send_response(200)
        for key, value in {**headers, "Content-Type": "application/json"}.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def __enter__(self) -> FakeGitLab:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def gitlab_note_script(pipeline: Mapping[str, Any]) -> str:
    """The Python the plan job runs (``python3 - <<'EOF'``) to post its note."""
    (block,) = [item for item in pipeline[".plan"]["script"] if "<<'EOF'" in item]
    found = re.search(r"<<'EOF'\n(.*?)\nEOF\n", block, re.DOTALL)
    assert found is not None
    return found.group(1)


@pytest.fixture
def note_poster(tmp_path: Path) -> Iterator[Any]:
    script = gitlab_note_script(load_yaml(scaffolded(tmp_path) / GITLAB))
    work = tmp_path / "runner"
    work.mkdir()

    def post(api: str, environment: str, body: str, *, changes: bool, token: bool = True) -> str:
        (work / f"{environment}.plan.md").write_text(body, encoding="utf-8")
        env = {
            "CI_API_V4_URL": api,
            "CI_PROJECT_ID": "42",
            "CI_MERGE_REQUEST_IID": "7",
            "DEPLOY_ENV": environment,
            "CHANGES": "true" if changes else "false",
        }
        environ = {k: v for k, v in os.environ.items() if k != "DEPLOYCTL_GITLAB_TOKEN"}
        if token:
            env["DEPLOYCTL_GITLAB_TOKEN"] = FakeGitLab.TOKEN
        done = subprocess.run(
            [sys.executable, "-"],
            input=script,
            cwd=work,
            env={**environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    yield post


def test_the_gitlab_note_script_posts_one_note_per_environment_and_updates_it(
    tmp_path: Path, note_poster: Any
) -> None:
    # 150 notes of people first: the note posted before is found on the second page.
    people = [{"id": i, "body": f"comment {i}"} for i in range(1, 151)]
    with FakeGitLab(people) as gitlab:
        changes = plan_comment(tmp_path, "dev")
        assert "Posted the plan of dev." in note_poster(gitlab.api, "dev", changes, changes=True)
        assert gitlab.notes[-1] == {"id": 151, "body": changes}
        no_changes = plan_comment(tmp_path / "after", "dev", apply_first=True)
        out = note_poster(gitlab.api, "dev", no_changes, changes=False)
        assert "Updated the plan note of dev." in out
        assert len(gitlab.notes) == 151 and gitlab.notes[-1]["body"] == no_changes
        assert gitlab.requests[-1] == "PUT /api/v4/projects/42/merge_requests/7/notes/151"
        staging = plan_comment(tmp_path, "staging", apply_first=True)
        note_poster(gitlab.api, "staging", staging, changes=False)
        assert len(gitlab.notes) == 151  # no changes and no note before: nothing posted


def test_the_gitlab_note_script_without_a_token_says_how_to_post(
    tmp_path: Path, note_poster: Any
) -> None:
    with FakeGitLab([]) as gitlab:
        out = note_poster(
            gitlab.api, "dev", plan_comment(tmp_path, "dev"), changes=True, token=False
        )
        assert "DEPLOYCTL_GITLAB_TOKEN" in out
        assert gitlab.requests == []
