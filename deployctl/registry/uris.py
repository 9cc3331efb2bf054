"""``models:/`` URIs as MLflow reads them: see ``deployctl.model.model_uris`` (pure, so that the
manifest's validation can report a malformed one at its line and column)."""

from __future__ import annotations

from deployctl.model.model_uris import RegistryRef, parse_model_uri

__all__ = ["RegistryRef", "parse_model_uri"]
