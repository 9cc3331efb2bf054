"""The local target's model loading: each failure is one line naming the model and the fix,
with real MLflow and real registries (a file store, unusable URIs, a closed port)."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest
from support import require_mlflow

from deployctl.targets.model_loading import load_pyfunc, redact, unreachable

SET_REGISTRY = (
    "set MLFLOW_TRACKING_URI to your MLflow server (http://HOST:PORT) or use a saved model's "
    "folder as model_uri"
)


@pytest.fixture
def registry_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No registry named in the environment, and MLflow's default looked for in ``tmp_path``."""
    require_mlflow()
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_ALLOW_FILE_STORE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def failure(model_uri: str) -> str:
    with pytest.raises(Exception) as raised:
        load_pyfunc(model_uri)
    assert getattr(raised.value, "error_code", None) == "INTERNAL_ERROR"
    message = str(raised.value)
    assert "\n" not in message and "…" not in message
    return message


def test_a_file_store_mlflow_refuses_says_which_switch_allows_it(
    registry_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = (tmp_path / "mlruns").as_uri()
    registry_env.setenv("MLFLOW_TRACKING_URI", store)
    assert failure("models:/churn/3") == (
        f"cannot load models:/churn/3: MLflow refuses the file store at {store}: set "
        f"MLFLOW_ALLOW_FILE_STORE=true, or {SET_REGISTRY}"
    )


def test_a_model_missing_from_a_working_registry_is_named_with_the_registry(
    registry_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = (tmp_path / "mlruns").as_uri()
    registry_env.setenv("MLFLOW_TRACKING_URI", store)
    registry_env.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    assert failure("models:/churn/3") == (
        f"cannot load models:/churn/3 from the model registry at {store}: Registered Model "
        "with name=churn not found"
    )


def test_a_registry_this_mlflow_cannot_open_says_what_can(
    registry_env: pytest.MonkeyPatch,
) -> None:
    if importlib.util.find_spec("sqlalchemy") is not None:
        pytest.skip("with SQLAlchemy, MLflow opens database registries itself")
    registry_env.setenv("MLFLOW_TRACKING_URI", "postgresql://bob:hunter2@db.internal/mlflow")
    message = failure("models:/churn/3")
    assert message == (
        "cannot load models:/churn/3: this MLflow cannot use the postgresql: registry at "
        f"postgresql://db.internal/mlflow (pip install mlflow can): {SET_REGISTRY}"
    )


def test_a_missing_model_folder_names_the_directory_it_was_looked_for_in(
    registry_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert failure("models/churn-v9") == (
        f"cannot load model models/churn-v9: no such folder (relative to {tmp_path})"
    )
    assert (
        failure(str(tmp_path / "gone")) == f"cannot load model {tmp_path / 'gone'}: no such folder"
    )


def test_only_an_http_registry_that_takes_no_connection_is_unreachable() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert unreachable(f"http://127.0.0.1:{port}") is None
    assert unreachable(f"http://127.0.0.1:{port}") == "connection refused"
    assert unreachable("file:///tmp/mlruns") is None
    assert unreachable("databricks") is None


def test_a_registry_behind_a_proxy_is_left_to_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("http_proxy", "http://proxy.internal:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert unreachable(f"http://10.1.2.3:{port}") is None


def test_credentials_in_urls_are_never_shown() -> None:
    assert redact(
        "at http://alice:s3cret@host:5000/api and https://tok@h/x; models:/m@champion"
    ) == ("at http://host:5000/api and https://h/x; models:/m@champion")
