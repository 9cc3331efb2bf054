"""The kept versions of a local state: ``state/<env>.history/<serial, zero-padded>.json`` (the
state file's name without ``.json``, plus ``.history``).

Every commit keeps the document it writes, with who made it, before it replaces the state file;
only the last ``keep`` versions stay. A kept version is
``{"entry": <HistoryEntry>, "document": <the state file's JSON>}``, its entry first, so that
listing the history reads a few bytes per version instead of whole documents.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deployctl import atomic
from deployctl.errors import StateError
from deployctl.model.values import strict_loads
from deployctl.state.history import HistoryEntry

_VERSION_NAME = re.compile(r"^(\d+)\.json$")
_VERSION_TEMP = re.compile(r"^\.\d+\.json\.[0-9a-f]{32}\.tmp$")
_VERSION_HEAD = b'{\n  "entry": '
_ENTRY_PEEK = 16384


def version_file_bytes(entry: HistoryEntry, document: bytes) -> bytes:
    """A kept version: ``{"entry": <HistoryEntry>, "document": <the state file's JSON>}``."""
    head = json.dumps(entry.to_json(), sort_keys=True).encode("ascii")
    return _VERSION_HEAD + head + b',\n  "document": ' + document.rstrip(b"\n") + b"\n}\n"


class LocalHistory:
    """The history directory of the state file ``state_path``, keeping ``keep`` versions;
    ``warn`` receives one-line warnings (old versions that could not be removed)."""

    def __init__(self, state_path: Path, *, keep: int, warn: Callable[[str], None]) -> None:
        self.state_path = state_path
        # state/dev.json -> state/dev.history/ (the and README's name for it)
        stem = state_path.stem if state_path.suffix == ".json" else state_path.name
        self.path = state_path.with_name(stem + ".history")
        self.keep = keep
        self.warn = warn

    def version_path(self, serial: int) -> Path:
        return self.path / f"{serial:08d}.json"

    def version_files(self) -> list[tuple[int, Path]]:
        """The kept versions as (serial, file), oldest first."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError(f"cannot list the state history {self.path}: {exc.strerror}") from exc
        matches = (_VERSION_NAME.match(name) for name in names)
        return sorted((int(m.group(1)), self.path / m.group(0)) for m in matches if m)

    def temps(self) -> list[Path]:
        """Temporary version files (a crash's leftovers when the lock is held)."""
        try:
            names = os.listdir(self.path)
        except OSError:
            return []
        return [self.path / name for name in names if _VERSION_TEMP.match(name)]

    # -- reading ---------------------------------------------------------------------------

    def load(self, path: Path) -> dict[str, Any]:
        """A kept version's JSON; raises ``FileNotFoundError`` when it is gone."""
        raw = path.read_bytes()
        try:
            data = strict_loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("entry"), dict):
                raise ValueError("not an object with an 'entry' object")
            if "document" not in data:
                raise ValueError("no 'document'")
        except ValueError as exc:
            raise self._damaged(path, exc) from exc
        return data

    def _damaged(self, path: Path, exc: Exception) -> StateError:
        return StateError(
            f"the state history file {path} is damaged: {exc}",
            hint="delete it (the state and the other kept versions do not depend on it)",
        )

    def _read_entry(self, path: Path) -> HistoryEntry:
        with open(path, "rb") as handle:
            head = handle.read(_ENTRY_PEEK)
        if head.startswith(_VERSION_HEAD):
            with contextlib.suppress(ValueError):
                text = head[len(_VERSION_HEAD) :].decode("utf-8", "replace")
                value, _ = json.JSONDecoder().raw_decode(text)
                if isinstance(value, dict):
                    return HistoryEntry.from_json(value)
        data = self.load(path)  # written another way (by hand?): parse it all
        try:
            return HistoryEntry.from_json(data["entry"])
        except ValueError as exc:
            raise self._damaged(path, exc) from exc

    def entries(self) -> list[HistoryEntry]:
        """The kept committed versions, oldest first."""
        entries: list[HistoryEntry] = []
        for _, path in self.version_files():
            try:
                entries.append(self._read_entry(path))
            except FileNotFoundError:
                continue  # pruned by a commit meanwhile
            except OSError as exc:
                raise StateError(f"cannot read the state history file {path}: {exc}") from exc
        return entries

    # -- writing ---------------------------------------------------------------------------

    def write(self, entry: HistoryEntry, document: bytes) -> None:
        """Keep a version (atomically, durably, private when the state file is)."""
        target = self.version_path(entry.serial)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = atomic.temp_path(target)
        try:
            atomic.write_new_file(
                staged,
                version_file_bytes(entry, document),
                mode=atomic.existing_mode(self.state_path),
            )
            os.replace(staged, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            raise
        atomic.fsync_dir(target.parent)

    def prune(self) -> None:
        """Keep only the last ``keep`` versions (a failure only warns)."""
        try:
            kept = self.version_files()
            for _, path in kept[: max(0, len(kept) - self.keep)]:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        except (OSError, StateError) as exc:
            self.warn(f"could not remove old versions from the state history: {exc}")


__all__ = ["LocalHistory", "version_file_bytes"]
