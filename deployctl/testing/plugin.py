"""The conformance kit's pytest plugin, registered as the ``pytest11`` entry point ``deployctl``.

pytest loads it in every run where deployctl is installed, because ``pytest --pyargs
deployctl.testing --deployctl-target URI`` must know the options before it collects, from any
directory. Everywhere else it stays out of the way: it only adds the options, and it checks them
only when the conformance checks (``test_conformance.py`` beside this file) were collected. A run
that collects the checks without a target stops with a usage error instead of passing vacuously.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from deployctl.testing.options import (
    TARGET_OPTION,
    USAGE,
    add_options,
    kit_options,
    target_given,
)

CHECKS_FILE: Final = Path(__file__).with_name("test_conformance.py")
_COLLECTED: Final = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    target = target_given(config)
    if target is None:
        return None
    from deployctl.model import target_scheme
    from deployctl.targets.registry import find_target

    plugin = find_target(target_scheme(target))
    found = plugin.describe() if plugin is not None else "no installed plugin handles it"
    return [f"deployctl conformance kit: target {target} ({found})"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    collected = any(is_conformance_check(item) for item in items)
    config.stash[_COLLECTED] = collected
    if collected and not config.option.collectonly:
        kit_options(config)  # raises pytest.UsageError naming what to fix


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if config.getoption("deployctl_target") and not config.stash.get(_COLLECTED, False):
        terminalreporter.write_line(
            f"deployctl: {TARGET_OPTION} was given but no conformance check was collected, so "
            f"the target was not checked; run {USAGE}",
            yellow=True,
        )


def is_conformance_check(item: pytest.Item) -> bool:
    """Whether ``item`` is one of the kit's checks."""
    path = item.path
    return path.name == CHECKS_FILE.name and path.resolve() == CHECKS_FILE.resolve()
