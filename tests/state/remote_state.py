"""A new, empty state on a throwaway PostgreSQL or S3 server, for tests that run ``deployctl``.

Shared by the CLI's shared-state tests and the soak. Test modules that use it import the server
fixtures (``state.pg_server``, ``state.s3_server``); the servers start on first use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from state.pg_server import PgServer
from state.s3_server import S3Server

REMOTE_KINDS = ("postgres", "s3")


def remote_state(
    request: pytest.FixtureRequest, kind: str, home: Path, *, prefix: str
) -> tuple[str, dict[str, str]]:
    """The URL of a new, empty state in backend ``kind`` (``postgres`` or ``s3``) and the
    environment a ``deployctl`` process needs to reach it (``home`` holds no AWS config).
    ``prefix`` names the S3 bucket and key prefix."""
    if kind == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        database = server.take_database()
        request.addfinalizer(lambda: server.give_back(database))
        return server.url(database), {}
    if kind == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket(f"deployctl-{prefix}")
        return f"s3://{bucket}/{prefix}/", s3.process_env(home)
    raise ValueError(f"no remote state backend {kind!r}: one of {', '.join(REMOTE_KINDS)}")
