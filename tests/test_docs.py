"""The documentation tells the truth: generated pages are current, the schema documents every
field with examples that validate, links resolve, and what README and docs promise holds."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from support import REPO, run_cli

from deployctl.cli import reference as cli_reference
from deployctl.cli.exit_codes import ExitCode
from deployctl.cli.main import build_parser
from deployctl.manifest import load_manifest, manifest_schema
from deployctl.manifest.reference import REGENERATE, render_reference

DOCS = REPO / "docs"
README = REPO / "README.md"
SCHEMA_ID = "https://deployctl.dev/schemas/manifest.schema.json"
MANIFEST_EXAMPLES = ["dev.yaml", "staging.yaml", "prod.yaml", "models/demo.yaml"]
# Keywords whose values are data (or words), never subschemas.
DATA = frozenset({"examples", "const", "enum", "default", "description", "title", "required"})


# -- the manifest schema documents every field --


def documented_nodes(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node a manifest author writes a value for: each property and pattern
    property at every level, and what a mapping of names (``targets``, ``deployments``) holds,
    as ``(where, node)``; a ``$ref`` to a definition stands for the definition."""
    defs = schema.get("$defs", {})

    def resolved(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref", "")
        return defs[ref.removeprefix("#/$defs/")] if ref.startswith("#/$defs/") else node

    def walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{where}/{index}")
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in DATA:
                continue
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                for name, prop in value.items():
                    yield f"{where}/{key}/{name}", prop
            if key == "additionalProperties" and isinstance(value, dict):
                yield f"{where}/additionalProperties", resolved(value)
            yield from walk(value, f"{where}/{key}")

    yield from walk(schema, "#")


def undocumented(schema: dict[str, Any]) -> list[str]:
    return [
        f"{where} has no {what}"
        for where, node in documented_nodes(schema)
        for what in ("description", "examples")
        if not node.get(what)
    ]


def invalid_examples(schema: dict[str, Any]) -> list[str]:
    """Each example that its own (sub)schema refuses, with jsonschema's reason."""
    validator = Draft202012Validator(schema)
    problems = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")
        elif isinstance(node, dict):
            for example in node.get("examples", []):
                for error in validator.evolve(schema=node).iter_errors(example):
                    problems.append(f"{where}: example {example!r}: {error.message}")
            for key, value in node.items():
                if key not in DATA:
                    walk(value, f"{where}/{key}")

    walk(schema, "#")
    return problems


def test_every_manifest_field_has_a_description_and_examples() -> None:
    assert undocumented(manifest_schema()) == []


def test_a_field_without_examples_or_description_is_reported() -> None:
    schema = copy.deepcopy(manifest_schema())
    del schema["$defs"]["retry"]["properties"]["attempts"]["examples"]
    del schema["properties"]["environment"]["description"]
    del schema["$defs"]["deployment"]["description"]
    assert sorted(undocumented(schema)) == [
        "#/$defs/retry/properties/attempts has no examples",
        "#/$defs/target/properties/deployments/additionalProperties has no description",
        "#/properties/environment has no description",
    ]


def test_every_example_in_the_manifest_schema_validates_against_its_subschema() -> None:
    assert invalid_examples(manifest_schema()) == []


def test_an_example_its_subschema_refuses_is_reported() -> None:
    schema = copy.deepcopy(manifest_schema())
    schema["$defs"]["retry"]["properties"]["attempts"]["examples"] = [3, 11]
    schema["$defs"]["target"]["properties"]["timeout"]["examples"] = ["30m", "30"]
    problems = sorted(invalid_examples(schema))
    assert len(problems) == 2
    assert problems[0].startswith("#/$defs/retry/properties/attempts: example 11: ")
    assert problems[1].startswith("#/$defs/target/properties/timeout: example '30': ")


def test_the_complete_example_of_the_schema_loads_as_a_manifest(tmp_path: Path) -> None:
    (example,) = manifest_schema()["examples"]
    path = tmp_path / "prod.yaml"
    path.write_text(yaml.safe_dump(example, sort_keys=False), encoding="utf-8")
    manifest = load_manifest(path, environ={"FRAUD_API_KEY": "k"})
    assert {str(d.address) for d in manifest.deployments()} == {"serving/churn", "serving/fraud"}


def test_the_schema_id_is_stable_and_every_example_manifest_names_it() -> None:
    assert manifest_schema()["$id"] == SCHEMA_ID
    for name in MANIFEST_EXAMPLES:
        first = (REPO / "examples" / name).read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema={SCHEMA_ID}", name


# -- generated pages are current --


def test_docs_manifest_md_is_the_reference_generated_from_the_schema() -> None:
    on_disk = (DOCS / "manifest.md").read_text(encoding="utf-8")
    assert on_disk == render_reference(manifest_schema()), (
        f"docs/manifest.md is stale: run `{REGENERATE}`"
    )


def test_the_manifest_reference_has_an_entry_for_every_field() -> None:
    text = render_reference(manifest_schema())
    headings = set(re.findall(r"^### `([^`]+)`$", text, re.M))
    for where, node in documented_nodes(manifest_schema()):
        if where.endswith("/additionalProperties"):
            continue
        name = node.get("title") or where.rsplit("/", 1)[-1]
        assert any(h == name or h.endswith(f".{name}") for h in headings), where
    assert "### `targets.<TARGET>.deployments.<NAME>.model_uri`" in text
    assert "Examples: `models:/churn/3`, `models:/churn@champion`" in text


def test_docs_cli_md_option_tables_are_generated_from_the_parser() -> None:
    on_disk = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert on_disk == cli_reference.update(on_disk, build_parser()), (
        f"docs/cli.md is stale: run `{cli_reference.REGENERATE}`"
    )


def test_docs_cli_md_has_a_section_for_every_command_and_every_option() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = cli_reference.commands(build_parser())
    assert {"deployctl plan", "deployctl apply", "deployctl state migrate"} <= {
        c.name for c in commands
    }
    for command in commands:
        start = text.index(f"### `{command.name}`\n")
        section = text[start : text.index(cli_reference.END, start)]
        for action in command.parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in section, f"{command.name} {option}"


def test_a_new_command_gets_a_section_with_its_options_when_regenerated() -> None:
    text = "## Commands\n\n<!-- generated: commands -->\n<!-- end generated -->\n\n"
    text += cli_reference.NEW_COMMANDS + "\n"
    updated = cli_reference.update(text, build_parser())
    assert "| [`deployctl plan`](#deployctl-plan) | show what apply would change |" in updated
    assert "### `deployctl plan`\n" in updated
    assert "| `--detailed-exitcode` |  |  | exit 0 when there are no changes" in updated
    assert "| `--lock-timeout` | `DURATION` | `0s` |" in updated
    assert cli_reference.update(updated, build_parser()) == updated


def test_the_cli_reference_rewrites_a_stale_block_and_check_reports_it(tmp_path: Path) -> None:
    doc = tmp_path / "cli.md"
    stale = "<!-- generated: options deployctl validate -->\n| old |\n<!-- end generated -->\n"
    doc.write_text(stale, encoding="utf-8")
    assert cli_reference.main([str(doc), "--check"]) == 1
    assert doc.read_text(encoding="utf-8") == stale
    assert cli_reference.main([str(doc)]) == 0
    assert "| `-f`, `--file` (required) | `MANIFEST` |" in doc.read_text(encoding="utf-8")
    assert cli_reference.main([str(doc), "--check"]) == 0


# -- what docs/cli.md promises --


def test_docs_cli_md_explains_every_exit_code() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    table = text[text.index("## Exit codes") : text.index("## Ctrl-C and SIGTERM")]
    for code in ExitCode:
        assert re.search(rf"^\| {code.value} \| \S", table, re.M), code


def test_docs_cli_md_says_what_ctrl_c_and_sigterm_do() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    section = text[text.index("## Ctrl-C and SIGTERM") :].split("\n## ", 1)[0]
    for words in ("SIGTERM", "exits 130", "A second signal", "traceback"):
        assert words in section


# -- links, README --


def markdown_files() -> list[Path]:
    return [README, REPO / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]


def anchors(text: str) -> set[str]:
    """The anchors GitHub makes for the headings of ``text``, plus explicit ``<a id>``s."""
    found: set[str] = set(re.findall(r'<a id="([^"]+)"></a>', text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", strip_code_blocks(text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def strip_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def test_every_link_between_the_docs_resolves() -> None:
    broken = []
    for page in markdown_files():
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", strip_code_blocks(text)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif (
                fragment
                and dest.suffix == ".md"
                and fragment not in anchors(dest.read_text(encoding="utf-8"))
            ):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_link_check_finds_a_missing_heading() -> None:
    assert "the-three-backends" in anchors((DOCS / "state.md").read_text(encoding="utf-8"))
    assert "no-such-section" not in anchors((DOCS / "state.md").read_text(encoding="utf-8"))
    assert "deployctl-state-list" in anchors((DOCS / "cli.md").read_text(encoding="utf-8"))


def test_the_readme_links_every_docs_page() -> None:
    readme = README.read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        assert f"(docs/{page.name})" in readme, page.name


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    (command,) = re.findall(r"^pip install -q (-e .*pytest.*)$", ci, re.M)
    readme = README.read_text(encoding="utf-8")
    assert f"pip install {command}" in readme
    assert "about 2.5 minutes on 2 cores" in readme
    for page in (README, REPO / "CONTRIBUTING.md"):
        assert "python3.11 -m venv" not in page.read_text(encoding="utf-8"), page.name


def test_the_readme_keeps_the_benchmarks_section_and_its_figures_marker() -> None:
    readme = README.read_text(encoding="utf-8")
    benchmarks = readme.index("### Benchmarks (`python -m bench`)")
    assert readme.index("<!-- bench-figures -->") > benchmarks


def test_the_planner_table_is_the_same_in_the_readme_and_how_it_works() -> None:
    def table(text: str) -> str:
        start = text.index("| desired | in state | live | action |")
        return text[start : text.index("\n\n", start)]

    readme = table(README.read_text(encoding="utf-8"))
    assert "**delete from state only**" in readme
    assert readme == table((DOCS / "how-it-works.md").read_text(encoding="utf-8"))


def test_the_readme_manifest_example_is_a_valid_manifest(tmp_path: Path) -> None:
    readme = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(# yaml-language-server.*?)```", readme, re.S)
    assert len(blocks) == 1
    path = tmp_path / "dev.yaml"
    path.write_text(blocks[0], encoding="utf-8")
    manifest = load_manifest(path, environ={})
    (deployment,) = manifest.deployments()
    assert deployment.spec.model_uri == "models:/churn/7"
    assert deployment.spec.config == {"workers": 2}


# -- relative local: paths, as target-help and the docs say --


def test_target_help_local_and_the_docs_say_where_relative_paths_start() -> None:
    result = run_cli("target-help", "local", cwd=REPO)
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert "relative to the manifest's folder" in text
    assert "relative to the current directory" in text
    targets = " ".join((DOCS / "targets.md").read_text(encoding="utf-8").split())
    assert "a relative `local:` path is relative to the manifest's folder" in targets


def test_a_relative_local_path_in_a_manifest_starts_at_the_manifest_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "env" / "dev.yaml").write_text(
        "version: 1\nenvironment: dev\ntargets:\n  local:\n    uri: local:targets/dev\n"
        "    deployments:\n      churn: {model_uri: models:/churn/3}\n",
        encoding="utf-8",
    )
    result = run_cli("apply", "-f", "../env/dev.yaml", "--auto-approve", cwd=tmp_path / "elsewhere")
    assert result.code == 0, result.err
    assert (tmp_path / "env" / "targets" / "dev" / "deployments" / "churn.json").is_file()
    assert not (tmp_path / "elsewhere" / "targets").exists()
