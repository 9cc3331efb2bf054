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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from deployctl.errors import PlanError, TargetError, TargetRejectedError, TargetTimeoutError
from deployctl.executor import intents
from deployctl.executor.failures import OUTCOME_UNKNOWN, ActionFailed, explicitly_gone
from deployctl.executor.recording import StateRecorder
from deployctl.model import DeploymentSpec, JSONObject
from deployctl.model.intent import Intent
from deployctl.model.live import LiveRecord, LiveStatus
from deployctl.model.secrets import NO_SECRETS, SecretValues
from deployctl.model.sensitive import marker_paths
from deployctl.model.state import StateRecord
from deployctl.planner.plan import ResourceChange

if TYPE_CHECKING:
    from deployctl.targets.adapter import TargetAdapter

AdapterFactory = Callable[[str, str], "TargetAdapter"]
"""``(target key, target URI) -> TargetAdapter``; called once per target, lazily."""


class ChangeVisits:
    """Carries out single changes through target adapters, recording through ``recorder``;
    thread-safe (changes run concurrently)."""

    def __init__(
        self, adapters: AdapterFactory, recorder: StateRecorder, secrets: SecretValues = NO_SECRETS
    ) -> None:
        self._secrets = secrets
        self._adapter_factory = adapters
        self._adapters: dict[tuple[str, str], TargetAdapter] = {}
        self._adapters_lock = threading.Lock()
        self._recorder = recorder
        self._mutex = threading.Lock()
        self._timed_out: set[str] = set()

    def adapter(self, change: ResourceChange) -> TargetAdapter:
        """The adapter of ``change``'s target, made on first use."""
        key = (change.target, change.target_uri)
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

    def _read_back(self, change: ResourceChange) -> tuple[LiveRecord | None, str | None]:
        """The live record right after a change; a failed read is a note, not a failure."""
        try:
            record = self.adapter(change).get(change.name)
        except TargetError as exc:
            return None, f"applied, but reading it back failed: {exc}"
        return self._secrets.mask_live(change.address, record), None

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

    def visit_create(self, change: ResourceChange) -> str | None:
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "create", change.desired)
        return self._create_on_target(adapter, change, intent)

    def _create_on_target(
        self, adapter: TargetAdapter, change: ResourceChange, intent: Intent
    ) -> str | None:
        try:
            adapter.create(change.name, self._sent(change))
        except TargetError as exc:
            # Some plugins create and then fail (a timeout while waiting for readiness): what
            # the target shows now is recorded, so the next plan manages it instead of losing it.
            raise self._after_failed_call(change, intent, exc) from exc
        live, note = self._read_back(change)
        self._recorder.record(change, live)
        return note

    def visit_update(self, change: ResourceChange) -> str | None:
        if change.state_only:
            # Only the recorded lifecycle changed: nothing to ask of the target.
            previous = self._recorder.previous(change.address)
            self._recorder.record(change, previous.live if previous else None, changed=False)
            return "state only: no call to the target"
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "update", change.desired)
        try:
            adapter.update(change.name, self._sent(change))
        except TargetError as exc:
            raise self._after_failed_call(change, intent, exc) from exc
        live, note = self._read_back(change)
        self._recorder.record(change, live)
        return note

    def visit_import(self, change: ResourceChange) -> str | None:
        """Adopt: the live record becomes the last applied one; then converge if it differs."""
        if change.before is None:
            raise ActionFailed("an import needs the adopted record (the plan has no 'before')")
        adopted = change.before
        live, note = self._read_back(change)
        record = self._recorder.record(change, live, adopted, changed=False)
        if adopted.same_as(change.desired):
            return note
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "update", change.desired, before=adopted)
        try:
            adapter.update(change.name, self._sent(change))
        except TargetError as exc:
            raise self._after_failed_call(change, intent, exc, record) from exc
        live, note = self._read_back(change)
        # The adopted record becomes ``previous``.
        self._recorder.record(change, live, previous=record)
        return note

    def visit_replace(self, change: ResourceChange) -> str | None:
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "replace", change.desired)
        note = self._delete_on_target(adapter, change, intent)
        created = self._create_on_target(adapter, change, intent)
        return "; ".join(n for n in (note, created) if n) or None

    def visit_delete(self, change: ResourceChange) -> str | None:
        if change.state_only:
            self._recorder.forget(change.address, changed=False)
            return "removed from state only; it was already gone from the target"
        adapter = self.adapter(change)
        intent = self._recorder.intend(change, "delete", None)
        note = self._delete_on_target(adapter, change, intent)
        self._recorder.forget(change.address)
        return note

    def _delete_on_target(
        self, adapter: TargetAdapter, change: ResourceChange, intent: Intent
    ) -> str | None:
        """Delete on the target; ``None``, or a note when it was already gone.

        Deletes are often not idempotent: if it is gone anyway (deleted behind our back since
        the plan was made), the desired outcome holds, but only an explicit not-found says so.
        A deployment that is still there keeps its record, and the action fails.
        """
        try:
            adapter.delete(change.name, self._delete_config(change))
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


__all__ = ["AdapterFactory", "ChangeVisits"]
