"""Never lose track: random manifest changes applied under faults, kill -9, SIGTERM and SIGINT,
each followed by a plain apply, converge with zero manual steps (the harness: ``soak.chaos``).

The normal suite runs a short soak (``FAST_CYCLES`` on a local state file, a few cycles on
PostgreSQL and S3). The full soak runs under a flag and prints its figures::

    DEPLOYCTL_SOAK=200 python -m pytest tests/soak -q
    DEPLOYCTL_SOAK=200 DEPLOYCTL_SOAK_SEED=7 DEPLOYCTL_SOAK_BACKEND=postgres \
        python -m pytest tests/soak -q

A failure names the seed and the cycle; the soak's folder (``soak.log``, and each failed cycle's
manifest and run output under ``cycles/NNN``) is kept under pytest's temporary directory.
"""

from __future__ import annotations

import faulthandler
import os
from pathlib import Path
from types import ModuleType

import pytest
from state.pg_server import pg_server_fixture  # noqa: F401  (fixture)
from state.remote_state import REMOTE_KINDS, remote_state
from state.s3_server import s3_server_fixture  # noqa: F401  (fixture)

from soak.chaos import Backend, Figures, Settings, run_soak

SOAK = "DEPLOYCTL_SOAK"
SEED = "DEPLOYCTL_SOAK_SEED"
BACKEND = "DEPLOYCTL_SOAK_BACKEND"
FAST_CYCLES = 10
FAST_SEED = 8
# On the shared backends the short soak is shorter still: each process connects to a server.
FAST_SHARED_CYCLES = 3


def backend(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Backend:
    """A new, empty state in backend ``kind`` (starting its server on first use)."""
    if kind == "local":
        return Backend()
    if kind in REMOTE_KINDS:
        location, env = remote_state(request, kind, tmp_path, prefix="soak")
        return Backend(kind, location, env)
    raise ValueError(f"{BACKEND} is one of local, postgres, s3, not {kind!r}")


def report(figures: Figures, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print("\n" + figures.summary())


def assert_converged_every_time(figures: Figures) -> None:
    assert figures.cycles == figures.cycles_wanted, figures.summary()
    assert figures.manual_step_count == 0, figures.summary()
    assert not figures.failures, figures.summary()


@pytest.mark.skipif(bool(os.environ.get(SOAK)), reason=f"{SOAK} is set: the full soak runs")
@pytest.mark.parametrize(
    ("kind", "cycles"),
    [("local", FAST_CYCLES), ("postgres", FAST_SHARED_CYCLES), ("s3", FAST_SHARED_CYCLES)],
)
def test_a_short_soak_converges_after_every_cycle_with_no_manual_step(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    test_plugins: ModuleType,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    cycles: int,
) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "DEPLOYCTL_STATE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        seed=FAST_SEED,
        cycles=cycles,
        workdir=tmp_path / "soak",
        backend=backend(request, kind, tmp_path),
        deadline=8.0,
    )
    figures = run_soak(settings)
    if request.config.get_verbosity() > 0:
        report(figures, capsys)
    assert_converged_every_time(figures)


def _full_soak_converges_after_every_cycle_with_no_manual_step(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    test_plugins: ModuleType,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # It runs for minutes on purpose: no "Timeout" stack dump (pyproject's faulthandler_timeout).
    faulthandler.cancel_dump_traceback_later()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "DEPLOYCTL_STATE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        seed=int(os.environ.get(SEED, "1")),
        cycles=int(os.environ[SOAK]),
        workdir=tmp_path / "soak",
        backend=backend(request, os.environ.get(BACKEND, "local"), tmp_path),
    )
    figures = run_soak(settings)
    report(figures, capsys)
    print(f"soak folder: {settings.workdir}")
    assert_converged_every_time(figures)


# The full soak runs for minutes: it is collected only when asked for (DEPLOYCTL_SOAK=CYCLES),
# so that the ordinary suite reports no skipped test for it.
if os.environ.get(SOAK):
    test_the_full_soak_converges_after_every_cycle_with_no_manual_step = (
        _full_soak_converges_after_every_cycle_with_no_manual_step
    )
