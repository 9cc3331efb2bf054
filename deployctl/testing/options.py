"""The conformance kit's command-line options and what a run resolves them to.

pytest imports this in every run where deployctl is installed (through the plugin), so it
imports nothing but the standard library and pytest at import time; ``kit_options``, called
only in runs that collect the checks, has ``deployctl.targets.records`` check a field mapping.

The JSON options (``--deployctl-config``, ``--deployctl-update-config``, ``--deployctl-fields``)
each take a JSON object; text that is not JSON, or JSON that is not an object, is a one-line
usage error naming the option.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

USAGE: Final = "pytest --pyargs deployctl.testing --deployctl-target URI"

TARGET_OPTION: Final = "--deployctl-target"
MODEL_URI_OPTION: Final = "--deployctl-model-uri"
UPDATE_MODEL_URI_OPTION: Final = "--deployctl-update-model-uri"
CONFIG_OPTION: Final = "--deployctl-config"
UPDATE_CONFIG_OPTION: Final = "--deployctl-update-config"
FIELDS_OPTION: Final = "--deployctl-fields"

# The target to check when --deployctl-target is not given (for CI jobs with a fixed command).
TARGET_ENV: Final = "DEPLOYCTL_TARGET"

DEFAULT_MODEL_URI: Final = "models:/deployctl-conformance/1"
DEFAULT_UPDATE_MODEL_URI: Final = "models:/deployctl-conformance/2"

CONFIG_EXAMPLE: Final = '\'{"instance_type": "small"}\''
FIELDS_EXAMPLE: Final = '\'{"name": "EndpointName", "model_uri": "Tags.model_uri"}\''


def add_options(parser: pytest.Parser) -> None:
    """Register the kit's options (harmless in runs that do not collect the checks)."""
    group = parser.getgroup("deployctl", f"deployctl conformance kit ({USAGE})")
    group.addoption(
        TARGET_OPTION,
        dest="deployctl_target",
        metavar="URI",
        default=None,
        help=f"the target whose plugin the conformance kit checks, e.g. local:/tmp/conformance "
        f"(default: ${TARGET_ENV})",
    )
    group.addoption(
        MODEL_URI_OPTION,
        dest="deployctl_model_uri",
        metavar="URI",
        default=DEFAULT_MODEL_URI,
        help="the model the kit's throw-away deployments are created with; targets that load "
        "the model need a real one (default: %(default)s)",
    )
    group.addoption(
        UPDATE_MODEL_URI_OPTION,
        dest="deployctl_update_model_uri",
        metavar="URI",
        default=DEFAULT_UPDATE_MODEL_URI,
        help="the model the update check switches a deployment to; must differ from "
        f"{MODEL_URI_OPTION} (default: %(default)s)",
    )
    group.addoption(
        CONFIG_OPTION,
        dest="deployctl_config",
        metavar="JSON",
        default=None,
        help="the config passed to every create and update, a JSON object (default: {})",
    )
    group.addoption(
        UPDATE_CONFIG_OPTION,
        dest="deployctl_update_config",
        metavar="JSON",
        default=None,
        help="the config the update check switches a deployment to, a JSON object (default: "
        f"the {CONFIG_OPTION} value); give a different value for a key the target reports to "
        "check that updates change config",
    )
    group.addoption(
        FIELDS_OPTION,
        dest="deployctl_fields",
        metavar="JSON",
        default=None,
        help="where the target's records keep each field, a JSON object of record field -> "
        "path: what a manifest target's `fields:` holds, e.g. "
        f"{FIELDS_EXAMPLE} (default: deployctl's default paths)",
    )


@dataclass(frozen=True)
class KitOptions:
    """What one conformance run checks, and with which model, config and field mapping.

    ``update_config`` is the config the update check sends (``None``: ``config`` again);
    ``fields`` the target's field mapping (record field -> path), as a manifest's ``fields:``.
    """

    target_uri: str
    model_uri: str = DEFAULT_MODEL_URI
    update_model_uri: str = DEFAULT_UPDATE_MODEL_URI
    config: dict[str, Any] = field(default_factory=dict)
    update_config: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def config_after_update(self) -> dict[str, Any]:
        """The config the update check sends."""
        return self.config if self.update_config is None else self.update_config


def target_given(config: pytest.Config) -> str | None:
    """The target URI of this run (the option, else ``$DEPLOYCTL_TARGET``), or ``None``."""
    value = config.getoption("deployctl_target") or os.environ.get(TARGET_ENV, "")
    value = str(value).strip()
    return value or None


def kit_options(config: pytest.Config) -> KitOptions:
    """The options of a run that collects the checks; ``pytest.UsageError`` says what to fix."""
    target = target_given(config)
    if target is None:
        raise pytest.UsageError(
            f"the deployctl conformance kit needs a target to check: {USAGE} "
            f"(e.g. {TARGET_OPTION} local:/tmp/conformance, or a URI of your plugin's scheme; "
            f"or set {TARGET_ENV})"
        )
    model_uri = str(config.getoption("deployctl_model_uri") or "").strip()
    update_model_uri = str(config.getoption("deployctl_update_model_uri") or "").strip()
    if not model_uri or not update_model_uri:
        raise pytest.UsageError(
            f"{MODEL_URI_OPTION} and {UPDATE_MODEL_URI_OPTION} must not be empty "
            f"(defaults: {DEFAULT_MODEL_URI}, {DEFAULT_UPDATE_MODEL_URI})"
        )
    if model_uri == update_model_uri:
        raise pytest.UsageError(
            f"{UPDATE_MODEL_URI_OPTION} must differ from {MODEL_URI_OPTION} ({model_uri}): the "
            "update check switches a deployment from one to the other (use two versions of "
            "one model, e.g. models:/NAME/1 and models:/NAME/2)"
        )
    config_value = _json_object(config, "deployctl_config", CONFIG_OPTION, CONFIG_EXAMPLE)
    update_config = _json_object(
        config, "deployctl_update_config", UPDATE_CONFIG_OPTION, CONFIG_EXAMPLE
    )
    return KitOptions(
        target,
        model_uri,
        update_model_uri,
        config=config_value if config_value is not None else {},
        update_config=update_config,
        fields=_fields(config),
    )


def _json_object(
    config: pytest.Config, dest: str, option: str, example: str
) -> dict[str, Any] | None:
    """The JSON object given as ``option``; ``None`` when it was not given (or is blank)."""
    text = config.getoption(dest)
    if text is None or not str(text).strip():
        return None
    try:
        value = json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise pytest.UsageError(
            f"{option} is not JSON ({exc}): pass a JSON object, e.g. {example}"
        ) from None
    if not isinstance(value, dict):
        raise pytest.UsageError(
            f"{option} is a JSON {_json_type(value)}, not an object: pass a JSON object, "
            f"e.g. {example}"
        )
    return value


def _fields(config: pytest.Config) -> dict[str, str]:
    """``--deployctl-fields``, checked as deployctl checks a manifest's ``fields:``."""
    fields = _json_object(config, "deployctl_fields", FIELDS_OPTION, FIELDS_EXAMPLE)
    if not fields:
        return {}
    for key, path in fields.items():
        if not isinstance(path, str):
            raise pytest.UsageError(
                f"{FIELDS_OPTION} maps {key!r} to a JSON {_json_type(path)}: each value is a "
                f"path, a string, e.g. {FIELDS_EXAMPLE}"
            )
    # Paths are deployctl's to judge (the manifest's ``fields:`` are read the same way), and
    # only runs that collect the checks get here: deployctl is imported now, not at start-up.
    from deployctl.targets.records import DEFAULT_RECORD_SHAPE

    try:
        DEFAULT_RECORD_SHAPE.with_fields(fields)
    except ValueError as exc:
        raise pytest.UsageError(
            f"{FIELDS_OPTION}: {exc} (the option holds what a manifest target's `fields:` "
            f"holds, e.g. {FIELDS_EXAMPLE})"
        ) from None
    return fields


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type: object, array, string, number, boolean, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else type(value).__name__
