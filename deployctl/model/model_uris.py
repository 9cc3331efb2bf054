"""Model registry references: which ``models:/`` URIs name a registered model, and how.

``parse_model_uri`` reads a URI exactly as MLflow 3 reads it (``mlflow.store.artifact.utils.models.
_parse_model_uri``), without importing MLflow:

- ``models:/NAME/VERSION`` (digits): a version, already pinned; nothing to resolve;
- ``models:/NAME@ALIAS``: a registered model alias, which moves;
- ``models:/NAME/latest`` (any case): the highest version, which moves; held as the alias
  ``latest``, a name MLflow reserves (no real alias can have it);
- ``models:/NAME/STAGE``: the highest version in a stage (``Staging``, ``Production``,
  ``Archived``, ``None``, any case), which moves. MLflow deprecated stages in 2.9 but still
  resolves them, so deployctl pins them too rather than let one ship unreviewed;
- ``models:/ID`` (one path segment, no ``@``): a logged model's id in MLflow 3, which never
  moves: not a registry reference (``None``), like ``runs:/``, ``s3://`` and local paths.

A ``models:/`` URI MLflow would reject (``models:/``, ``models:/a/b/c``, ``models:/a/``,
``models:/a/Foo`` with no such stage, ``models:/a@latest``) is an error here rather than at
apply. A registry named in the URI (``models://PROFILE@databricks/NAME@ALIAS``) is kept in
``RegistryRef.registry`` and in the pinned URI.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from deployctl.errors import RegistryError

SCHEME = "models"
LATEST = "latest"
# MLflow's stages (mlflow.entities.model_registry.model_version_stages.ALL_STAGES), matched
# without regard to case as MLflow matches them.
STAGES = ("None", "Staging", "Production", "Archived")

FORMS = "write models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest"


@dataclass(frozen=True)
class RegistryRef:
    """A registered model and which of its versions a ``models:/`` URI means.

    Exactly one of ``alias`` (an alias, or ``"latest"``), ``stage`` and ``version`` is set.
    Two URIs that MLflow reads the same way (``models:/m/latest`` and ``models:/m/LATEST``) give
    equal references.
    """

    name: str
    alias: str | None = None
    stage: str | None = None
    version: str | None = None
    # The netloc of ``models://PROFILE@databricks/...``: a registry other than the default one.
    registry: str | None = None

    @property
    def pinned(self) -> bool:
        """Whether the URI names a version already (nothing to resolve)."""
        return self.version is not None

    @property
    def latest(self) -> bool:
        return self.alias == LATEST

    @property
    def reference(self) -> str:
        """What moves, in words: ``alias champion``, ``latest``, ``stage Production``,
        ``version 7``."""
        if self.version is not None:
            return f"version {self.version}"
        if self.stage is not None:
            return f"stage {self.stage}"
        return LATEST if self.latest else f"alias {self.alias}"

    def pinned_uri(self, version: str) -> str:
        """The URI of ``version`` of this model: ``models:/NAME/VERSION``."""
        return f"{self._prefix()}/{version}"

    def __str__(self) -> str:
        if self.version is not None:
            return self.pinned_uri(self.version)
        if self.stage is not None:
            return f"{self._prefix()}/{self.stage}"
        return f"{self._prefix()}/{LATEST}" if self.latest else f"{self._prefix()}@{self.alias}"

    def _prefix(self) -> str:
        where = f"//{self.registry}" if self.registry else ""
        return f"{SCHEME}:{where}/{self.name}"


def parse_model_uri(uri: str) -> RegistryRef | None:
    """The registry reference ``uri`` makes, or ``None`` when it is no ``models:/NAME...`` URI.

    Raises ``RegistryError`` for a ``models:/`` URI MLflow cannot read.
    """
    parsed = urllib.parse.urlparse(uri, allow_fragments=False)
    if parsed.scheme != SCHEME:
        return None
    registry = parsed.netloc or None
    path = parsed.path
    if not path.startswith("/") or len(path) <= 1:
        raise _malformed(uri, "it names no model")
    parts = path.lstrip("/").split("/")
    if len(parts) > 2:
        raise _malformed(uri, "it has more than NAME and one suffix")
    if parts[0].strip() == "":
        raise _malformed(uri, "its model name is empty")
    if len(parts) == 2:
        name, suffix = parts
        if suffix.strip() == "":
            raise _malformed(uri, "its suffix after the model name is empty")
        if suffix.isdigit():
            return RegistryRef(name, version=suffix, registry=registry)
        if suffix.lower() == LATEST:
            return RegistryRef(name, alias=LATEST, registry=registry)
        stage = next((s for s in STAGES if s.lower() == suffix.lower()), None)
        if stage is None:
            raise RegistryError(
                "not a model URI MLflow can read: "
                f"'{suffix}' is neither a version, 'latest' nor a stage ({', '.join(STAGES)})",
                uri=uri,
                hint=f"for the alias {suffix}, write models:/{name}@{suffix}; else {FORMS}",
            )
        return RegistryRef(name, stage=stage, registry=registry)
    if "@" not in parts[0]:
        return None  # models:/ID, a logged model (MLflow 3): it never moves
    name, _, alias = parts[0].rpartition("@")
    if name.strip() == "" or alias.strip() == "":
        raise _malformed(uri, "a model name and an alias go either side of '@'")
    if alias.lower() == LATEST:
        raise RegistryError(
            f"'{alias}' is reserved by MLflow and never an alias",
            uri=uri,
            hint=f"write models:/{name}/latest for the highest version",
        )
    return RegistryRef(name, alias=alias, registry=registry)


def _malformed(uri: str, why: str) -> RegistryError:
    return RegistryError(f"not a model URI MLflow can read: {why}", uri=uri, hint=FORMS)
