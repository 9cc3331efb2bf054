"""Resolving ``models:/`` URIs that move (aliases, ``latest``, stages) to the version they name now.

``resolve`` reads every URI given, and asks the model registry, through
``mlflow.MlflowClient``, about each distinct moving reference once, concurrently:

- ``models:/NAME@ALIAS``: ``get_model_version_by_alias``;
- ``models:/NAME/latest``, ``models:/NAME/STAGE``: ``search_model_versions`` (every page),
  then the highest version (in the stage). MLflow's own resolution calls
  ``get_latest_versions``, deprecated since MLflow 2.9 with a warning at every call; the
  answer is the same;
- ``models:/NAME/VERSION`` needs no registry: its ``Resolution`` is the URI itself.

The first lookup in each registry runs alone (MLflow sets itself up on first use, not
thread-safely), the others concurrently. Only when something moves is MLflow imported, and an
``http(s)`` registry is first checked to answer at all (``location.unreachable``). What a
failure means is decided after it, with one more question when needed (does the model exist?
which aliases has it?), so that each failing URI gets one line saying what is wrong and what to
do (``ResolutionError``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from deployctl.errors import RegistryError, ResolutionError, closest, exception_text
from deployctl.registry.location import RegistryLocation, locate, unreachable
from deployctl.registry.uris import RegistryRef, parse_model_uri

logger = logging.getLogger(__name__)

INSTALL_MLFLOW = "pip install 'deployctl[mlflow]'"
# MLflow error codes saying that a model, version or alias does not exist (file store:
# INVALID_PARAMETER_VALUE for an alias; REST and SQL stores: RESOURCE_DOES_NOT_EXIST).
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"}


@dataclass(frozen=True)
class Resolution:
    """What a ``models:/`` URI named when it was resolved.

    ``uri`` as written; ``version`` the version it named; ``pinned_uri`` that version's URI
    (``models:/NAME/VERSION``), which is what gets deployed. For a URI that named a version
    already, ``pinned_uri`` is ``uri``.
    """

    uri: str
    ref: RegistryRef
    version: str
    pinned_uri: str

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def alias(self) -> str | None:
        """The alias resolved (``"latest"`` for ``models:/NAME/latest``), if any."""
        return self.ref.alias

    @property
    def stage(self) -> str | None:
        return self.ref.stage

    def moved_from(self, version: str) -> str | None:
        """Why a deployment of ``version`` made from this same URI is out of date, or ``None``
        when it is not: ``alias champion moved 7 → 8``. A URI naming a version never moves
        (changing it is a change of the manifest, not of the registry)."""
        if version == self.version or self.ref.pinned:
            return None
        return f"{self.ref.reference} moved {version} → {self.version}"

    def __str__(self) -> str:
        if self.pinned_uri == self.uri:
            return self.uri
        return f"{self.uri} → {self.pinned_uri}"


class _Unresolved(Exception):
    """Why a reference cannot be resolved; made a ``RegistryError`` for each URI making it."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def resolve(
    uris: Iterable[str], tracking_uri: str | None = None, max_workers: int = 8
) -> dict[str, Resolution]:
    """The ``Resolution`` of each registry URI in ``uris``, keyed by URI as given.

    URIs that are not registry references (``runs:/``, ``s3://``, paths, ``models:/ID``) are
    left out. The registry is ``tracking_uri``'s, else ``MLFLOW_TRACKING_URI``'s (see
    ``deployctl.registry.location``). Each distinct reference is looked up once, with up to
    ``max_workers`` lookups at a time. Raises ``ResolutionError`` naming every URI that cannot
    be read or resolved, after trying them all.
    """
    given = list(dict.fromkeys(uris))
    refs: dict[str, RegistryRef] = {}
    failed: dict[str, RegistryError] = {}
    for uri in given:
        try:
            ref = parse_model_uri(uri)
        except RegistryError as error:
            failed[uri] = error
            continue
        if ref is not None:
            refs[uri] = ref
    resolutions = {
        uri: Resolution(uri, ref, ref.version, uri)
        for uri, ref in refs.items()
        if ref.version is not None
    }
    moving: dict[RegistryRef, list[str]] = {}
    for uri, ref in refs.items():
        if not ref.pinned:
            moving.setdefault(ref, []).append(uri)
    if moving:
        for ref, outcome in _look_up(list(moving), tracking_uri, max_workers).items():
            for uri in moving[ref]:
                if isinstance(outcome, _Unresolved):
                    failed[uri] = RegistryError(outcome.reason, uri=uri, hint=outcome.hint)
                else:
                    resolutions[uri] = Resolution(uri, ref, outcome, ref.pinned_uri(outcome))
                    logger.debug("resolved %s to %s", uri, resolutions[uri].pinned_uri)
    if failed:
        raise ResolutionError([failed[uri] for uri in given if uri in failed])
    return {uri: resolutions[uri] for uri in given if uri in resolutions}


def _look_up(
    refs: list[RegistryRef], tracking_uri: str | None, max_workers: int
) -> dict[RegistryRef, str | _Unresolved]:
    """The version each reference names now, or why it cannot be known."""
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        if exc.name == "mlflow":
            problem = _Unresolved(
                "resolving it needs MLflow, which is not installed", INSTALL_MLFLOW
            )
        else:
            problem = _Unresolved(
                f"resolving it needs MLflow, which fails to import: {exception_text(exc)}",
                f"reinstall it: {INSTALL_MLFLOW}",
            )
        return dict.fromkeys(refs, problem)

    outcomes: dict[RegistryRef, str | _Unresolved] = {}
    work: list[Callable[[], tuple[RegistryRef, str | _Unresolved]]] = []
    # One client per registry: the default one, and each named in a URI (models://PROFILE@...).
    for registry in dict.fromkeys(ref.registry for ref in refs):
        group = [ref for ref in refs if ref.registry == registry]
        try:
            registry_uri = _registry_uri(registry)
            location = locate(tracking_uri, registry_uri)
            client = _connect(MlflowClient, location, tracking_uri, registry_uri)
        except _Unresolved as problem:
            outcomes.update(dict.fromkeys(group, problem))
            continue
        tasks = [_task(client, location, ref) for ref in group]
        # The first call on a client runs alone: MLflow builds its table of registry stores, and
        # the client its registry client, on first use and not thread-safely (a second thread
        # can find the table half built and say that file: or http: registries are unsupported:
        # mlflow/mlflow#11283, open in MLflow 3.17).
        outcomes.update([tasks[0]()])
        work += tasks[1:]
    if work:
        with ThreadPoolExecutor(
            max_workers=max(1, min(max_workers, len(work))), thread_name_prefix="deployctl-registry"
        ) as pool:
            outcomes.update(pool.map(lambda task: task(), work))
    return outcomes


def _connect(
    client_class: Any,
    location: RegistryLocation,
    tracking_uri: str | None,
    registry_uri: str | None,
) -> Any:
    """An ``MlflowClient`` for ``location``, once something answers there."""
    reason = unreachable(location)
    if reason is not None:
        raise _Unresolved(
            f"cannot reach {location} ({reason})",
            location.hint(
                "check that it runs, and that MLFLOW_TRACKING_URI (or tracking_uri under the "
                "manifest's registry:) is its address"
            ),
        )
    try:
        return client_class(tracking_uri=tracking_uri, registry_uri=registry_uri)
    except Exception as exc:  # whatever MLflow raises for a registry it cannot open
        raise _Unresolved(
            f"cannot open {location}: {location.scrub(exception_text(exc))}", location.hint()
        ) from exc


def _registry_uri(registry: str | None) -> str | None:
    """The registry URI for a URI's network location (``PROFILE@databricks``), as MLflow's
    ``models:/`` artifact repository reads it."""
    if registry is None:
        return None
    from mlflow.utils.uri import get_databricks_profile_uri_from_artifact_uri as profile_uri

    try:
        found: str | None = profile_uri(f"models://{registry}/")  # type: ignore[no-untyped-call]
    except Exception:  # MLflow's words for a location it cannot read add nothing to ours
        found = None
    if not found:
        raise _Unresolved(
            f"'{registry}' names no registry MLflow knows",
            "write models://PROFILE@databricks/... or name the registry in MLFLOW_REGISTRY_URI",
        )
    return found


def _task(
    client: Any, location: RegistryLocation, ref: RegistryRef
) -> Callable[[], tuple[RegistryRef, str | _Unresolved]]:
    def run() -> tuple[RegistryRef, str | _Unresolved]:
        try:
            return ref, _version(client, location, ref)
        except _Unresolved as problem:
            return ref, problem

    return run


def _version(client: Any, location: RegistryLocation, ref: RegistryRef) -> str:
    """The version ``ref`` names now; raises ``_Unresolved``."""
    if ref.alias is not None and not ref.latest:
        try:
            return str(client.get_model_version_by_alias(ref.name, ref.alias).version)
        except Exception as exc:
            if _code(exc) not in _NOT_FOUND:
                raise _failed(location, exc) from exc
            aliases = _aliases(client, location, ref)  # raises when the model does not exist
            raise _no_alias(location, ref, aliases) from exc
    versions = _versions(client, location, ref)
    if ref.stage is not None:
        versions = [v for v in versions if str(v.current_stage).lower() == ref.stage.lower()]
    if versions:
        return str(max(int(v.version) for v in versions))
    _aliases(client, location, ref)  # raises when the model does not exist
    if ref.stage is not None:
        raise _Unresolved(
            f"model '{ref.name}' has no version in stage {ref.stage} in {location}",
            location.hint(
                f"move a version to {ref.stage}, or use an alias instead, as MLflow deprecated "
                f"stages: models:/{ref.name}@ALIAS"
            ),
        )
    raise _Unresolved(
        f"model '{ref.name}' has no versions in {location}",
        location.hint("register a version of it first"),
    )


def _versions(client: Any, location: RegistryLocation, ref: RegistryRef) -> list[Any]:
    """Every version of ``ref``'s model (an empty list when the model does not exist)."""
    quote = '"' if "'" in ref.name else "'"
    query = f"name={quote}{ref.name}{quote}"
    found: list[Any] = []
    token = None
    try:
        while True:
            page = client.search_model_versions(query, page_token=token)
            found += list(page)
            token = getattr(page, "token", None)
            if not token:
                return found
    except Exception as exc:
        raise _failed(location, exc) from exc


def _aliases(client: Any, location: RegistryLocation, ref: RegistryRef) -> dict[str, str]:
    """The model's aliases; raises ``_Unresolved`` saying the model does not exist, if so."""
    try:
        model = client.get_registered_model(ref.name)
    except Exception as exc:
        if _code(exc) not in _NOT_FOUND:
            raise _failed(location, exc) from exc
        raise _Unresolved(
            f"no model '{ref.name}' in {location}",
            location.hint("check the model name, or register the model"),
        ) from exc
    return dict(getattr(model, "aliases", None) or {})


def _no_alias(location: RegistryLocation, ref: RegistryRef, aliases: dict[str, str]) -> _Unresolved:
    alias = ref.alias or ""
    listed = ", ".join(f"{name} (version {version})" for name, version in sorted(aliases.items()))
    set_it = (
        "in the MLflow UI or with "
        f"MlflowClient().set_registered_model_alias('{ref.name}', '{alias}', VERSION)"
    )
    close = closest(alias, aliases)
    if close:
        fix = f"did you mean '{close}'? Its aliases: {listed}"
    elif aliases:
        fix = f"set it on a version {set_it}, or use one of its aliases: {listed}"
    else:
        fix = f"it has no aliases: set one {set_it}, or pin a version: models:/{ref.name}/VERSION"
    return _Unresolved(
        f"model '{ref.name}' has no alias '{alias}' in {location}", location.hint(fix)
    )


def _failed(location: RegistryLocation, exc: BaseException) -> _Unresolved:
    return _Unresolved(
        f"{location} failed: {location.scrub(exception_text(exc))}",
        location.hint("check the registry's address and your access to it"),
    )


def _code(exc: BaseException) -> str | None:
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) else None


__all__ = ["Resolution", "resolve"]
