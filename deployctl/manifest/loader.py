"""Loading a manifest file into the frozen desired model.

The pipeline is read -> YAML with positions -> bases merged in (``extends:``) -> variables and
interpolation -> schema -> target checks -> build. Every stage collects issues instead of
raising, so one ``ManifestError`` reports every problem of the file (and of its bases) at once;
only a file that cannot be read or parsed at all, or a chain of bases that cannot be followed,
stops early.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from deployctl.errors import ManifestError, ManifestIssue
from deployctl.manifest.extends import EXTENDS, chain_digest, deep_merge, read_bases
from deployctl.manifest.files import MAX_MANIFEST_BYTES, read_manifest_file
from deployctl.manifest.interpolate import Interpolator, Variables, resolve_variables
from deployctl.manifest.model import (
    UPDATE_IN_PLACE,
    DesiredDeployment,
    Manifest,
    SourceLocation,
    StateSetting,
    TargetSpec,
)
from deployctl.manifest.positions import JSONPath, Positions
from deployctl.manifest.registry import model_uri_issues
from deployctl.manifest.secrets import env_paths_by_owner, sensitive_fields
from deployctl.manifest.validate import validate_manifest
from deployctl.model import DeploymentSpec, JSONValue, Lifecycle, target_scheme
from deployctl.model.calls import (
    CLIENT_SHARED,
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF,
    DEFAULT_READ_TIMEOUT,
    MAX_BACKOFF,
    MAX_TIMEOUT,
    CallPolicy,
    format_duration,
    parse_duration,
)
from deployctl.model.smoke_spec import ROLLBACK_NEVER, SmokeSpec

LOCAL_SCHEME = "local"
__all__ = ["MAX_MANIFEST_BYTES", "load_manifest"]


def load_manifest(
    path: str | os.PathLike[str],
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Manifest:
    """Read, validate and interpolate the manifest at ``path`` (merged over the bases it
    ``extends:``, see ``manifest.extends``).

    ``variables`` are ``--var NAME=VALUE`` overrides (strings, converted to each declared
    variable's type); ``environ`` is what ``${env.NAME}`` reads (``os.environ`` by default).
    Raises ``ManifestError`` with every problem found, or ``DeployctlError`` when the file cannot
    be read.
    """
    source = str(path)
    manifest_path = Path(path)
    top = read_manifest_file(manifest_path, source)
    data: dict[str, Any]
    if EXTENDS in top.data:
        layered = read_bases(top)
        data, positions, issues = layered.data, layered.positions, list(layered.issues)
        sha256 = layered.sha256
        may_refer = True
    else:
        data, positions, issues = top.data, top.positions, list(top.issues)
        sha256 = chain_digest([top.raw])
        # No "${" in the text, no escape that could write one, and not UTF-16 or UTF-32 (NUL
        # bytes): nothing to expand (walking every value costs a tenth of the reading).
        may_refer = any(mark in top.raw for mark in (b"${", b"\\", b"\0"))
    unexpanded: set[JSONPath] = set()
    env_paths: dict[JSONPath, set[str]] = {}

    resolved = resolve_variables(
        data.get("variables"), variables or {}, positions, source, manifest_path.name
    )
    issues.extend(resolved.issues)
    if "targets" in data and may_refer:
        interpolator = Interpolator(resolved, os.environ if environ is None else environ, positions)
        data = {**data, "targets": interpolator.expand_tree(data["targets"], ("targets",))}
        issues.extend(interpolator.issues)
        unexpanded = interpolator.unexpanded
        env_paths = interpolator.env_paths

    issues.extend(validate_manifest(data, positions, source, unexpanded))
    issues.extend(_target_issues(data, positions))
    issues.extend(_state_issues(data, positions))
    issues.extend(model_uri_issues(data, positions))
    if issues:
        # The same node can be reached twice (aliases, merge keys): say each thing once.
        raise ManifestError(list(dict.fromkeys(issues)))
    folder = _folders(positions, EXTENDS in top.data, manifest_path)
    return _build(data, resolved, positions, manifest_path, sha256, env_paths, folder)


Folder = Callable[[JSONPath], Path]
"""The folder of the file that wrote the value at a path: what a relative path written there
is relative to (the environment's manifest, or the base that wrote it)."""


def _folders(positions: Positions, layered: bool, manifest_path: Path) -> Folder:
    manifest_dir = Path(os.path.abspath(manifest_path)).parent
    if not layered:
        return lambda path: manifest_dir
    return lambda path: Path(os.path.abspath(positions.value(path).source)).parent


def _local_path(uri: str) -> str:
    """What follows ``local:`` (empty for a bare ``local``)."""
    _, _, rest = uri.partition(":")
    return rest.strip()


def resolve_local_uri(uri: str, manifest_dir: Path) -> str:
    """``local:PATH`` with PATH made absolute relative to ``manifest_dir`` (``~`` expanded).

    The manifest's folder, not the working directory, anchors relative paths so that the same
    manifest means the same target wherever deployctl is run from.
    """
    where = Path(os.path.expanduser(_local_path(uri)))
    if not where.is_absolute():
        where = manifest_dir / where
    return f"{LOCAL_SCHEME}:{os.path.normpath(where)}"


def _target_issues(data: dict[str, Any], positions: Positions) -> list[ManifestIssue]:
    """Checks the schema cannot express: a local target needs a path; durations in range."""
    issues: list[ManifestIssue] = []
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return issues
    for key, target in targets.items():
        issues.extend(_duration_issues(key, target, positions))
        uri = target.get("uri") if isinstance(target, dict) else None
        if not isinstance(uri, str) or not uri:
            continue
        if target_scheme(uri) == LOCAL_SCHEME and not _local_path(uri):
            message = f"target '{key}': the local target needs a path, e.g. local:.deployctl/dev"
            issues.append(positions.value(("targets", key, "uri")).issue(message))
    return issues


def _durations(target: Any) -> list[tuple[JSONPath, str, float]]:
    """The target's well-formed durations: (path below the target, text, limit in seconds)."""
    if not isinstance(target, dict):
        return []
    found: list[tuple[JSONPath, Any, float]] = []
    timeout = target.get("timeout")
    if isinstance(timeout, dict):
        found += [(("timeout", k), timeout.get(k), MAX_TIMEOUT) for k in ("read", "write")]
    else:
        found.append((("timeout",), timeout, MAX_TIMEOUT))
    retry = target.get("retry")
    if isinstance(retry, dict):
        found.append((("retry", "backoff"), retry.get("backoff"), MAX_BACKOFF))
    out: list[tuple[JSONPath, str, float]] = []
    for path, text, limit in found:
        if isinstance(text, str):
            try:
                parse_duration(text)
            except ValueError:
                continue  # the schema reports it
            out.append((path, text, limit))
    return out


def _duration_issues(key: str, target: Any, positions: Positions) -> list[ManifestIssue]:
    """Durations the schema accepts but that are too long (a thread wait has a ceiling)."""
    issues = []
    for path, text, limit in _durations(target):
        if parse_duration(text) > limit:
            message = (
                f"field '{'.'.join(str(p) for p in path)}' of target '{key}' must be at most "
                f"{format_duration(limit)}, not '{text}'"
            )
            issues.append(positions.value(("targets", key, *path)).issue(message))
    return issues


def _call_policy(target: Mapping[str, Any]) -> CallPolicy | None:
    """The validated ``timeout:``, ``retry:`` and ``client:`` of a target, or None when it sets
    none of them (or only ``client: shared``, the default)."""
    timeout = target.get("timeout")
    retry = target.get("retry")
    client = target.get("client", CLIENT_SHARED)
    if timeout is None and retry is None and client == CLIENT_SHARED:
        return None
    if isinstance(timeout, str):  # one duration: the calls that change deployments
        timeout = {"write": timeout}
    timeout = timeout or {}
    retry = retry or {}
    read = timeout.get("read")
    write = timeout.get("write")
    backoff = retry.get("backoff")
    return CallPolicy(
        read_timeout=parse_duration(read) if read is not None else DEFAULT_READ_TIMEOUT,
        write_timeout=parse_duration(write) if write is not None else None,
        attempts=int(retry.get("attempts", DEFAULT_ATTEMPTS)),
        backoff=parse_duration(backoff) if backoff is not None else DEFAULT_BACKOFF,
        client=client,
    )


def _state_issues(data: dict[str, Any], positions: Positions) -> list[ManifestIssue]:
    """Checks of ``state.url`` the schema cannot express: a URL, and no password in it."""
    state = data.get("state")
    url = state.get("url") if isinstance(state, dict) else None
    if not isinstance(url, str) or not url:
        return []
    where = positions.value(("state", "url"))
    if "://" not in url:
        message = (
            f"state.url '{url}' is not a URL: write postgresql://USER@HOST/DATABASE or "
            "s3://BUCKET/PREFIX/, or use state.path for a local file"
        )
        return [where.issue(message)]
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError as exc:
        return [where.issue(f"state.url is not a valid URL: {exc}")]
    query = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if password is not None or "password" in query:
        message = (
            "state.url must not hold a password (the manifest is in git): remove it and use "
            "PGPASSWORD, ~/.pgpass or DEPLOYCTL_STATE for PostgreSQL, the AWS credential chain "
            "for S3"
        )
        return [where.issue(message)]
    return []


def _state_setting(
    data: dict[str, Any], folder: Folder, location: Callable[[JSONPath], SourceLocation]
) -> StateSetting | None:
    state = data.get("state")
    if not isinstance(state, dict):
        return None
    where = location(("state",))
    if isinstance(state.get("url"), str):
        return StateSetting(url=state["url"], path=None, location=where)
    path = Path(os.path.expanduser(state["path"]))
    if not path.is_absolute():
        path = folder(("state", "path")) / path
    return StateSetting(url=None, path=os.path.normpath(path), location=where)


def _paths(value: Any) -> tuple[str, ...]:
    """Lifecycle paths in the order written, each once."""
    return tuple(dict.fromkeys(value or ()))


_NO_LIFECYCLE = Lifecycle()  # frozen: every deployment without guards shares it


def _smoke(
    fields: Mapping[str, Any], own: Mapping[str, Any], path: JSONPath, folder: Folder
) -> SmokeSpec | None:
    """``smoke_test:`` and ``rollback:`` (``auto`` unless ``never``) of the deployment at
    ``path`` (``fields``: with its target's defaults, ``own``: without), the input made absolute
    relative to the folder of the manifest that wrote it."""
    test = fields.get("smoke_test")
    if not isinstance(test, dict):
        return None
    where = Path(os.path.expanduser(test["input"]))
    if not where.is_absolute():
        own_test = own.get("smoke_test")
        written = (
            (*path, "smoke_test", "input")
            if isinstance(own_test, dict) and "input" in own_test
            else (*path[:2], "defaults", "smoke_test", "input")
        )
        where = folder(written) / where
    expect = test.get("expect") or {}
    columns = expect.get("columns")
    return SmokeSpec(
        input=os.path.normpath(where),
        rows=expect.get("rows"),
        columns=tuple(columns) if columns is not None else None,
        rollback="never" if fields.get("rollback") == ROLLBACK_NEVER else "auto",
    )


def _lifecycle(fields: Mapping[str, Any]) -> Lifecycle:
    """The validated ``lifecycle`` mapping (defaults merged in) as a ``Lifecycle``."""
    if not fields:
        return _NO_LIFECYCLE
    return Lifecycle(
        prevent_destroy=fields.get("prevent_destroy") is True,
        ignore_changes=_paths(fields.get("ignore_changes")),
        replace_on=_paths(fields.get("replace_on")),
    )


def _build(
    data: dict[str, Any],
    variables: Variables,
    positions: Positions,
    manifest_path: Path,
    sha256: str,
    env_paths: Mapping[JSONPath, set[str]],
    folder: Folder,
) -> Manifest:
    env_by_owner = env_paths_by_owner(env_paths)

    def location(path: JSONPath) -> SourceLocation:
        return SourceLocation(*positions.key(path))

    targets: list[TargetSpec] = []
    target_data: dict[str, Any] = data["targets"]
    for key in sorted(target_data):
        target = target_data[key]
        defaults: dict[str, Any] = target.get("defaults") or {}
        deployment_data: dict[str, Any] = target.get("deployments") or {}
        deployments: list[DesiredDeployment] = []
        for name in sorted(deployment_data):
            # The data is a tree (an alias is read as a copy, interpolation copies what it
            # changes), so a deployment's own fields are no one else's; defaults are shared.
            fields = (
                deep_merge(defaults, deployment_data[name]) if defaults else deployment_data[name]
            )
            spec = DeploymentSpec(
                model_uri=fields["model_uri"],
                flavor=fields.get("flavor"),
                config=fields.get("config") or {},
            )
            path = ("targets", key, "deployments", name)
            where = location(path)
            deployments.append(
                DesiredDeployment(
                    key,
                    name,
                    spec,
                    where,
                    lifecycle=_lifecycle(fields.get("lifecycle") or {}),
                    adopt=fields.get("adopt") is True,
                    sensitive=sensitive_fields(
                        key, name, defaults, deployment_data[name], env_by_owner
                    ),
                    smoke=_smoke(fields, deployment_data[name], path, folder),
                )
            )
        uri: str = target["uri"]
        scheme = target_scheme(uri)
        resolved = (
            resolve_local_uri(uri, folder(("targets", key, "uri")))
            if scheme == LOCAL_SCHEME
            else uri
        )
        field_paths: dict[str, str] = target.get("fields") or {}
        targets.append(
            TargetSpec(
                key=key,
                uri=uri,
                resolved_uri=resolved,
                scheme=scheme,
                deployments=tuple(deployments),
                location=location(("targets", key)),
                fields=tuple(sorted(field_paths.items())),
                calls=_call_policy(target),
                update=target.get("update", UPDATE_IN_PLACE),
                uri_location=SourceLocation(*positions.value(("targets", key, "uri"))),
            )
        )
    effective: tuple[tuple[str, JSONValue], ...] = tuple(sorted(variables.values.items()))
    return Manifest(
        path=manifest_path,
        environment=data["environment"],
        variables=effective,
        targets=tuple(targets),
        sha256=sha256,
        state=_state_setting(data, folder, location),
        registry_uri=(data.get("registry") or {}).get("tracking_uri"),
    )
