"""The desired model: what a validated, interpolated manifest asks for (frozen, no YAML left)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, get_args

from deployctl.model import Address, DeploymentSpec, JSONValue, Lifecycle, address_text
from deployctl.model.calls import CallPolicy
from deployctl.model.sensitive import SensitiveField
from deployctl.model.smoke_spec import SmokeSpec

UpdateMode = Literal["in_place", "replace"]
"""How a target's deployments change: ``in_place`` (``update_deployment``) or ``replace``
(delete, then create: for plugins that cannot update, such as mlflow-triton-control)."""
UPDATE_IN_PLACE: Final[UpdateMode] = "in_place"
UPDATE_REPLACE: Final[UpdateMode] = "replace"
UPDATE_MODES: Final[tuple[UpdateMode, ...]] = get_args(UpdateMode)


@dataclass(frozen=True)
class SourceLocation:
    """Where something was written: file, 1-based line and column."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class DesiredDeployment:
    """One deployment as the manifest wants it, with target defaults merged in.

    ``lifecycle`` holds its guards (``lifecycle:``, merged over the target's defaults; empty
    when the manifest sets none); ``adopt`` asks apply to import a deployment of this name that
    already exists on the target instead of creating it. ``sensitive`` are the fields whose
    values are secrets (``manifest.secrets``); ``spec`` holds their real values.
    """

    target: str
    name: str
    spec: DeploymentSpec
    location: SourceLocation | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    adopt: bool = False
    sensitive: tuple[SensitiveField, ...] = ()
    # ``smoke_test:`` (with ``rollback:``), merged over the target's defaults; None: no test.
    smoke: SmokeSpec | None = None

    @property
    def address(self) -> str:
        return address_text(self.target, self.name)


@dataclass(frozen=True)
class TargetSpec:
    """One target of the manifest.

    ``uri`` is as written; ``resolved_uri`` is what the plugin receives (for the built-in ``local``
    target a relative path is made absolute, relative to the manifest's folder). ``fields`` is
    the target's field mapping, sorted: ``(record field, path)`` pairs such as
    ``("name", "EndpointName")`` or ``("model_uri", "Tags.model_uri")``, telling where the
    plugin's records keep what deployctl reads. ``calls`` is the target's ``timeout:``,
    ``retry:`` and ``client:`` as a ``CallPolicy`` (``None`` when the manifest sets none of
    them, or only ``client: shared``: the defaults). ``update`` is the target's ``update:``:
    with ``replace``, every update of its deployments is planned as a replace.
    """

    key: str
    uri: str
    resolved_uri: str
    scheme: str
    deployments: tuple[DesiredDeployment, ...]
    location: SourceLocation | None = None
    fields: tuple[tuple[str, str], ...] = ()
    calls: CallPolicy | None = None
    update: UpdateMode = UPDATE_IN_PLACE
    # Where the value of ``uri:`` was written (in the environment's file or in a base).
    uri_location: SourceLocation | None = None

    def field_mapping(self) -> dict[str, str]:
        """``fields`` as a mapping (record field -> path); empty when the manifest sets none."""
        return dict(self.fields)


@dataclass(frozen=True)
class StateSetting:
    """The manifest's ``state:`` block: a backend ``url``, or a local ``path`` made absolute
    relative to the manifest's folder (exactly one is set)."""

    url: str | None
    path: str | None
    location: SourceLocation | None = None

    @property
    def value(self) -> str:
        """The URL or the absolute path."""
        return self.url if self.url is not None else str(self.path)


@dataclass(frozen=True)
class Manifest:
    """A loaded manifest: one environment's desired deployments, per target."""

    path: Path
    environment: str
    variables: tuple[tuple[str, JSONValue], ...]
    targets: tuple[TargetSpec, ...]
    sha256: str
    # The ``state:`` block, if the manifest declares where its state lives.
    state: StateSetting | None = None
    # ``registry: {tracking_uri: ...}``: the model registry that resolves models:/ aliases
    # (``None``: MLflow's own default, MLFLOW_TRACKING_URI).
    registry_uri: str | None = None

    def deployments(self) -> Iterator[DesiredDeployment]:
        for target in self.targets:
            yield from target.deployments

    def target(self, key: str) -> TargetSpec | None:
        for target in self.targets:
            if target.key == key:
                return target
        return None

    def deployment(self, address: Address) -> DesiredDeployment | None:
        """The deployment at ``address``, or ``None`` when the manifest has none there."""
        target = self.target(address.target)
        if target is None:
            return None
        return next((d for d in target.deployments if d.name == address.name), None)
