"""Value types shared by every layer, below all of them: JSON values, addresses, the comparable
deployment spec and lifecycle guards (``values``), what targets report (``live``), the state
document recording what was last applied (``state``), and the markers that stand for secrets
(``sensitive``) with the masking and resolving of one run's (``secrets``).

Nothing here imports another deployctl package but ``errors``: the planner, the executor, the
targets and the state all depend on these values, never on each other for them.
"""

from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import STATE_FORMAT_VERSION, StateDocument, StateRecord, utc_now
from deployctl.model.values import (
    LIFECYCLE_PATH_PATTERN,
    NAME_PATTERN,
    NAME_RE,
    SPEC_FIELDS,
    Address,
    DeploymentSpec,
    JSONObject,
    JSONValue,
    Lifecycle,
    address_text,
    canonical_json,
    json_equal,
    json_safe,
    target_scheme,
)

__all__ = [
    "LIFECYCLE_PATH_PATTERN",
    "NAME_PATTERN",
    "NAME_RE",
    "SPEC_FIELDS",
    "STATE_FORMAT_VERSION",
    "Address",
    "DeploymentSpec",
    "JSONObject",
    "JSONValue",
    "Lifecycle",
    "LiveRecord",
    "LiveStatus",
    "LiveView",
    "StateDocument",
    "StateRecord",
    "address_text",
    "canonical_json",
    "json_equal",
    "json_safe",
    "target_scheme",
    "utc_now",
]
