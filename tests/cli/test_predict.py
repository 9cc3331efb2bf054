"""predict ADDRESS --input FILE: pandas in, a printed table out, through the console script."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pyfunc_model import save_model
from support import REPO, deployctl_script, require_mlflow, run_cli, write_manifest


def manifest(model_uri: str) -> str:
    return (
        "version: 1\nenvironment: dev\ntargets:\n  local:\n    uri: local:.deployctl/dev\n"
        f"    deployments:\n      doubler:\n        model_uri: {model_uri}\n"
    )


def deployed(tmp_path: Path) -> Path:
    require_mlflow()
    model = save_model(tmp_path / "model", factor=2)
    write_manifest(tmp_path / "dev.yaml", manifest(model))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    return tmp_path


def test_predict_scores_a_csv_and_prints_a_table(tmp_path: Path) -> None:
    deployed(tmp_path)
    (tmp_path / "rows.csv").write_text("x\n1\n5\n")
    result = run_cli(
        "predict", "local/doubler", "--input", "rows.csv", "-f", "dev.yaml", cwd=tmp_path
    )
    assert result.code == 0, result.err
    lines = [line.split() for line in result.out.strip().splitlines()]
    assert lines == [["x", "y"], ["1", "2"], ["5", "10"]]


def test_predict_reads_json_in_mlflow_shapes_and_prints_json(tmp_path: Path) -> None:
    deployed(tmp_path)
    (tmp_path / "split.json").write_text(
        json.dumps({"dataframe_split": {"columns": ["x"], "data": [[3]]}})
    )
    (tmp_path / "records.json").write_text(json.dumps([{"x": 4}]))
    for name, expected in (
        ("split.json", [{"x": 3, "y": 6}]),
        ("records.json", [{"x": 4, "y": 8}]),
    ):
        result = run_cli(
            "predict", "local/doubler", "--input", name, "--json", "-e", "dev", cwd=tmp_path
        )
        assert result.code == 0, result.err
        assert json.loads(result.out) == expected


def test_predict_input_errors_are_one_line(tmp_path: Path) -> None:
    deployed(tmp_path)
    (tmp_path / "bad.json").write_text("{oops")
    result = run_cli("predict", "local/doubler", "--input", "bad.json", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith("Error: bad.json:1:2: invalid JSON")
    result = run_cli("predict", "local/doubler", "--input", "x.txt", "-e", "dev", cwd=tmp_path)
    assert "use a .csv or .json file" in result.err
    result = run_cli("predict", "nope/doubler", "--input", "x.csv", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "target 'nope'" in result.err and "known targets: local" in result.err


def test_predict_without_mlflow_says_how_to_install_it(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest("models:/doubler/1"))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    (tmp_path / "rows.csv").write_text("x\n1\n")
    # A site directory that hides mlflow, as on a machine without the [mlflow] extra.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['mlflow'] = None\n")
    env = {**os.environ, "PYTHONPATH": f"{hide}{os.pathsep}{REPO}", "NO_COLOR": "1"}
    proc = subprocess.run(
        [deployctl_script(), "predict", "local/doubler", "--input", "rows.csv", "-e", "dev"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "pip install 'deployctl[mlflow]'" in proc.stderr
    assert "Traceback" not in proc.stderr
