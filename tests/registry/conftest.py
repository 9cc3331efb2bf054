"""A real MLflow model registry for the registry tests (MLflow's file store in a temporary
directory, shared by the tests of a module; each test registers models under its own names),
and registries that do not answer or refuse."""

from __future__ import annotations

import json
import socket
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support import require_mlflow

from deployctl.errors import ResolutionError


@dataclass(frozen=True)
class Registry:
    """A model registry on disk: ``uri`` is its tracking URI, ``client`` an ``MlflowClient``."""

    uri: str
    client: Any
    root: Path

    def model(
        self,
        name: str,
        versions: int = 3,
        aliases: Mapping[str, int] | None = None,
        stages: Mapping[int, str] | None = None,
    ) -> str:
        """Register ``name`` with ``versions`` versions (1..N), its ``aliases`` (alias ->
        version) and ``stages`` (version -> stage); returns the name."""
        self.client.create_registered_model(name)
        for version in range(1, versions + 1):
            source = self.root / "sources" / f"{name}-{version}"
            source.mkdir(parents=True)
            self.client.create_model_version(name, source=str(source))
        for alias, version in (aliases or {}).items():
            self.move(name, alias, version)
        with warnings.catch_warnings():  # MLflow deprecated stages (FutureWarning)
            warnings.simplefilter("ignore", FutureWarning)
            for version, stage in (stages or {}).items():
                self.client.transition_model_version_stage(name, str(version), stage)
        return name

    def move(self, name: str, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    mlflow = require_mlflow()
    with pytest.MonkeyPatch.context() as patch:
        # MLflow 3.17 refuses its file store unless asked; the tests name the registry
        # themselves, so none set in the environment may stand in for it.
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            patch.delenv(variable, raising=False)
        root = tmp_path_factory.mktemp("registry")
        uri = (root / "mlruns").as_uri()
        yield Registry(uri, mlflow.MlflowClient(tracking_uri=uri), root)


def unresolved(error: ResolutionError) -> dict[str, str]:
    """Each failing URI's line, checked to be one whole line that names the URI."""
    lines = str(error).split("\n")
    assert len(lines) == len(error.errors)
    for line, each in zip(lines, error.errors, strict=True):
        assert line == str(each)
        assert line.startswith(f"{each.uri}: ")
        assert "…" not in line  # nothing cut off
        assert "Traceback" not in line
    return {each.uri: str(each) for each in error.errors}


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Refusing(BaseHTTPRequestHandler):
    """A registry server that answers every API call as MLflow's server refuses one."""

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "error_code": "PERMISSION_DENIED",
                "message": "alice may not read model churn;\nask an admin for READ on it",
            }
        ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """The tracking URI (with a user name and password) of a server refusing every call."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://alice:s3cret@127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
