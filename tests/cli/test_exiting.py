"""``cli.exiting.keep``: what a command made stays referenced until the console script's hard
exit, and is freed as usual when ``main()`` runs in-process (the console script's exit itself
is tested in real processes in ``test_console_script``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from deployctl.cli import exiting
from deployctl.model.state import StateDocument


def test_what_a_command_keeps_in_process_is_freed_when_it_is_dropped() -> None:
    state = StateDocument.empty("dev")
    freed = weakref.ref(state)
    exiting.keep(state)
    del state
    assert freed() is None


@pytest.fixture
def console_script(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``exiting.begin()`` as the console script calls it; what it changes put back after."""
    monkeypatch.setattr(exiting, "_kept", None)
    collecting = gc.isenabled()
    exiting.begin()
    yield
    if collecting:
        gc.enable()


def test_what_a_command_keeps_under_the_console_script_lives_until_the_exit(
    console_script: None,
) -> None:
    state = StateDocument.empty("dev")
    kept = weakref.ref(state)
    exiting.keep(state)
    del state
    assert kept() is not None


def test_under_the_console_script_the_collector_stays_off_after_a_command(
    console_script: None,
) -> None:
    from deployctl.cli.main import main

    with pytest.raises(SystemExit):
        main(["--version"])
    # Turned on again, its first pass would walk every object the command made.
    assert not gc.isenabled()


def test_in_process_a_command_leaves_the_collector_as_it_found_it() -> None:
    from deployctl.cli.main import main

    assert gc.isenabled()
    with pytest.raises(SystemExit):
        main(["--version"])
    assert gc.isenabled()
