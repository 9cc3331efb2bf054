"""Input files read as tables, and predict results turned into tables: real files, real pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from deployctl.errors import DeployctlError, InputError
from deployctl.smoke.frames import as_frame, read_input


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.to_dict(orient="records"))


def test_a_csv_file_is_read_with_its_header_as_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.csv", "x,name\n1,a\n5,b\n")
    assert records(read_input(path)) == [{"x": 1, "name": "a"}, {"x": 5, "name": "b"}]


@pytest.mark.parametrize(
    "body",
    [
        [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}],
        {"x": [1, 2], "y": ["a", "b"]},
        {"columns": ["x", "y"], "data": [[1, "a"], [2, "b"]]},
        {"dataframe_split": {"columns": ["x", "y"], "data": [[1, "a"], [2, "b"]]}},
        {"dataframe_records": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]},
        {"instances": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]},
        {"inputs": {"x": [1, 2], "y": ["a", "b"]}},
    ],
    ids=[
        "records",
        "columns",
        "split",
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    ],
)
def test_json_in_each_shape_mlflows_scoring_server_takes_gives_the_same_table(
    tmp_path: Path, body: Any
) -> None:
    path = write(tmp_path / "rows.json", json.dumps(body))
    assert records(read_input(path)) == [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]


def test_bad_json_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '[\n  {"x": 1},\n  {"x": oops}\n]\n')
    with pytest.raises(InputError) as raised:
        read_input(path)
    assert str(raised.value) == f"{path}:3:9: invalid JSON: Expecting value"
    assert isinstance(raised.value, DeployctlError)


def test_a_csv_row_that_does_not_fit_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.csv", "x,y\n1,2\n3,4,5\n")
    with pytest.raises(InputError) as raised:
        read_input(path)
    assert str(raised.value).startswith(f"{path}:3: cannot read it as CSV: ")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("rows.txt", "x\n1\n", "use a .csv or .json file"),
        ("missing.csv", None, "No such file or directory"),
        ("empty.csv", "", "cannot read it as CSV: No columns to parse from file"),
        ("number.json", "3", "expected a list of records, a mapping of columns"),
        ("scalars.json", '{"x": 1}', "cannot make a table of it: "),
        ("split.json", '{"dataframe_split": [1]}', "'dataframe_split' must be a mapping"),
        ("latin1.json", b'[{"x": "\xe9"}]', "not UTF-8 text (invalid continuation byte"),
    ],
)
def test_a_file_that_is_no_table_is_one_line_naming_it(
    tmp_path: Path, name: str, content: str | bytes | None, problem: str
) -> None:
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(InputError) as raised:
        read_input(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


class Response(dict[str, Any]):
    """The shape of MLflow's PredictionsResponse: a dict with ``get_predictions``."""

    def get_predictions(self) -> pd.DataFrame:
        return pd.DataFrame(self["predictions"])


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (pd.DataFrame({"prediction": [1, 0], "p": [0.9, 0.1]}), [[1, 0.9], [0, 0.1]]),
        (pd.Series([1, 0]), [[1], [0]]),
        ([1, 0], [[1], [0]]),
        ({"predictions": [1, 0]}, [[1], [0]]),
        (Response({"predictions": [{"prediction": 1}, {"prediction": 0}]}), [[1], [0]]),
        ([{"prediction": 1}, {"prediction": 0}], [[1], [0]]),
        (7, [[7]]),
    ],
    ids=["frame", "series", "list", "scoring-server", "mlflow-response", "records", "scalar"],
)
def test_predict_results_become_tables_with_a_prediction_column(
    result: Any, expected: list[list[Any]]
) -> None:
    frame = as_frame(result)
    assert frame.columns[0] == "prediction"
    assert frame.to_numpy().tolist() == expected


def test_a_named_series_keeps_its_name_as_the_column() -> None:
    assert list(as_frame(pd.Series([0.5], name="score")).columns) == ["score"]


def test_importing_the_smoke_package_does_not_import_pandas() -> None:
    code = "import sys, deployctl.smoke; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
