"""Fixtures for manifest tests: real manifest files in a temporary folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from deployctl.errors import ManifestError
from deployctl.manifest import load_manifest

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]


@pytest.fixture
def write_manifest(tmp_path: Path) -> WriteManifest:
    """Write dedented YAML text to ``tmp_path/<name>`` and return its path."""

    def write(text: str, name: str = "dev.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def issues_of(write_manifest: WriteManifest) -> Issues:
    """Load YAML text that must fail; return its issues as (line, col, message), in order."""

    def issues(
        text: str,
        *,
        variables: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> list[tuple[int, int, str]]:
        path = write_manifest(text)
        with pytest.raises(ManifestError) as caught:
            load_manifest(path, variables=variables, environ=environ or {})
        for issue in caught.value.issues:
            assert issue.path == str(path)
        return [(i.line, i.col, i.message) for i in caught.value.issues]

    return issues
