"""Reading ahead: big local targets listed by a forked child, with the very same results.

The child can only save time: these tests hold a refresh with a read-ahead to the refresh
without one, record for record and error for error, and check that no child outlives its use.

A read-ahead forks only a process with no other thread but idle plugin-call workers, as the CLI
is when it reads ahead; a pytest worker that ran other tests may have more (a plugin call some
test abandoned, still running). So each test runs its body in a child forked from this process
(``in_a_clean_process``): only the forking thread survives a fork.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from support import deployments, manifest, run_cli, write_manifest

from deployctl.errors import TargetError
from deployctl.executor.console import CaptureConsole
from deployctl.manifest import Manifest, load_manifest
from deployctl.model.live import LiveView
from deployctl.model.state import StateDocument
from deployctl.operations.refresh import refresh
from deployctl.targets import read_ahead
from deployctl.targets.pool import TargetPool
from deployctl.targets.read_ahead import ReadAhead

T = TypeVar("T")

TARGETS = {
    "a": {
        "uri": "local:.deployctl/a",
        "deployments": {
            **deployments(5),
            "tuned": {"model_uri": "models:/t/1", "config": {"nested": {"x": [1, 2.5, None]}}},
        },
    },
    "b": {"uri": "local:.deployctl/b", "deployments": deployments(3, "models:/b/{i}")},
}


def in_a_clean_process(body: Callable[[], T], timeout: float = 60) -> T:
    """``body()`` run in a child forked from this process, which has no thread but this one;
    what it returns (or the assertion it fails with) comes back here."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in _exit
        import posix

        try:
            outcome: tuple[bool, object] = (True, body())
        except BaseException as exc:
            outcome = (False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        os.write(write_end, pickle.dumps(outcome))
        posix._exit(0)
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + timeout
    while select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))[0]:
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert chunks, f"the child ran for more than {timeout} s, or died"
    passed, value = pickle.loads(b"".join(chunks))
    if not passed:
        pytest.fail(str(value))
    return value  # type: ignore[no-any-return]


@pytest.fixture
def applied(tmp_path: Path) -> Manifest:
    path = write_manifest(tmp_path / "dev.yaml", manifest(targets=TARGETS))
    assert run_cli("apply", "-f", str(path), "--auto-approve", cwd=tmp_path).code == 0
    return load_manifest(path)


def _refresh(manifest: Manifest, *, ahead: bool) -> LiveView:
    pool = TargetPool.for_manifest(manifest)
    if ahead:
        pool.read_ahead(manifest, min_deployments=0)
        assert all(pool.get(t.key, t.resolved_uri).read_ahead for t in manifest.targets)
    return refresh(manifest, StateDocument.empty("dev"), pool, CaptureConsole())


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


def _child_pids(pool: TargetPool, manifest: Manifest) -> list[int]:
    aheads = {pool.get(t.key, t.resolved_uri).read_ahead for t in manifest.targets}
    return [a._pid for a in aheads if a is not None]


def test_a_refresh_read_ahead_finds_what_a_refresh_without_it_finds(applied: Manifest) -> None:
    records = Path(applied.path).parent / ".deployctl" / "b" / "deployments"
    (records / "unmanaged.json").write_text('{"name": "unmanaged", "model_uri": "models:/u/1"}')
    with_child = in_a_clean_process(lambda: _refresh(applied, ahead=True))
    without = _refresh(applied, ahead=False)
    assert with_child == without
    assert len(with_child.existing()) == 10


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each ``ReadAhead.take`` found the child's records (in the process it runs in)."""
    found: list[bool] = []
    take = ReadAhead.take

    def spy(self: ReadAhead, key: str) -> object:
        listed = take(self, key)
        found.append(listed is not None)
        return listed

    monkeypatch.setattr(ReadAhead, "take", spy)
    return found


def test_the_child_lists_the_targets_and_the_parent_only_takes_them(
    applied: Manifest, taken: list[bool]
) -> None:
    def body() -> list[bool]:
        _refresh(applied, ahead=True)
        return taken

    assert in_a_clean_process(body) == [True, True]


def test_a_record_the_child_cannot_read_is_read_and_reported_by_the_parent(
    applied: Manifest,
) -> None:
    broken = Path(applied.path).parent / ".deployctl" / "a" / "deployments" / "d0.json"
    broken.write_text("{not json")

    def error(ahead: bool) -> str:
        with pytest.raises(TargetError) as caught:
            _refresh(applied, ahead=ahead)
        return str(caught.value)

    assert in_a_clean_process(lambda: error(True)) == error(False)
    assert "d0.json is not valid JSON" in error(False)


def test_no_child_outlives_its_read_ahead_taken_or_not(applied: Manifest) -> None:
    def body() -> list[list[int]]:
        dropped = TargetPool.for_manifest(applied)
        dropped.read_ahead(applied, min_deployments=0)
        pids = _child_pids(dropped, applied)
        del dropped
        used = TargetPool.for_manifest(applied)
        used.read_ahead(applied, min_deployments=0)
        pids += _child_pids(used, applied)
        refresh(applied, StateDocument.empty("dev"), used, CaptureConsole())
        return [pids, _alive(pids)]

    pids, alive = in_a_clean_process(body)
    assert len(pids) == 2
    assert alive == []


def test_small_manifests_and_excluded_targets_are_not_read_ahead(applied: Manifest) -> None:
    def body() -> tuple[list[int], bool, bool]:
        pool = TargetPool.for_manifest(applied)
        pool.read_ahead(applied)  # 9 deployments: fewer than MIN_DEPLOYMENTS
        none = _child_pids(pool, applied)
        pool.read_ahead(applied, lambda key: key == "b", min_deployments=0)
        a, b = (pool.get(t.key, t.resolved_uri) for t in applied.targets)
        return none, a.read_ahead is None, b.read_ahead is not None

    assert in_a_clean_process(body) == ([], True, True)


def test_a_process_with_another_thread_does_not_fork(applied: Manifest) -> None:
    def body() -> tuple[bool, bool, list[int]]:
        alone = read_ahead.can_fork()
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:
            pool = TargetPool.for_manifest(applied)
            pool.read_ahead(applied, min_deployments=0)
            return alone, read_ahead.can_fork(), _child_pids(pool, applied)
        finally:
            stop.set()
            other.join()

    assert in_a_clean_process(body) == (True, False, [])


def test_plan_reads_big_local_targets_ahead_and_prints_the_same_plan(
    applied: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = Path(applied.path).parent
    before = run_cli("plan", "-f", "dev.yaml", cwd=cwd)
    started: list[int] = []
    start = ReadAhead.start.__func__  # type: ignore[attr-defined]

    def spy(cls: type[ReadAhead], adapters: list[object]) -> ReadAhead | None:
        ahead = start(cls, adapters)
        started.append(len(adapters) if ahead is not None else 0)
        return ahead  # type: ignore[no-any-return]

    monkeypatch.setattr(read_ahead, "MIN_DEPLOYMENTS", 9)
    monkeypatch.setattr(ReadAhead, "start", classmethod(spy))

    def body() -> tuple[int, str, list[int]]:
        after = run_cli("plan", "-f", "dev.yaml", cwd=cwd)
        return after.code, after.out, started

    code, out, read = in_a_clean_process(body)
    assert read == [2]
    assert (code, out) == (before.code, before.out)
    assert code == 0 and "No changes" in out


def test_a_plan_saved_from_records_read_ahead_applies_as_not_stale(
    applied: Manifest, taken: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = Path(applied.path).parent
    changed = Path(applied.path).read_text().replace("models:/b/2", "models:/b/22")
    Path(applied.path).write_text(changed)
    monkeypatch.setattr(read_ahead, "MIN_DEPLOYMENTS", 9)

    def body() -> tuple[int, str, str, list[bool]]:
        saved = run_cli("plan", "-f", "dev.yaml", "--out", "plan.out", cwd=cwd)
        return saved.code, saved.out, saved.err, taken

    code, out, err, read = in_a_clean_process(body)
    assert code == 0, err
    assert read == [True, True]
    assert "1 to update" in out
    # The saved plan's fingerprints came from the child's records; apply re-reads the targets
    # itself (no read-ahead) and finds them unchanged.
    done = run_cli("apply", "plan.out", cwd=cwd)
    assert done.code == 0, done.err
    assert "stale" not in done.err.lower()
