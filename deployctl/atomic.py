"""Crash-safe file replacement: how deployctl's own files (state, saved plans, the local
target's records) reach the disk.

A file is replaced by writing a temporary sibling, fsyncing it, renaming it over the target and
fsyncing the directory, so a crash at any point leaves either the old or the new version, never a
mix. The previous version can be kept next to it (``.backup``) by the same rules. A file
created here is readable by its owner only (mode 0600); a replaced one keeps its mode.

Many small files written at once (the ``local`` target's records, one per deployment) share
their directory fsyncs: ``directory_sync`` is a **group commit** (``GroupCommit``): a thread
that needs its directory synced while another thread's fsync of it runs waits for that one to
end, then one fsync covers every thread that asked meanwhile. Each file is still fsynced before
its rename, so no crash ever shows a renamed file without its data; what is shared is only the
fsync that makes the renames themselves durable, and no caller returns before it has happened.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_TEMP_SUFFIX = ".tmp"
# New files: owner read and write only (the umask may take more away, never add).
NEW_FILE_MODE = 0o600


class _TempNames:
    """32 hex digits per temporary file: this process's random half, then a counter.

    Unique within the process by the counter, across processes by the random half (made again
    in a forked child); a clash would fail the ``O_EXCL`` create, never overwrite. Cheaper
    than a ``uuid4`` per file, which asks the kernel for random bytes every time.
    """

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_temp_names = _TempNames()
if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_temp_names.reseed)


def temp_path(path: Path) -> Path:
    """A fresh temporary sibling of ``path`` (hidden, unique, found by ``leftover_temps``)."""
    return Path(temp_sibling(os.fspath(path.parent), path.name))


def temp_sibling(directory: str, name: str) -> str:
    """``temp_path`` of ``directory/name`` as a string (no ``Path`` made: many small files)."""
    return os.path.join(directory, f".{name}.{_temp_names.next()}{_TEMP_SUFFIX}")


def leftover_temps(path: Path) -> list[Path]:
    """Temporary files a crashed writer of ``path`` (or its .backup / .journal) left behind."""
    pattern = re.compile(
        rf"^\.{re.escape(path.name)}(?:\.backup|\.journal)?\.[0-9a-f]{{32}}{re.escape(_TEMP_SUFFIX)}$"
    )
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return sorted(path.parent / name for name in names if pattern.match(name))


def fsync_dir(directory: Path) -> None:
    """Make renames and new entries in ``directory`` survive a power loss."""
    if os.name == "nt":  # pragma: no cover - Windows cannot open directories; NTFS journals them
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


COMPANY_WAIT = 0.002
"""The longest a group commit's flush waits for the threads on their way to it (``Arrivals``):
a few lines' worth of work, far less than a slow disk's fsync."""

MIN_COMPANY_WAIT = 0.00005
"""A flush faster than this (tmpfs, a disk with a write cache) waits for no company: the wait's
wake-ups would cost more than the flushes it saves."""


class FlushTimes:
    """How long a group commit's flush waits for company (``company_wait``): as long as its
    last flush took, at most ``COMPANY_WAIT`` (before the first: ``COMPANY_WAIT``), and not at
    all when flushes are faster than ``MIN_COMPANY_WAIT``. Waiting longer than a flush takes
    cannot pay: each thread could have run a flush of its own meanwhile."""

    def __init__(self) -> None:
        self.last: float | None = None

    def company_wait(self) -> float:
        last = self.last
        if last is None:
            return COMPANY_WAIT
        return 0.0 if last < MIN_COMPANY_WAIT else min(last, COMPANY_WAIT)

    def timed(self, flush: Callable[[], None]) -> None:
        """Run ``flush``, remembering how long it took (a failed one is not remembered)."""
        started = time.perf_counter()
        flush()
        self.last = time.perf_counter() - started


class Arrivals:
    """The threads on their way to a group commit (between starting a write and asking for
    its flush): the flush about to start waits briefly for them, so that it covers their
    writes too instead of leaving them to the next flush ("a short wait for company").

    A waiting flush is woken once, when the last of the threads it waits for has arrived, not
    by every arrival: each needless wake-up costs a context switch and a turn of the
    interpreter lock.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0
        self._on_the_way: set[int] = set()
        self._waiting: list[int] = []  # per waiting ``settle``: it waits for tickets below this

    @contextlib.contextmanager
    def coming(self) -> Iterator[None]:
        """The block writes something, then asks for its flush (before the block ends)."""
        with self._cond:
            ticket = self._next
            self._next += 1
            self._on_the_way.add(ticket)
        try:
            yield
        finally:
            with self._cond:
                self._on_the_way.discard(ticket)
                if self._waiting and self._clears(ticket):
                    self._cond.notify_all()

    def _clears(self, ticket: int) -> bool:
        """Whether ``ticket``'s arrival leaves a waiting ``settle`` nothing more to wait for."""
        first = min(self._on_the_way, default=self._next)
        return any(ticket < bound <= first for bound in self._waiting)

    def settle(self, timeout: float = COMPANY_WAIT) -> None:
        """Wait until the threads on their way *now* have arrived, at most ``timeout`` s."""
        if timeout <= 0:
            return
        with self._cond:
            bound = self._next
            if not any(ticket < bound for ticket in self._on_the_way):
                return
            deadline = time.monotonic() + timeout
            self._waiting.append(bound)
            try:
                while any(ticket < bound for ticket in self._on_the_way):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._cond.wait(left)
            finally:
                self._waiting.remove(bound)


class GroupCommit:
    """One flush shared by every thread that needs it at the same time (a group commit).

    ``wait`` returns once a call of ``flush`` that *started after* the caller asked (``ask``,
    or ``wait`` itself) has finished, so whatever the caller wrote before asking is covered. A
    thread that finds a flush running waits for it to end; then the first waiter runs the next
    flush, which covers every thread that asked in the meantime: while one fsync takes the
    disk's time, the threads that arrive meanwhile queue up and share the next one. Before it
    starts, a flush also waits briefly for the threads on their way (``arrivals``), no longer
    than a flush takes (``FlushTimes``).

    A failed flush raises in the thread that ran it and, as an ``OSError``, in every thread it
    covered: their data may not be on disk, and it is not retried for them (after a failed
    fsync the kernel may have dropped the dirty pages, so a second fsync could succeed
    without writing them).
    """

    def __init__(self, flush: Callable[[], None], arrivals: Arrivals | None = None) -> None:
        self._flush = flush
        self.arrivals = arrivals or Arrivals()
        self._cond = threading.Condition(threading.Lock())
        self._asked = 0  # requests so far, numbered from 1
        self._covered = 0  # every request up to this one was covered by a finished flush
        self._running = False
        self._failed: list[tuple[int, int, BaseException]] = []  # (first, last, error): rare
        self.flushes = 0  # how many flushes ran (the saving shows as flushes < requests)
        self.times = FlushTimes()

    @property
    def requests(self) -> int:
        """How many flushes were asked for."""
        with self._cond:
            return self._asked

    def ask(self) -> int:
        """Ask for a flush covering what this thread wrote so far; the ticket for ``wait``."""
        with self._cond:
            self._asked += 1
            return self._asked

    def wait(self, ticket: int | None = None) -> None:
        """Return once a flush that started after ``ticket`` was asked for (default: now) has
        finished, or raise its error."""
        if ticket is None:
            ticket = self.ask()
        with self._cond:
            while True:
                if self._covered >= ticket:
                    self._raise_failure_of(ticket)
                    return
                if not self._running:
                    break
                self._cond.wait()
            self._running = True
        error: BaseException | None = None
        last = ticket
        try:
            self.arrivals.settle(self.times.company_wait())
            with self._cond:
                last = self._asked
            self.times.timed(self._flush)
        except BaseException as exc:
            error = exc
            raise
        finally:
            with self._cond:
                self._running = False
                first, self._covered = self._covered + 1, max(self._covered, last)
                self.flushes += 1
                if error is not None:
                    self._failed.append((first, last, error))
                self._cond.notify_all()

    def _raise_failure_of(self, ticket: int) -> None:
        for first, last, error in self._failed:
            if first <= ticket <= last:
                errno = error.errno if isinstance(error, OSError) else None
                raise OSError(errno, f"a shared flush failed: {error}") from error


_directory_syncs: dict[str, GroupCommit] = {}
_directory_syncs_lock = threading.Lock()


def directory_sync(directory: Path) -> GroupCommit:
    """The group commit of ``fsync_dir(directory)`` shared by this process's threads.

    ``wait()`` returns once an fsync of ``directory`` that started after the caller asked has
    finished: renames and new entries made before asking are durable. Writers announce
    themselves (``arrivals.coming()``) while on their way to a rename, and ask within that
    block, so a flush about to start covers them too.
    """
    key = os.fspath(directory)
    with _directory_syncs_lock:
        group = _directory_syncs.get(key)
        if group is None:
            group = _directory_syncs[key] = GroupCommit(lambda: fsync_dir(Path(key)))
        return group


def write_new_file(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    """Create ``path`` holding ``data``, flushed to disk (its directory entry is not yet synced).

    ``mode`` carries over the permissions of the file being replaced (a user who chose other
    permissions for a state file keeps them); a new file is ``NEW_FILE_MODE``, readable by its
    owner only, since state, plans and journals may describe secrets (their keyed hashes).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    try:
        if mode is not None:
            with contextlib.suppress(OSError):
                os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def existing_mode(path: str | Path) -> int | None:
    """The permission bits of ``path``, or ``None`` when it does not exist."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def _keep_backup(path: Path, backup: Path) -> None:
    """Make ``backup`` the current version of ``path`` without ever leaving ``path`` missing.

    A hard link shares the (already fsynced) data and is cheap for big states; filesystems
    without links get a flushed copy. Either way the backup appears by an atomic rename.
    """
    staged = temp_path(backup)
    try:
        try:
            os.link(path, staged)
        except FileNotFoundError:
            return
        except OSError:
            try:
                shutil.copy(path, staged)  # data and permission bits
            except FileNotFoundError:
                return
            fd = os.open(staged, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(staged, backup)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staged)
        raise
    # rename() between two links to the same file succeeds without doing anything (POSIX), which
    # happens when a crash left the backup linked to the current file: drop the staged link.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)


class ReplacedButNotSynced(OSError):
    """The new version was renamed into place but the directory could not be fsynced.

    The new content is visible (and may or may not survive a power loss), so callers must not
    treat the write as never having happened.
    """


def write_atomic(path: Path, data: bytes, *, backup: Path | None = None) -> None:
    """Replace ``path`` by ``data`` atomically, first keeping the old version as ``backup``.

    Raises ``OSError`` with ``path`` untouched when anything fails before the rename, and
    ``ReplacedButNotSynced`` when only the final directory fsync failed.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    mode = existing_mode(path)
    staged = temp_path(path)
    try:
        write_new_file(staged, data, mode=mode)
        if backup is not None:
            _keep_backup(path, backup)
        os.replace(staged, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staged)
        raise
    try:
        fsync_dir(directory)
    except OSError as exc:
        raise ReplacedButNotSynced(exc.errno, f"fsync of {directory} failed: {exc}") from exc
