"""The seam to deployment targets: what a plugin client looks like, and what deployctl reads back.

``DeploymentClient`` is satisfied structurally by any MLflow ``BaseDeploymentClient`` subclass
(either interface generation) and by duck-typed classes; ``TargetAdapter`` hides their differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from deployctl.model import SPEC_FIELDS, JSONObject


@runtime_checkable
class DeploymentClient(Protocol):
    """The methods deployctl calls on a plugin's client (MLflow's ``BaseDeploymentClient``).

    Signatures vary between plugins (the seed's ``update_deployment(target, name, ...)`` versus
    MLflow's ``update_deployment(name, ...)``; optional ``endpoint=``/``config=`` keywords), so the
    adapter inspects them once per plugin instead of calling these directly.
    """

    target_uri: str

    def create_deployment(
        self, name: str, model_uri: str, flavor: Any = None, config: Any = None
    ) -> Any:
        """Deploy ``model_uri`` as ``name``; returns a dict with at least ``name``."""
        ...

    def update_deployment(self, *args: Any, **kwargs: Any) -> Any:
        """Change the model, flavor and/or config of an existing deployment."""
        ...

    def delete_deployment(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Delete ``name``; not idempotent for many plugins, so only called for what exists."""
        ...

    def get_deployment(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Describe ``name``; raises (with plugin-specific exceptions) when it does not exist."""
        ...

    def list_deployments(self, *args: Any, **kwargs: Any) -> Any:
        """List deployments, in one of several shapes (see ``../shared/plugins.md``)."""
        ...

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """Score a pandas DataFrame (or MLflow ``inputs``) against a deployment."""
        ...


@dataclass(frozen=True)
class LiveRecord:
    """One deployment as a target reports it, normalised.

    ``raw`` is a JSON-safe projection of what the plugin returned. ``model_uri``, ``flavor`` and
    ``config`` are ``None`` when the target does not report them (many real plugins do not), in
    which case the planner compares with the last applied record only.

    ``unreported`` tells "not reported" from "reported as null": the managed fields the plugin's
    record has no entry for at all, as read by a ``RecordShape``. It is not stored (state keeps
    the values only): ``None`` means unknown, and then every ``None`` value counts as unreported.
    """

    name: str
    raw: JSONObject
    model_uri: str | None = None
    flavor: str | None = None
    config: JSONObject | None = None
    status: str | None = None
    unreported: frozenset[str] | None = field(default=None, compare=False)

    def unreported_fields(self) -> tuple[str, ...]:
        """The managed fields (of ``model_uri``, ``flavor``, ``config``) the target did not report,
        in that order: the planner can compare these with the last applied record only."""
        if self.unreported is not None:
            return tuple(name for name in SPEC_FIELDS if name in self.unreported)
        return tuple(name for name in SPEC_FIELDS if getattr(self, name) is None)

    def reported_fields(self) -> JSONObject:
        """The managed fields this record reports, by name (absent fields are left out)."""
        out: JSONObject = {}
        if self.model_uri is not None:
            out["model_uri"] = self.model_uri
        if self.flavor is not None:
            out["flavor"] = self.flavor
        if self.config is not None:
            out["config"] = self.config
        return out

    def to_json(self) -> JSONObject:
        return {
            "name": self.name,
            "model_uri": self.model_uri,
            "flavor": self.flavor,
            "config": self.config,
            "status": self.status,
            "raw": self.raw,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> LiveRecord:
        config = data.get("config")
        raw = data.get("raw")
        model_uri = data.get("model_uri")
        flavor = data.get("flavor")
        status = data.get("status")
        return cls(
            name=str(data["name"]),
            raw=raw if isinstance(raw, dict) else {},
            model_uri=model_uri if isinstance(model_uri, str) else None,
            flavor=flavor if isinstance(flavor, str) else None,
            config=config if isinstance(config, dict) else None,
            status=status if isinstance(status, str) else None,
        )
