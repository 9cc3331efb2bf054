"""Moving a state to another backend (``deployctl state migrate --to URL``) with its history.

``migrate`` copies every committed version the source keeps into the destination through
``StateSession.import_history``: the same lineage, the same serials, the same history entries
(who, host, command, when, what changed) and, last, the same current document. So
``state history`` and ``state pull --serial N`` tell the same story on both sides, and a saved
plan made against the source still matches the destination's serial.

- The source is locked for the whole copy (nobody applies meanwhile) and never written: the
  only write its lock can cause is the one every lock causes, folding the journal of a run that
  crashed into the document (which ``read()`` already shows) before the versions are read.
- The destination must hold no state, or the same lineage: then only the versions above its
  serial are written, so a migrate that was interrupted completes when run again, and one that
  finished writes nothing. Another lineage, or the same serial with other contents (the copies
  were changed separately), is refused with nothing written.
- Every backend writes the history first and the current document last, with its usual atomic
  or conditional write, so an interruption never leaves a destination pointing at a version it
  does not keep.

``versions_to_import`` is that rule; each backend's ``import_history`` applies it under its lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deployctl.errors import StateError
from deployctl.model import JSONObject, canonical_json
from deployctl.model.state import StateDocument, utc_now
from deployctl.state.history import HistoryEntry, change_summary
from deployctl.state.lock_holder import current_host, current_user
from deployctl.state.protocol import StateBackend

Version = tuple[HistoryEntry, StateDocument]


@dataclass(frozen=True)
class MigrationResult:
    """What a migrate did: ``copied`` versions written (0 when the destination had them all),
    the state's ``lineage`` and the destination's ``serial`` now, and which serials the source's
    history listed but could not give (``skipped``: unreadable, or of an earlier lineage)."""

    copied: int
    lineage: str
    serial: int
    source: str
    destination: str
    skipped: tuple[int, ...] = ()

    def to_json(self) -> JSONObject:
        return {
            "copied": self.copied,
            "lineage": self.lineage,
            "serial": self.serial,
            "source": self.source,
            "destination": self.destination,
            "skipped": list(self.skipped),
        }


def versions_to_import(
    current: StateDocument, versions: Sequence[Version], *, where: str
) -> list[Version]:
    """The ``versions`` a state whose committed document is ``current`` lacks (oldest first).

    ``versions`` must be one lineage with strictly increasing serials, each entry naming its
    document's serial. Raises ``StateError`` (one line; the caller writes nothing) when they are
    not, when ``current`` is another lineage, or when it has one of their serials with other
    contents.
    """
    _check_versions(versions, where=where)
    if not versions:
        return []
    lineage = versions[0][1].lineage
    if not current.exists:
        return list(versions)
    if current.lineage != lineage:
        raise StateError(
            f"{where} holds another state (lineage {current.lineage}, serial {current.serial}) "
            f"than the one being copied there (lineage {lineage}); nothing was written",
            hint="migrate to a location that holds no state, or remove the state there first "
            "if it is not needed",
        )
    same = next((document for _, document in versions if document.serial == current.serial), None)
    if same is not None and canonical_json(same.to_json()) != canonical_json(current.to_json()):
        raise StateError(
            f"{where} holds serial {current.serial} of lineage {lineage} with other contents "
            "than the state being copied there: the two copies were changed separately; "
            "nothing was written",
            hint="keep one of them: compare them with 'deployctl state pull', then remove the "
            "state you do not keep and migrate again",
        )
    return [version for version in versions if version[1].serial > current.serial]


def _check_versions(versions: Sequence[Version], *, where: str) -> None:
    lineage: str | None = None
    previous = 0
    for entry, document in versions:
        problem = None
        if document.lineage is None:
            problem = f"serial {document.serial} has no lineage"
        elif lineage is not None and document.lineage != lineage:
            problem = f"serial {document.serial} is lineage {document.lineage}, not {lineage}"
        elif entry.serial != document.serial:
            problem = f"the history entry of serial {document.serial} says serial {entry.serial}"
        elif document.serial <= previous:
            problem = f"serial {document.serial} comes after serial {previous}"
        if problem is not None:
            raise StateError(f"cannot copy versions into {where}: {problem}; nothing was written")
        lineage, previous = document.lineage, document.serial


def migrate(
    source: StateBackend,
    destination: StateBackend,
    *,
    operation: str = "state migrate",
    timeout: float,
) -> MigrationResult:
    """Copy ``source`` with its history into ``destination`` (see the module docstring).

    Both are locked (the source first) with ``operation``, each waiting up to ``timeout``
    seconds. Raises ``StateError`` when the source holds no state, when both are the same
    location, or when the destination holds another state; ``LockError`` when a lock is held.
    """
    where_from, where_to = source.describe(), destination.describe()
    if where_from == where_to:
        raise _same_location(where_from)
    if not source.read().exists:
        raise _nothing_to_migrate(where_from)
    with source.lock(operation=operation, timeout=timeout) as reading:
        mine, theirs = source.lock_info(), destination.lock_info()
        if mine is not None and theirs is not None and mine.id == theirs.id:
            raise _same_location(f"{where_from} (also named {where_to})")
        reading.commit()  # folds a crashed run's journal, if the lock did not; else a no-op
        current = reading.document
        if not current.exists or current.lineage is None:
            raise _nothing_to_migrate(where_from)
        versions, skipped = _committed_versions(source, current, operation)
        with destination.lock(operation=operation, timeout=timeout) as writing:
            before = writing.document
            written = writing.import_history(versions)
    copied = versions_to_import(before, versions, where=where_to)  # what the import wrote
    return MigrationResult(
        copied=len(copied),
        lineage=current.lineage,
        serial=written.serial,
        source=where_from,
        destination=where_to,
        skipped=tuple(skipped),
    )


def _committed_versions(
    source: StateBackend, current: StateDocument, operation: str
) -> tuple[list[Version], list[int]]:
    """The versions of ``current``'s lineage that ``source`` keeps, ending with ``current``.

    A version the history lists but that cannot be read (pruned meanwhile, damaged) is skipped,
    like one of an earlier lineage (a ``state push --force`` of another state). ``current`` is
    always included: with its history entry, or with a new one when the history does not keep it
    (a local state with ``keep_history=0``, or written before history was kept).
    """
    entries = source.history()
    versions: list[Version] = []
    skipped: list[int] = []
    for entry in entries:
        if entry.serial >= current.serial:
            continue  # the current one is added below; above it, a commit that never happened
        try:
            document = source.read_version(entry.serial)
        except StateError:
            skipped.append(entry.serial)
            continue
        if document.lineage != current.lineage or document.serial != entry.serial:
            skipped.append(entry.serial)
            continue
        versions.append((entry, document))
    kept = next((e for e in entries if e.serial == current.serial), None)
    entry = kept or HistoryEntry(
        serial=current.serial,
        created=utc_now(),
        who=current_user(),
        host=current_host(),
        command=f"{operation} (the source kept no history entry for this version)",
        summary=change_summary(versions[-1][1] if versions else None, current),
    )
    versions.append((entry, current))
    return versions, skipped


def _same_location(where: str) -> StateError:
    return StateError(
        f"cannot migrate the state {where} to itself",
        hint="name another location with --to",
    )


def _nothing_to_migrate(where: str) -> StateError:
    return StateError(
        f"nothing to migrate: there is no state at {where}",
        hint="check which state is meant (--state, DEPLOYCTL_STATE or the manifest's state:)",
    )
