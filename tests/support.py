"""Helpers shared by the tests: running the CLI, manifest text, optional components.

``run_cli`` runs ``deployctl`` in this process (fast: no interpreter start-up, no re-import);
``run_process`` runs the installed console script in a child process, for what only a real
process shows: signals, a crash that kills the process, a lock held by another process, a
terminal, the console script itself and a fresh interpreter's imports.

Optional components skip locally when missing, but FAIL in CI (env ``CI`` set):
``require_mlflow()`` for tests that need mlflow-skinny; ``require_test_plugins()`` for tests that
use the ``deployctl-test-plugins`` distribution (``pip install ./tests/plugins``), which also
fails when the installed copy differs from ``tests/plugins/src`` (reinstall after edits).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, TextIO

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PLUGINS_SRC = REPO / "tests" / "plugins" / "src"
INSTALL_PLUGINS = "pip install ./tests/plugins"

# DEPLOYCTL_TEST_CLI=process: run_cli runs a process too (slow; to compare the two ways).
CLI_MODE = "DEPLOYCTL_TEST_CLI"

# What every CLI run sees on top of the test's environment: plain text, wide lines.
CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "200"}


# -- manifests -------------------------------------------------------------------------------------

Fields = Mapping[str, Any]


def manifest(
    deployments: Mapping[str, str | Fields] | None = None,
    *,
    defaults: Fields | None = None,
    targets: Mapping[str, str | Fields] | None = None,
    environment: str = "dev",
    variables: Mapping[str, Any] | None = None,
) -> str:
    """Manifest YAML text, in block style as a person writes it.

    By default one target, ``local`` at ``local:.deployctl/<environment>`` (next to the
    manifest), with ``deployments`` (default: ``churn`` at ``models:/churn/3``) and
    ``defaults``. ``targets`` replaces that target: name -> URI, or -> fields with ``uri`` and
    optionally ``fields``, ``defaults`` and ``deployments``. A deployment is a model URI or its
    fields. Values are written as YAML: mappings and lists in flow style, strings plain unless
    YAML would read them as something else.
    """
    if targets is None:
        local: dict[str, Any] = {"uri": f"local:.deployctl/{environment}"}
        if defaults is not None:
            local["defaults"] = defaults
        local["deployments"] = {"churn": "models:/churn/3"} if deployments is None else deployments
        targets = {"local": local}
    elif deployments is not None or defaults is not None:
        raise TypeError("give deployments and defaults inside targets=, or leave targets out")
    lines = ["version: 1", f"environment: {environment}"]
    if variables:
        lines.append("variables:")
        lines.extend(f"  {name}: {_yaml(value)}" for name, value in variables.items())
    lines.append("targets:" if targets else "targets: {}")
    for name, target in targets.items():
        spec: Fields = {"uri": target} if isinstance(target, str) else target
        lines.append(f"  {name}:")
        lines.extend(f"    {key}: {_yaml(spec[key])}" for key in ("uri", "fields") if key in spec)
        if "defaults" in spec:
            lines.append("    defaults:")
            lines.extend(f"      {key}: {_yaml(value)}" for key, value in spec["defaults"].items())
        named: Mapping[str, str | Fields] = spec.get("deployments", {})
        lines.append("    deployments:" if named else "    deployments: {}")
        for deployment, fields in named.items():
            lines.append(f"      {deployment}:")
            if isinstance(fields, str):
                fields = {"model_uri": fields}
            lines.extend(f"        {key}: {_yaml(value)}" for key, value in fields.items())
    return "\n".join(lines) + "\n"


def deployments(count: int, model: str = "models:/m/{i}") -> dict[str, str]:
    """``d0`` .. ``d<count - 1>``, each at ``model`` with ``{i}`` replaced by its index."""
    return {f"d{i}": model.replace("{i}", str(i)) for i in range(count)}


# Strings YAML reads back as the same string when written plain (in flow style: no braces).
_PLAIN = re.compile(r"[A-Za-z_./$-][A-Za-z0-9_./:@${}-]*")
_NOT_STRINGS = {"true", "false", "yes", "no", "on", "off", "null", ".inf", "-.inf", ".nan"}


def _yaml(value: Any, *, flow: bool = False) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_yaml(v, flow=True)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(v, flow=True) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if not isinstance(value, str):
        return str(value)
    plain = _PLAIN.fullmatch(value) and value.lower() not in _NOT_STRINGS
    if plain and not value.endswith(":") and not (flow and ("{" in value or "}" in value)):
        return value
    return json.dumps(value)  # a YAML double-quoted string


# The smallest useful manifest: one deployment on a local target next to the manifest.
ONE_DEPLOYMENT = manifest()


def write_manifest(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- optional components ---------------------------------------------------------------------------


def without_mlflow(directory: Path) -> dict[str, str]:
    """Environment overrides under which ``import mlflow`` fails, as on a machine without the
    ``[mlflow]`` extra (a ``sitecustomize`` written to ``directory`` hides it). For
    ``run_process`` only: this process may have imported mlflow already."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text("import sys\nsys.modules['mlflow'] = None\n")
    return {"PYTHONPATH": f"{directory}{os.pathsep}{REPO}"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


def require_program(name: str, install: str) -> str:
    """The path of the program ``name``; skips without it, except in CI where that is a failure
    (``.ci/run`` installs it)."""
    found = shutil.which(name)
    if found is None:
        _missing(f"{name} is not installed ({install})")
        raise AssertionError("unreachable")  # skip/fail raise
    return found


def require_mlflow() -> ModuleType:
    """The ``mlflow`` module; skips without it, except in CI where that is a failure."""
    try:
        import mlflow
    except ImportError:
        _missing("mlflow is not installed (pip install 'deployctl[test]')")
        raise  # unreachable: skip/fail raise
    return mlflow


def require_test_plugins() -> None:
    """Skip (fail in CI) without the test plugins; fail when the installed copy is stale."""
    problem = _test_plugins_problem()
    if problem is None:
        return
    if problem.startswith("stale:"):
        pytest.fail(f"{problem[6:]}: reinstall with `{INSTALL_PLUGINS}`")
    _missing(f"{problem}: install with `{INSTALL_PLUGINS}`")


@functools.cache
def _test_plugins_problem() -> str | None:
    try:
        metadata.distribution("deployctl-test-plugins")
    except metadata.PackageNotFoundError:
        return "deployctl-test-plugins is not installed"
    for source in sorted(PLUGINS_SRC.rglob("*.py")):
        module = ".".join(source.relative_to(PLUGINS_SRC).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        spec = importlib.util.find_spec(module)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        if origin is None or not origin.exists():
            return f"stale:the installed test plugins have no module {module}"
        if origin.resolve() != source.resolve() and origin.read_bytes() != source.read_bytes():
            return f"stale:the installed {module} differs from {source}"
    return None


# -- running the CLI -------------------------------------------------------------------------------


def deployctl_script() -> str:
    """The installed ``deployctl`` console script next to this interpreter."""
    script = Path(sys.executable).parent / "deployctl"
    if script.exists():
        return str(script)
    found = shutil.which("deployctl")
    if found is None:
        pytest.fail("the deployctl console script is not installed (pip install -e .)")
    return found


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_process(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run the installed console script in a child process (stdin a pipe, never a terminal)."""
    proc = subprocess.run(
        [deployctl_script(), *args],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, **CLI_ENV, **(env or {})},
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_cli(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run ``deployctl ARGS`` in this process, as the console script would run it.

    The same as ``run_process`` for everything a test can see: the current directory is
    ``cwd``; the environment is this one plus ``CLI_ENV`` and ``env``; stdin is ``stdin`` (not
    a terminal); stdout and stderr are captured as from a pipe (UTF-8 or ``PYTHONIOENCODING``,
    read back as ``subprocess`` reads them);
    a ``SystemExit`` (argparse errors, ``--help``, ``--version``) becomes its exit code, and an
    exception that escapes ``main`` prints its traceback and gives 1, as in a process; log
    records of WARNING and above are printed on stderr, as an unconfigured process prints them.
    All of that (and ``sys.argv``, signal handlers, the plugin module caches) is put back
    afterwards, so no run sees what an earlier one left.

    ``timeout`` applies to ``run_process`` only. ``DEPLOYCTL_TEST_CLI=process`` in the
    environment makes every ``run_cli`` a ``run_process``, to check that a test means the same
    both ways. A plugin that calls ``os._exit`` (the ``exit_after`` fault) needs
    ``run_process``: here it fails the test instead of ending pytest.
    """
    if os.environ.get(CLI_MODE) == "process":
        return run_process(*args, cwd=cwd, stdin=stdin, env=env, timeout=timeout)
    from deployctl.cli.main import main

    environ = {**os.environ, **CLI_ENV, **(env or {})}
    stdout, stderr = _Capture(environ), _Capture(environ, stderr=True)
    exits: list[int] = []
    with _cli_process(args, cwd, environ, io.StringIO(stdin or ""), stdout, stderr, exits):
        try:
            code = _exit_status(main(list(args)))
        except SystemExit as exc:
            code = _exit_status(exc.code)
        except _ProcessExit:
            code = exits[0]
        except BaseException:  # as the interpreter reports an uncaught exception
            traceback.print_exc()
            code = 1
    if exits:
        pytest.fail(
            f"deployctl {' '.join(args)}: a plugin called os._exit({exits[0]}), which would have "
            "ended pytest; run this command with run_process (a real process) instead"
        )
    return Result(code, stdout.text(), stderr.text())


class _Capture(io.TextIOWrapper):
    """A text stream into memory, not a terminal: a pipe to a parent process as Python sets it
    up (UTF-8, or ``PYTHONIOENCODING``; stderr escapes what its encoding lacks)."""

    def __init__(self, environ: Mapping[str, str], *, stderr: bool = False) -> None:
        encoding, _, errors = environ.get("PYTHONIOENCODING", "").partition(":")
        super().__init__(
            io.BytesIO(),
            encoding=encoding or "utf-8",
            errors="backslashreplace" if stderr else errors or "strict",
            write_through=True,
        )

    def text(self) -> str:
        self.flush()
        data = self.buffer.getvalue()  # type: ignore[attr-defined]
        # Decoded as subprocess.run(text=True) decodes: UTF-8, universal newlines.
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()


class _ProcessExit(BaseException):
    """``os._exit`` called during an in-process run."""


def _exit_status(code: object) -> int:
    """The process exit status for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code)  # an IntEnum member becomes a plain int
    sys.stderr.write(f"{code}\n")
    return 1


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _cli_process(
    args: tuple[str, ...],
    cwd: Path,
    environ: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    exits: list[int],
) -> Iterator[None]:
    """This process dressed up as a new ``deployctl`` process, and undressed afterwards.

    ``os._exit`` records its status in ``exits`` and raises ``_ProcessExit`` instead.
    """
    saved_cwd = os.getcwd()
    saved_env = dict(os.environ)
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_argv = sys.argv
    saved_tempdir = tempfile.tempdir
    saved_handlers = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    root = logging.getLogger()
    saved_logging = (list(root.handlers), root.level)
    saved_exit = os._exit

    def exit_now(status: int) -> NoReturn:
        exits.append(status)
        raise _ProcessExit(status)

    _forget_plugin_caches()
    # As in a new process, the root logger has no handlers (pytest's capture handlers are set
    # aside), so warnings reach stderr through logging.lastResort.
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    os.environ.update(environ)
    tempfile.tempdir = None  # a TMPDIR in ``env`` decides where crash logs go, as in a process
    os.chdir(cwd)
    sys.argv = [str(Path(sys.executable).parent / "deployctl"), *args]
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    os._exit = exit_now
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit = saved_exit
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        tempfile.tempdir = saved_tempdir
        for key in set(os.environ) - set(saved_env):
            del os.environ[key]
        for key, value in saved_env.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        for sig, handler in saved_handlers.items():
            if signal.getsignal(sig) is not handler and handler is not None:
                signal.signal(sig, handler)
        root.handlers[:] = saved_logging[0]
        root.setLevel(saved_logging[1])
        _forget_plugin_caches()


def _forget_plugin_caches() -> None:
    """Empty deployctl's per-process caches of plugin modules and of client call shapes.

    Found by name in whichever ``deployctl.targets`` module holds them, so that moving one
    between modules does not silently keep it across runs.
    """
    for name, module in list(sys.modules.items()):
        if name.startswith("deployctl.targets."):
            for attribute in _PLUGIN_CACHES:
                cache = getattr(module, attribute, None)
                if isinstance(cache, dict):
                    cache.clear()


# Module-level caches a new process starts without: plugin modules by name, call shapes by class,
# installed targets by scheme.
_PLUGIN_CACHES = ("_modules", "_shapes", "_plugins")


def run_threads(count: int, body: Callable[[int], None]) -> list[BaseException]:
    """Run ``body(i)`` in ``count`` threads started together (a barrier); the exceptions they
    raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            body(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def typed(value: Any) -> Any:
    """``value`` with the type of every scalar beside it: ``1``, ``1.0`` and ``True`` differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


class JournalSyncs:
    """The state journal's fdatasyncs, watched (``monkeypatch``): the journal's size at each,
    noted once the sync returned (so ``durable`` is what is on disk), each slowed by ``delay``
    seconds first (to let threads pile up behind it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, delay: float = 0.0) -> None:
        import time

        from deployctl.state import journal

        self.sizes: list[int] = []
        real = journal._datasync

        def datasync(fd: int) -> None:
            size = os.fstat(fd).st_size
            if delay:
                time.sleep(delay)
            real(fd)
            self.sizes.append(size)

        monkeypatch.setattr(journal, "_datasync", datasync)

    def durable(self, journal: Path) -> bytes:
        """The journal's bytes known to be on disk."""
        return journal.read_bytes()[: max(self.sizes, default=0)]
