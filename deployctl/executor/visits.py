"""The actions: what each kind of planned change asks of its target, and what it records.

``ChangeVisits`` has one ``visit_<action>`` method per action (create, update, import, replace,
delete); the executor dispatches each change to one. Each records an intent before its call and
the result after it (``executor.recording``). A call that fails is followed by a ``get``: what
the target shows is recorded by the rule for a crashed run's intents (``executor.intents``; a
create that failed after creating is recorded as managed). A delete that failed removes the
record only when the plugin says explicitly that the deployment does not exist (an error code,
not the wording of a message); otherwise the record is kept and the action fails. A delete hands
the plugin the last applied config from state (for a replace: that of the deployment replaced),
when its ``delete_deployment`` accepts one (``_delete_config``). A call whose
outcome is unknown (a timeout, a ``get`` that fails too) keeps its intent open. Plans hold
secrets as markers: each call gets their real values (``SecretValues.resolve``), and each
record read back is masked before it is recorded.

After each create and update (the create half of a replace, an import's update) the deployment
is read back, by ``get_deployment`` unless the plugin's answer already is its whole record, and
compared with what was sent (``executor.readback``): what was recorded is what the target took,
and each visit returns the fields it did not take (``Done``) for the executor to report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployctl.errors import PlanError, TargetError, TargetRejectedError, TargetTimeoutError
from deployctl.executor import intents, readback, smoke_runs
from deployctl.executor.failures import OUTCOME_UNKNOWN, ActionFailed, explicitly_gone
from deployctl.executor.readback import NotTaken
from deployctl.executor.recording import StateRecorder
from deployctl.model import DeploymentSpec, JSONObject
from deployctl.model.intent import Intent
from deployctl.model.live import LiveRecord, LiveStatus
from deployctl.model.secrets import NO_SECRETS, SecretValues
from deployctl.model.sensitive import marker_paths
from deployctl.model.state import StateRecord
from deployctl.planner.plan import ResourceChange
from deployctl.planner.planner import drift_baseline

if TYPE_CHECKING:
    from deployctl.targets.adapter import TargetAdapter

AdapterFactory = Callable[[str, str], "TargetAdapter"]
"""``(target key, target URI) -> TargetAdapter``; called once per target, lazily."""


@dataclass(frozen=True)
class Done:
    """What a change that succeeded reports: a note for its result, and the fields the target
    did not take (``executor.readback``; recorded as the target reports them)."""

    note: str | None = None
    not_taken: tuple[NotTaken, ...] = ()

    def and_then(self, other: Done) -> Done:
        """This outcome followed by ``other`` (a replace: its delete, then its create)."""
        note = "; ".join(n for n in (self.note, other.note) if n) or None
        return Done(note, self.not_taken + other.not_taken)


class ChangeVisits:
    """Carries out single changes through target adapters, recording through ``recorder``;
    thread-safe (changes run concurrently)."""

    def __init__(
        self,
        adapters: AdapterFactory,
        recorder: StateRecorder,
        secrets: SecretValues = NO_SECRETS,
        *,
        skip_smoke_tests: bool = False,
    ) -> None:
        self._secrets = secrets
        self._skip_smoke = skip_smoke_tests
        self._adapter_factory = adapters
        self._adapters: dict[tuple[str, str], TargetAdapter] = {}
        self._adapters_lock = threading.Lock()
        self._recorder = recorder
        self._mutex = threading.Lock()
        self._timed_out: set[str] = set()

    def adapter(self, change: ResourceChange) -> TargetAdapter:
        """The adapter of ``change``'s target, made on first use."""
        key = (change.target, change.target_uri)
        adapter = self._adapters.get(key)  # made already: no lock for the workers to queue on
        if adapter is not None:
            return adapter
        with self._adapters_lock:
            if key not in self._adapters:
                self._adapters[key] = self._adapter_factory(change.target, change.target_uri)
            return self._adapters[key]

    @property
    def timed_out(self) -> tuple[str, ...]:
        """The addresses whose call timed out with an unknown outcome, sorted."""
        with self._mutex:
            return tuple(sorted(self._timed_out))

    # -- the target --------------------------------------------------------------------------

    def _read_back(
        self, change: ResourceChange, returned: JSONObject | None = None
    ) -> tuple[LiveRecord | None, str | None]:
        """The live record right after a change: what the plugin ``returned`` when that is the
        whole record (``readback.returned_record``), else what ``get`` reads; a failed read is a
        note, not a failure."""
        adapter = self.adapter(change)
        record = readback.returned_record(adapter.record_shape, change.name, returned)
        if record is None:
            try:
                record = adapter.get(change.name)
            except TargetError as exc:
                return None, f"applied, but reading it back failed: {exc}"
        return self._secrets.mask_live(change.address, record), None

    def _settle(
        self,
        change: ResourceChange,
        returned: JSONObject | None,
        before: DeploymentSpec | None,
        previous: StateRecord | None = None,
    ) -> Done:
        """Read back what a create or update (from ``before``: ``None`` for a create) did, and
        record the truth: the spec sent, with each field the target did not take as it reports
        it (``readback.taken``). ``previous`` is the record superseded (default: the address's
        as the apply began); for an update, its drift baseline is what the target had before."""
        live, note = self._read_back(change, returned)
        sent = change.desired
        if live is None:
            self._recorder.record(change, None, sent, previous)
            return Done(note)
        baseline = None
        if before is not None:
            had = previous or self._recorder.previous(change.address)
            baseline = drift_baseline(had) if had is not None else None
        missed = readback.not_taken(sent, before, baseline, live)
        self._recorder.record(change, live, readback.taken(sent, missed), previous)
        return Done(note, missed)

    def _sent(self, change: ResourceChange) -> DeploymentSpec:
        """The spec to send: the plan's, its secrets' markers replaced by their real values."""
        return self._secrets.resolve(change.address, change.desired)

    def _delete_config(self, change: ResourceChange) -> JSONObject | None:
        """The config to hand ``change``'s delete: the last applied one from state (as the
        apply began, so for a replace that of the deployment being replaced), else the plan's
        ``before``; ``None`` when there is neither.

        Sensitive values are markers in state: they are resolved as for create and update when
        their real values are known to this run; when they are not (a destroy whose manifest
        no longer names them), the top-level config keys holding a marker are left out rather
        than sending a marker to the plugin.
        """
        previous = self._recorder.previous(change.address)
        spec = previous.applied if previous is not None else change.before
        if spec is None:
            return None
        try:
            return self._secrets.resolve(change.address, spec).config
        except PlanError:
            return {k: v for k, v in spec.config.items() if next(marker_paths(v), None) is None}

    def _probe(self, change: ResourceChange) -> LiveStatus | None:
        """Whether ``change``'s deployment exists now, after a failed call; ``None`` when that
        cannot be told (only an explicit not-found counts as absent)."""
        try:
            record = self.adapter(change).get(change.name)
        except TargetError as exc:
            if explicitly_gone(exc):
                return LiveStatus(change.target, change.name, exists=False, reason=str(exc))
            return None
        record = self._secrets.mask_live(change.address, record)
        return LiveStatus(change.target, change.name, exists=True, record=record)

    def _timed_out_unknown(self, change: ResourceChange, exc: TargetError) -> bool:
        """Whether ``exc`` is a timeout of a call that may still take effect (noted in the
        report: the call may still be running)."""
        if isinstance(exc, TargetTimeoutError) and exc.outcome_unknown:
            with self._mutex:
                self._timed_out.add(change.address)
            return True
        return False

    def _after_failed_call(
        self,
        change: ResourceChange,
        intent: Intent,
        exc: TargetError,
        record: StateRecord | None = None,
    ) -> ActionFailed:
        """Settle ``intent`` after its call failed with ``exc``; returns the failure to raise.

        A call the target refused as invalid changed nothing. Otherwise the target is asked
        (``_probe``) and what it shows is recorded by the rule for a crashed run's intents
        (``intents.resolve``; ``record`` is the address's record, by default as the apply
        began). A call that timed out, or a target that cannot tell, leaves the intent open.
        """
        if self._timed_out_unknown(change, exc):
            return ActionFailed(str(exc), note=OUTCOME_UNKNOWN)
        if isinstance(exc, TargetRejectedError):
            self._recorder.write(
                change, intents.Resolution(intent, intents.CLOSED, None, "refused")
            )
            return ActionFailed(str(exc))
        status = self._probe(change)
        if status is None:
            return ActionFailed(str(exc), note=OUTCOME_UNKNOWN)
        previous = record or self._recorder.previous(change.address)
        resolution = intents.resolve(intent, previous, status)
        self._recorder.write(change, resolution)
        if resolution.outcome == intents.RECORDED:
            return ActionFailed(
                str(exc),
                note=f"{resolution.why} (the call failed, but the deployment exists); "
                "the next plan reconciles it",
            )
        return ActionFailed(str(exc))

    # -- the actions -------------------------------------------------------------------------

    def visit_create(self, change: ResourceChange) -> Done:
        smoke = smoke_runs.prepare(change, skip=self._skip_smoke)
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "create", change.desired)
        done = self._create_on_target(adapter, change, intent)
        return self._smoke_tested(change, done, smoke, restore=None)

    def _create_on_target(
        self, adapter: TargetAdapter, change: ResourceChange, intent: Intent
    ) -> Done:
        try:
            returned = adapter.create(change.name, self._sent(change))
        except TargetError as exc:
            # Some plugins create and then fail (a timeout while waiting for readiness): what
            # the target shows now is recorded, so the next plan manages it instead of losing it.
            raise self._after_failed_call(change, intent, exc) from exc
        return self._settle(change, returned, before=None)

    def visit_update(self, change: ResourceChange) -> Done:
        if change.state_only:
            # Only the recorded lifecycle changed: nothing to ask of the target.
            previous = self._recorder.previous(change.address)
            self._recorder.record(change, previous.live if previous else None, changed=False)
            return Done("state only: no call to the target")
        smoke = smoke_runs.prepare(change, skip=self._skip_smoke)
        previous = self._recorder.previous(change.address)
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "update", change.desired)
        try:
            returned = adapter.update(change.name, self._sent(change))
        except TargetError as exc:
            raise self._after_failed_call(change, intent, exc) from exc
        done = self._settle(change, returned, before=change.before)
        return self._smoke_tested(change, done, smoke, restore=previous)

    def visit_import(self, change: ResourceChange) -> Done:
        """Adopt: the live record becomes the last applied one; then converge if it differs."""
        if change.before is None:
            raise ActionFailed("an import needs the adopted record (the plan has no 'before')")
        adopted = change.before
        live, note = self._read_back(change)
        record = self._recorder.record(change, live, adopted, changed=False)
        if adopted.same_as(change.desired):
            return Done(note)
        smoke = smoke_runs.prepare(change, skip=self._skip_smoke)
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "update", change.desired, before=adopted)
        try:
            returned = adapter.update(change.name, self._sent(change))
        except TargetError as exc:
            raise self._after_failed_call(change, intent, exc, record) from exc
        # The adopted record becomes ``previous``.
        done = self._settle(change, returned, before=adopted, previous=record)
        return self._smoke_tested(change, done, smoke, restore=record)

    def visit_replace(self, change: ResourceChange) -> Done:
        smoke = smoke_runs.prepare(change, skip=self._skip_smoke)
        previous = self._recorder.previous(change.address)
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "replace", change.desired)
        deleted = Done(self._delete_on_target(adapter, change, intent))
        done = deleted.and_then(self._create_on_target(adapter, change, intent))
        return self._smoke_tested(change, done, smoke, restore=previous, recreate=True)

    # -- smoke tests and rollback ----------------------------------------------------------------

    def _smoke_tested(
        self,
        change: ResourceChange,
        done: Done,
        smoke: smoke_runs.PreparedSmokeTest | None,
        *,
        restore: StateRecord | None,
        recreate: bool = False,
    ) -> Done:
        """``done``, once ``change``'s deployment (applied and recorded) passed its smoke test.

        A failed test with ``rollback: auto`` puts back what ``restore`` recorded (updating it
        in place, or for a replace (``recreate``) deleting and creating it again), or deletes a
        new deployment (``restore`` is None); the action then fails, saying what the test found
        and how the rollback went. State records what is live in every case, a failed rollback
        included.
        """
        if smoke is None:
            skipped = smoke_runs.skipped_note(change, skip=self._skip_smoke)
            return done.and_then(Done(skipped)) if skipped else done
        outcome = smoke.run(self.adapter(change), change.name)
        if outcome.ok:
            return done.and_then(Done(str(outcome)))
        failed = str(outcome)
        if not smoke.rolls_back:
            raise ActionFailed(
                failed, note="not rolled back (rollback: never): it stays deployed and recorded"
            )
        try:
            rolled_back = self._roll_back(change, restore, recreate)
        except ActionFailed as exc:
            why = f"{exc}" + (f" ({exc.note})" if exc.note else "")
            raise ActionFailed(
                failed, note=f"rollback failed: {why}; state records what is live"
            ) from exc
        raise ActionFailed(failed, note=f"rolled back: {rolled_back}")

    def _roll_back(
        self, change: ResourceChange, restore: StateRecord | None, recreate: bool
    ) -> str:
        """Undo ``change`` after a failed smoke test; returns what was done, in words."""
        adapter = self.adapter(change)
        current = self._recorder.current(change.address)
        if restore is None:
            intent = self._recorder.intend(change, "delete", None, before=change.desired)
            self._delete_on_target(adapter, change, intent, config=self._sent(change).config)
            self._recorder.forget(change.address)
            return "the new deployment was deleted"
        spec = restore.applied
        sent = self._secrets.resolve(change.address, spec)
        if recreate:
            intent = self._recorder.intend(change, "replace", spec, before=change.desired)
            self._delete_on_target(adapter, change, intent, config=self._sent(change).config)
            try:
                returned: JSONObject | None = adapter.create(change.name, sent)
            except TargetError as exc:
                raise self._after_failed_call(change, intent, exc, current) from exc
        else:
            intent = self._recorder.intend(change, "update", spec, before=change.desired)
            try:
                returned = adapter.update(change.name, sent)
            except TargetError as exc:
                raise self._after_failed_call(change, intent, exc, current) from exc
        live, _ = self._read_back(change, returned)
        self._recorder.restore(change, restore, live, previous=current)
        return f"back to {_model_of(spec)}"

    def visit_delete(self, change: ResourceChange) -> Done:
        if change.state_only:
            self._recorder.forget(change.address, changed=False)
            return Done("removed from state only; it was already gone from the target")
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "delete", None)
        note = self._delete_on_target(adapter, change, intent)
        self._recorder.forget(change.address)
        return Done(note)

    def _delete_on_target(
        self,
        adapter: TargetAdapter,
        change: ResourceChange,
        intent: Intent,
        *,
        config: JSONObject | None = None,
    ) -> str | None:
        """Delete on the target; ``None``, or a note when it was already gone.

        Deletes are often not idempotent: if it is gone anyway (deleted behind our back since
        the plan was made), the desired outcome holds, but only an explicit not-found says so.
        A deployment that is still there keeps its record, and the action fails.
        """
        try:
            adapter.delete(
                change.name, config if config is not None else self._delete_config(change)
            )
        except TargetError as exc:
            if self._timed_out_unknown(change, exc):
                raise ActionFailed(str(exc), note=OUTCOME_UNKNOWN) from exc
            status = self._probe(change)
            if status is None:
                raise ActionFailed(
                    str(exc),
                    note="it is kept in state: the target did not say that it is gone. "
                    + OUTCOME_UNKNOWN,
                ) from exc
            if status.exists:
                self._recorder.write(
                    change,
                    intents.Resolution(
                        intent, intents.CLOSED, None, "it still exists; kept in state"
                    ),
                )
                raise ActionFailed(
                    str(exc), note="it still exists on the target; kept in state"
                ) from exc
            return "it was already gone from the target"
        return None


def _model_of(spec: DeploymentSpec) -> str:
    uri = spec.model_uri
    return uri if isinstance(uri, str) else "the previous version (sensitive)"


__all__ = ["AdapterFactory", "ChangeVisits", "Done"]
