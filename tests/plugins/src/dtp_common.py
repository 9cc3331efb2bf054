"""Storage, fault injection and the call log shared by deployctl's test plugins.

Each plugin keeps one JSON file per deployment under ``DIR/records`` (DIR is the path of the
target URI ``scheme:/abs/dir``), reads ``DIR/faults.json`` on every call and appends each call
to ``DIR/calls.jsonl``. No MLflow import here: ``dtp_seed`` and ``dtp_paged`` must work without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

RECORDS = "records"
FAULTS = "faults.json"
CALLS = "calls.jsonl"
EXIT_CODE = 137
# run_local receives no target directory in most of its forms: tests name a file to log it in.
RUN_LOCAL_LOG = "DTP_RUN_LOCAL_LOG"


class InjectedFault(RuntimeError):
    """A failure asked for in faults.json."""


def directory_of(target_uri: str) -> Path:
    path = urlparse(target_uri).path
    if not path:
        raise ValueError(f"test plugin target URIs look like scheme:/abs/dir, not {target_uri!r}")
    return Path(path)


def write_faults(directory: str | os.PathLike[str], faults: dict[str, Any]) -> None:
    """Replace the faults of the target in ``directory`` (takes effect on the next call)."""
    _write_json(Path(directory) / FAULTS, faults)


def read_calls(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every call logged so far: method, name, args, kwargs, start, end, pid, thread, outcome."""
    try:
        lines = (Path(directory) / CALLS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def record_run_local(received: dict[str, Any]) -> dict[str, Any]:
    """Append what a ``run_local`` received to ``$DTP_RUN_LOCAL_LOG`` (if set); return it."""
    log = os.environ.get(RUN_LOCAL_LOG)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({k: _jsonable(v) for k, v in received.items()}) + "\n")
    return received


def read_run_local(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """What each ``run_local`` logged in ``path`` received, in order."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def max_concurrent_calls(calls: list[dict[str, Any]]) -> int:
    """The most calls that were in progress at one moment."""
    events = sorted(
        [(c["start"], 1) for c in calls] + [(c["end"], -1) for c in calls],
        key=lambda e: (e[0], e[1]),
    )
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Store:
    """The files of one test target."""

    def __init__(self, target_uri: str) -> None:
        self.dir = directory_of(target_uri)
        self.records = self.dir / RECORDS

    # -- faults and the call log --

    def faults(self) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / FAULTS).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    @contextlib.contextmanager
    def call(
        self, method: str, name: str | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Log the call, apply ``sleep`` and ``fail`` faults, yield the faults."""
        faults = self.faults()
        start = time.time()
        outcome = "ok"
        try:
            sleep = faults.get("sleep")
            if isinstance(sleep, dict):
                sleep = sleep.get(method)
            if sleep:
                time.sleep(float(sleep))
            fail = (faults.get("fail") or {}).get(method)
            if fail is True or (isinstance(fail, list) and name in fail):
                raise InjectedFault(f"injected failure: {method} {name or ''}".strip())
            yield faults
        except BaseException as exc:
            outcome = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._log(method, name, args, kwargs, start, outcome)

    def exit_after(self, faults: dict[str, Any], method: str, name: str) -> None:
        """Crash (``os._exit(137)``) if faults.json asks for it after ``method`` on ``name``."""
        names = (faults.get("exit_after") or {}).get(method) or []
        if names is True or name in names:
            self._log(method, name, (), {}, time.time(), "exit")
            os._exit(EXIT_CODE)

    def _log(
        self,
        method: str,
        name: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        start: float,
        outcome: str,
    ) -> None:
        entry = {
            "method": method,
            "name": name,
            "args": [_jsonable(a) for a in args],
            "kwargs": {k: _jsonable(v) for k, v in kwargs.items()},
            "start": start,
            "end": time.time(),
            "pid": os.getpid(),
            "thread": threading.get_ident(),
            "outcome": outcome,
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        # One write of one line with O_APPEND: lines from concurrent callers do not interleave.
        fd = os.open(self.dir / CALLS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    # -- records --

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def read(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.records / f"{name}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def write(self, name: str, record: dict[str, Any]) -> None:
        _write_json(self.records / f"{name}.json", record)

    def remove(self, name: str) -> bool:
        try:
            (self.records / f"{name}.json").unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        try:
            entries = sorted(self.records.iterdir())
        except FileNotFoundError:
            return []
        return [e.stem for e in entries if e.suffix == ".json" and not e.name.startswith(".")]

    def visible_names(self, faults: dict[str, Any]) -> list[str]:
        hidden = set(faults.get("hide_from_list") or [])
        return [n for n in self.names() if n not in hidden]
