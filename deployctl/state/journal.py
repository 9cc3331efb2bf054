"""The write-ahead journal: ``<state>.journal`` makes each recorded change durable in O(1).

Rewriting a 10,000-record document per action would be quadratic, so a locked session appends
one JSON line per change and fsyncs it; ``commit`` folds the lines into the document with one
atomic write and then deletes the journal. The format is::

    {"journal": 2, "lineage": "<uuid>", "base_serial": 7}
    {"op": "intend", "intent": <Intent JSON>}
    {"op": "record", "record": <StateRecord JSON>}
    {"op": "forget", "address": "local/churn"}
    {"op": "resolve", "address": "local/churn"}

The header ties the journal to the document it extends: ``base_serial`` is the serial of the
document the lines apply to. A document serial *above* it means the lines were already folded
(a crash between the document write and the journal's removal), so the journal is stale.

``intend`` opens an intent (a call about to be made, ``model.intent``); ``record`` and
``forget`` are an address's outcome and close its intent; ``resolve`` closes it without
changing the record (the call changed nothing, or what it did is already recorded). The same
entries are the PostgreSQL journal rows and the S3 journal objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployctl.atomic import Arrivals, FlushTimes, fsync_dir, temp_path, write_new_file
from deployctl.errors import StateError
from deployctl.model.intent import Intent
from deployctl.model.state import StateRecord
from deployctl.model.values import ascii_json_line

# 2: the intend and resolve ops (a version-1 reader would call them damaged lines).
JOURNAL_FORMAT_VERSION = 2

# fdatasync also persists the file size (needed to read the data back) but skips timestamps:
# one disk flush per line instead of two on most filesystems.
_datasync = getattr(os, "fdatasync", os.fsync)


OPS = ("record", "forget", "intend", "resolve")


@dataclass(frozen=True)
class JournalEntry:
    """One change: ``record`` set (a record was applied), ``intent`` set (a call is about to be
    made), or only ``address``: it was forgotten, or (``resolves``) its intent was closed."""

    address: str
    record: StateRecord | None
    intent: Intent | None = None
    resolves: bool = False

    @classmethod
    def intend(cls, intent: Intent) -> JournalEntry:
        return cls(address=intent.address, record=None, intent=intent)

    @classmethod
    def resolve(cls, address: str) -> JournalEntry:
        return cls(address=address, record=None, resolves=True)

    @property
    def op(self) -> str:
        """``record``, ``forget``, ``intend`` or ``resolve``."""
        if self.record is not None:
            return "record"
        if self.intent is not None:
            return "intend"
        return "resolve" if self.resolves else "forget"

    def payload(self) -> dict[str, Any] | None:
        """The JSON the entry carries besides its op and address: the record or the intent."""
        if self.record is not None:
            return self.record.to_json()
        if self.intent is not None:
            return self.intent.to_json()
        return None

    def to_line(self) -> bytes:
        """The entry as one ASCII JSON line; raises ``ValueError`` when it is not valid JSON."""
        data: dict[str, Any]
        if self.record is not None:
            data = {"op": "record", "record": self.record.to_json()}
        elif self.intent is not None:
            data = {"op": "intend", "intent": self.intent.to_json()}
        else:
            data = {"op": self.op, "address": self.address}
        return ascii_json_line(data)

    @classmethod
    def from_json(cls, data: Any) -> JournalEntry:
        if not isinstance(data, dict):
            raise ValueError("an entry is not a JSON object")
        op = data.get("op")
        if op in ("forget", "resolve"):
            address = data.get("address")
            if not isinstance(address, str):
                raise ValueError(f"a {op} entry has no string 'address'")
            return cls(address=address, record=None, resolves=op == "resolve")
        if op == "record":
            raw = data.get("record")
            if not isinstance(raw, dict):
                raise ValueError("a record entry has no 'record' object")
            record = StateRecord.from_json(raw)
            return cls(address=record.address, record=record)
        if op == "intend":
            raw = data.get("intent")
            if not isinstance(raw, dict):
                raise ValueError("an intend entry has no 'intent' object")
            return cls.intend(Intent.from_json(raw))
        raise ValueError(f"unknown op {op!r}")

    def apply(
        self,
        records: MutableMapping[str, StateRecord],
        intents: MutableMapping[str, Intent] | None = None,
    ) -> None:
        """Apply the entry to ``records`` and, when given, ``intents`` (an outcome closes the
        address's intent)."""
        if self.intent is not None:
            if intents is not None:
                intents[self.address] = self.intent
            return
        if intents is not None:
            intents.pop(self.address, None)
        if self.resolves:
            return
        if self.record is None:
            records.pop(self.address, None)
        else:
            records[self.address] = self.record

    def changes(self, records: Mapping[str, StateRecord], intents: Mapping[str, Intent]) -> bool:
        """Whether applying the entry would change anything (a forget or resolve of an address
        with neither a record nor an intent does not)."""
        if self.record is not None or self.intent is not None:
            return True
        if self.resolves:
            return self.address in intents
        return self.address in records or self.address in intents


@dataclass(frozen=True)
class JournalContents:
    """A journal as read back: its header and every complete entry."""

    lineage: str
    base_serial: int
    entries: tuple[JournalEntry, ...]
    torn_tail: bool


def header_line(lineage: str, base_serial: int) -> bytes:
    header = {"journal": JOURNAL_FORMAT_VERSION, "lineage": lineage, "base_serial": base_serial}
    return (json.dumps(header, sort_keys=True) + "\n").encode("ascii")


def _recovery_hint(path: Path) -> str:
    return (
        f"{path} holds changes a crashed run recorded; if it cannot be repaired by hand, move it "
        "away and run 'deployctl plan' to see what the state no longer knows"
    )


def read_journal(path: Path) -> JournalContents | None:
    """Read a journal; ``None`` when there is none (or only a header torn by a crash).

    The last line may be torn by a crash in the middle of ``record`` (which then never returned),
    so a last line that does not parse is dropped; an unparsable line before it means the file
    was damaged some other way, and guessing would lose or invent changes.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read the state journal {path}: {exc.strerror}") from exc
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last complete line
    parsed: list[Any] = []
    torn_tail = False
    for index, line in enumerate(lines):
        try:
            parsed.append(json.loads(line))
        except ValueError as exc:
            if index == len(lines) - 1:
                torn_tail = True
                break
            raise StateError(
                f"the state journal {path} is damaged: line {index + 1} is not JSON ({exc})",
                hint=_recovery_hint(path),
            ) from exc
    if not parsed:
        return None
    header = parsed[0]
    lineage = header.get("lineage") if isinstance(header, dict) else None
    base_serial = header.get("base_serial") if isinstance(header, dict) else None
    version = header.get("journal") if isinstance(header, dict) else None
    if (
        not isinstance(lineage, str)
        or not isinstance(base_serial, int)
        or isinstance(base_serial, bool)
        or not isinstance(version, int)
    ):
        raise StateError(
            f"{path} does not start with a deployctl journal header", hint=_recovery_hint(path)
        )
    if version > JOURNAL_FORMAT_VERSION:
        raise StateError(
            f"the state journal {path} has format version {version}, newer than this deployctl "
            f"supports ({JOURNAL_FORMAT_VERSION})",
            hint="finish the run with the deployctl version that wrote it, or upgrade deployctl",
        )
    entries: list[JournalEntry] = []
    for number, item in enumerate(parsed[1:], start=2):
        try:
            entries.append(JournalEntry.from_json(item))
        except (ValueError, StateError) as exc:
            raise StateError(
                f"the state journal {path} is damaged: line {number}: {exc}",
                hint=_recovery_hint(path),
            ) from exc
    return JournalContents(lineage, base_serial, tuple(entries), torn_tail)


def remove_journal(path: Path) -> None:
    """Delete a folded or stale journal (a reappearance after power loss is detected as stale)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class JournalWriter:
    """The append side of a journal, shared by a session's threads.

    Appends are serialised by the caller (the session orders its in-memory changes the same
    way); fsyncs are a group commit: a thread whose line was covered by another thread's fsync
    does not fsync again, a thread that finds an fsync running waits for it and then one fsync
    covers every line appended meanwhile, and an fsync about to start first waits briefly for
    the lines on their way (``arrivals``: threads that are encoding or appending one, see
    ``atomic.Arrivals``; no longer than an fsync takes: ``atomic.FlushTimes``), so parallel
    workers pay for far fewer than one fsync each. No
    ``sync`` returns before an fsync that started after its line was written has finished.
    """

    def __init__(self, path: Path, fd: int, size: int, arrivals: Arrivals | None = None) -> None:
        self.path = path
        self._fd = fd
        self._size = size
        self._arrivals = arrivals
        self._appended = 0  # lines written to the file (not necessarily synced)
        self._synced = 0  # lines known to be on disk
        self._cond = threading.Condition(threading.Lock())
        self._syncing = False  # an fsync is running (outside the condition's lock)
        self._closed = False
        self._failed: str | None = None
        self.syncs = 0  # fsyncs made: fewer than lines when they were grouped
        self._times = FlushTimes()  # how long to wait for company (no longer than an fsync)

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        lineage: str,
        base_serial: int,
        mode: int | None = None,
        arrivals: Arrivals | None = None,
    ) -> JournalWriter:
        """Start a journal; atomically replaces a stale one (never a live one: see the session).

        ``mode`` is the state file's: the journal holds the same (possibly private) data.
        ``arrivals`` are the threads on their way to append (the session's).
        """
        header = header_line(lineage, base_serial)
        staged = temp_path(path)
        try:
            write_new_file(staged, header, mode=mode)
            os.replace(staged, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            raise
        fsync_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        return cls(path, fd, len(header), arrivals)

    def is_at(self, path: Path) -> bool:
        """Whether ``path`` is still this journal's file (not folded away or replaced since)."""
        with self._cond:
            if self._closed:
                return False
            try:
                mine = os.fstat(self._fd)
                there = os.stat(path)
            except OSError:
                return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    def append(self, line: bytes, count: int = 1) -> int:
        """Write one line, or ``count`` lines in one write (not yet synced); returns the
        sequence number of the last for ``sync``.

        A failed write is cut back off so the file never holds a torn line followed by good ones.
        """
        if self._failed is not None:
            raise StateError(
                f"the state journal {self.path} cannot be written any more: {self._failed}"
            )
        if self._closed:
            raise StateError(f"the state journal {self.path} is closed")
        view = memoryview(line)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError as trunc_exc:
                self._failed = f"a write failed ({exc.strerror}) and could not be undone " + (
                    f"({trunc_exc.strerror})"
                )
            raise
        self._size += len(line)
        self._appended += count
        return self._appended

    def sync(self, seq: int) -> None:
        """Return once line ``seq`` (and every line before it) is on disk."""
        with self._cond:
            while True:
                if self._closed or self._synced >= seq:
                    return
                if self._failed is not None:
                    raise StateError(
                        f"the state journal {self.path} cannot be written any more: {self._failed}"
                    )
                if not self._syncing:
                    break
                self._cond.wait()  # the running fsync may cover ``seq``: see when it ends
            self._syncing = True
        target = 0
        try:
            if self._arrivals is not None:
                self._arrivals.settle(self._times.company_wait())  # a short wait for company
            target = self._appended  # everything written so far is covered by this fsync
            fd = self._fd
            self._times.timed(lambda: _datasync(fd))
        except OSError as exc:
            # After a failed fsync the kernel may have dropped the dirty pages: nothing
            # written since the last good fsync can be trusted, so stop appending.
            self._failed = f"fsync failed ({exc.strerror})"
            target = 0
            raise
        finally:
            with self._cond:
                self._syncing = False
                self._synced = max(self._synced, target)
                self.syncs += 1
                self._cond.notify_all()

    def close(self, *, remove: bool) -> None:
        """Close the file, first syncing it, or removing it once its lines are folded."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self._closed:
                return
            try:
                if not remove and self._failed is None:
                    os.fsync(self._fd)
            finally:
                self._closed = True
                os.close(self._fd)
                if remove:
                    remove_journal(self.path)
