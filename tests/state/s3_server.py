"""A throwaway moto S3 server for the S3 backend tests: one per pytest session (per xdist worker).

``s3_server`` starts ``python -m moto.server`` on a free port and stops it at the end;
``s3_bucket`` is a new bucket per test, ``s3_url`` the state URL in it (``s3://<bucket>/states/``);
both point the AWS environment (endpoint, dummy credentials, region, no config files) at the
server. Without boto3 or moto[server] the tests skip, except in CI where that is a failure. The
test modules import the fixtures::

    from .s3_server import s3_bucket_fixture, s3_server_fixture, s3_url_fixture  # noqa: F401

moto's server implements the conditional writes the backend relies on (checked by
``test_the_server_enforces_conditional_writes``): ``IfNoneMatch='*'`` and a stale ``IfMatch`` on
PutObject answer 412, and so does a stale ``IfMatch`` on DeleteObject.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import in_ci

S3_TOOLS = "pip install 'deployctl[test]'"
_START_TIMEOUT = 30.0


def require_s3_tools(*, server: bool = True) -> None:
    """Skip without boto3 (and moto's server), except in CI where that is a failure."""
    needed = ("boto3", "moto", "flask") if server else ("boto3",)
    missing = [m for m in needed if not _installed(m)]
    if not missing:
        return
    what = (
        f"{', '.join(missing)} not installed: the S3 backend tests need boto3 and "
        f"moto[server] ({S3_TOOLS})"
    )
    if in_ci():
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        """A plain boto3 client on the server, for setting up and inspecting buckets."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def new_bucket(self, prefix: str) -> str:
        """A new, empty bucket named ``<prefix>-<random>``."""
        bucket = f"{prefix}-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def process_env(self, home: Path) -> dict[str, str]:
        """What a ``deployctl`` process needs to use this server, and nothing of the developer's
        AWS configuration (files under ``home`` that do not exist)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }


def start_server(log: Path) -> S3Server:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return S3Server(endpoint, process)
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the moto S3 server did not start: {log.read_text(errors='replace')}")
        time.sleep(0.05)


# Each test module that uses the fixture gets its own session-scoped copy of it from pytest;
# they share one server, stopped when the last of them is torn down.
_RUNNING: list[S3Server] = []
_USERS: list[int] = [0]


@pytest.fixture(scope="session", name="s3_server")
def s3_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    require_s3_tools()
    if not _RUNNING or _RUNNING[0].process.poll() is not None:
        _RUNNING[:] = [start_server(tmp_path_factory.mktemp("moto") / "server.log")]
    _USERS[0] += 1
    try:
        yield _RUNNING[0]
    finally:
        _USERS[0] -= 1
        if _USERS[0] == 0:
            stop_server(_RUNNING.pop())


def stop_server(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def point_aws_at(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make boto3 (in this process and its children) use ``endpoint`` with dummy credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Never read the developer's own AWS configuration.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(name="s3_bucket")
def s3_bucket_fixture(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A fresh bucket on the server, with the AWS environment pointing at it."""
    point_aws_at(s3_server.endpoint, monkeypatch, tmp_path)
    bucket = f"deployctl-{uuid.uuid4().hex[:16]}"
    s3_server.client().create_bucket(Bucket=bucket)
    yield bucket


@pytest.fixture(name="s3_url")
def s3_url_fixture(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/states/"


def object_keys(server: S3Server, bucket: str) -> list[str]:
    answer = server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))


class FaultyProxy:
    """A TCP proxy in front of the S3 server that loses answers or refuses requests on demand.

    ``fail("PUT", "/bucket/key", ["lose", "refuse"])``: the next matching request is forwarded
    but its answer never comes back (the connection closes: the write happened, the client
    cannot know); the one after is refused (closed unforwarded). moto closes every connection
    after one answer, so one connection is one request.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._faults: list[tuple[str, str]] = []
        self._match = ""
        self._mutex = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def fail(self, method: str, path: str, faults: list[str]) -> None:
        with self._mutex:
            self._match = f"{method} {path}"
            self._faults = [(self._match, f) for f in faults]

    @property
    def pending_faults(self) -> int:
        with self._mutex:
            return len(self._faults)

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _fault_for(self, head: bytes) -> str | None:
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        with self._mutex:
            if self._faults and (
                line.startswith(self._match + " ") or line.startswith(self._match + "?")
            ):
                return self._faults.pop(0)[1]
        return None

    def _handle(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            fault = self._fault_for(head)
            if fault == "refuse":
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                upstream.sendall(head)
                threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
                while chunk := upstream.recv(65536):
                    # "lose" still lets "100 Continue" through, so the body is sent at once.
                    if fault != "lose" or chunk.startswith(b"HTTP/1.1 100 "):
                        client.sendall(chunk)
            # A plain close would not end the connection while _pump is blocked reading it.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass


@pytest.fixture(name="faulty_proxy")
def faulty_proxy_fixture(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FaultyProxy]:
    """A ``FaultyProxy`` to the server, with the AWS environment pointing at the proxy."""
    proxy = FaultyProxy(int(s3_server.endpoint.rsplit(":", 1)[1]))
    point_aws_at(proxy.endpoint, monkeypatch, tmp_path)
    yield proxy
    proxy.close()
