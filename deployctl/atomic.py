"""Crash-safe file replacement: how deployctl's own files (state, saved plans, the local
target's records) reach the disk.

A file is replaced by writing a temporary sibling, fsyncing it, renaming it over the target and
fsyncing the directory, so a crash at any point leaves either the old or the new version, never a
mix. The previous version can be kept next to it (``.backup``) by the same rules. A file
created here is readable by its owner only (mode 0600); a replaced one keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import uuid
from pathlib import Path

_TEMP_SUFFIX = ".tmp"
# New files: owner read and write only (the umask may take more away, never add).
NEW_FILE_MODE = 0o600


def temp_path(path: Path) -> Path:
    """A fresh temporary sibling of ``path`` (hidden, unique, found by ``leftover_temps``)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")


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


def write_new_file(path: Path, data: bytes, *, mode: int | None = None) -> None:
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


def existing_mode(path: Path) -> int | None:
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
