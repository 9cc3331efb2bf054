"""Read-back: whether a target took what a create or an update sent it.

Some plugins report success and change nothing (TorchServe's ignores an update of
``model_uri``). So after each create and update the executor reads the deployment back (or takes
what the plugin's create or update returned, when that already is the whole record:
``returned_record``) and compares it with what was sent (``not_taken``):

- only the fields the change sets are compared (those that differ between the spec before it and
  the one sent; every field, for a create), and of ``config`` only the top-level keys it sets;
  a field or key set to ``null`` is not compared (a plugin may fall back to a default);
- ``model_uri`` and ``flavor``: the reported value differs from the one sent;
- ``config``: a key whose reported value differs, or that the whole config the target reports
  (``LiveRecord.config_keys is None``) does not have; when the target reports only some keys,
  only those are compared. Keys the target adds (its defaults) are fine, but a key the change
  removed that the target still reports with its old value was not taken (mlflow-crusoe merges
  an update's config into the old one);
- fields the target does not report are not compared (the plan says they are unverified);
- sensitive values are markers on both sides (the plan's spec, and the record read back masked):
  like is compared with like, as ``intents.shows`` does.

A reported value that differs is **not taken** when the target still reports what it had before
the change (the plan's ``before``, or what it reported after the last apply: the drift baseline),
or, for a config key, does not report it at all. A value that differs from both was taken, in the
target's own form (``"2"`` for ``2``, a resolved URI): that form becomes the drift baseline, as
after any apply, so a target that normalises values or adds defaults is not updated again and
again. A create has no "before": only a config key it drops counts as not taken.

What is recorded is the truth (``taken``): the spec sent, except that each field or key not
taken holds what the target reports (a dropped key is left out). The next plan then finds the
manifest different from the recorded version and plans the update of exactly those fields again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from deployctl.errors import printable
from deployctl.model import SPEC_FIELDS, DeploymentSpec, JSONObject, JSONValue, json_equal
from deployctl.model.live import LiveRecord
from deployctl.model.sensitive import SHOWN, replace_markers

if TYPE_CHECKING:
    from deployctl.targets.records import RecordShape


@dataclass(frozen=True)
class NotTaken:
    """One field (``model_uri``, ``flavor`` or ``config.KEY``) a target did not take: what was
    sent, and what the target reports instead (``missing``: it does not report the key)."""

    field: str
    sent: JSONValue
    reported: JSONValue = None
    missing: bool = False
    # A config key the change removed that the target still reports (crusoe merges config).
    removed: bool = False

    def describe(self) -> str:
        """``model_uri: sent models:/churn/2, it reports models:/churn/1``."""
        if self.removed:
            return printable(f"{self.field}: removed, it still reports {_shown(self.reported)}")
        now = "it does not report it" if self.missing else f"it reports {_shown(self.reported)}"
        return printable(f"{self.field}: sent {_shown(self.sent)}, {now}")


def warning(address: str, missed: NotTaken) -> str:
    """The warning for one field not taken, naming the address, the field and both values."""
    return f"{address}: the target did not take {missed.describe()}"


def refusal(missed: tuple[NotTaken, ...]) -> str:
    """The error of a change whose fields ``missed`` were not taken (``apply --strict``)."""
    return "the target did not take " + "; ".join(m.describe() for m in missed)


def changed_fields(desired: DeploymentSpec, before: DeploymentSpec | None) -> list[str]:
    """The managed fields a change from ``before`` (``None``: a create) to ``desired`` sets."""
    want = desired.to_json()
    if before is None:  # a create sets every field it has (only ``None`` equals ``None``)
        return [f for f in SPEC_FIELDS if want[f] is not None]
    was = before.to_json()
    return [f for f in SPEC_FIELDS if not json_equal(want[f], was.get(f))]


def not_taken(
    sent: DeploymentSpec,
    before: DeploymentSpec | None,
    baseline: Mapping[str, JSONValue] | None,
    live: LiveRecord,
) -> tuple[NotTaken, ...]:
    """The fields of ``sent`` that ``live`` shows were not taken (the module's rules).

    ``before`` is the spec before the change (``None`` for a create), ``baseline`` each field as
    the target reported it after the last apply (``planner.drift_baseline``; ``None`` for a
    create). Both sides hold sensitive values as markers.
    """
    earlier = [s for s in (before.to_json() if before else None, baseline) if s is not None]
    want = sent.to_json()
    was = before.config if before is not None else {}
    missed: list[NotTaken] = []
    for name in changed_fields(sent, before):
        value = want[name]
        if value is None:
            continue
        if name == "config":
            missed += _config_not_taken(sent.config, was, earlier, live)
            continue
        reported = getattr(live, name)
        if reported is None or json_equal(reported, value):
            continue
        if any(json_equal(reported, e.get(name)) for e in earlier):
            missed.append(NotTaken(name, value, reported))
    return tuple(missed)


def _config_not_taken(
    sent: JSONObject, was: JSONObject, earlier: list[Mapping[str, JSONValue]], live: LiveRecord
) -> list[NotTaken]:
    """The keys of ``sent`` that the change sets (differ from ``was``) and ``live`` shows were
    not taken; ``earlier`` are the specs before the change (see ``not_taken``)."""
    if live.config is None:
        return []
    olds = [c if isinstance(c := e.get("config"), dict) else {} for e in earlier]
    missed = []
    for key, value in sorted(sent.items()):
        if value is None or (key in was and json_equal(was[key], value)):
            continue  # unset, or left alone by this change
        if key not in live.config:
            if live.config_keys is None:  # the whole config is reported: the key was dropped
                missed.append(NotTaken(f"config.{key}", value, missing=True))
            continue
        reported = live.config[key]
        if json_equal(reported, value):
            continue
        if any(key in old and json_equal(old[key], reported) for old in olds):
            missed.append(NotTaken(f"config.{key}", value, reported))
    for key in sorted(set(was) - set(sent)):
        # Removed by this change, yet reported with its old value: the target kept it.
        if key in live.config and json_equal(live.config[key], was[key]):
            missed.append(NotTaken(f"config.{key}", None, live.config[key], removed=True))
    return missed


def taken(sent: DeploymentSpec, missed: tuple[NotTaken, ...]) -> DeploymentSpec:
    """The spec to record as applied: ``sent``, with each field not taken as reported."""
    if not missed:
        return sent
    spec = sent
    config = dict(sent.config)
    for item in missed:
        if item.field.startswith("config."):
            key = item.field.removeprefix("config.")
            if item.missing:
                config.pop(key, None)
            elif item.removed:
                config[key] = item.reported
            else:
                config[key] = item.reported
        elif item.field == "model_uri" and isinstance(item.reported, (str, dict)):
            spec = replace(spec, model_uri=item.reported)
        elif item.field == "flavor" and isinstance(item.reported, (str, dict)):
            spec = replace(spec, flavor=item.reported)
    return replace(spec, config=config)


def returned_record(
    shape: RecordShape, name: str, returned: JSONObject | None
) -> LiveRecord | None:
    """What a plugin's create or update returned, as the record read back, when it is one: a
    record for ``name`` (by the target's ``shape``) that reports every managed field; else
    ``None`` (then the deployment is read with ``get_deployment``)."""
    if not returned or shape.name_in(returned) != name:
        return None
    record = shape.record(name, returned)
    return None if record.unreported_fields() else record


def _shown(value: JSONValue) -> str:
    """A value in a message: text as it is, anything else as JSON; secrets ``(sensitive)``."""
    value = replace_markers(value, lambda path, marker: SHOWN)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


__all__ = [
    "NotTaken",
    "changed_fields",
    "not_taken",
    "refusal",
    "returned_record",
    "taken",
    "warning",
]
