"""The benchmark's deployment plugin: deployments as plain JSON files, a latency per call.

``benchtarget:/abs/dir?latency=20ms`` keeps deployment ``NAME`` in ``/abs/dir/deployments/
NAME.json``. Writes go to a temporary name in the same directory and are renamed into place, so a
reader never sees half a record; nothing is fsynced, because the benchmark measures deployctl, not
this target's durability. ``latency`` (``ms`` or ``s``, default ``0ms``) is slept in every create,
update, delete, get and list call, as a remote API's round trip would be; with ``log_calls=1``
each call appends its method's name to ``/abs/dir/calls.log`` (``read_calls``).

MLflow 3 signatures (``endpoint=None`` keywords) without importing MLflow; a missing name raises
``BenchTargetError`` with MLflow's ``RESOURCE_DOES_NOT_EXIST`` error code.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

SCHEME = "benchtarget"
RECORDS_DIR = "deployments"
CALLS_LOG = "calls.log"

RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"

_LATENCY = re.compile(r"(\d+(?:\.\d+)?)(ms|s)")
_URI_HELP = "benchtarget:/abs/dir or benchtarget:/abs/dir?latency=20ms"


class BenchTargetError(Exception):
    """An error of the benchmark target; ``error_code`` as in MLflow."""

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


@dataclass(frozen=True)
class TargetOptions:
    """What a ``benchtarget:`` URI says: the directory, the latency, whether calls are logged."""

    directory: Path
    latency: float = 0.0
    log_calls: bool = False


def parse_uri(target_uri: str) -> TargetOptions:
    """The options of a ``benchtarget:/abs/dir?latency=20ms&log_calls=1`` URI."""
    parsed = urlparse(target_uri)
    if parsed.scheme != SCHEME or not parsed.path.startswith("/"):
        raise BenchTargetError(
            f"'{target_uri}' is not a benchmark target URI: write {_URI_HELP}",
            INVALID_PARAMETER_VALUE,
        )
    query = parse_qs(parsed.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"latency", "log_calls"})
    if unknown:
        raise BenchTargetError(
            f"'{target_uri}': unknown option {unknown[0]!r}; the options are latency and "
            f"log_calls, as in {_URI_HELP}&log_calls=1",
            INVALID_PARAMETER_VALUE,
        )
    latency = 0.0
    for value in query.get("latency", []):
        match = _LATENCY.fullmatch(value)
        if match is None:
            raise BenchTargetError(
                f"'{target_uri}': latency={value!r} is not a duration: write e.g. latency=20ms "
                "or latency=0.5s",
                INVALID_PARAMETER_VALUE,
            )
        number, unit = float(match.group(1)), match.group(2)
        latency = number / 1000 if unit == "ms" else number
    log_calls = any(value not in ("", "0") for value in query.get("log_calls", []))
    return TargetOptions(Path(parsed.path), latency, log_calls)


def read_calls(directory: str | os.PathLike[str]) -> list[str]:
    """The methods called so far on the target in ``directory`` (when it logs its calls)."""
    try:
        return (Path(directory) / CALLS_LOG).read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return []


class BenchDeploymentClient:
    """Deployments as JSON files under ``DIR/deployments`` (MLflow 3 method signatures)."""

    def __init__(self, target_uri: str) -> None:
        self.target_uri = target_uri
        self.options = parse_uri(target_uri)
        self.records_dir = self.options.directory / RECORDS_DIR
        if self.options.log_calls:
            self.options.directory.mkdir(parents=True, exist_ok=True)

    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Record ``name``; raises ``RESOURCE_ALREADY_EXISTS`` if it exists."""
        self._call("create_deployment")
        record = {
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": dict(config or {}),
            "status": "ready",
        }
        self.records_dir.mkdir(parents=True, exist_ok=True)
        temp = self._write_temp(name, record)
        try:
            # link() refuses an existing name: two creates of one name let exactly one through.
            os.link(temp, self._path(name))
        except FileExistsError:
            raise BenchTargetError(
                f"deployment '{name}' already exists in {self.records_dir}",
                RESOURCE_ALREADY_EXISTS,
            ) from None
        finally:
            temp.unlink()
        return record

    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Change the given fields of ``name`` (``None`` = unchanged)."""
        self._call("update_deployment")
        record = self._read(name)
        if model_uri is not None:
            record["model_uri"] = model_uri
        if flavor is not None:
            record["flavor"] = flavor
        if config is not None:
            record["config"] = dict(config)
        os.replace(self._write_temp(name, record), self._path(name))
        return record

    def delete_deployment(
        self, name: str, config: Mapping[str, Any] | None = None, endpoint: str | None = None
    ) -> None:
        """Remove ``name``; deleting a name that does not exist is not an error."""
        self._call("delete_deployment")
        self._path(name).unlink(missing_ok=True)

    def get_deployment(self, name: str, endpoint: str | None = None) -> dict[str, Any]:
        """The full record of ``name``; raises ``RESOURCE_DOES_NOT_EXIST`` if there is none."""
        self._call("get_deployment")
        return self._read(name)

    def list_deployments(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The full records of every deployment, sorted by name (one call, however many)."""
        self._call("list_deployments")
        try:
            entries = sorted(
                entry.name
                for entry in os.scandir(self.records_dir)
                if entry.name.endswith(".json") and not entry.name.startswith(".")
            )
        except FileNotFoundError:
            return []
        records = []
        for entry in entries:
            try:
                with open(self.records_dir / entry, "rb") as f:
                    records.append(json.loads(f.read()))
            except FileNotFoundError:
                continue  # deleted between the listing and the read
        return records

    def predict(
        self, deployment_name: str | None = None, inputs: Any = None, endpoint: str | None = None
    ) -> Any:
        """The benchmark target serves no model: each input row is answered by its model URI."""
        self._call("predict")
        record = self._read(str(deployment_name))
        return {"predictions": [record["model_uri"]] * len(inputs or [])}

    def _call(self, method: str) -> None:
        if self.options.log_calls:
            # One O_APPEND write per call: lines from concurrent calls never interleave.
            fd = os.open(
                self.options.directory / CALLS_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
            )
            try:
                os.write(fd, f"{method}\n".encode())
            finally:
                os.close(fd)
        if self.options.latency:
            time.sleep(self.options.latency)

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise BenchTargetError(
                f"'{name}' is not a deployment name: use letters, digits, '-' and '_'",
                INVALID_PARAMETER_VALUE,
            )
        return self.records_dir / f"{name}.json"

    def _read(self, name: str) -> dict[str, Any]:
        try:
            with open(self._path(name), "rb") as f:
                record: dict[str, Any] = json.loads(f.read())
        except FileNotFoundError:
            raise BenchTargetError(
                f"deployment '{name}' not found in {self.records_dir}", RESOURCE_DOES_NOT_EXIST
            ) from None
        return record

    def _write_temp(self, name: str, record: Mapping[str, Any]) -> Path:
        unique = f"{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}"
        temp = self.records_dir / f".{name}.{unique}.tmp"
        with open(temp, "wb") as f:
            f.write(json.dumps(record).encode())
        return temp


def run_local(
    target: str,
    name: str,
    model_uri: str,
    flavor: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> None:
    """The benchmark target serves nothing locally."""
    raise BenchTargetError(
        "the benchmark target cannot serve a model locally: use the local target's run-local",
        INVALID_PARAMETER_VALUE,
    )


def target_help() -> str:
    return (
        f"{_URI_HELP} - deployctl's benchmark target: one JSON file per deployment under "
        "DIR/deployments, and the given latency slept in every call."
    )
