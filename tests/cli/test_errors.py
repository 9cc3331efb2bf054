"""Bad input gets one clear line per problem and exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

from support import run_cli, write_manifest

TYPO = """\
version: 1
environment: dev
targets:
  local:
    uri: local:.deployctl/dev
    deployments:
      churn:
        modle_uri: models:/churn/3
      fraud:
        model_uri: ${var.missing}
"""


def test_validation_errors_name_file_line_and_field(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", TYPO)
    for command in ("validate", "plan"):
        result = run_cli(command, "-f", "dev.yaml", cwd=tmp_path)
        assert result.code == 1
        lines = result.err.strip().splitlines()
        assert lines[0].startswith("dev.yaml:7:7: ")
        assert "deployment 'churn'" in lines[0]
        assert "dev.yaml:8:9: unknown field 'modle_uri' in deployment 'churn'" in result.err
        assert "(did you mean 'model_uri'?)" in result.err
        assert "dev.yaml:10:20: undefined variable 'missing'" in result.err
        assert "Traceback" not in result.err


def test_validate_reports_a_valid_manifest(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", TYPO.replace("modle_uri", "model_uri"))
    result = run_cli("validate", "-f", "dev.yaml", "--var", "missing=m:/x", cwd=tmp_path)
    assert result.code == 1  # --var of an undeclared variable is an error too
    assert "unknown variable 'missing'" in result.err


def test_missing_manifest_is_one_line(tmp_path: Path) -> None:
    result = run_cli("plan", "-f", "nope.yaml", cwd=tmp_path)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "nope.yaml" in result.err


def test_unknown_target_scheme_lists_installed_targets(tmp_path: Path) -> None:
    write_manifest(
        tmp_path / "dev.yaml",
        TYPO.replace("local:.deployctl/dev", "nosuchplugin:/x")
        .replace("modle_uri", "model_uri")
        .replace("${var.missing}", "m:/1"),
    )
    for command in ("validate", "plan"):
        result = run_cli(command, "-f", "dev.yaml", cwd=tmp_path)
        assert result.code == 1
        assert "nosuchplugin" in result.err
        assert "local" in result.err
        assert "Traceback" not in result.err


def test_usage_errors_exit_1(tmp_path: Path) -> None:
    result = run_cli("plan", cwd=tmp_path)
    assert result.code == 1
    assert "-f/--file" in result.err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run_cli("--debug", "plan", "-f", "nope.yaml", cwd=tmp_path)
    assert result.code == 1
    assert "Traceback" in result.err
