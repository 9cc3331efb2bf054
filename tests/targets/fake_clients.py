"""Helpers for the target tests: small in-process clients, and the test plugins' call logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployctl.model import DeploymentSpec
from deployctl.targets.adapter import TargetAdapter

SPEC = DeploymentSpec("models:/churn/3", "python_function", {"replicas": 2})


def calls_of(adapter: TargetAdapter, method: str | None = None) -> list[dict[str, Any]]:
    """The calls a file-backed test plugin logged, optionally of one method only."""
    from dtp_common import read_calls

    calls = read_calls(Path(adapter.uri.partition(":")[2]))
    return [c for c in calls if method is None or c["method"] == method]


def faults(adapter: TargetAdapter, **kinds: Any) -> None:
    """Inject faults into a file-backed test plugin's target."""
    from dtp_common import write_faults

    write_faults(Path(adapter.uri.partition(":")[2]), kinds)


class Lister:
    """A client whose list_deployments returns whatever the test gives it."""

    def __init__(self, listing: Any = None, got: Any = None) -> None:
        self.target_uri = "fake:/x"
        self.listing = listing
        self.got = got

    def create_deployment(
        self, name: str, model_uri: str, flavor: Any = None, config: Any = None
    ) -> Any:
        return self.got

    def get_deployment(self, name: str) -> Any:
        return self.got

    def list_deployments(self) -> Any:
        return self.listing

    def delete_deployment(self, name: str) -> None:
        return None


def adapter_for(client: Any, key: str = "t", uri: str = "fake:/x") -> TargetAdapter:
    return TargetAdapter(key, uri, client)


def names(records: list[Any]) -> list[str]:
    return [r.name for r in records]
