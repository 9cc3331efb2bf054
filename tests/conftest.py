"""Fixtures shared by every test package."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from support import require_test_plugins


@pytest.fixture
def test_plugins() -> ModuleType:
    """The installed deployctl-test-plugins (skipped without them; a failure in CI).

    Returns ``dtp_common``: fault injection (``write_faults``) and the call log (``read_calls``).
    """
    require_test_plugins()
    return importlib.import_module("dtp_common")
