"""Loading a manifest file into the frozen desired model.

The pipeline is read -> YAML with positions -> variables and interpolation -> schema -> target
checks -> build. Every stage collects issues instead of raising, so one ``ManifestError`` reports
every problem of the file at once; only a file that cannot be read or parsed at all stops early.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from deployctl.errors import DeployctlError, ManifestError, ManifestIssue
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
from deployctl.manifest.validate import describe_container, validate_manifest, yaml_type
from deployctl.manifest.yaml_nodes import parse_yaml
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
MAX_MANIFEST_BYTES = 10 * 2**20


def load_manifest(
    path: str | os.PathLike[str],
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Manifest:
    """Read, validate and interpolate the manifest at ``path``.

    ``variables`` are ``--var NAME=VALUE`` overrides (strings, converted to each declared
    variable's type); ``environ`` is what ``${env.NAME}`` reads (``os.environ`` by default).
    Raises ``ManifestError`` with every problem found, or ``DeployctlError`` when the file cannot
    be read.
    """
    source = str(path)
    manifest_path = Path(path)
    raw = read_manifest_bytes(manifest_path, source)

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
    positions = parsed.positions
    issues = list(parsed.issues)
    unexpanded: set[JSONPath] = set()
    env_paths: dict[JSONPath, set[str]] = {}

    resolved = resolve_variables(
        data.get("variables"), variables or {}, positions, source, manifest_path.name
    )
    issues.extend(resolved.issues)
    if "targets" in data:
        interpolator = Interpolator(
            resolved, os.environ if environ is None else environ, positions, source
        )
        data = {**data, "targets": interpolator.expand_tree(data["targets"], ("targets",))}
        issues.extend(interpolator.issues)
        unexpanded = interpolator.unexpanded
        env_paths = interpolator.env_paths

    issues.extend(validate_manifest(data, positions, source, unexpanded))
    issues.extend(_target_issues(data, positions, source))
    issues.extend(_state_issues(data, positions, source))
    issues.extend(model_uri_issues(data, positions, source))
    if issues:
        # The same node can be reached twice (aliases, merge keys): say each thing once.
        raise ManifestError(list(dict.fromkeys(issues)))
    return _build(data, resolved, positions, manifest_path, source, raw, env_paths)


def read_manifest_bytes(path: Path, source: str) -> bytes:
    """The file's bytes: a regular file of at most ``MAX_MANIFEST_BYTES`` (a FIFO, a device
    such as /dev/zero or a directory is refused at once, before anything is read)."""
    try:
        with open(path, "rb", opener=_open_nonblocking) as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DeployctlError(
                    f"{source}: cannot read manifest: not a regular file",
                    hint="pass the path of a YAML file",
                )
            if info.st_size > MAX_MANIFEST_BYTES:
                raise DeployctlError(
                    f"{source}: the manifest is {info.st_size:,} bytes, more than the "
                    f"{MAX_MANIFEST_BYTES // 2**20} MiB a manifest may have",
                    hint="split it into one manifest per environment",
                )
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DeployctlError(f"{source}: cannot read manifest: {reason}") from error
    if len(raw) > MAX_MANIFEST_BYTES:  # it grew while being read
        raise DeployctlError(f"{source}: the manifest is more than 10 MiB")
    return raw


def _open_nonblocking(path: str, flags: int) -> int:
    # O_NONBLOCK: opening a FIFO without a writer must not hang (it is refused right after).
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


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


def _target_issues(data: dict[str, Any], positions: Positions, source: str) -> list[ManifestIssue]:
    """Checks the schema cannot express: a local target needs a path; durations in range."""
    issues: list[ManifestIssue] = []
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return issues
    for key, target in targets.items():
        issues.extend(_duration_issues(key, target, positions, source))
        uri = target.get("uri") if isinstance(target, dict) else None
        if not isinstance(uri, str) or not uri:
            continue
        if target_scheme(uri) == LOCAL_SCHEME and not _local_path(uri):
            line, col = positions.value(("targets", key, "uri"))
            message = f"target '{key}': the local target needs a path, e.g. local:.deployctl/dev"
            issues.append(ManifestIssue(source, line, col, message))
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


def _duration_issues(
    key: str, target: Any, positions: Positions, source: str
) -> list[ManifestIssue]:
    """Durations the schema accepts but that are too long (a thread wait has a ceiling)."""
    issues = []
    for path, text, limit in _durations(target):
        if parse_duration(text) > limit:
            line, col = positions.value(("targets", key, *path))
            message = (
                f"field '{'.'.join(str(p) for p in path)}' of target '{key}' must be at most "
                f"{format_duration(limit)}, not '{text}'"
            )
            issues.append(ManifestIssue(source, line, col, message))
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


def _state_issues(data: dict[str, Any], positions: Positions, source: str) -> list[ManifestIssue]:
    """Checks of ``state.url`` the schema cannot express: a URL, and no password in it."""
    state = data.get("state")
    url = state.get("url") if isinstance(state, dict) else None
    if not isinstance(url, str) or not url:
        return []
    line, col = positions.value(("state", "url"))
    if "://" not in url:
        message = (
            f"state.url '{url}' is not a URL: write postgresql://USER@HOST/DATABASE or "
            "s3://BUCKET/PREFIX/, or use state.path for a local file"
        )
        return [ManifestIssue(source, line, col, message)]
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError as exc:
        return [ManifestIssue(source, line, col, f"state.url is not a valid URL: {exc}")]
    query = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if password is not None or "password" in query:
        message = (
            "state.url must not hold a password (the manifest is in git): remove it and use "
            "PGPASSWORD, ~/.pgpass or DEPLOYCTL_STATE for PostgreSQL, the AWS credential chain "
            "for S3"
        )
        return [ManifestIssue(source, line, col, message)]
    return []


def _state_setting(
    data: dict[str, Any], manifest_dir: Path, location: Callable[[JSONPath], SourceLocation]
) -> StateSetting | None:
    state = data.get("state")
    if not isinstance(state, dict):
        return None
    where = location(("state",))
    if isinstance(state.get("url"), str):
        return StateSetting(url=state["url"], path=None, location=where)
    path = Path(os.path.expanduser(state["path"]))
    if not path.is_absolute():
        path = manifest_dir / path
    return StateSetting(url=None, path=os.path.normpath(path), location=where)


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


def _paths(value: Any) -> tuple[str, ...]:
    """Lifecycle paths in the order written, each once."""
    return tuple(dict.fromkeys(value or ()))


_NO_LIFECYCLE = Lifecycle()  # frozen: every deployment without guards shares it


def _smoke(fields: Mapping[str, Any], manifest_dir: Path) -> SmokeSpec | None:
    """``smoke_test:`` and ``rollback:`` (``auto`` unless ``never``), the input made absolute
    relative to the manifest's folder."""
    test = fields.get("smoke_test")
    if not isinstance(test, dict):
        return None
    where = Path(os.path.expanduser(test["input"]))
    if not where.is_absolute():
        where = manifest_dir / where
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
    source: str,
    raw: bytes,
    env_paths: Mapping[JSONPath, set[str]],
) -> Manifest:
    manifest_dir = Path(os.path.abspath(manifest_path)).parent
    env_by_owner = env_paths_by_owner(env_paths)

    def location(path: JSONPath) -> SourceLocation:
        line, col = positions.key(path)
        return SourceLocation(source, line, col)

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
            where = location(("targets", key, "deployments", name))
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
                    smoke=_smoke(fields, manifest_dir),
                )
            )
        uri: str = target["uri"]
        scheme = target_scheme(uri)
        resolved = resolve_local_uri(uri, manifest_dir) if scheme == LOCAL_SCHEME else uri
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
            )
        )
    effective: tuple[tuple[str, JSONValue], ...] = tuple(sorted(variables.values.items()))
    return Manifest(
        path=manifest_path,
        environment=data["environment"],
        variables=effective,
        targets=tuple(targets),
        sha256=hashlib.sha256(raw).hexdigest(),
        state=_state_setting(data, manifest_dir, location),
        registry_uri=(data.get("registry") or {}).get("tracking_uri"),
    )
