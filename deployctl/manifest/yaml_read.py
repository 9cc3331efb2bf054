"""Reading a YAML document: data, where each key and value was written, and what is wrong.

Three readers share one contract, tried in turn. The line reader (``manifest.yaml_block``)
reads a document in plain block style a line at a time, without libyaml (nor importing PyYAML),
and notes the positions of its top levels. Any other document is composed by libyaml
(``manifest.yaml_nodes``): the lean reader builds one that is all plain YAML, the full walk
anything else, checking, wording and locating every issue. Whichever reads it, a document gives
the same data and positions (the tests hold the readers to that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deployctl.errors import ManifestIssue
from deployctl.manifest.positions import JSONPath, Positions
from deployctl.manifest.yaml_block import read_lines
from deployctl.manifest.yaml_scalars import NotPlain


@dataclass
class ParsedYAML:
    """The outcome of reading a YAML document.

    ``document`` is False when there was nothing to build from (a syntax error, or an empty
    stream); ``data`` is then ``None`` and ``issues`` says why when it was a syntax error.
    """

    data: Any
    positions: Positions
    issues: list[ManifestIssue] = field(default_factory=list)
    document: bool = True


def parse_yaml(
    raw: bytes,
    source: str,
    describe_container: Callable[[JSONPath], str],
    *,
    full: bool = False,
) -> ParsedYAML:
    """Read ``raw`` as a single YAML document: its data, positions and issues.

    A document in plain block style is read line by line; any other is composed by libyaml and
    built by the lean reader or, at anything it does not handle, the full walk.
    ``describe_container`` names the mapping at a path in words (``deployments of target 'x'``)
    for messages about repeated and non-string keys; ``source`` prefixes every issue. ``full``
    skips the line and lean readers (to compare them with the full walk).
    """
    if not full:
        try:
            data, positions = read_lines(raw, source)
            return ParsedYAML(data, positions)
        except NotPlain:
            pass  # libyaml reads it
    # Imported here: PyYAML is not needed (nor imported) for a document in plain block style.
    from deployctl.manifest.yaml_nodes import read_nodes

    return read_nodes(raw, source, describe_container, full=full)


__all__ = ["ParsedYAML", "parse_yaml"]
