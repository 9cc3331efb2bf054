"""``cli.exiting.keep``: what a command made stays referenced until the console script's hard
exit, and is freed as usual when ``main()`` runs in-process (the console script's exit itself
is tested in real processes in ``test_console_script``)."""

from __future__ import annotations

import weakref

import pytest

from deployctl.cli import exiting
from deployctl.model.state import StateDocument


def test_what_a_command_keeps_in_process_is_freed_when_it_is_dropped() -> None:
    state = StateDocument.empty("dev")
    freed = weakref.ref(state)
    exiting.keep(state)
    del state
    assert freed() is None


def test_what_a_command_keeps_under_the_console_script_lives_until_the_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exiting, "_kept", None)  # restored after the test
    exiting.begin()
    state = StateDocument.empty("dev")
    kept = weakref.ref(state)
    exiting.keep(state)
    del state
    assert kept() is not None
