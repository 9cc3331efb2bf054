"""How a target's plugin is called: its call policy (time limits, retries, which client).

A manifest target may set ``timeout`` (one duration for the calls that change deployments, or
``{read: 5m, write: 30m}``), ``retry: {attempts: 3, backoff: 2s}`` and ``client: shared |
per_action`` (one plugin client for the whole run, or a fresh one for each create, update and
delete, for plugins that keep per-call state on their client). The manifest loader builds a
``CallPolicy`` from them, the target adapter enforces it, and a saved plan keeps it
(``to_json``) so that applying the plan calls the targets as planning did. Durations are written
with a unit (``500ms``, ``30s``, ``5m``, ``1h``) and held as seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

from deployctl.model.values import JSONObject, JSONValue

ClientMode = Literal["shared", "per_action"]
"""``shared``: one plugin client serves every call of a run; ``per_action``: each create, update
and delete gets a client of its own (reads share one)."""
CLIENT_SHARED: Final[ClientMode] = "shared"
CLIENT_PER_ACTION: Final[ClientMode] = "per_action"
CLIENT_MODES: Final[tuple[ClientMode, ...]] = get_args(ClientMode)

# A duration as the manifest writes it: a positive number and a unit (no bare numbers: is 30
# seconds or minutes?). The look-ahead refuses 0 and 0.0 in the schema already.
DURATION_PATTERN: Final = r"^(?=[0-9.]*[1-9])[0-9]+(\.[0-9]+)?(ms|s|m|h)(?!\n)$"
DURATION_RULE: Final = "a positive duration with a unit, such as 500ms, 30s, 5m or 1h"
_DURATION: Final = re.compile(DURATION_PATTERN)
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

# list_deployments and get_deployment answer quickly or not at all; a create may legitimately
# poll for 20 minutes (SageMaker), so calls that change deployments have no limit by default.
DEFAULT_READ_TIMEOUT: Final = 300.0
DEFAULT_ATTEMPTS: Final = 3
DEFAULT_BACKOFF: Final = 2.0
# Bounds of what a manifest may ask for (a thread wait cannot take more than ~292 years, and a
# plan should not stall for days on one call).
MAX_TIMEOUT: Final = 24 * 3600.0
MAX_ATTEMPTS: Final = 10
MAX_BACKOFF: Final = 600.0

READ_CALLS: Final = frozenset({"list_deployments", "get_deployment"})
WRITE_CALLS: Final = frozenset({"create_deployment", "update_deployment", "delete_deployment"})


def parse_duration(text: str) -> float:
    """``500ms``, ``30s``, ``5m`` or ``1h`` as seconds; ``ValueError`` for anything else."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not {DURATION_RULE}")
    number = text[: match.start(2)]
    return float(number) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Seconds the way a manifest writes them: ``5m``, ``30s``, ``1.5s``, ``250ms``, ``2h``."""
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


@dataclass(frozen=True)
class CallPolicy:
    """One target's limits on plugin calls.

    ``read_timeout`` bounds each ``list_deployments``/``get_deployment`` call and
    ``write_timeout`` each create, update and delete (``None``: no limit); other calls
    (``predict``, ``run_local``) have none. A failed call is tried up to ``attempts`` times in
    all, when its failure is transient; the n-th retry waits about ``backoff * 2**(n-1)``
    seconds (with jitter). ``client`` is ``per_action`` when each create, update and delete
    must be made on a freshly built plugin client (``mlflow-torchserve`` keeps each create's
    config on its client, and it leaks into the next create made on the same one).
    """

    read_timeout: float | None = DEFAULT_READ_TIMEOUT
    write_timeout: float | None = None
    attempts: int = DEFAULT_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    client: ClientMode = CLIENT_SHARED

    def __post_init__(self) -> None:
        for name in ("read_timeout", "write_timeout"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= MAX_TIMEOUT:
                raise ValueError(f"{name} must be more than 0 and at most {MAX_TIMEOUT:g} s")
        if not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise ValueError(f"attempts must be from 1 to {MAX_ATTEMPTS}")
        if not 0 <= self.backoff <= MAX_BACKOFF:
            raise ValueError(f"backoff must be from 0 to {MAX_BACKOFF:g} s")
        if self.client not in CLIENT_MODES:
            raise ValueError(f"client must be {' or '.join(CLIENT_MODES)}, not {self.client!r}")

    @property
    def client_per_action(self) -> bool:
        """Whether each create, update and delete gets a plugin client of its own."""
        return self.client == CLIENT_PER_ACTION

    def timeout(self, call: str) -> float | None:
        """The time limit of one ``call`` (a plugin method name), or ``None``."""
        if call in READ_CALLS:
            return self.read_timeout
        if call in WRITE_CALLS:
            return self.write_timeout
        return None

    def to_json(self) -> JSONObject:
        """``{"timeout": {"read": s, "write": s}, "retry": {"attempts": n, "backoff": s}}``
        (seconds; ``null`` for no limit), as saved plans hold it, with ``"client":
        "per_action"`` when set (left out when shared, so plans read before it existed and plans
        made since without it are the same document)."""
        data: JSONObject = {
            "timeout": {"read": self.read_timeout, "write": self.write_timeout},
            "retry": {"attempts": self.attempts, "backoff": self.backoff},
        }
        if self.client != CLIENT_SHARED:
            data["client"] = self.client
        return data

    @classmethod
    def from_json(cls, data: JSONValue) -> CallPolicy:
        """The policy ``to_json`` wrote (without ``client``: shared, as in plans saved before
        it existed); ``ValueError``/``TypeError`` for anything else."""
        if not isinstance(data, dict):
            raise TypeError(f"a call policy is a JSON object, not {data!r}")
        timeout = data.get("timeout") or {}
        retry = data.get("retry") or {}
        if not isinstance(timeout, dict) or not isinstance(retry, dict):
            raise TypeError(f"malformed call policy {data!r}")
        return cls(
            read_timeout=_seconds(timeout.get("read")),
            write_timeout=_seconds(timeout.get("write")),
            attempts=_whole(retry.get("attempts", DEFAULT_ATTEMPTS)),
            backoff=_seconds(retry.get("backoff", DEFAULT_BACKOFF)) or 0.0,
            client=_client_mode(data.get("client", CLIENT_SHARED)),
        )


def _seconds(value: JSONValue) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a duration in seconds must be a number, not {value!r}")
    return float(value)


def _client_mode(value: JSONValue) -> ClientMode:
    for mode in CLIENT_MODES:
        if value == mode:
            return mode
    raise ValueError(f"client must be {' or '.join(CLIENT_MODES)}, not {value!r}")


def _whole(value: JSONValue) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"attempts must be a whole number, not {value!r}")
    return value


__all__ = [
    "CLIENT_MODES",
    "CLIENT_PER_ACTION",
    "CLIENT_SHARED",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_BACKOFF",
    "DEFAULT_READ_TIMEOUT",
    "DURATION_PATTERN",
    "DURATION_RULE",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF",
    "MAX_TIMEOUT",
    "READ_CALLS",
    "WRITE_CALLS",
    "CallPolicy",
    "ClientMode",
    "format_duration",
    "parse_duration",
]
