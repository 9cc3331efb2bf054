"""Model pins: a ``models:/`` URI that moves (an alias, ``latest``, a stage) and the version it
named when the plan was made.

The registry layer resolves ``models:/churn@champion`` to ``models:/churn/7``; the plan deploys
the pinned URI and keeps the pin (so the review shows both), and state records it with the
applied version, so that the next plan can say why a deployment whose manifest did not change
needs an update: ``alias champion moved 7 → 8``.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployctl.model.values import JSONObject


@dataclass(frozen=True)
class ModelPin:
    """``source`` as the manifest writes it (``models:/churn@champion``), ``reference`` in words
    (``alias champion``, ``latest``, ``stage Production``), the ``version`` it named and the
    ``pinned_uri`` that is deployed (``models:/churn/7``)."""

    source: str
    reference: str
    version: str
    pinned_uri: str

    def moved_from(self, previous: ModelPin | None) -> str | None:
        """``alias champion moved 7 → 8`` when ``previous`` (the pin last applied) comes from
        the same source and named another version; else ``None``."""
        if previous is None or previous.source != self.source:
            return None
        if previous.version == self.version:
            return None
        return f"{self.reference} moved {previous.version} → {self.version}"

    def shown(self) -> str:
        """``models:/churn@champion → models:/churn/7``."""
        return f"{self.source} → {self.pinned_uri}"

    def to_json(self) -> JSONObject:
        return {
            "source": self.source,
            "reference": self.reference,
            "version": self.version,
            "pinned_uri": self.pinned_uri,
        }

    @classmethod
    def from_json(cls, data: object) -> ModelPin | None:
        """The pin in ``data``, or ``None`` when ``data`` is not one (older files have none)."""
        if not isinstance(data, dict):
            return None
        values = [data.get(k) for k in ("source", "reference", "version", "pinned_uri")]
        if not all(isinstance(v, str) and v for v in values):
            return None
        source, reference, version, pinned_uri = (str(v) for v in values)
        return cls(source, reference, version, pinned_uri)


__all__ = ["ModelPin"]
