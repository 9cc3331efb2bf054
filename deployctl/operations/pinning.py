"""Pinning: the desired ``models:/`` URIs that move, resolved to the version they name now.

Before anything is planned, every desired ``model_uri`` that names a registered model by an
alias, ``latest`` or a stage is resolved through the model registry (``deployctl.registry``:
each distinct URI once, concurrently), and the desired spec deploys the version found
(``models:/churn/7``); the ``ModelPin`` travels with the plan and into state, so the plan shows
both and the next plan can say ``alias champion moved 7 → 8``. A URI that cannot be resolved
fails the plan, one line per deployment naming it and the URI.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from deployctl.errors import PlanError, RegistryError, ResolutionError
from deployctl.model.model_uris import parse_model_uri
from deployctl.model.pins import ModelPin
from deployctl.planner.planner import DesiredTarget

# ``models:/NAME/VERSION`` as MLflow writes a version: what parse_model_uri reads as pinned.
_PINNED: Final = re.compile(r"models:/[^/@:]+/[0-9]+\Z")


def moving_uris(
    desired: list[DesiredTarget], selected: Callable[[str], bool] | None = None
) -> dict[str, list[str]]:
    """The desired model URIs that name a registered model (by URI), with the addresses that
    use each; malformed ``models:/`` URIs included (resolving reports them). With ``selected``,
    only the addresses it matches."""
    found: dict[str, list[str]] = {}
    for item in desired:
        if selected is not None and not selected(item.deployment.address):
            continue
        uri = item.deployment.spec.model_uri
        if not isinstance(uri, str) or not uri.startswith("models:"):
            continue  # a secret's marker, a run, a path, a bucket: deployed as written
        if _PINNED.match(uri):
            continue  # models:/NAME/VERSION: pinned already (the common case, without parsing)
        try:
            ref = parse_model_uri(uri)
        except RegistryError:
            if "@" in uri:  # a malformed alias: resolving reports it (as the manifest does)
                found.setdefault(uri, []).append(item.deployment.address)
            continue  # else not a reference MLflow reads: deployed as written, as before
        if ref is not None and not ref.pinned:
            found.setdefault(uri, []).append(item.deployment.address)
    return found


def pin_models(
    desired: list[DesiredTarget],
    *,
    tracking_uri: str | None = None,
    parallelism: int = 8,
    selected: Callable[[str], bool] | None = None,
) -> list[DesiredTarget]:
    """``desired`` with each moving ``models:/`` URI replaced by the version it names now (and
    its ``pin`` set); with ``selected``, only for the addresses it matches (the others are
    returned as they are). Raises ``PlanError`` with one line per deployment whose URI cannot be
    read or resolved (the registry's words, and what to do)."""
    uris = moving_uris(desired, selected)
    if not uris:
        return desired
    from deployctl.registry import resolve

    try:
        resolutions = resolve(list(uris), tracking_uri=tracking_uri, max_workers=parallelism)
    except ResolutionError as failure:
        lines = [
            f"{address}: {error}" for error in failure.errors for address in uris.get(error.uri, [])
        ]
        raise PlanError("\n".join(lines or [str(failure)])) from failure
    asked = {address for addresses in uris.values() for address in addresses}
    pinned = []
    for item in desired:
        uri = item.deployment.spec.model_uri
        if not isinstance(uri, str) or item.deployment.address not in asked:
            pinned.append(item)
            continue
        found = resolutions.get(uri)
        if found is None or found.pinned_uri == uri:
            pinned.append(item)
            continue
        pin = ModelPin(uri, found.ref.reference, found.version, found.pinned_uri)
        deployment = item.deployment
        spec = replace(deployment.spec, model_uri=found.pinned_uri)
        pinned.append(replace(item, deployment=replace(deployment, spec=spec), pin=pin))
    return pinned


__all__ = ["moving_uris", "pin_models"]
