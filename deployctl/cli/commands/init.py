"""``deployctl init``: scaffold a repository for deployctl.

It writes one manifest per environment (``environments/dev.yaml``, ``staging.yaml``,
``prod.yaml``) over a shared ``environments/base.yaml`` that each ``extends``, with a ``state:``
declaration and the built-in ``local`` target (so that everything works on a fresh machine), and
CI workflows for GitHub Actions and GitLab CI that plan on pull requests and apply the saved plan
on release.

The files are templates shipped in the package (``deployctl/templates/init``), written as they
are but for two rules: a path component ``dot-NAME`` is written ``.NAME`` (package-data globs do
not match dot-files), and ``@SCHEMA_URL@`` and ``@DEPLOYCTL_VERSION@`` become the manifest
schema's ``$id`` (read from the shipped schema, for editors' ``yaml-language-server`` line) and
this deployctl's version (pinned in the CI jobs' install). Nothing is overwritten unless
``--force``: the files that exist are listed and nothing is written.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from deployctl.cli import options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import UsageError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

TEMPLATES = ("templates", "init")
DOT_PREFIX = "dot-"
MODELINE = "# yaml-language-server: $schema=@SCHEMA_URL@\n"


@dataclass(frozen=True)
class ScaffoldFile:
    """One file ``init`` writes: its path relative to the repository, and its text."""

    path: PurePosixPath
    text: str


def scaffold() -> list[ScaffoldFile]:
    """Every file of the scaffold, rendered, in path order."""
    from importlib import resources  # here: it imports tempfile and zipfile (init only)

    from deployctl import __version__

    root = resources.files("deployctl").joinpath(*TEMPLATES)
    schema_url = _schema_url()
    files = []
    for parts, template in _walk(root, ()):
        text = template.read_text(encoding="utf-8")
        if schema_url is None:  # a schema without an $id: no line for editors to follow
            text = text.replace(MODELINE, "")
        text = text.replace("@SCHEMA_URL@", schema_url or "")
        text = text.replace("@DEPLOYCTL_VERSION@", __version__)
        files.append(ScaffoldFile(PurePosixPath(*(_destination(p) for p in parts)), text))
    return sorted(files, key=lambda f: f.path.parts)


def _walk(
    node: Traversable, parts: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for child in node.iterdir():
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            yield from _walk(child, (*parts, child.name))
        else:
            yield (*parts, child.name), child


def _destination(part: str) -> str:
    return "." + part.removeprefix(DOT_PREFIX) if part.startswith(DOT_PREFIX) else part


def _schema_url() -> str | None:
    from deployctl.manifest.schema import manifest_schema

    url = manifest_schema().get("$id")
    return url if isinstance(url, str) and url else None


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(
            f"{directory} is not a directory", hint="name a directory to scaffold, or leave it out"
        )
    files = scaffold()
    existing = [f.path for f in files if os.path.lexists(directory / f.path)]
    if existing and not args.force:
        names = ", ".join(str(p) for p in existing)
        raise UsageError(
            f"{directory} already has {len(existing)} of the files init writes: {names}",
            hint="move them away, or pass --force to overwrite them",
        )
    for file in files:
        _write(directory / file.path, file.text, overwrite=args.force)
    _report(directory, files, existing)
    return ExitCode.OK


def _write(path: Path, text: str, *, overwrite: bool) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # "x" refuses a file that appeared since the check; --force replaces it.
        with open(path, "w" if overwrite else "x", encoding="utf-8", newline="\n") as f:
            f.write(text)
    except FileExistsError as exc:
        raise UsageError(
            f"{path} appeared while init was writing", hint="pass --force to overwrite it"
        ) from exc
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror}",
            hint="check that the directory is writable and that no directory has that name",
        ) from exc


def _report(directory: Path, files: list[ScaffoldFile], overwritten: list[PurePosixPath]) -> None:
    replaced = set(overwritten)
    where = "the current directory" if directory == Path() else str(directory)
    lines = [f"Wrote {len(files)} files in {where}:"]
    lines += [f"  {f.path}{'  (overwritten)' if f.path in replaced else ''}" for f in files]
    dev = directory / "environments" / "dev.yaml"
    lines += [
        "",
        "Next steps:",
        "  1. Try it on this machine (the built-in local target; state in state/):",
        f"       deployctl plan -f {shlex.quote(str(dev))}",
        f"       deployctl apply -f {shlex.quote(str(dev))}",
        "  2. Put your targets and deployments in environments/base.yaml (what every environment",
        "     shares) and in each environment's file (what differs).",
        "  3. Before CI runs: point each environment's state: at PostgreSQL or S3 (CI jobs do not",
        "     keep local files), keep the workflow of your CI (.github/workflows/deployctl.yml or",
        "     .gitlab-ci.yml) and set what its comments ask for.",
        "  4. Commit, and open a pull request: its plan appears as a comment.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "init",
        help="scaffold a repository: environment manifests over a shared base, and CI workflows",
    )
    p.add_argument(
        "directory",
        nargs="?",
        default=".",
        metavar="DIR",
        help="where to write the files (default: the current directory; created if missing)",
    )
    p.add_argument(
        "--force", action="store_true", help="overwrite files that exist (default: refuse)"
    )
    p.set_defaults(handler=run)
