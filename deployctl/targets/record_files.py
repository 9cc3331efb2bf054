"""How the ``local`` target's record files reach the disk, and when a change is durable.

A record is written to a temp file in its directory and fsynced, then takes its name (a hard
link, or a rename), so no crash ever shows a named record without its data. A new record's
temp file has no name at all where the filesystem can make such files (Linux's ``O_TMPFILE``:
no temp name to create and unlink, and none left behind by a crash); it is named by a hard link
to its descriptor. The name itself is durable once the directory is fsynced after it: a group
commit shared by the threads changing that directory (``atomic.directory_sync``).

By default a change returns only once that directory fsync has run. A caller that makes many
changes in a row and reports none of them before the last one returns can defer it: inside
``deferred_syncs`` a change of the calling thread returns as soon as its record has its name,
and the block's end syncs each directory changed in it, once for all of them (the executor
carries out a batch of quick changes this way, and records their results after the block:
``Executor._target_syncs``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import TracebackType

from deployctl import atomic

_owed = threading.local()  # per thread inside ``deferred_syncs``: the directory syncs it owes

# What link() fails with where the filesystem cannot have hard links.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}
_O_TMPFILE: int = getattr(os, "O_TMPFILE", 0)
# Directories where a file without a name could not be made or named: temp names there.
_named_temps_only: set[str] = set()


class NewRecord:
    """A new record's data, written and fsynced but not named yet (``name`` names it);
    leaving the ``with`` block drops whatever was not named. ``FileNotFoundError`` when
    ``directory`` does not exist."""

    def __init__(self, directory: str, file_name: str, data: bytes) -> None:
        self._directory, self._file_name, self._data = directory, file_name, data
        self._fd: int | None = None
        self._temp: str | None = None
        if _O_TMPFILE and directory not in _named_temps_only:
            self._fd = _unnamed_file(directory, data)
        if self._fd is None:
            self._write_temp()

    def _write_temp(self) -> None:
        temp = atomic.temp_sibling(self._directory, self._file_name)
        try:
            atomic.write_new_file(temp, self._data)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._temp = temp

    def name(self, path: str, locked: Callable[[], AbstractContextManager[None]]) -> bool:
        """Give the record the name ``path`` unless it exists (then ``False``): a hard link,
        which fails when the name exists; without hard links, check and rename under
        ``locked``."""
        if self._fd is not None:
            try:
                # linkat(AT_SYMLINK_FOLLOW) of the descriptor's /proc link: what os.link does
                # when given a directory descriptor (which an absolute path ignores).
                os.link(f"/proc/self/fd/{self._fd}", path, src_dir_fd=self._fd)
                return True
            except FileExistsError:
                return False
            except OSError:  # no /proc, or no hard links: a temp name, as where no O_TMPFILE
                _named_temps_only.add(self._directory)
                self._write_temp()
        assert self._temp is not None
        try:
            os.link(self._temp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            with locked():
                if os.path.exists(path):
                    return False
                os.rename(self._temp, path)
            self._temp = None
        return True

    def __enter__(self) -> NewRecord:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
        if self._temp is not None:  # a leftover dot file is ignored, as a crash's
            with contextlib.suppress(OSError):
                os.unlink(self._temp)


def _unnamed_file(directory: str, data: bytes) -> int | None:
    """A descriptor of a file without a name in ``directory`` holding ``data``, flushed to
    disk; ``None`` where the filesystem cannot make one."""
    try:
        fd = os.open(directory, os.O_WRONLY | _O_TMPFILE | os.O_CLOEXEC, atomic.NEW_FILE_MODE)
    except FileNotFoundError:
        raise
    except OSError:  # EOPNOTSUPP, EISDIR (before Linux 3.11), EINVAL...
        _named_temps_only.add(directory)
        return None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: str) -> bytes:
    """The contents of ``path``, through a bare descriptor: a file object costs a buffer, a tty
    check and a seek per record, half of what reading thousands of small records takes."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def replace(path: str, data: bytes) -> None:
    """Replace ``path`` by ``data`` (temp file, fsync, rename); the caller syncs the directory.
    On failure ``path`` is untouched and no temp file is left."""
    staged = atomic.temp_sibling(*os.path.split(path))
    try:
        atomic.write_new_file(staged, data, mode=atomic.existing_mode(path))
        os.replace(staged, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staged)
        raise


def synced(sync: atomic.GroupCommit, ticket: int) -> None:
    """Return once the directory's renames and unlinks up to ``ticket`` are durable (one fsync
    shared with concurrent writers), or at once inside the calling thread's
    ``deferred_syncs``, whose end does it. A failure leaves the change in place (the call did
    it) and is not an error: not every platform can sync a directory."""
    owed: set[atomic.GroupCommit] | None = getattr(_owed, "syncs", None)
    if owed is not None:
        owed.add(sync)
        return
    with contextlib.suppress(OSError):
        sync.wait(ticket)


@contextlib.contextmanager
def deferred_syncs() -> Iterator[None]:
    """A block whose changes (the calling thread's) return before their directory is synced;
    its end syncs each directory they changed, once, and returns when that is done. Nothing
    may report those changes as durable before the block has ended. Nested blocks are one."""
    if getattr(_owed, "syncs", None) is not None:
        yield
        return
    owed: set[atomic.GroupCommit] = set()
    _owed.syncs = owed
    try:
        yield
    finally:
        _owed.syncs = None
        for sync in owed:
            with contextlib.suppress(OSError):
                sync.wait()


__all__ = ["NewRecord", "deferred_syncs", "read_bytes", "replace", "synced"]
