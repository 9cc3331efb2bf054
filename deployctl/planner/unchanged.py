"""Unchanged deployments: the ones a plan can call up to date with one comparison per field.

Most deployments of most plans are unchanged: the manifest asks for exactly what was last
applied, and the target reports exactly what it reported right after that apply. Compared value
for value and type for type (``model.values.json_identical``), such a deployment has nothing to
diff and nothing drifted, whatever its ``ignore_changes`` says, so the planner's full rules
would come to a no-op as well; this is the same answer without building the drift baseline,
the diff or the canonical JSON of anything. Any other deployment goes through the full rules.
"""

from __future__ import annotations

from deployctl.manifest.model import DesiredDeployment
from deployctl.model.live import LiveRecord, LiveStatus
from deployctl.model.state import StateRecord
from deployctl.model.values import json_identical, same_text


def unchanged(desired: DesiredDeployment, record: StateRecord, live: LiveStatus) -> bool:
    """Whether ``desired`` (recorded as ``record``, found as ``live``) is up to date by one
    comparison per field: its spec is the one last applied, ``prevent_destroy`` is as recorded,
    and the target reports what it reported after that apply (or reports no record at all:
    then only the last applied record counts, as the rules say)."""
    if record.prevent_destroy != desired.lifecycle.prevent_destroy:
        return False
    if not desired.spec.identical(record.applied):
        return False
    now, then = live.record, record.live
    if now is None:
        return True
    return then is not None and reports_alike(now, then)


def reports_alike(now: LiveRecord, then: LiveRecord) -> bool:
    """Whether two live records report the same managed fields, type for type; then the drift
    baseline of ``then`` is exactly what ``now`` reports: nothing drifted."""
    return (
        now.config_keys == then.config_keys
        and same_text(now.model_uri, then.model_uri)
        and same_text(now.flavor, then.flavor)
        and json_identical(now.config, then.config)
    )
