"""The local target under an apply's parallel workers: fsyncs shared, nothing durable late.

A create stages its record (written and fsynced), gives it its name by a hard link (no lock:
the link fails when the name exists), and waits for a directory fsync shared with the other
writers. These tests slow the directory fsync down (so that writers really overlap) and log the
order of the file operations, to check that no create returns before its record is durable,
that the lock is not held while fsyncing, and that the one-winner rule still holds, with hard
links and without them (then a rename under the lock).
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import run_threads

from deployctl import atomic
from deployctl.targets.local import LOCK_FILE, LocalDeploymentClient

THREADS = 8


class Log:
    """File operations in the order they happened: (sequence number, what, path)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[int, str, str]] = []

    def add(self, what: str, path: str) -> int:
        with self._lock:
            seq = len(self.events)
            self.events.append((seq, what, path))
            return seq

    def first(self, what: str, path: str) -> int:
        return next(s for s, w, p in self.events if w == what and p == path)


def inode(fd_or_path: int | str | os.PathLike[str]) -> str:
    """Which file a descriptor or path is (a file without a name has no path to log)."""
    return f"inode {os.stat(fd_or_path).st_ino}"


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Iterator[Log]:
    """Logs file fsyncs (by inode), renames and links (a record taking its name: "renamed",
    and the inode it took it from: "renamed from") and directory fsyncs (start and end,
    slowed down)."""
    log = Log()
    real_fsync, real_rename, real_fsync_dir = os.fsync, os.rename, atomic.fsync_dir
    real_link = os.link

    def fsync(fd: int) -> None:
        log.add("fsync", inode(fd))
        real_fsync(fd)

    def rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        source = inode(src)
        real_rename(src, dst)
        log.add("renamed", os.fspath(dst))
        log.add("renamed from", source)

    def link(src: str | os.PathLike[str], dst: str | os.PathLike[str], **kwargs: Any) -> None:
        source = inode(src)  # through /proc/self/fd/N: the file without a name
        real_link(src, dst, **kwargs)
        log.add("renamed", os.fspath(dst))
        log.add("renamed from", source)

    def fsync_dir(directory: Path) -> None:
        log.add("dir fsync started", os.fspath(directory))
        time.sleep(0.02)
        real_fsync_dir(directory)
        log.add("dir fsync ended", os.fspath(directory))

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to name the files fsynced")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(atomic, "fsync_dir", fsync_dir)
    yield log


def test_parallel_creates_on_one_target_share_directory_fsyncs(tmp_path: Path, log: Log) -> None:
    uri = f"local:{tmp_path / 'target'}"
    client = LocalDeploymentClient(uri)

    def create(index: int) -> None:
        for n in range(5):
            client.create_deployment(f"d{index}-{n}", f"models:/m/{index}")

    assert run_threads(THREADS, create) == []
    dir_fsyncs = [e for e in log.events if e[1] == "dir fsync started"]
    assert 0 < len(dir_fsyncs) < THREADS * 5 / 2
    assert len(LocalDeploymentClient(uri).list_deployments()) == THREADS * 5


@pytest.fixture(params=["hard links", "no hard links"])
def links(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: on a filesystem with hard links, and on one without (link fails)."""
    if request.param == "no hard links":

        def no_link(src: object, dst: object, **kwargs: Any) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    return str(request.param)


def test_a_create_returns_only_once_its_record_and_its_rename_are_on_disk(
    tmp_path: Path, log: Log, links: str
) -> None:
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")
    returned: dict[str, int] = {}

    def create(index: int) -> None:
        for n in range(5):
            name = f"d{index}-{n}"
            client.create_deployment(name, "models:/m/1")
            returned[name] = log.add("returned", name)

    assert run_threads(THREADS, create) == []
    records = os.fspath(client.records_dir)
    for name, at in returned.items():
        final = os.path.join(records, f"{name}.json")
        renamed = log.first("renamed", final)
        staged = next(p for s, w, p in log.events if s == renamed + 1 and w == "renamed from")
        # The staged file's data was flushed before it took the record's name ...
        assert log.first("fsync", staged) < renamed, name
        # ... and a directory fsync that started after the rename ended before create returned.
        assert any(renamed < st and en < at for st, en in flushes(log, records)), name


def flushes(log: Log, directory: str) -> list[tuple[int, int]]:
    """The directory fsyncs of ``directory``, as (start, end); one runs at a time."""
    starts = [s for s, w, p in log.events if w == "dir fsync started" and p == directory]
    ends = [s for s, w, p in log.events if w == "dir fsync ended" and p == directory]
    pairs = list(zip(starts, ends, strict=True))
    assert all(a < b for a, b in pairs)
    assert all(b < c for (_, b), (c, _) in itertools.pairwise(pairs))
    return pairs


def test_the_lock_is_free_while_a_writer_waits_for_its_directory_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")
    client.create_deployment("first", "models:/m/1")  # the directories and the lock file exist
    syncing, release = threading.Event(), threading.Event()
    real_fsync_dir = atomic.fsync_dir

    def held_fsync_dir(directory: Path) -> None:
        syncing.set()
        release.wait(10)
        real_fsync_dir(directory)

    monkeypatch.setattr(atomic, "fsync_dir", held_fsync_dir)
    writer = threading.Thread(target=client.create_deployment, args=("second", "models:/m/2"))
    writer.start()
    try:
        assert syncing.wait(10)
        # The record is in place (readers see it whole) and nobody holds the lock.
        assert client.get_deployment("second")["model_uri"] == "models:/m/2"
        with open(client.path / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        assert writer.is_alive()  # it has not returned: its rename is not durable yet
    finally:
        release.set()
        writer.join(10)
    assert not writer.is_alive()


def test_a_create_does_not_wait_for_the_targets_lock(tmp_path: Path) -> None:
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")
    client.create_deployment("first", "models:/m/1")  # the directories and the lock file exist
    with open(client.path / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another process's update, say
        writer = threading.Thread(target=client.create_deployment, args=("second", "models:/m/2"))
        writer.start()
        writer.join(10)
        assert not writer.is_alive()
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    assert client.get_deployment("second")["model_uri"] == "models:/m/2"
    names = sorted(p.name for p in client.records_dir.iterdir())
    assert names == ["first.json", "second.json"]  # no staged file left beside them


def test_creates_of_one_name_racing_other_creates_let_one_through_and_leave_no_temp_files(
    tmp_path: Path, log: Log, links: str
) -> None:
    uri = f"local:{tmp_path / 'target'}"
    outcomes: list[str] = []

    def create(index: int) -> None:
        client = LocalDeploymentClient(uri)
        client.create_deployment(f"own-{index}", "models:/m/1")
        try:
            client.create_deployment("shared", f"models:/m/{index}")
            outcomes.append("created")
        except Exception as exc:
            outcomes.append(str(getattr(exc, "error_code", exc)))

    assert run_threads(THREADS, create) == []
    assert sorted(outcomes) == ["RESOURCE_ALREADY_EXISTS"] * (THREADS - 1) + ["created"]
    names = sorted(p.name for p in (tmp_path / "target" / "deployments").iterdir())
    assert names == sorted(["shared.json", *(f"own-{i}.json" for i in range(THREADS))])


def test_updates_and_deletes_in_parallel_share_directory_fsyncs_too(
    tmp_path: Path, log: Log
) -> None:
    uri = f"local:{tmp_path / 'target'}"
    client = LocalDeploymentClient(uri)
    for index in range(THREADS):
        client.create_deployment(f"d{index}", "models:/m/1")
    before = sum(1 for e in log.events if e[1] == "dir fsync started")

    def update_then_delete(index: int) -> None:
        client.update_deployment(f"d{index}", model_uri="models:/m/2")
        client.delete_deployment(f"d{index}")

    assert run_threads(THREADS, update_then_delete) == []
    after = sum(1 for e in log.events if e[1] == "dir fsync started") - before
    assert 0 < after < THREADS * 2
    assert client.list_deployments() == []


def test_a_directory_that_cannot_be_synced_does_not_fail_a_create_that_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")

    def failing(directory: Path) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(atomic, "fsync_dir", failing)
    record = client.create_deployment("churn", "models:/churn/1")
    assert client.get_deployment("churn") == record


# -- a batch's directory sync, deferred to the end of the batch ---------------------------------


def test_in_a_deferred_syncs_block_changes_return_at_once_and_its_end_makes_them_durable(
    tmp_path: Path, log: Log, links: str
) -> None:
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")
    client.create_deployment("old", "models:/m/1")
    records = os.fspath(client.records_dir)
    syncs_before = len(flushes(log, records))
    with client.DEFERRED_SYNCS():
        for n in range(5):
            client.create_deployment(f"d{n}", "models:/m/1")
        client.update_deployment("d0", model_uri="models:/m/2")
        client.delete_deployment("old")
        # Each record has its data on disk and its name, but no directory fsync ran for them.
        assert len(flushes(log, records)) == syncs_before
        assert client.get_deployment("d0")["revision"] == 2
        last_change = len(log.events)
    ended = log.add("block ended", records)
    after = flushes(log, records)[syncs_before:]
    # One directory fsync, started after the last change and done before the block ended.
    assert len(after) == 1 and last_change <= after[0][0] and after[0][1] < ended
    for n in range(5):
        final = os.path.join(records, f"d{n}.json")
        renamed = log.first("renamed", final)
        staged = next(p for s, w, p in log.events if s == renamed + 1 and w == "renamed from")
        assert log.first("fsync", staged) < renamed  # no named record without its data
    assert sorted(r["name"] for r in client.list_deployments()) == [f"d{n}" for n in range(5)]


def test_deferred_syncs_are_the_calling_threads_alone(tmp_path: Path, log: Log) -> None:
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")
    client.create_deployment("first", "models:/m/1")  # the directories exist
    records = os.fspath(client.records_dir)
    returned: list[int] = []

    def other() -> None:
        client.create_deployment("theirs", "models:/m/1")
        returned.append(log.add("returned", "theirs"))

    with client.DEFERRED_SYNCS(), client.DEFERRED_SYNCS():  # nested: the outer one syncs
        client.create_deployment("mine", "models:/m/1")
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
        # The other thread's create waited for a directory fsync after its rename.
        renamed = log.first("renamed", os.path.join(records, "theirs.json"))
        assert any(renamed < st and en < returned[0] for st, en in flushes(log, records))
        synced = len(flushes(log, records))
    assert len(flushes(log, records)) == synced + 1  # the block's own, at its end


# -- a new record staged without a name (O_TMPFILE) where it can be ------------------------------


def test_a_create_names_a_file_that_never_had_a_temp_name_where_the_filesystem_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not getattr(os, "O_TMPFILE", 0) or not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs O_TMPFILE and /proc")
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")
    client.create_deployment("first", "models:/m/1")  # the directories exist
    created: list[str] = []
    real_open = os.open

    def watched_open(path: str | os.PathLike[str], flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            created.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched_open)
    for n in range(5):
        client.create_deployment(f"d{n}", "models:/m/1")
    assert [p for p in created if p.startswith(os.fspath(client.records_dir))] == []
    assert [r["name"] for r in client.list_deployments()] == ["d0", "d1", "d2", "d3", "d4", "first"]


@pytest.mark.parametrize("why", ["no O_TMPFILE", "no /proc to link through"])
def test_where_a_file_cannot_be_made_or_named_without_a_name_a_temp_name_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    from deployctl.targets import record_files

    monkeypatch.setattr(record_files, "_named_temps_only", set())
    if why == "no O_TMPFILE":
        monkeypatch.setattr(record_files, "_O_TMPFILE", 0)
    else:
        real_link = os.link

        def link(src: str, dst: str, **kwargs: Any) -> None:
            if src.startswith("/proc/"):
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", src)
            real_link(src, dst, **kwargs)

        monkeypatch.setattr(os, "link", link)
    client = LocalDeploymentClient(f"local:{tmp_path / 'target'}")
    for n in range(3):
        client.create_deployment(f"d{n}", "models:/m/1")
    with pytest.raises(Exception, match="already exists"):
        client.create_deployment("d1", "models:/m/2")
    assert client.get_deployment("d1")["model_uri"] == "models:/m/1"
    names = sorted(p.name for p in client.records_dir.iterdir())
    assert names == ["d0.json", "d1.json", "d2.json"]  # no temp file left beside them
