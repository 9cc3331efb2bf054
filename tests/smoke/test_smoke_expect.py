"""Smoke-test expectations and runs: rows and columns checked, a model's failure reported, not
raised. Real files and real pandas; ``predict`` here is a plain function (the local target's
real models are in test_smoke_local_models.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from deployctl.errors import InputError, TargetError
from deployctl.smoke import SmokeTest, check, run_smoke_test


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.csv"
    path.write_text("x\n1\n2\n3\n", encoding="utf-8")
    return path


def test_predictions_that_meet_the_expectations_pass(sample: Path) -> None:
    test = SmokeTest(sample, rows=2, columns=("prediction",))
    assert check(pd.DataFrame({"prediction": [1, 0]}), test) is None


def test_the_wrong_number_of_rows_fails_with_both_counts(sample: Path) -> None:
    predictions = pd.DataFrame({"prediction": [1, 0]})
    assert check(predictions, SmokeTest(sample, rows=3)) == "expected 3 rows, got 2"
    assert check(predictions, SmokeTest(sample, rows=1)) == "expected 1 row, got 2"


def test_a_missing_column_fails_naming_the_columns_there_are(sample: Path) -> None:
    test = SmokeTest(sample, columns=("prediction",))
    assert check(pd.DataFrame({"score": [0.4]}), test) == (
        "expected columns [prediction], got [score]"
    )


def test_expected_columns_must_be_present_and_others_may_be(sample: Path) -> None:
    test = SmokeTest(sample, columns=("prediction", "probability"))
    both = pd.DataFrame({"prediction": [1], "probability": [0.9], "model": ["v2"]})
    assert check(both, test) is None
    assert check(both[["prediction"]], test) == (
        "expected columns [prediction, probability], got [prediction]"
    )


def test_every_failed_expectation_is_reported_on_one_line(sample: Path) -> None:
    test = SmokeTest(sample, rows=3, columns=("prediction",))
    assert check(pd.DataFrame({0: [0.4]}), test) == (
        "expected 3 rows, got 1; expected columns [prediction], got [0]"
    )


def test_without_expectations_any_table_passes(sample: Path) -> None:
    assert check(pd.DataFrame(), SmokeTest(sample)) is None


def test_a_relative_input_is_relative_to_the_manifests_folder(tmp_path: Path) -> None:
    test = SmokeTest.in_manifest(tmp_path / "envs", "../data/s.csv", rows=3, columns=["p"])
    assert test == SmokeTest(tmp_path / "data" / "s.csv", rows=3, columns=("p",))
    absolute = SmokeTest.in_manifest(tmp_path / "envs", tmp_path / "s.csv")
    assert absolute.input == tmp_path / "s.csv"


def test_a_smoke_test_is_frozen_and_refuses_a_negative_row_count(sample: Path) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SmokeTest(sample).rows = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="rows must be a number of rows"):
        SmokeTest(sample, rows=-1)


def test_a_passing_run_scores_the_input_file_and_times_it(sample: Path) -> None:
    seen: list[list[int]] = []

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        seen.append(frame["x"].tolist())
        return frame.assign(prediction=frame["x"] * 2)

    outcome = run_smoke_test(predict, SmokeTest(sample, rows=3, columns=("prediction",)))
    assert seen == [[1, 2, 3]]
    assert (outcome.ok, outcome.reason, outcome.rows) == (True, None, 3)
    assert outcome.columns == ("x", "prediction")
    assert 0 <= outcome.seconds < 5
    assert str(outcome).startswith("smoke test passed (")


def test_a_run_with_the_wrong_columns_fails_with_the_reason(sample: Path) -> None:
    outcome = run_smoke_test(
        lambda frame: {"predictions": [{"score": 0.3}] * len(frame)},
        SmokeTest(sample, rows=3, columns=("prediction",)),
    )
    assert not outcome.ok
    assert outcome.reason == "expected columns [prediction], got [score]"
    assert str(outcome).startswith("smoke test failed: expected columns [prediction], got [score]")


def test_a_model_that_raises_is_a_failed_run_not_an_exception(sample: Path) -> None:
    def predict(frame: pd.DataFrame) -> None:
        raise ValueError("input has 1 column,\n  the model needs 4")

    outcome = run_smoke_test(predict, SmokeTest(sample, rows=3))
    assert not outcome.ok
    assert outcome.reason == "predict raised ValueError: input has 1 column, the model needs 4"
    assert outcome.rows is None


def test_a_failed_plugin_call_is_reported_by_the_plugins_own_exception(sample: Path) -> None:
    cause = KeyError("tenure_months")

    def predict(frame: pd.DataFrame) -> None:
        raise TargetError("KeyError: 'tenure_months'", target="t", call="predict", cause=cause)

    outcome = run_smoke_test(predict, SmokeTest(sample))
    assert outcome.reason == "predict raised KeyError: 'tenure_months'"


def test_a_very_long_failure_is_cut_to_one_short_line(sample: Path) -> None:
    def predict(frame: pd.DataFrame) -> None:
        raise RuntimeError("x" * 1000)

    reason = run_smoke_test(predict, SmokeTest(sample)).reason
    assert reason is not None and len(reason) < 250 and reason.endswith("…")


def test_a_result_that_cannot_become_a_table_is_a_failed_run(sample: Path) -> None:
    def broken_rows() -> Iterator[int]:
        yield 1
        raise RuntimeError("stream closed")

    outcome = run_smoke_test(lambda frame: broken_rows(), SmokeTest(sample))
    assert outcome.reason == "predict returned generator, not a table: RuntimeError: stream closed"


def test_an_input_read_beforehand_is_used_as_given(sample: Path) -> None:
    frame = pd.DataFrame({"x": [9]})
    outcome = run_smoke_test(lambda df: df, SmokeTest(sample, rows=1), frame=frame)
    assert outcome.ok, outcome.reason


def test_an_unreadable_input_raises_before_predict_is_called(tmp_path: Path) -> None:
    calls: list[object] = []
    test = SmokeTest(tmp_path / "missing.csv", rows=1)
    with pytest.raises(InputError, match=r"missing\.csv: No such file or directory"):
        run_smoke_test(calls.append, test)
    assert calls == []
