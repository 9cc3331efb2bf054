"""The model registry: pinning the ``models:/`` URIs that move to the version they name now.

A ``models:/NAME@ALIAS``, ``models:/NAME/latest`` or ``models:/NAME/STAGE`` URI names whichever
version the registry points it at when it is read. Resolving it at plan time, and deploying the
version found (``models:/NAME/VERSION``), makes what ships what was reviewed, even if the alias
moves in between.

- ``uris``: ``parse_model_uri``, which URIs name a registered model and how (``RegistryRef``),
  read as MLflow reads them, without MLflow;
- ``resolver``: ``resolve``, each distinct reference looked up once, concurrently, through
  ``mlflow.MlflowClient`` (imported only when something moves) -> ``Resolution``s;
- ``location``: which registry is asked, how messages name it, and whether it answers.

Failures are ``deployctl.errors.RegistryError`` (one URI), gathered in a ``ResolutionError``.
"""

from __future__ import annotations

from deployctl.registry.resolver import Resolution, resolve
from deployctl.registry.uris import RegistryRef, parse_model_uri

__all__ = ["RegistryRef", "Resolution", "parse_model_uri", "resolve"]
