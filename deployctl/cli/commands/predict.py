"""``deployctl predict ADDRESS --input FILE``: score a CSV/JSON file against a deployment."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deployctl.cli import arguments, context, options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import UsageError


def read_input(path: str) -> Any:
    """A pandas DataFrame from CSV, or from JSON in the shapes MLflow's scoring server takes."""
    import pandas as pd

    file = Path(path)
    suffix = file.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(file)
        if suffix != ".json":
            raise UsageError(f"--input {path}: use a .csv or .json file")
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--input {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise UsageError(f"--input {path}: cannot read it as CSV: {exc}") from exc
    try:
        if isinstance(data, dict) and "dataframe_split" in data:
            split = data["dataframe_split"]
            return pd.DataFrame(split["data"], columns=split.get("columns"))
        if isinstance(data, dict) and "dataframe_records" in data:
            return pd.DataFrame(data["dataframe_records"])
        if isinstance(data, dict) and "columns" in data and "data" in data:
            return pd.DataFrame(data["data"], columns=data["columns"])
        if isinstance(data, (list, dict)):
            return pd.DataFrame(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--input {path}: cannot make a table of it: {exc}") from exc
    raise UsageError(
        f"--input {path}: expected a list of records, a mapping of columns, or "
        "{'dataframe_split': ...} / {'dataframe_records': ...}"
    )


def as_frame(result: Any) -> Any:
    import pandas as pd

    get_predictions = getattr(result, "get_predictions", None)  # MLflow PredictionsResponse
    if callable(get_predictions):
        result = get_predictions()
    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pd.Series):
        return result.to_frame(name=result.name or "prediction")
    try:
        frame = pd.DataFrame(result)
    except (ValueError, TypeError):
        frame = pd.DataFrame({"prediction": [result]})
    if list(frame.columns) == [0]:
        frame.columns = ["prediction"]
    return frame


def run(args: argparse.Namespace) -> int:
    from deployctl.operations.refresh import lookup_target_uri
    from deployctl.targets.pool import TargetPool

    address = arguments.parse_address(args.address)
    manifest, environment, location = context.locate_state(args)
    state = context.existing_state(context.backend(location, environment), location)
    uri = lookup_target_uri(address.target, manifest, state)
    frame = read_input(args.input)
    pool = TargetPool.for_manifest(manifest) if manifest else TargetPool()
    adapter = pool.get(address.target, uri)
    result = as_frame(adapter.predict(address.name, frame))
    if args.json:
        sys.stdout.write(result.to_json(orient="records") + "\n")
    else:
        sys.stdout.write(result.to_string(index=False) + "\n")
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("predict", help="score a CSV or JSON file against a deployment")
    p.add_argument("address", metavar="ADDRESS")
    p.add_argument("--input", required=True, metavar="FILE", help="FILE.csv or FILE.json")
    p.add_argument("--json", action="store_true", help="print predictions as JSON records")
    options.manifest(p, required=False)
    options.state(p, environment=True)
    p.set_defaults(handler=run)
