"""One manifest file, read: its bytes (a regular file of bounded size) as a YAML mapping with
the positions of every key and value.

An environment's manifest and each base it ``extends:`` (``manifest.extends``) are read alike:
a file that cannot be read or is no mapping stops the load, with the reason; problems inside a
readable mapping (a repeated key, a refused value) are issues, reported with every other one.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployctl.errors import DeployctlError, ManifestError, ManifestIssue
from deployctl.manifest.positions import Positions
from deployctl.manifest.validate import describe_container, yaml_type
from deployctl.manifest.yaml_read import parse_yaml

MAX_MANIFEST_BYTES = 32 * 2**20  # 50,000 deployments written out in full take 11 MiB


class Unreadable(Exception):
    """A manifest file cannot be read at all: ``reason`` says why, ``hint`` what to do."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class ManifestFile:
    """A manifest file read as a YAML mapping: ``source`` names it in messages (as given, or
    as ``extends:`` resolved it), ``raw`` is its bytes, ``issues`` what its YAML holds that a
    manifest must not."""

    path: Path
    source: str
    raw: bytes
    data: dict[str, Any]
    positions: Positions
    issues: tuple[ManifestIssue, ...] = field(default=())


def read_manifest_file(path: Path, source: str) -> ManifestFile:
    """The file at ``path`` as a mapping. Raises ``DeployctlError`` when it cannot be read and
    ``ManifestError`` when it is no YAML mapping (a syntax error, an empty file, a list)."""
    try:
        raw = read_bytes(path)
    except Unreadable as error:
        raise DeployctlError(f"{source}: {error.reason}", hint=error.hint) from error
    return parse_manifest_file(path, source, raw)


def parse_manifest_file(path: Path, source: str, raw: bytes) -> ManifestFile:
    """``raw``, the bytes of the file at ``path``, as a mapping; ``ManifestError`` when it is
    no YAML mapping."""
    parsed = parse_yaml(raw, source, describe_container)
    if not parsed.document:
        if parsed.issues:
            raise ManifestError(parsed.issues)
        raise ManifestError.single(
            source, 1, 1, "the manifest is empty: it needs version, environment and targets"
        )
    data = parsed.data
    if not isinstance(data, dict):
        raise ManifestError.single(
            source,
            1,
            1,
            "the manifest must be a mapping with version, environment and targets, "
            f"not {yaml_type(data)}",
        )
    return ManifestFile(path, source, raw, data, parsed.positions, tuple(parsed.issues))


def read_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file of at most ``MAX_MANIFEST_BYTES`` (a FIFO, a device
    such as /dev/zero or a directory is refused at once, before anything is read). Raises
    ``Unreadable``."""
    try:
        with open(path, "rb", opener=_open_nonblocking) as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise Unreadable(
                    "cannot read manifest: not a regular file", "pass the path of a YAML file"
                )
            if info.st_size > MAX_MANIFEST_BYTES:
                raise Unreadable(
                    f"the manifest is {info.st_size:,} bytes, more than the "
                    f"{MAX_MANIFEST_BYTES // 2**20} MiB a manifest may have",
                    "split it into one manifest per environment",
                )
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as error:
        raise Unreadable(f"cannot read manifest: {error.strerror or error}") from error
    if len(raw) > MAX_MANIFEST_BYTES:  # it grew while being read
        raise Unreadable(f"the manifest is more than {MAX_MANIFEST_BYTES // 2**20} MiB")
    return raw


def _open_nonblocking(path: str, flags: int) -> int:
    # O_NONBLOCK: opening a FIFO without a writer must not hang (it is refused right after).
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
