"""The conformance kit's command-line options and what a run resolves them to.

pytest imports this in every run where deployctl is installed (through the plugin), so it
imports nothing but the standard library and pytest.
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

# The target to check when --deployctl-target is not given (for CI jobs with a fixed command).
TARGET_ENV: Final = "DEPLOYCTL_TARGET"

DEFAULT_MODEL_URI: Final = "models:/deployctl-conformance/1"
DEFAULT_UPDATE_MODEL_URI: Final = "models:/deployctl-conformance/2"


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


@dataclass(frozen=True)
class KitOptions:
    """What one conformance run checks, and with which model and config."""

    target_uri: str
    model_uri: str = DEFAULT_MODEL_URI
    update_model_uri: str = DEFAULT_UPDATE_MODEL_URI
    config: dict[str, Any] = field(default_factory=dict)


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
    return KitOptions(target, model_uri, update_model_uri, _config(config))


def _config(config: pytest.Config) -> dict[str, Any]:
    text = config.getoption("deployctl_config")
    if text is None or not str(text).strip():
        return {}
    example = '\'{"instance_type": "small"}\''
    try:
        value = json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise pytest.UsageError(
            f"{CONFIG_OPTION} is not JSON ({exc}): pass a JSON object, e.g. {example}"
        ) from None
    if not isinstance(value, dict):
        raise pytest.UsageError(
            f"{CONFIG_OPTION} is a JSON {type(value).__name__}, not an object: pass a JSON "
            f"object, e.g. {example}"
        )
    return value
