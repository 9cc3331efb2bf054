"""Race-free steps on one lock file: create it without ever overwriting, remove only the file
that was inspected, and clear the temporaries a crash left.

Creating writes the content to a temporary file first and links it into place (atomic, never
over an existing file), so nobody reads a partly written lock. Removing renames the lock file to
a unique name, which only one process can do to a given file, then checks it is the very file
that was inspected; one that is not (another run replaced it meanwhile) is put back with
``link``, which never overwrites a lock created in between.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from deployctl.atomic import fsync_dir
from deployctl.errors import LockError

Decision = Callable[[os.stat_result, bytes], bool]
"""Whether a lock file moved aside (its stat and content) is the one to remove."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LockPath:
    """The lock file at ``path``; ``warn`` receives one-line warnings."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        self.path = path
        self.warn = warn

    # -- creating --------------------------------------------------------------------------

    def create(self, data: bytes) -> int | None:
        """Make ``data`` the lock file unless there is one; returns it open, or ``None``.

        Where hard links are not supported the lock file is created empty and then written.
        """
        staged = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.new")
        try:
            fd = os.open(staged, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise self._create_error(exc) from exc
        linked = False
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError as exc:
                raise self._write_error(exc) from exc
            try:
                os.link(staged, self.path)
                linked = True
            except FileExistsError:
                # Over NFS a link that succeeded but whose reply was lost is retried and reported
                # as existing: the link count tells.
                linked = os.fstat(fd).st_nlink >= 2
                if not linked:
                    return None
            except OSError:
                pass  # no hard links on this filesystem
        finally:
            if not linked:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(staged)
        if not linked:
            return self._create_in_place(data)
        self._sync_new(fd)
        return fd

    def _create_in_place(self, data: bytes) -> int | None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return None
        except OSError as exc:
            raise self._create_error(exc) from exc
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            raise self._write_error(exc) from exc
        self._sync_new(fd)
        return fd

    def _sync_new(self, fd: int) -> None:
        """Make the new lock file's name durable; on failure remove it again and raise."""
        try:
            fsync_dir(self.path.parent)
        except OSError as exc:
            st = os.fstat(fd)
            with contextlib.suppress(LockError):
                self.remove(
                    lambda found, _raw: (found.st_dev, found.st_ino) == (st.st_dev, st.st_ino)
                )
            os.close(fd)
            raise self._write_error(exc) from exc

    def _create_error(self, exc: OSError) -> LockError:
        return LockError(
            f"cannot create the lock file {self.path}: {exc.strerror}",
            hint="check that the state directory exists and is writable",
        )

    def _write_error(self, exc: OSError) -> LockError:
        return LockError(
            f"cannot write the lock file {self.path}: {exc.strerror}",
            hint="check free space and permissions in the state directory",
        )

    def remove_leftovers(self, *, older_than: float = 600.0) -> None:
        """Delete temporary lock files a crashed run left (``.new``, ``.aside``), once old enough
        that no run can still be using them."""
        pattern = re.compile(rf"^\.{re.escape(self.path.name)}\.[0-9a-f]{{32}}\.(?:new|aside)$")
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return
        now = time.time()
        for name in names:
            if not pattern.match(name):
                continue
            path = self.path.parent / name
            with contextlib.suppress(OSError):
                st = os.stat(path)
                if now - max(st.st_mtime, st.st_ctime) > older_than:
                    os.unlink(path)

    # -- removing --------------------------------------------------------------------------

    def cannot(self, what: str, exc: OSError) -> LockError:
        """``what`` (move, remove, inspect) failed on the lock file with ``exc``."""
        return LockError(
            f"cannot {what} the lock file {self.path}: {exc.strerror}",
            hint="check the permissions of the state directory",
        )

    def move_aside(self, decide: Decision) -> Path | None:
        """Atomically take the lock file away if ``decide`` accepts it; returns where it is.

        Renaming is the one way to remove a file and learn which file was removed. A file that
        ``decide`` rejects is put back by ``link`` (never over a lock created in between).
        Returns ``None`` when there was no lock file or it was put back.
        """
        aside = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.aside")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.cannot("move", exc) from exc
        try:
            with open(aside, "rb") as handle:
                accepted = decide(os.fstat(handle.fileno()), handle.read())
        except OSError:
            accepted = False
        if accepted:
            return aside
        restored = True
        try:
            os.link(aside, self.path)
        except FileExistsError:
            restored = False
        except OSError:  # a filesystem without hard links: a rename is the best left
            restored = not os.path.lexists(self.path)
            if restored:
                with contextlib.suppress(OSError):
                    os.rename(aside, self.path)
        with contextlib.suppress(OSError):
            os.unlink(aside)
        if not restored:
            self.warn(
                f"the state lock {self.path} was replaced while this run inspected it; the lock "
                "it had moved aside could not be put back (its run stops at its next write)"
            )
        return None

    def remove(self, decide: Decision) -> bytes | None:
        """Remove the lock file if ``decide`` accepts it; returns its content then."""
        aside = self.move_aside(decide)
        if aside is None:
            return None
        try:
            raw = aside.read_bytes()
            os.unlink(aside)
        except OSError as exc:
            raise self.cannot("remove", exc) from exc
        with contextlib.suppress(OSError):
            fsync_dir(self.path.parent)
        return raw


__all__ = ["Decision", "LockPath"]
