"""The built-in ``local`` target: deployments kept as JSON records in a directory on local disk.

``local:PATH`` stores each deployment as ``PATH/deployments/<name>.json``. It is a real target
(not a mock): several processes and threads can use one directory at once. Every change writes
atomically (temp file in the same directory, fsync, then its final name), so readers never see a
partial record. An update or a delete takes an exclusive ``flock`` on ``PATH/.lock``; a create
names its record by a hard link, which fails when the name exists, so of concurrent creates of
one name exactly one succeeds (without hard links it checks and renames under the lock).

A change returns only once it is durable, but what is slow about that is kept out of the lock,
so that an apply's workers do not queue behind each other's fsyncs: a create fsyncs its record
*before* naming it (a file without a name where the filesystem has them); every change syncs
the directory (which makes its new name or unlink durable) *after* releasing the lock, one
fsync shared by the threads that need it at the same time (``atomic.directory_sync``). Inside
``deferred_syncs`` (an apply's batch of quick changes) a change returns before that directory
sync, which the block's end makes once for all of them (``targets.record_files``).

This module does not import MLflow: ``predict`` and ``run_local`` import it when called, and
errors are ``MlflowException`` when MLflow is already loaded (as under MLflow's CLI, see
``mlflow_local``), else ``LocalTargetError``; both carry MLflow's ``error_code`` strings.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from deployctl import atomic
from deployctl.model import NAME_PATTERN, NAME_RE
from deployctl.model.values import fast_loads, indented_json
from deployctl.targets import record_files

SCHEME = "local"
RECORDS_DIR = "deployments"
LOCK_FILE = ".lock"
DEFAULT_STATUS = "ready"

RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
INTERNAL_ERROR = "INTERNAL_ERROR"

MLFLOW_HINT = "pip install 'deployctl[mlflow]'"
# What serving a pyfunc model with MLflow's scoring server needs beyond mlflow-skinny itself.
SERVING_PACKAGES = ("fastapi", "uvicorn", "pandas", "numpy")


class LocalTargetError(Exception):
    """An error of the local target when MLflow is not loaded; ``error_code`` as in MLflow."""

    def __init__(self, message: str, error_code: str = INTERNAL_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


def local_error(message: str, error_code: str = INTERNAL_ERROR) -> Exception:
    """``MlflowException`` if MLflow is already loaded, else ``LocalTargetError``.

    Importing MLflow only to raise its exception would cost seconds on every run that merely
    looks up a missing name; callers that use MLflow have it loaded already.
    """
    if sys.modules.get("mlflow") is not None:
        try:
            from mlflow.exceptions import MlflowException
            from mlflow.protos.databricks_pb2 import ErrorCode

            return MlflowException(message, error_code=ErrorCode.Value(error_code))
        except (ImportError, ValueError):
            pass
    return LocalTargetError(message, error_code)


def directory_of(target_uri: str) -> Path:
    """The directory of a ``local:PATH`` URI (relative to the current directory if relative)."""
    parsed = urlparse(target_uri)
    if parsed.scheme != SCHEME or parsed.netloc or not parsed.path:
        raise local_error(
            f"'{target_uri}' is not a local target URI: use local:/absolute/path or "
            "local:relative/path",
            INVALID_PARAMETER_VALUE,
        )
    return Path(os.path.abspath(os.path.expanduser(parsed.path)))


class LocalDeploymentClient:
    """Deployments as JSON records under ``PATH/deployments`` (MLflow 3 method signatures).

    A plain class on purpose: deployctl drives it without MLflow; ``mlflow_local`` mixes it into
    MLflow's ``BaseDeploymentClient`` for MLflow's own CLI. Its list returns full records, so a
    refresh reads each record once (``LIST_RETURNS_FULL_RECORDS``).
    """

    LIST_RETURNS_FULL_RECORDS = True
    # It reads the records directory: a name it does not list does not exist.
    LIST_IS_COMPLETE = True
    # Local files, no network: refresh reads its targets one after another.
    RUNS_IN_PROCESS = True
    # The calling thread's changes inside the block are durable at its end (not each on
    # return): one directory fsync for a batch of changes (``record_files.deferred_syncs``).
    DEFERRED_SYNCS = staticmethod(record_files.deferred_syncs)

    def __init__(self, target_uri: str) -> None:
        self.target_uri = target_uri
        self.path = directory_of(target_uri)
        self.records_dir = self.path / RECORDS_DIR
        self._records = os.fspath(self.records_dir)
        self._directory_sync = atomic.directory_sync(self.records_dir)
        self._models: dict[tuple[str, int, str], Any] = {}
        self._models_lock = threading.Lock()

    # -- the deployment API --

    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: str | None = None,
        config: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Record deployment ``name``; raises ``RESOURCE_ALREADY_EXISTS`` if it exists."""
        _no_endpoint(endpoint)
        path = self._record_path(name)
        _check_model_uri(model_uri)
        record_config = _checked_config(config)
        now = _now()
        record = {
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": record_config,
            "status": DEFAULT_STATUS,
            "created_at": now,
            "updated_at": now,
            "revision": 1,
        }
        # Written and fsynced first, then given its name only if the name is free: a hard
        # link fails when it exists, so the one-winner rule needs no lock.
        sync = self._directory_sync
        try:
            staged = record_files.NewRecord(self._records, f"{name}.json", _encoded(record))
        except FileNotFoundError:  # the first record: make the directories
            self.records_dir.mkdir(parents=True, exist_ok=True)
            staged = record_files.NewRecord(self._records, f"{name}.json", _encoded(record))
        with staged, sync.arrivals.coming():
            if not staged.name(path, self._locked):
                raise local_error(
                    f"deployment '{name}' already exists in {self.records_dir}",
                    RESOURCE_ALREADY_EXISTS,
                )
            ticket = sync.ask()
        record_files.synced(sync, ticket)
        return record

    def update_deployment(
        self,
        name: str,
        model_uri: str | None = None,
        flavor: str | None = None,
        config: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """Change the given fields of ``name`` (``None`` = unchanged) and bump its revision."""
        _no_endpoint(endpoint)
        path = self._record_path(name)
        if model_uri is not None:
            _check_model_uri(model_uri)
        new_config = _checked_config(config) if config is not None else None
        sync = self._directory_sync
        with sync.arrivals.coming(), self._locked():
            record = self._read(name, path)
            if model_uri is not None:
                record["model_uri"] = model_uri
            if flavor is not None:
                record["flavor"] = flavor
            if new_config is not None:
                record["config"] = new_config
            record["updated_at"] = _now()
            record["revision"] = int(record.get("revision") or 0) + 1
            record_files.replace(path, _encoded(record))
            ticket = sync.ask()
        record_files.synced(sync, ticket)
        return record

    def delete_deployment(
        self, name: str, config: Mapping[str, Any] | None = None, endpoint: str | None = None
    ) -> None:
        """Remove ``name``; deleting a name that does not exist is not an error."""
        _no_endpoint(endpoint)
        path = self._record_path(name)
        sync = self._directory_sync
        with sync.arrivals.coming(), self._locked():
            try:
                os.unlink(path)
            except FileNotFoundError:
                return
            ticket = sync.ask()
        record_files.synced(sync, ticket)

    def get_deployment(self, name: str, endpoint: str | None = None) -> dict[str, Any]:
        """The full record of ``name``; raises ``RESOURCE_DOES_NOT_EXIST`` if there is none."""
        _no_endpoint(endpoint)
        return self._read(name, self._record_path(name))

    def list_deployments(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The full records of every deployment, sorted by name."""
        _no_endpoint(endpoint)
        try:
            with os.scandir(self.records_dir) as scan:
                # Dot files are temp files of writes in progress (or of a crashed writer).
                entries = sorted(
                    (e.name, e.path) for e in scan if e.name.endswith(".json") and e.name[0] != "."
                )
        except FileNotFoundError:
            return []
        records = []
        for file_name, path in entries:
            try:
                records.append(self._read(file_name[:-5], path))
            except Exception as exc:
                # Deleted between listing the directory and reading it.
                if getattr(exc, "error_code", None) != RESOURCE_DOES_NOT_EXIST:
                    raise
        return records

    def predict(self, deployment_name: str, df: Any, endpoint: str | None = None) -> Any:
        """Score ``df`` with the deployment's model, loaded by ``mlflow.pyfunc.load_model``."""
        _no_endpoint(endpoint)
        record = self.get_deployment(deployment_name)
        try:
            import mlflow.pyfunc  # noqa: F401  (is MLflow installed? load_pyfunc uses it)
        except ImportError as exc:
            raise local_error(
                f"predict on the local target needs MLflow: {MLFLOW_HINT} ({exc})",
                INTERNAL_ERROR,
            ) from exc
        key = (deployment_name, int(record.get("revision") or 0), str(record["model_uri"]))
        with self._models_lock:
            model = self._models.get(key)
        if model is None:
            from deployctl.targets.model_loading import load_pyfunc

            model = load_pyfunc(key[2])  # a failure is one line naming the model and the fix
            with self._models_lock:
                self._models = {k: v for k, v in self._models.items() if k[0] != key[0]}
                self._models[key] = model
        return model.predict(df)

    # -- storage --

    def _record_path(self, name: str) -> str:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise local_error(
                f"'{name}' is not a valid deployment name (it must match {NAME_PATTERN})",
                INVALID_PARAMETER_VALUE,
            )
        return os.path.join(self._records, f"{name}.json")  # a string: no Path per record

    def _read(self, name: str, path: str) -> dict[str, Any]:
        try:
            text = record_files.read_bytes(path)
        except FileNotFoundError:
            raise local_error(
                f"deployment '{name}' does not exist in {self.records_dir}",
                RESOURCE_DOES_NOT_EXIST,
            ) from None
        try:
            record = fast_loads(text)
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            raise local_error(f"{path} is not valid JSON: {exc}", INTERNAL_ERROR) from exc
        if not isinstance(record, dict):
            raise local_error(f"{path} does not hold a deployment record", INTERNAL_ERROR)
        return record

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # flock conflicts between separate opens even within one process, so this serialises
        # threads as well as processes.
        import fcntl

        # A bare descriptor (not inherited by child processes, as os.open makes them): a file
        # object would cost a tty check and seeks on every change.
        flags = os.O_RDWR | os.O_CREAT
        try:
            fd = os.open(self.path / LOCK_FILE, flags, 0o666)
        except FileNotFoundError:  # the first change: make the directories
            self.records_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK_FILE, flags, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _no_endpoint(endpoint: str | None) -> None:
    if endpoint is not None:
        raise local_error("the local target has no endpoints", INVALID_PARAMETER_VALUE)


def _check_model_uri(model_uri: Any) -> None:
    if not isinstance(model_uri, str) or not model_uri:
        raise local_error("model_uri must be a non-empty string", INVALID_PARAMETER_VALUE)


def _checked_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise local_error(
            f"config must be a mapping, not {type(config).__name__}", INVALID_PARAMETER_VALUE
        )
    try:
        return dict(json.loads(json.dumps(dict(config), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise local_error(f"config must be JSON: {exc}", INVALID_PARAMETER_VALUE) from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _encoded(record: Mapping[str, Any]) -> bytes:
    return (indented_json(record, allow_nan=True) + "\n").encode("utf-8")


# -- module functions of a deployment plugin --


def run_local(
    target: str,
    name: str,
    model_uri: str,
    flavor: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Serve ``model_uri`` on this machine with MLflow's pyfunc scoring server (blocks).

    ``config`` may set ``host`` (default 127.0.0.1) and ``port`` (default 5000). The server
    answers ``GET /ping`` and ``POST /invocations`` like ``mlflow models serve``.
    """
    serve_model(model_uri, flavor, config)


def serve_model(model_uri: str, flavor: str | None, config: Mapping[str, Any] | None) -> None:
    """The work of ``run_local``: check what serving needs, load the model, serve until stopped."""
    if flavor not in (None, "python_function", "pyfunc"):
        raise local_error(
            f"the local target serves pyfunc models only, not flavor '{flavor}'",
            INVALID_PARAMETER_VALUE,
        )
    if not _importable("mlflow"):
        raise local_error(f"run_local on the local target needs MLflow: {MLFLOW_HINT}")
    missing = [pkg for pkg in SERVING_PACKAGES if not _importable(pkg)]
    if missing:
        raise local_error(
            "run_local on the local target needs packages that are not installed: "
            f"{', '.join(missing)} (pip install {' '.join(missing)})"
        )
    settings = dict(config or {})
    host = str(settings.get("host") or "127.0.0.1")
    try:
        port = int(settings.get("port") or 5000)
    except (TypeError, ValueError):
        raise local_error(
            f"config port must be a number, not {settings.get('port')!r}", INVALID_PARAMETER_VALUE
        ) from None

    import mlflow.pyfunc
    import uvicorn
    from mlflow.pyfunc import scoring_server

    model = mlflow.pyfunc.load_model(model_uri)
    uvicorn.run(scoring_server.init(model), host=host, port=port, log_level="info")


def _importable(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def target_help() -> str:
    """How to use the local target (shown by ``mlflow deployments help -t local``)."""
    return f"""\
The local target keeps deployments as JSON files in a directory on this machine.

Target URI
  local:/absolute/path   or   local:relative/path
  A relative path in a deployctl manifest is relative to the manifest's folder (uri:
  local:.deployctl/dev in examples/dev.yaml is examples/.deployctl/dev, wherever deployctl
  runs); on a command line (mlflow deployments ... -t local:PATH, deployctl run-local
  --target-uri) it is relative to the current directory.
  Deployments are stored as PATH/{RECORDS_DIR}/<name>.json; PATH is created on first use.

Deployment names
  {NAME_PATTERN} (they become file names).

Record fields
  name, model_uri, flavor, config, status ("{DEFAULT_STATUS}"), created_at, updated_at (UTC,
  ISO 8601) and revision (1 on create, +1 on every update).

Config
  Free-form: any JSON object is stored as given and reported back unchanged. run_local reads
  `host` (default 127.0.0.1) and `port` (default 5000) from it.

Behaviour
  create fails with RESOURCE_ALREADY_EXISTS for an existing name; get and update fail with
  RESOURCE_DOES_NOT_EXIST for a missing one; update changes only the fields given; delete of a
  missing name succeeds.

Concurrency
  Several processes and threads may use one directory at once: every change writes the
  record atomically (temp file, fsync, then its name), so readers never see a partial record;
  updates and deletes hold an exclusive lock on PATH/{LOCK_FILE} (POSIX flock), and a create
  names its record by a hard link, which fails if the name is taken, so of several
  concurrent creates of one name exactly one succeeds. A change returns once it is on disk;
  concurrent changes share the fsync of the directory.

predict and run_local
  predict loads the model with mlflow.pyfunc.load_model; run_local serves it with MLflow's
  scoring server (needs {", ".join(SERVING_PACKAGES)}). Both need MLflow: {MLFLOW_HINT}.
"""
