"""Fixtures for the target tests: file-backed test plugins loaded through real entry points."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_module, load_target
from deployctl.targets.plugin_module import PluginModule


@pytest.fixture
def load(tmp_path: Path, test_plugins: ModuleType) -> Callable[..., TargetAdapter]:
    """``load(scheme, key=...)``: a target of that scheme on a fresh directory under tmp_path."""
    counter = 0

    def _load(scheme: str, key: str | None = None) -> TargetAdapter:
        nonlocal counter
        counter += 1
        directory = tmp_path / f"{scheme}-{counter}"
        directory.mkdir()
        return load_target(f"{scheme}:{directory}", key=key or scheme)

    return _load


@pytest.fixture
def module_of(tmp_path: Path, test_plugins: ModuleType) -> Callable[..., PluginModule]:
    """``module_of(scheme, key=...)``: the plugin module of a target of that scheme on
    tmp_path, loaded without a client."""

    def _module_of(scheme: str, key: str | None = None) -> PluginModule:
        return load_module(f"{scheme}:{tmp_path}", key=key or scheme)

    return _module_of
