"""Model input and output as tables: an input file read as a pandas ``DataFrame``, and whatever a
plugin's ``predict`` returned turned into one.

Input files are CSV, or JSON in the shapes MLflow's scoring server takes: a list of records, a
mapping of column -> values, ``{"columns": [...], "data": [[...]]}``, ``{"dataframe_split":
...}``, ``{"dataframe_records": [...]}``, ``{"instances": ...}`` or ``{"inputs": ...}``. A file
that cannot be read raises ``InputError`` naming it (``FILE:LINE:COL:`` for bad JSON).

pandas is imported when a function here runs, never when the module is imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl.errors import InputError, exception_text

if TYPE_CHECKING:
    from pandas import DataFrame

SUFFIXES = (".csv", ".json")

# The one column a bare list, array or Series of predictions gets.
PREDICTION = "prediction"

# MLflow's scoring server: the keys that wrap a table in a JSON body (``inputs``/``instances``
# hold a table only when they hold records or columns; tensors are not tables).
_SPLIT = "dataframe_split"
_RECORDS = "dataframe_records"
_WRAPPERS = ("instances", "inputs")
_SHAPES = (
    "a list of records, a mapping of columns, {'columns': [...], 'data': [...]}, "
    "{'dataframe_split': ...} or {'dataframe_records': [...]}"
)
_CSV_LINE = re.compile(r"\bline (\d+)\b")


def read_input(path: str | Path) -> DataFrame:
    """The table in ``path``: a ``.csv`` file, or a ``.json`` file in one of MLflow's shapes."""
    import pandas as pd

    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{path}: use a .csv or .json file")
    try:
        if suffix == ".csv":
            return _read_csv(file, str(path))
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    try:
        frame = _json_table(data, pd)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: cannot make a table of it: {exception_text(exc)}") from exc
    if frame is None:
        raise InputError(f"{path}: expected {_SHAPES}")
    return frame


def _read_csv(file: Path, shown: str) -> DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(file)
    except (ValueError, pd.errors.ParserError) as exc:  # EmptyDataError is a ValueError
        text = exception_text(exc)
        line = _CSV_LINE.search(text)
        where = f"{shown}:{line.group(1)}" if line else shown
        raise InputError(f"{where}: cannot read it as CSV: {text}") from exc


def _json_table(data: Any, pd: Any) -> DataFrame | None:
    if isinstance(data, Mapping):
        if _SPLIT in data:
            split = data[_SPLIT]
            if not isinstance(split, Mapping):
                raise ValueError(f"'{_SPLIT}' must be a mapping with 'columns' and 'data'")
            return pd.DataFrame(split["data"], columns=split.get("columns"))
        if _RECORDS in data:
            return pd.DataFrame(data[_RECORDS])
        for key in _WRAPPERS:
            if key in data and len(data) == 1:
                return _json_table(data[key], pd)
        if "columns" in data and "data" in data:
            return pd.DataFrame(data["data"], columns=data["columns"])
    if isinstance(data, list | Mapping):
        return pd.DataFrame(data)
    return None


def as_frame(result: Any) -> DataFrame:
    """A plugin's ``predict`` result as a table.

    MLflow's ``PredictionsResponse`` and a plain ``{"predictions": ...}`` (the scoring server's
    answer) are unwrapped; a DataFrame is kept; a Series, a list or an array of values becomes
    one ``prediction`` column; records and column mappings become their columns; anything else
    one ``prediction`` cell.
    """
    import pandas as pd

    get_predictions = getattr(result, "get_predictions", None)  # MLflow's PredictionsResponse
    if callable(get_predictions):
        result = get_predictions()
    elif isinstance(result, Mapping) and list(result) == ["predictions"]:
        result = result["predictions"]
    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pd.Series):
        return result.to_frame(name=result.name or PREDICTION)
    try:
        frame = pd.DataFrame(result)
    except (ValueError, TypeError):
        frame = pd.DataFrame({PREDICTION: [result]})
    if list(frame.columns) == [0]:
        frame.columns = [PREDICTION]
    return frame


def column_names(frame: DataFrame) -> tuple[str, ...]:
    """The column names of ``frame`` as strings (a model's columns may be numbered)."""
    return tuple(str(column) for column in frame.columns)
