"""Smoke tests against real pyfunc models on the local target: the example churn models
(``examples/models``, plain text, models-from-code) scored through the target adapter's
``predict``, as apply will call it."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyfunc_model import save_model
from support import EXAMPLES, require_mlflow

from deployctl.smoke import SmokeTest, as_frame, run_smoke_test
from deployctl.targets.pool import TargetPool

MODELS = EXAMPLES / "models"
SAMPLE = EXAMPLES / "data" / "churn_sample.csv"
CHURN = SmokeTest(SAMPLE, rows=3, columns=("prediction",))


@pytest.fixture
def deploy(tmp_path: Path) -> Callable[[str], Callable[[Any], Any]]:
    """Deploys a model as ``churn`` on a fresh local target; returns its adapter's predict."""
    require_mlflow()
    adapter = TargetPool().get("local", f"local:{tmp_path / 'target'}")

    def deployed(model_uri: str) -> Callable[[Any], Any]:
        if adapter.client.list_deployments():
            adapter.client.update_deployment("churn", model_uri=model_uri)
        else:
            adapter.client.create_deployment("churn", model_uri)
        return lambda frame: adapter.predict("churn", frame)

    return deployed


def test_the_example_churn_model_passes_its_smoke_test(
    deploy: Callable[[str], Callable[[Any], Any]],
) -> None:
    outcome = run_smoke_test(deploy(str(MODELS / "churn-v1")), CHURN)
    assert outcome.ok, outcome.reason
    assert (outcome.rows, outcome.columns) == (3, ("prediction",))


def test_version_2_answers_differently_and_still_passes(
    deploy: Callable[[str], Callable[[Any], Any]],
) -> None:
    predict = deploy(str(MODELS / "churn-v1"))
    before = as_frame(predict(CHURN.read_input()))["prediction"].tolist()
    predict = deploy(str(MODELS / "churn-v2"))
    after = as_frame(predict(CHURN.read_input()))
    assert before == [1, 0, 1]
    assert after["prediction"].tolist() == [1, 0, 0]
    assert list(after.columns) == ["prediction", "probability"]
    assert run_smoke_test(predict, CHURN).ok


def test_the_broken_example_fails_on_its_columns(
    deploy: Callable[[str], Callable[[Any], Any]],
) -> None:
    outcome = run_smoke_test(deploy(str(MODELS / "churn-broken")), CHURN)
    assert not outcome.ok
    assert outcome.reason == "expected columns [prediction], got [score]"


def test_a_model_that_raises_on_the_input_fails_the_run(
    deploy: Callable[[str], Callable[[Any], Any]], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("customer_id,tenure\nC-1,3\n", encoding="utf-8")
    outcome = run_smoke_test(deploy(str(MODELS / "churn-v1")), SmokeTest(wrong, rows=1))
    assert not outcome.ok
    assert outcome.reason is not None
    assert outcome.reason.startswith("predict raised ")
    assert "tenure_months" in outcome.reason
    assert "\n" not in outcome.reason


def test_a_model_saved_by_the_tests_is_smoke_tested_the_same_way(
    deploy: Callable[[str], Callable[[Any], Any]], tmp_path: Path
) -> None:
    sample = tmp_path / "x.csv"
    sample.write_text("x\n1\n2\n", encoding="utf-8")
    predict = deploy(save_model(tmp_path / "doubler", factor=2))
    assert run_smoke_test(predict, SmokeTest(sample, rows=2, columns=("y",))).ok
    failed = run_smoke_test(predict, SmokeTest(sample, rows=2, columns=("prediction",)))
    assert failed.reason == "expected columns [prediction], got [x, y]"


# -- the example models themselves -----------------------------------------------------------


def model_folders() -> list[Path]:
    return sorted(p for p in MODELS.iterdir() if (p / "MLmodel").is_file())


def test_the_example_models_are_plain_text_with_no_pickles() -> None:
    folders = model_folders()
    assert [p.name for p in folders] == ["churn-broken", "churn-v1", "churn-v2"]
    for folder in folders:
        files = [p for p in folder.iterdir() if p.name != "__pycache__"]  # not in git
        names = sorted(p.name for p in files)
        assert names == ["MLmodel", "churn.py", "conda.yaml", "python_env.yaml", "requirements.txt"]
        for path in files:
            data = path.read_bytes()
            data.decode("utf-8")  # text, or this raises
            # Every binary pickle (protocol 2 and later, all MLflow writes) starts with PROTO.
            assert not data.startswith(pickle.PROTO), path


def test_the_example_models_load_their_code_from_their_own_folder() -> None:
    import yaml

    for folder in model_folders():
        mlmodel = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
        pyfunc = mlmodel["flavors"]["python_function"]
        # A relative path: the folder works wherever the repository is checked out.
        assert pyfunc["model_code_path"] == "churn.py"
        assert pyfunc["loader_module"] == "mlflow.pyfunc.loaders.code_model"


def test_an_example_model_loads_by_relative_path_from_the_repository_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_mlflow()
    import mlflow.pyfunc
    import pandas as pd

    monkeypatch.chdir(EXAMPLES.parent)
    model = mlflow.pyfunc.load_model("examples/models/churn-v1")
    predictions = model.predict(pd.read_csv("examples/data/churn_sample.csv"))
    assert predictions["prediction"].tolist() == [1, 0, 1]


def test_an_example_model_loads_by_absolute_path_from_another_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    require_mlflow()
    import mlflow.pyfunc
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    model = mlflow.pyfunc.load_model(str(MODELS.resolve() / "churn-v2"))
    predictions = model.predict(pd.read_csv(SAMPLE.resolve()))
    assert predictions["prediction"].tolist() == [1, 0, 0]
