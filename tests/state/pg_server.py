"""A throwaway PostgreSQL server for the PostgreSQL state backend tests, and a database per test.

When ``DEPLOYCTL_TEST_PG_URL`` names a server (a user that may create databases), the tests use
it. Otherwise each test process (each pytest-xdist worker too) starts its own server: ``initdb``
and ``pg_ctl`` of PostgreSQL 15 (``/usr/lib/postgresql/15/bin``, another version there, or
PATH) in a temporary directory, listening on a free port of 127.0.0.1 with its unix socket in
that directory, trust authentication, ``--no-sync`` and ``fsync=off`` so it starts in about a
second. As root the server runs as the ``postgres`` user (``runuser``, else ``su``), which owns
the directory. It is stopped, and the directory deleted, when the session ends.

Without the binaries (or psycopg) the tests skip, except in CI (``CI`` in 1/true/yes) where
that is a failure. The test modules import the fixtures::

    from .pg_server import pg_server_fixture, pg_url_fixture  # noqa: F401  (fixtures)

``pg_server`` (session-scoped, shared by every module of the process) is the ``PgServer``;
``pg_url`` is the URL of a new, empty database for one test.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from support import in_ci

ENV_URL = "DEPLOYCTL_TEST_PG_URL"
_SEARCH = Path("/usr/lib/postgresql")
_SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
)


def _missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


@dataclass
class PgServer:
    """A server the tests may create databases on; ``admin_url`` reaches its ``postgres`` db."""

    admin_url: str
    external: bool
    stop: Callable[[], None] | None = None
    _names: Iterator[int] = field(default_factory=itertools.count)
    _idle: list[str] = field(default_factory=list)
    _created: list[str] = field(default_factory=list)

    def url(self, database: str, *, password: str | None = None) -> str:
        """A URL of ``database`` (with ``password`` in it when given)."""
        parts = urlsplit(self.admin_url)
        netloc = parts.netloc
        if password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            netloc = f"{userinfo.partition(':')[0] or 'postgres'}:{password}@{hostport}"
        return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))

    def execute(self, query: str, *, database: str | None = None) -> None:
        import psycopg

        url = self.admin_url if database is None else self.url(database)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(query.encode())

    def take_database(self) -> str:
        """An empty database no other test is using.

        ``CREATE DATABASE`` costs a quarter of a second, so a database a finished test gave
        back is emptied instead (every schema dropped, its connections ended: their advisory
        locks go with them), which is as clean and takes about 10 ms.
        """
        if not self._idle:
            name = f"deployctl_test_{os.getpid()}_{next(self._names)}"
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            self._created.append(name)
            return name
        name = self._idle.pop()
        self.execute(_EMPTY_DATABASE, database=name)
        return name

    def give_back(self, database: str) -> None:
        self._idle.append(database)

    def drop_databases(self) -> None:
        for name in self._created:
            with contextlib.suppress(Exception):
                self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()
        self._idle.clear()


# Ends the other connections to the current database (waiting for them to exit), then drops
# every schema but the system ones and creates an empty ``public``.
_EMPTY_DATABASE = """
DO $$
DECLARE
    name text;
BEGIN
    PERFORM pg_terminate_backend(pid, 5000) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid();
    FOR name IN SELECT nspname FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
    LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', name);
    END LOOP;
    CREATE SCHEMA public;
END
$$
"""


def find_binaries() -> tuple[str, str] | None:
    """``initdb`` and ``pg_ctl``: PostgreSQL 15's, another installed version's, or PATH's."""
    versions = sorted(
        _SEARCH.glob("*/bin"),
        key=lambda p: (
            p.parent.name != "15",
            -int(p.parent.name) if p.parent.name.isdigit() else 0,
        ),
    )
    for folder in versions:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return str(folder / "initdb"), str(folder / "pg_ctl")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    return (initdb, pg_ctl) if initdb and pg_ctl else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_local() -> PgServer:
    binaries = find_binaries()
    if binaries is None:
        _missing(
            "the PostgreSQL server binaries (initdb, pg_ctl) are not installed "
            f"(apt-get install postgresql-15), and {ENV_URL} is not set"
        )
        raise AssertionError("unreachable")
    initdb, pg_ctl = binaries
    wrap: Callable[[list[str]], list[str]] = lambda cmd: cmd  # noqa: E731
    owner = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _missing("running the tests as root needs a 'postgres' user to run PostgreSQL")
        runuser = shutil.which("runuser")
        if runuser:
            wrap = lambda cmd: [runuser, "-u", "postgres", "--", *cmd]  # noqa: E731
        else:
            wrap = lambda cmd: ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]  # noqa: E731
    home = Path(tempfile.mkdtemp(prefix="deployctl-pg-"))
    if owner is not None:
        os.chown(home, owner.pw_uid, owner.pw_gid)
    data, log = home / "data", home / "server.log"

    def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            wrap(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
        )

    done = run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                "--locale=C", "--no-sync"])  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"initdb failed: {done.stdout}{done.stderr}")
    for _ in range(3):  # another process may take the free port before the server does
        port = _free_port()
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {home} {_SERVER_OPTIONS}"
        done = run([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options,
                    "start"])  # fmt: skip
        if done.returncode == 0:
            break
    else:
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"the PostgreSQL test server did not start: {done.stderr}\n{text[-2000:]}")

    def stop() -> None:
        run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(home, ignore_errors=True)

    return PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", external=False, stop=stop)


_mutex = threading.Lock()
_shared: PgServer | None = None
_users = 0


def _acquire() -> PgServer:
    global _shared, _users
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed (pip install 'deployctl[test]')")
    with _mutex:
        if _shared is None:
            url = os.environ.get(ENV_URL)
            _shared = PgServer(url, external=True) if url else _start_local()
        _users += 1
        return _shared


def _release() -> None:
    global _shared, _users
    with _mutex:
        _users -= 1
        if _users > 0 or _shared is None:
            return
        server, _shared = _shared, None
    if server.stop is not None:
        server.stop()  # deletes the server and its databases
    else:
        server.drop_databases()


@pytest.fixture(scope="session", name="pg_server")
def pg_server_fixture() -> Iterator[PgServer]:
    """The PostgreSQL server of this test process, stopped after the last module using it."""
    server = _acquire()
    try:
        yield server
    finally:
        _release()


@pytest.fixture(name="pg_url")
def pg_url_fixture(pg_server: PgServer) -> Iterator[str]:
    """The URL of an empty database that this test alone uses."""
    name = pg_server.take_database()
    yield pg_server.url(name)
    pg_server.give_back(name)
