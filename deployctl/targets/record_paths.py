"""Record paths: where in a plugin's deployment record a field is kept (the manifest's ``fields:``).

A path is a key of the record, or a dotted path into it:

- ``EndpointName``: a top-level key;
- ``Tags.model_uri``: a key of a nested mapping;
- ``ProductionVariants.0.CurrentInstanceCount``: a number indexes a list (in a mapping it is a
  key like any other);
- ``deploy|json.modelUrl``: ``|json`` parses the text found there as JSON and goes on into the
  result (TorchServe's plugin returns its record as JSON text).

A record key that itself contains dots is found too (segments are joined on where the plain
split finds nothing). Parsing is separate from reading so that a manifest's paths are checked
once, when it is loaded. The grammar (``PATH_PATTERN``, ``PATH_RULE``) is
``model.field_paths``'s, shared with the manifest's validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from deployctl.model.field_paths import JSON_SUFFIX, PATH_PATTERN, PATH_RULE

_PATH: Final = re.compile(PATH_PATTERN)
MISSING: Final[Any] = object()


@dataclass(frozen=True)
class Segment:
    """One step of a path: a key (or list index) and whether the value there is JSON text."""

    key: str
    json: bool = False


@dataclass(frozen=True)
class RecordPath:
    """A parsed path; ``text`` is as the manifest wrote it."""

    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RecordPath:
        """``text`` parsed; ``ValueError`` (saying what a path may be) when it is not one."""
        if not isinstance(text, str) or not _PATH.match(text):
            raise ValueError(f"{text!r} is not {PATH_RULE}")
        segments = []
        for part in text.split("."):
            if part.endswith(JSON_SUFFIX):
                segments.append(Segment(part[: -len(JSON_SUFFIX)], json=True))
            else:
                segments.append(Segment(part))
        return cls(text, tuple(segments))

    def find(self, item: Mapping[str, Any]) -> Any:
        """The value at this path in ``item``, or ``MISSING`` when there is none (including
        JSON text that does not parse).

        A key that itself contains dots is found too: where the next segment is not a key of
        a mapping, the segments after it are joined on (``metadata.labels.app.kubernetes.io/name``
        reaches the label ``app.kubernetes.io/name``).
        """
        if self.text in item:
            return item[self.text]
        return _walk(item, self.segments)


def _walk(current: Any, segments: tuple[Segment, ...]) -> Any:
    """The value ``segments`` lead to from ``current``, or ``MISSING``."""
    if not segments:
        return current
    # The plain step first; then, in a mapping, keys that contain dots (longer and longer).
    for count in range(1, len(segments) + 1):
        if count > 1 and (not isinstance(current, Mapping) or segments[count - 2].json):
            break
        key = ".".join(segment.key for segment in segments[:count])
        found = _step(current, key)
        if found is MISSING:
            continue
        if segments[count - 1].json:
            found = _parsed(found)
            if found is MISSING:
                continue
        value = _walk(found, segments[count:])
        if value is not MISSING:
            return value
    return MISSING


def _step(current: Any, key: str) -> Any:
    if isinstance(current, Mapping):
        return current.get(key, MISSING)
    if (
        isinstance(current, Sequence)
        and not isinstance(current, (str, bytes, bytearray))
        and key.isascii()
        and key.isdigit()
        and int(key) < len(current)
    ):
        return current[int(key)]
    return MISSING


def _parsed(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return value  # already parsed (some plugin versions return the object itself)
    try:
        return json.loads(value)
    except ValueError:
        return MISSING


__all__ = ["MISSING", "PATH_PATTERN", "PATH_RULE", "RecordPath", "Segment"]
