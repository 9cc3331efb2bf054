"""Where the CLI tests keep a state, per backend: a local file, a PostgreSQL database, an S3 prefix.

``state_backend`` is parametrised over ``local``, ``postgres`` and ``s3``. It gives a
``SharedState``: the state location (an absolute path, or a URL: for PostgreSQL without a
password, the throwaway server trusts local connections) and the environment variables a
``deployctl`` process needs to reach it (for S3: ``AWS_ENDPOINT_URL`` of the moto server, dummy
credentials, ``AWS_DEFAULT_REGION``, and no AWS configuration files). The test's own
environment only loses the developer's ``AWS_PROFILE``-like variables and ``DEPLOYCTL_STATE``,
so a run that forgets ``env=state.env`` cannot reach the S3 server.
The servers start only for the tests that use them. Test modules import the fixtures::

    from state_backends import (  # noqa: F401  (fixtures)
        pg_server_fixture, s3_server_fixture, state_backend_fixture,
    )
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from state.pg_server import pg_server_fixture
from state.remote_state import REMOTE_KINDS, remote_state
from state.s3_server import s3_server_fixture
from support import manifest

__all__ = [
    "KINDS",
    "SharedState",
    "pg_server_fixture",
    "s3_server_fixture",
    "shared_state",
    "state_backend_fixture",
    "team_manifest",
]

KINDS = ("local", "postgres", "s3")

# Variables of the developer's own that must not reach a test process (AWS profiles, a state).
_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "DEPLOYCTL_STATE")


@dataclass(frozen=True)
class SharedState:
    """A state in one backend: ``location`` (a path or URL) and the ``env`` to reach it."""

    kind: str
    location: str
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_url(self) -> bool:
        return self.kind != "local"

    def shown(self, cwd: Path) -> str:
        """The state as deployctl names it, run from ``cwd`` (a file below it: relative)."""
        if self.is_url:
            return self.location
        relative = os.path.relpath(self.location, cwd)
        return self.location if relative.startswith("..") else relative

    def block(self) -> str:
        """The manifest's ``state:`` declaring this state."""
        key = "url" if self.is_url else "path"
        return f"state:\n  {key}: {json.dumps(self.location)}\n"

    def sibling(self, name: str) -> SharedState:
        """Another state in the same backend: a file beside it, a schema, a prefix."""
        if self.kind == "local":
            location = str(Path(self.location).parent.parent / name / "dev.json")
        elif self.kind == "postgres":
            location = f"{self.location}{'&' if '?' in self.location else '?'}schema={name}"
        else:
            location = f"{self.location.rstrip('/')}/{name}/"
        return SharedState(self.kind, location, self.env)


def shared_state(request: pytest.FixtureRequest, kind: str) -> SharedState:
    """A new, empty state in backend ``kind`` (starting its server on first use)."""
    tmp_path: Path = request.getfixturevalue("tmp_path")
    if kind == "local":
        return SharedState(kind, str(tmp_path / "shared-state" / "team" / "dev.json"))
    if kind in REMOTE_KINDS:
        location, env = remote_state(request, kind, tmp_path, prefix="team")
        return SharedState(kind, location, env)
    raise ValueError(f"no state backend kind {kind!r}: one of {', '.join(KINDS)}")


@pytest.fixture(name="state_backend", params=KINDS)
def state_backend_fixture(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SharedState]:
    """A new, empty state in each backend in turn (``local``, ``postgres``, ``s3``)."""
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)
    yield shared_state(request, request.param)


def team_manifest(
    state: SharedState | None,
    target: Path,
    deployments: Mapping[str, str] | None = None,
    *,
    plugin: str = "local",
) -> str:
    """The manifest a team keeps in git: target ``team`` at ``PLUGIN:TARGET`` (an absolute
    folder, so that every checkout sees the same live deployments) and ``state:`` declaring
    ``state`` (``None``: no ``state:``, the default file next to the manifest)."""
    chosen = {"churn": "models:/churn/3"} if deployments is None else deployments
    text = manifest(targets={"team": {"uri": f"{plugin}:{target}", "deployments": chosen}})
    return text + (state.block() if state is not None else "")
