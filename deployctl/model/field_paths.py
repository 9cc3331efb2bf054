"""Field mappings: the grammar of a target's ``fields:`` (what is mapped, and the path to it).

A mapping names a record field (``name``, ``status``, ``model_uri``, ``flavor``, ``config``) or
one config key (``config.KEY``), and the path in the plugin's records where it is kept:

- ``EndpointName``: a top-level key;
- ``Tags.model_uri``: a key of a nested mapping;
- ``ProductionVariants.0.CurrentInstanceCount``: a number indexes a list;
- ``deploy|json.modelUrl``: ``|json`` parses the text found there as JSON.

The patterns are the manifest schema's (``$defs/fieldPath`` and the ``config.KEY`` entry of
``$defs/fields``; a test keeps them equal). They live below the manifest and the targets
because both use them: the manifest's validation words its messages with the rules, and
``targets.record_paths`` parses and reads the paths.
"""

from __future__ import annotations

from typing import Final

JSON_SUFFIX: Final = "|json"
SEGMENT_PATTERN: Final = r"[^.|\s]+(\|json)?"
# ``(?!\n)``: Python's ``$`` also matches before a final newline, which no path ends with.
PATH_PATTERN: Final = rf"^{SEGMENT_PATTERN}(\.{SEGMENT_PATTERN})*(?!\n)$"
PATH_RULE: Final = (
    "a key of the target's records or a dotted path into them, such as Tags.model_uri, "
    "ProductionVariants.0.CurrentInstanceCount (a number indexes a list) or deploy|json.modelUrl "
    "(|json parses JSON text)"
)

CONFIG_KEY_PREFIX: Final = "config."
CONFIG_FIELD_PATTERN: Final = r"^config\.[^.\s|]+(?!\n)$"
CONFIG_FIELD_RULE: Final = (
    "write config.KEY for one top-level key of the config, such as config.temperature"
)
# The record fields a mapping may name besides config.KEY (the schema's ``$defs/fields``).
RECORD_FIELDS: Final = ("name", "model_uri", "flavor", "config", "status")

__all__ = [
    "CONFIG_FIELD_PATTERN",
    "CONFIG_FIELD_RULE",
    "CONFIG_KEY_PREFIX",
    "JSON_SUFFIX",
    "PATH_PATTERN",
    "PATH_RULE",
    "RECORD_FIELDS",
    "SEGMENT_PATTERN",
]
