"""Which registry a resolution asks, how messages name it, and whether it answers."""

from __future__ import annotations

import pytest

from deployctl.registry.location import RegistryLocation, locate, redact, unreachable


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("http://alice:s3cret@registry:5000/path", "http://registry:5000/path"),
        ("https://token@registry", "https://registry"),
        ("postgresql://user:pw@db/mlflow", "postgresql://db/mlflow"),
        ("http://registry:5000", "http://registry:5000"),
        ("databricks://profile", "databricks://profile"),
        ("file:///srv/mlruns", "file:///srv/mlruns"),
    ],
)
def test_messages_show_a_registry_without_its_credentials(uri: str, shown: str) -> None:
    location = RegistryLocation(uri)
    assert location.shown == redact(uri) == shown
    assert str(location) == f"the model registry at {shown}"
    assert (
        location.scrub(f"API request to {uri}/api failed") == f"API request to {shown}/api failed"
    )


def test_the_registry_is_the_one_mlflow_would_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    assert locate(None) == RegistryLocation("http://from-env:5000")
    assert locate("http://given:5000") == RegistryLocation("http://given:5000")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "http://registry-env:5000")
    assert locate("http://given:5000") == RegistryLocation("http://registry-env:5000")
    assert locate("http://given:5000", "databricks://p") == RegistryLocation("databricks://p")


def test_only_an_unchosen_registry_adds_how_to_name_one() -> None:
    chosen, default = RegistryLocation("http://r"), RegistryLocation("sqlite:///x.db", chosen=False)
    assert (chosen.hint(), chosen.hint("fix it")) == (None, "fix it")
    assert default.hint("fix it") == (
        "fix it; name one in MLFLOW_TRACKING_URI or the manifest's registry: {tracking_uri: URI}"
    )
    assert str(default) == "MLflow's default model registry (sqlite:///x.db; none was named)"


@pytest.mark.parametrize("uri", ["file:///nowhere", "databricks", "sqlite:///x.db"])
def test_only_http_registries_are_checked_for_an_answer(uri: str) -> None:
    assert unreachable(RegistryLocation(uri)) is None


def test_a_port_nothing_listens_on_is_unreachable(closed_port: int) -> None:
    location = RegistryLocation(f"http://127.0.0.1:{closed_port}")
    assert unreachable(location) == "connection refused"


def test_any_http_answer_means_reachable(refusing_server: str) -> None:
    assert unreachable(RegistryLocation(refusing_server)) is None
    assert unreachable(RegistryLocation(f"{refusing_server}/no/such/path")) is None
