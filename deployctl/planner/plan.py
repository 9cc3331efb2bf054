"""The Plan: frozen, serialisable data describing what an apply will do, address by address.

Its JSON form is the user contract of ``deployctl plan --json`` and of saved plan files (one
document serves both), shaped like Terraform's plan JSON so policy tools can read it: each
resource change carries what Terraform policies filter on (``type``, ``mode``, ``provider_name``
and ``action_reason``, an ``ActionReason``; the sentence is ``action_reason_text``). Its schema
is ``schemas/plan.schema.json``. Reading and writing plan files is ``planner.planfile``.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from deployctl import __version__
from deployctl.errors import PlanFileError
from deployctl.model import (
    DeploymentSpec,
    JSONObject,
    JSONValue,
    address_text,
    canonical_json,
    target_scheme,
)
from deployctl.model.calls import CallPolicy
from deployctl.model.live import LiveStatus
from deployctl.model.pins import ModelPin
from deployctl.model.sensitive import SensitiveField
from deployctl.model.smoke_spec import SmokeSpec
from deployctl.planner.selection import Selection
from deployctl.planner.unverified import UnverifiedFields

PLAN_FORMAT_VERSION = "1.0"

# What every resource change is, in the fields Terraform policies filter on (``type``, ``mode``).
RESOURCE_TYPE = "mlflow_deployment"
RESOURCE_MODE = "managed"


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-op"
    # Adopt a deployment that exists on the target into state (then update it if it differs).
    IMPORT = "import"
    # Delete, then create again (lifecycle.replace_on); JSON actions ["delete", "create"].
    REPLACE = "replace"

    @property
    def json_actions(self) -> list[str]:
        if self is Action.REPLACE:
            return ["delete", "create"]
        return [self.value]

    @classmethod
    def from_json_actions(cls, actions: object) -> Action:
        if actions == ["delete", "create"]:
            return cls.REPLACE
        if isinstance(actions, list) and len(actions) == 1:
            return cls(actions[0])
        raise ValueError(f"unsupported actions {actions!r}")

    @property
    def deletes(self) -> bool:
        """Whether the action removes the deployment from its target (even briefly)."""
        return self in (Action.DELETE, Action.REPLACE)


class ActionReason(enum.StrEnum):
    """Why the planner chose a change's action: the plan JSON's ``action_reason``, for policies.

    Modelled on Terraform's ``action_reason`` (``replace_because_cannot_update``,
    ``delete_because_no_resource_config`` ...), but present on every change; each value starts
    with its action (``no_op`` for no-op), so a policy can match either. The English sentence,
    with the details (which fields, which alias), is ``action_reason_text``.

    ======================================  ==================================================
    value                                   when
    ======================================  ==================================================
    create_because_new                      in the manifest, not in state, not on the target
    create_because_vanished                 recorded in state but gone from the target
    update_because_manifest_changed         the manifest differs from the last applied version
    update_because_model_pin_moved          only the registry alias (latest, stage) moved
    update_because_drifted                  changed on the target outside deployctl
    update_because_prevent_destroy_changed  only lifecycle.prevent_destroy: state only
    replace_by_triggers                     a change under a lifecycle.replace_on path
    replace_because_cannot_update           an update on a target with ``update: replace``
    import_because_adopt                    ``adopt: true``, on the target but not in state
    delete_because_no_resource_config       no longer in the manifest
    delete_by_request                       ``deployctl destroy``
    delete_because_gone                     already gone from the target: only from state
    no_op_because_up_to_date                the manifest, the state and the target agree
    ======================================  ==================================================

    When several causes hold (the text names them all): a replace gives its own cause, an update
    whose manifest changed and that drifted too is ``update_because_manifest_changed``, and a
    delete of a deployment already gone is ``delete_because_gone`` (``Plan.destroy`` says
    whether a destroy asked for it).
    """

    CREATE_BECAUSE_NEW = "create_because_new"
    CREATE_BECAUSE_VANISHED = "create_because_vanished"
    UPDATE_BECAUSE_MANIFEST_CHANGED = "update_because_manifest_changed"
    UPDATE_BECAUSE_MODEL_PIN_MOVED = "update_because_model_pin_moved"
    UPDATE_BECAUSE_DRIFTED = "update_because_drifted"
    UPDATE_BECAUSE_PREVENT_DESTROY_CHANGED = "update_because_prevent_destroy_changed"
    REPLACE_BY_TRIGGERS = "replace_by_triggers"
    REPLACE_BECAUSE_CANNOT_UPDATE = "replace_because_cannot_update"
    IMPORT_BECAUSE_ADOPT = "import_because_adopt"
    DELETE_BECAUSE_NO_RESOURCE_CONFIG = "delete_because_no_resource_config"
    DELETE_BY_REQUEST = "delete_by_request"
    DELETE_BECAUSE_GONE = "delete_because_gone"
    NO_OP_BECAUSE_UP_TO_DATE = "no_op_because_up_to_date"

    @property
    def action(self) -> Action:
        """The only action this reason can explain."""
        return Action.NOOP if self.value.startswith("no_op_") else Action(self.value.split("_")[0])

    @classmethod
    def from_text(cls, action: Action, text: str, state_only: bool = False) -> ActionReason:
        """The reason that ``text``, a ``reason`` sentence of the planner's, states for
        ``action``: how a change saved before plans had ``action_reason`` (it held the text
        then) gets one."""
        if action is Action.CREATE:
            if text.startswith("recorded in state but vanished"):
                return cls.CREATE_BECAUSE_VANISHED
            return cls.CREATE_BECAUSE_NEW
        if action is Action.UPDATE:
            if state_only:
                return cls.UPDATE_BECAUSE_PREVENT_DESTROY_CHANGED
            if text.startswith("changed on the target outside deployctl"):
                return cls.UPDATE_BECAUSE_DRIFTED
            if not text.startswith("the manifest differs") and " moved " in text.split(";")[0]:
                return cls.UPDATE_BECAUSE_MODEL_PIN_MOVED  # "alias champion moved 1 → 2"
            return cls.UPDATE_BECAUSE_MANIFEST_CHANGED
        if action is Action.REPLACE:
            if "lifecycle.replace_on:" in text:
                return cls.REPLACE_BY_TRIGGERS
            return cls.REPLACE_BECAUSE_CANNOT_UPDATE
        if action is Action.DELETE:
            if state_only:
                return cls.DELETE_BECAUSE_GONE
            if text.startswith("destroy requested"):
                return cls.DELETE_BY_REQUEST
            return cls.DELETE_BECAUSE_NO_RESOURCE_CONFIG
        if action is Action.IMPORT:
            return cls.IMPORT_BECAUSE_ADOPT
        return cls.NO_OP_BECAUSE_UP_TO_DATE


@dataclass(frozen=True)
class FieldChange:
    """One changed field, by dotted path: ``config.workers: 1 -> 2``.

    ``kind`` tells an absent value from an explicit null: ``added`` has no before, ``removed``
    has no after.
    """

    path: str
    before: JSONValue
    after: JSONValue
    kind: str = "changed"

    def to_json(self) -> JSONObject:
        return {"path": self.path, "before": self.before, "after": self.after, "kind": self.kind}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldChange:
        return cls(
            path=str(data["path"]),
            before=data.get("before"),
            after=data.get("after"),
            kind=str(data.get("kind", "changed")),
        )


@dataclass(frozen=True)
class ResourceChange:
    """What the plan does to one address, and why: ``action_reason`` for machines (policies),
    ``reason`` in words for people (the plan JSON's ``action_reason_text``).

    ``before`` is the deployment as deployctl believes it is now (the last applied record, with
    any field the target reports as drifted replaced by the live value); ``after`` is the
    desired spec. Both stay typed specs here; they become JSON only in ``to_json``.
    ``state_only`` marks a delete of something already gone from its target: the apply only
    drops it from state and calls nothing. ``live_fingerprint`` identifies the live record as
    refresh read it (``live_fingerprint()``), so that applying a saved plan can refuse when the
    target changed behind deployctl's back since the plan was made (``None`` in a plan made
    without them, ``PlanContext.fingerprints``: one that is never saved). ``sensitive`` are the
    fields whose values are secrets (``model.sensitive``): masked in ``before``, ``after`` and
    ``diff``, and recorded with the environment variables they come from (never the values), so
    that applying a saved plan can read them again.
    """

    target: str
    name: str
    target_uri: str
    action: Action
    reason: str
    action_reason: ActionReason
    before: DeploymentSpec | None = None
    after: DeploymentSpec | None = None
    diff: tuple[FieldChange, ...] = ()
    state_only: bool = False
    live_fingerprint: str | None = None
    prevent_destroy: bool = False
    sensitive: tuple[SensitiveField, ...] = ()
    # The registry alias (or latest, or stage) ``after.model_uri`` was pinned from, if any.
    model_pin: ModelPin | None = None
    # The smoke test apply runs after this change's create or update (and what a failure does).
    smoke: SmokeSpec | None = None

    @property
    def address(self) -> str:
        return address_text(self.target, self.name)

    @property
    def desired(self) -> DeploymentSpec:
        """``after``, for the actions that have one (all but delete)."""
        if self.after is None:
            raise ValueError(f"{self.address}: a {self.action} has no desired spec")
        return self.after

    def to_json(self) -> JSONObject:
        actions: list[JSONValue] = list(self.action.json_actions)
        data: JSONObject = {
            "address": self.address,
            "type": RESOURCE_TYPE,
            "mode": RESOURCE_MODE,
            "provider_name": target_scheme(self.target_uri),
            "target": self.target,
            "name": self.name,
            "target_uri": self.target_uri,
            "change": {
                "actions": actions,
                "before": _spec_json(self.before),
                "after": _spec_json(self.after),
            },
            "action_reason": self.action_reason.value,
            "action_reason_text": self.reason,
            "diff": [d.to_json() for d in self.diff],
            "state_only": self.state_only,
            "live_fingerprint": self.live_fingerprint,
            "prevent_destroy": self.prevent_destroy,
        }
        if self.sensitive:  # absent without secrets: the usual document is unchanged
            data["sensitive"] = [f.to_json() for f in self.sensitive]
        if self.model_pin is not None:  # absent without a registry alias, likewise
            data["model_pin"] = self.model_pin.to_json()
        if self.smoke is not None:  # and without a smoke test
            data["smoke_test"] = self.smoke.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceChange:
        change = data["change"]
        before = change.get("before")
        after = change.get("after")
        action = Action.from_json_actions(change["actions"])
        state_only = bool(data.get("state_only", False))
        if "action_reason_text" in data:
            reason = str(data["action_reason_text"])
            action_reason = ActionReason(data["action_reason"])
            if action_reason.action is not action:
                raise ValueError(
                    f"action_reason {action_reason.value!r} is not a reason to {action}"
                )
        else:  # saved before plans had the enum: action_reason holds the text
            reason = str(data.get("action_reason", ""))
            action_reason = ActionReason.from_text(action, reason, state_only)
        return cls(
            target=str(data["target"]),
            name=str(data["name"]),
            target_uri=str(data["target_uri"]),
            action=action,
            reason=reason,
            action_reason=action_reason,
            before=DeploymentSpec.from_json(before) if isinstance(before, dict) else None,
            after=DeploymentSpec.from_json(after) if isinstance(after, dict) else None,
            diff=tuple(FieldChange.from_json(d) for d in data.get("diff", [])),
            state_only=state_only,
            live_fingerprint=data.get("live_fingerprint"),
            prevent_destroy=data.get("prevent_destroy") is True,
            sensitive=tuple(SensitiveField.from_json(f) for f in data.get("sensitive", [])),
            model_pin=ModelPin.from_json(data.get("model_pin")),
            smoke=SmokeSpec.from_json(data.get("smoke_test")),
        )


def _spec_json(spec: DeploymentSpec | None) -> JSONValue:
    return None if spec is None else spec.to_json()


ABSENT = "absent"


def live_fingerprint(status: LiveStatus | None) -> str:
    """What a saved plan keeps of one address's live record, as refresh read it.

    ``absent`` when it does not exist, else ``sha256:<hex>`` of the canonical JSON of
    ``LiveRecord.fingerprint_view()``: the normalised fields deployctl compares and the raw
    record without per-request metadata (``model.live.PER_REQUEST_KEYS``, e.g. boto3's
    ``ResponseMetadata``), so an unchanged deployment read twice has one fingerprint.
    """
    if status is None or not status.exists:
        return ABSENT
    view = status.record.fingerprint_view() if status.record is not None else {}
    digest = hashlib.sha256(canonical_json(view).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


@dataclass(frozen=True)
class UnmanagedDeployment:
    """A deployment found on a target that deployctl does not manage (reported, never touched)."""

    target: str
    name: str

    @property
    def address(self) -> str:
        return address_text(self.target, self.name)

    def to_json(self) -> JSONObject:
        return {"address": self.address, "target": self.target, "name": self.name}


@dataclass(frozen=True)
class PlanContext:
    """Where a plan comes from, recorded in it so that a saved plan can be checked and applied.

    ``selection`` is ``--target``/``--exclude`` (only the addresses it matches are planned);
    ``target_fields`` each target's ``fields:`` mapping, so applying a saved plan reads records
    as planning did; ``target_calls`` each target's ``timeout:`` and ``retry:`` (targets that
    set them), so applying it calls the targets as the manifest said; the manifest's path and
    SHA-256 and the state's path let apply refuse a plan whose inputs changed; ``created_at``
    is given by the caller (the planner reads no clock). ``fingerprints``: whether each change
    records the ``live_fingerprint`` of its live record; only a plan that leaves the process
    (saved, or printed as JSON) needs them, for ``apply PLANFILE`` to check, and they cost a
    canonical JSON and a SHA-256 per deployment, so without them every ``live_fingerprint`` is
    ``None``.
    """

    selection: Selection = field(default_factory=Selection)
    target_fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    target_calls: Mapping[str, CallPolicy] = field(default_factory=dict)
    manifest_path: str | None = None
    manifest_sha256: str | None = None
    state_path: str | None = None
    created_at: str | None = None
    fingerprints: bool = True


@dataclass(frozen=True)
class Plan:
    """A whole plan. Changes are sorted by address and include no-ops.

    ``unverified`` says, per target, which fields could only be compared with the last apply
    because the target does not report them (``planner.unverified``).
    """

    environment: str
    changes: tuple[ResourceChange, ...]
    unmanaged: tuple[UnmanagedDeployment, ...] = ()
    destroy: bool = False
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    # Each target's ``fields:`` mapping, so applying a saved plan reads records as planned.
    target_fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Each target's ``timeout:`` and ``retry:``, so applying a saved plan calls as planned.
    target_calls: Mapping[str, CallPolicy] = field(default_factory=dict)
    manifest_path: str | None = None
    manifest_sha256: str | None = None
    state_path: str | None = None
    state_lineage: str | None = None
    state_serial: int = 0
    created_at: str | None = None
    unverified: tuple[UnverifiedFields, ...] = ()
    deployctl_version: str = __version__
    format_version: str = PLAN_FORMAT_VERSION

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    @property
    def partial(self) -> bool:
        """True when ``--target``/``--exclude`` left some addresses out of the plan."""
        return bool(self.targets or self.excludes)

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)

    def actionable(self) -> Iterator[ResourceChange]:
        return (c for c in self.changes if c.action is not Action.NOOP)

    def to_json(self) -> JSONObject:
        resource_changes: list[JSONValue] = [c.to_json() for c in self.changes]
        unmanaged: list[JSONValue] = [u.to_json() for u in self.unmanaged]
        unverified: list[JSONValue] = [u.to_json() for u in self.unverified]
        summary: JSONObject = dict(self.summary())
        return {
            "format_version": self.format_version,
            "deployctl_version": self.deployctl_version,
            "environment": self.environment,
            "destroy": self.destroy,
            "partial": self.partial,
            "selection": {"targets": list(self.targets), "excludes": list(self.excludes)},
            "target_fields": {k: dict(v) for k, v in sorted(self.target_fields.items())},
            "target_calls": {k: v.to_json() for k, v in sorted(self.target_calls.items())},
            "created_at": self.created_at,
            "summary": summary,
            "resource_changes": resource_changes,
            "unmanaged": unmanaged,
            "unverified_fields": unverified,
            "manifest": {"path": self.manifest_path, "sha256": self.manifest_sha256},
            "state": {
                "path": self.state_path,
                "lineage": self.state_lineage,
                "serial": self.state_serial,
            },
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "plan") -> Plan:
        """The plan a ``to_json`` document describes; ``PlanFileError`` for anything else."""
        check_plan_format(data, source=source)
        try:
            manifest = data.get("manifest") or {}
            state = data.get("state") or {}
            selection = data.get("selection") or {}
            return cls(
                environment=str(data["environment"]),
                changes=tuple(ResourceChange.from_json(c) for c in data["resource_changes"]),
                unmanaged=tuple(
                    UnmanagedDeployment(str(u["target"]), str(u["name"]))
                    for u in data.get("unmanaged", [])
                ),
                destroy=bool(data.get("destroy", False)),
                targets=tuple(str(t) for t in selection.get("targets", [])),
                excludes=tuple(str(e) for e in selection.get("excludes", [])),
                target_fields={
                    str(k): {str(f): str(p) for f, p in v.items()}
                    for k, v in (data.get("target_fields") or {}).items()
                },
                target_calls={
                    str(k): CallPolicy.from_json(v)
                    for k, v in (data.get("target_calls") or {}).items()
                },
                manifest_path=manifest.get("path"),
                manifest_sha256=manifest.get("sha256"),
                state_path=state.get("path"),
                state_lineage=state.get("lineage"),
                state_serial=int(state.get("serial", 0)),
                created_at=data.get("created_at"),
                unverified=tuple(
                    UnverifiedFields.from_json(u) for u in data.get("unverified_fields", [])
                ),
                deployctl_version=str(data.get("deployctl_version", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanFileError(f"{source} is malformed: {exc!r}") from exc


def check_plan_format(data: Any, *, source: str = "plan") -> None:
    """Refuse JSON that is not a deployctl plan, or a plan of another format version."""
    if not isinstance(data, dict) or "resource_changes" not in data:
        raise PlanFileError(f"{source} is not a deployctl plan (no 'resource_changes')")
    version = data.get("format_version")
    if version != PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{source} has plan format {version!r}; this deployctl reads {PLAN_FORMAT_VERSION!r}",
            hint="make the plan again with this deployctl version",
        )
