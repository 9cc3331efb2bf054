"""One deployment, one address.

Two addresses (desired or recorded) at the same target URI and name would be planned as two
deployments, e.g. a target key renamed in the manifest: the new address would be "exists but not
managed" and the old one deleted, deleting the live deployment. So that is an error before
anything is planned; for a renamed key it says to run ``deployctl state mv OLD NEW``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from deployctl.model.state import StateRecord


def shared_deployments(
    desired: Sequence[tuple[str, str, str]],
    recorded: Mapping[str, StateRecord],
    selected: Callable[[str], bool],
) -> list[str]:
    """One message per deployment (target URI and name) that two addresses point at, among the
    ``desired`` (``(address, target URI, name)`` of each) and ``recorded`` addresses; only
    deployments with a selected address count."""
    # First only which address each deployment has, so that the usual case (one each) builds
    # nothing more per deployment; the roles are gathered for the shared ones alone.
    first: dict[tuple[str, str], str] = {}
    shared: set[tuple[str, str]] = set()
    for address, uri, name in desired:
        if first.setdefault((uri, name), address) != address:
            shared.add((uri, name))
    for address, record in recorded.items():
        key = (record.target_uri, record.name)
        if first.setdefault(key, address) != address:
            shared.add(key)
    if not shared:
        return []
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for address, uri, name in desired:
        if (uri, name) in shared:
            found.setdefault((uri, name), {}).setdefault(address, set()).add("manifest")
    for address, record in recorded.items():
        key = (record.target_uri, record.name)
        if key in shared:
            found.setdefault(key, {}).setdefault(address, set()).add("state")
    return [
        _message(uri, name, addresses)
        for (uri, name), addresses in sorted(found.items())
        if any(selected(a) for a in addresses)
    ]


def _message(uri: str, name: str, addresses: Mapping[str, set[str]]) -> str:
    """What to do about the deployment ``name`` at ``uri`` that ``addresses`` (each with where it
    was found: ``manifest``, ``state``) all point at."""
    in_state = [a for a, seen in sorted(addresses.items()) if seen == {"state"}]
    in_manifest = [a for a, seen in sorted(addresses.items()) if seen == {"manifest"}]
    if len(addresses) == 2 and len(in_state) == 1 and len(in_manifest) == 1:
        old, new = in_state[0], in_manifest[0]
        return (
            f"{new} (in the manifest) and {old} (in the state) are the same deployment "
            f"'{name}' at {uri}: the target key was renamed; run 'deployctl state mv {old} "
            f"{new}', then plan again (planned as it is, {old} would be deleted on the "
            "target)"
        )
    roles = ", ".join(
        f"{a} (in the {' and the '.join(sorted(seen))})" for a, seen in sorted(addresses.items())
    )
    return (
        f"{roles} are the same deployment '{name}' at {uri}: a deployment may have one "
        "address only; declare it under one target of the manifest, and move or remove the "
        "other records with 'deployctl state mv' or 'deployctl state rm'"
    )
