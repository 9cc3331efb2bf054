"""The workspace of the orchestration tests: a manifest on the built-in local target, next to its
state file, all in a temporary directory (real files, real plugin, no mocks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deployctl.executor.console import CaptureConsole
from deployctl.manifest import load_manifest
from deployctl.manifest.model import Manifest
from deployctl.model.state import StateDocument
from deployctl.operations import applying, planning
from deployctl.planner.plan import Plan
from deployctl.state.local import LocalStateBackend
from deployctl.targets.local import LocalDeploymentClient
from deployctl.targets.pool import TargetPool

MANIFEST = """\
version: 1
environment: dev
targets:
  local:
    uri: local:.deployctl/dev
    deployments:
      churn:
        model_uri: models:/churn/3
      fraud:
        model_uri: models:/fraud/1
        config: {workers: 2}
"""


@dataclass
class Workspace:
    """``dev.yaml`` and ``state/dev.json`` under ``root``; the local target in ``.deployctl``."""

    root: Path

    @property
    def manifest_path(self) -> Path:
        return self.root / "dev.yaml"

    @property
    def state_path(self) -> Path:
        return self.root / "state" / "dev.json"

    def manifest(self, text: str = MANIFEST) -> Manifest:
        self.manifest_path.write_text(text, encoding="utf-8")
        return load_manifest(self.manifest_path)

    def backend(self) -> LocalStateBackend:
        return LocalStateBackend(self.state_path, environment="dev")

    def state(self) -> StateDocument:
        return self.backend().read()

    def client(self) -> LocalDeploymentClient:
        """The local target, for changes made behind deployctl's back."""
        return LocalDeploymentClient(f"local:{self.root / '.deployctl' / 'dev'}")

    def plan(self, manifest: Manifest, **options: object) -> Plan:
        return planning.plan(
            manifest,
            self.state(),
            TargetPool.for_manifest(manifest),
            CaptureConsole(),
            state_path=str(self.state_path),
            **options,  # type: ignore[arg-type]
        )

    def apply(self, manifest: Manifest) -> None:
        """Plan and apply ``manifest`` as ``deployctl apply --auto-approve`` does."""
        pool = TargetPool.for_manifest(manifest)
        with self.backend().lock(operation="apply") as session:
            made = planning.plan(
                manifest,
                session.document,
                pool,
                CaptureConsole(),
                state_path=str(self.state_path),
            )
            assert applying.apply(made, session, pool, CaptureConsole()).ok
