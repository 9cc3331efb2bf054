"""``extends:``: an environment's manifest deep-merged over the base manifests it names.

``extends: base.yaml`` (relative to the manifest's folder) names a base; a base may extend
another (a chain), never itself through any number of links (a cycle is an error naming the
chain). The files are merged from the deepest base up, each over the one below it, with
``deep_merge``: mappings merge key by key and the file nearer the environment wins; lists and
scalars are replaced whole. Three top-level fields are exceptions: ``environment`` is only ever
the environment file's own (never inherited), ``state`` is taken whole from the nearest file
that declares it (a ``url`` and a ``path`` never mix), and ``extends`` itself is no part of the
result. Interpolation and validation run on the merged data (``manifest.loader``), so a base may
use variables that its environments declare.

Every message still names the file, line and column where the offending value was written:
:class:`LayeredPositions` answers each lookup from the file whose value the merge kept. The
digest of a manifest with bases (``manifest_digest``) covers every file of the chain, so a
saved plan goes stale when a base changes.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployctl.errors import ManifestError, ManifestIssue
from deployctl.manifest.files import ManifestFile, Unreadable, parse_manifest_file, read_bytes
from deployctl.manifest.positions import JSONPath, Position, Positions
from deployctl.manifest.validate import describe_container, show, yaml_type
from deployctl.manifest.yaml_read import parse_yaml

EXTENDS = "extends"
NEVER_INHERITED = "environment"
"""Only the environment's own file names its environment."""
TAKEN_WHOLE = frozenset({"state"})
"""Top-level fields taken whole from the nearest file that declares them, never merged."""

_RELATIVE = "a path in extends: is relative to the folder of the manifest that writes it"


def _copy(value: Any) -> Any:
    """A deep copy of JSON data, so no two deployments share a mutable config."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge recursively, anything else is replaced."""
    merged = {key: _copy(value) for key, value in base.items()}
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = _copy(value)
    return merged


@dataclass(frozen=True)
class Layered:
    """An environment's manifest merged over its bases: the merged ``data``, where each of its
    values was written (``positions``), every file read (the environment's first, then each
    base in the order the chain names them) and the issues their YAML holds."""

    data: dict[str, Any]
    positions: Positions
    files: tuple[ManifestFile, ...]
    issues: tuple[ManifestIssue, ...]

    @property
    def sha256(self) -> str:
        return chain_digest([file.raw for file in self.files])


def read_bases(top: ManifestFile) -> Layered:
    """``top`` (whose data has ``extends:``) merged over the chain of bases it names.

    Raises ``ManifestError`` when the chain cannot be followed: an ``extends:`` that is no
    path, a base that cannot be read or is no mapping, a cycle. Its issues also hold those of
    the files read so far.
    """
    files = [top]
    issues = list(top.issues)
    seen = {_identity(top.path): top.source}
    current = top
    while EXTENDS in current.data:
        where = current.positions.value((EXTENDS,))
        text = current.data[EXTENDS]
        if not isinstance(text, str) or not text.strip():
            wrong = "empty" if isinstance(text, str) else yaml_type(text)
            issues.append(
                where.issue(
                    f"extends must be the path of a base manifest, not {wrong} "
                    f"(e.g. extends: base.yaml; {_RELATIVE})"
                )
            )
            raise ManifestError(issues)
        path, source = _resolve(current.path, current.source, text)
        identity = _identity(path)
        if identity in seen:
            chain = " → ".join([*(file.source for file in files), source])
            message = f"extends: the manifests extend each other in a cycle: {chain}"
            issues.append(where.issue(message))
            raise ManifestError(issues)
        try:
            base = parse_manifest_file(path, source, read_bytes(path))
        except Unreadable as error:
            message = f"extends: cannot read base {source}: {error.reason}"
            issues.append(where.issue(f"{message} ({error.hint or _RELATIVE})"))
            raise ManifestError(issues) from error
        except ManifestError as error:
            raise ManifestError([*issues, *error.issues]) from error
        seen[identity] = source
        files.append(base)
        issues.extend(base.issues)
        current = base
    issues.extend(_inherited_environment(files))
    return Layered(merge(files), LayeredPositions(files), tuple(files), tuple(issues))


def _resolve(path: Path, source: str, text: str) -> tuple[Path, str]:
    """The base that ``extends: text`` names in the file at ``path``, and how messages name it
    (``source`` is how they name that file: the base is named relative to the same place)."""
    written = os.path.expanduser(text)
    if os.path.isabs(written):
        return Path(written), os.path.normpath(written)
    return path.parent / written, os.path.normpath(os.path.join(os.path.dirname(source), written))


def _identity(path: Path) -> str:
    """One name per file, whatever path leads to it (symbolic links, ``..``)."""
    return os.path.realpath(path)


def _inherited_environment(files: Sequence[ManifestFile]) -> list[ManifestIssue]:
    """A base's ``environment:`` when the environment's file has none: it is not inherited,
    and the schema's "missing required field" alone would not say why."""
    top = files[0]
    if NEVER_INHERITED in top.data:
        return []
    for base in files[1:]:
        if NEVER_INHERITED in base.data:
            where = base.positions.key((NEVER_INHERITED,))
            message = (
                f"environment {show(base.data[NEVER_INHERITED])} of base {base.source} is not "
                f"inherited: {top.source} must name its own environment (environment: NAME)"
            )
            return [where.issue(message)]
    return []


def merge(files: Sequence[ManifestFile]) -> dict[str, Any]:
    """The data of ``files`` (the environment's first, then its bases) merged, each file over
    the ones after it."""
    merged: dict[str, Any] = {}
    for index in range(len(files) - 1, -1, -1):
        data = files[index].data
        layer = {
            key: value
            for key, value in data.items()
            if key != EXTENDS and (key != NEVER_INHERITED or index == 0)
        }
        for key in TAKEN_WHOLE & layer.keys():
            merged.pop(key, None)
        merged = deep_merge(merged, layer)
    return merged


class _Missing:
    pass


_MISSING = _Missing()


def _child(value: Any, part: str | int) -> Any:
    if isinstance(value, dict) and isinstance(part, str):
        return value.get(part, _MISSING)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return _MISSING


class LayeredPositions:
    """:class:`Positions` of merged data, each looked up in the file whose value ``merge`` kept.

    Walking a path down from the top, the files that have each prefix are followed while their
    values there are mappings (they merge); the first file whose value is a list or a scalar
    owns everything below it (it replaced the others). A path no file has is looked up in the
    file of its nearest ancestor, which falls back to where that ancestor was written.
    """

    def __init__(self, files: Sequence[ManifestFile]) -> None:
        self._files = tuple(files)

    def _owner(self, path: JSONPath) -> Positions:
        top = self._files[0]
        layers: list[tuple[ManifestFile, Any]] = [(file, file.data) for file in self._files]
        owner = top
        for depth, part in enumerate(path):
            having = [
                (file, child)
                for file, value in layers
                if not isinstance(child := _child(value, part), _Missing)
            ]
            if depth == 0 and part == NEVER_INHERITED:
                having = [(file, value) for file, value in having if file is top]
            elif depth == 0 and (part in TAKEN_WHOLE or part == EXTENDS):
                having = having[:1]
            if not having:
                break
            owner = having[0][0]
            if not isinstance(having[0][1], dict):
                break
            layers = []
            for file, value in having:
                if not isinstance(value, dict):
                    break  # replaced by the mappings above it
                layers.append((file, value))
        return owner.positions

    def value(self, path: JSONPath) -> Position:
        return self._owner(path).value(path)

    def key(self, path: JSONPath) -> Position:
        return self._owner(path).key(path)

    def written_key(self, path: JSONPath) -> Position | None:
        return self._owner(path).written_key(path)


# -- digests -----------------------------------------------------------------------------------

_WITH_BASES = b"deployctl manifest with bases\n"


def chain_digest(raws: Sequence[bytes]) -> str:
    """The SHA-256 a plan records for a manifest: of its bytes alone when it has no base, else
    of every file of the chain (the environment's first), so that a change to any of them
    makes a saved plan stale."""
    if len(raws) == 1:
        return hashlib.sha256(raws[0]).hexdigest()
    digest = hashlib.sha256(_WITH_BASES)
    for raw in raws:
        digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()


def manifest_digest(path: str | os.PathLike[str]) -> str:
    """``chain_digest`` of the manifest at ``path`` and of the bases it extends, as they are
    now (what ``load_manifest`` recorded as ``Manifest.sha256`` if nothing changed since).
    Raises ``OSError`` when the manifest or one of its bases cannot be read."""
    top = Path(path).read_bytes()
    return chain_digest([top, *(raw for _, raw in _bases(Path(path), str(path), top, True))])


def base_paths(path: str | os.PathLike[str]) -> list[Path]:
    """The bases the manifest at ``path`` extends, directly or through other bases (as far as
    the chain can be followed: a file that cannot be read or parsed ends it quietly)."""
    try:
        raw = read_bytes(Path(path))
    except Unreadable:
        return []
    return [base for base, _ in _bases(Path(path), str(path), raw, False)]


def _bases(path: Path, source: str, raw: bytes, strict: bool) -> Iterator[tuple[Path, bytes]]:
    """Each base of the chain from the file at ``path`` (whose bytes are ``raw``) with its
    bytes, each file read for its ``extends:`` only. Ends at a file that has none or cannot be
    parsed, and at a cycle; at a base that cannot be read too, unless ``strict``: then that
    raises ``OSError``."""
    seen = {_identity(path)}
    while _may_extend(raw):
        parsed = parse_yaml(raw, source, describe_container)
        data = parsed.data if parsed.document else None
        text = data.get(EXTENDS) if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            return
        path, source = _resolve(path, source, text)
        if _identity(path) in seen:
            return
        seen.add(_identity(path))
        try:
            raw = read_bytes(path)
        except Unreadable as error:
            if strict:
                raise OSError(errno.ENOENT, f"{source}: {error.reason}") from error
            return
        yield path, raw


def _may_extend(raw: bytes) -> bool:
    """Whether ``raw`` may hold ``extends:`` (most manifests are not parsed at all). A UTF-16
    document (PyYAML reads those too) is assumed to."""
    return raw[:2] in (b"\xff\xfe", b"\xfe\xff") or EXTENDS.encode() in raw
