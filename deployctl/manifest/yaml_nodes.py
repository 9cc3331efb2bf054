"""YAML text composed by libyaml, to plain Python data that remembers where it was written.

``yaml.safe_load`` throws positions away and silently lets a repeated key win, so this module
composes the node tree itself and builds ``dict``/``list``/scalar data together with a
``Positions`` index from JSON path to the 1-based line and column of each key and value.
Everything that YAML accepts but a manifest must not contain (repeated keys, keys that YAML 1.1
reads as booleans or numbers, unknown tags, merge keys gone wrong, aliases that expand too far or
contain themselves, deep nesting) is reported as an issue rather than raised, so the caller can
report it together with every other problem.

It reads what the line reader (``manifest.yaml_block``) does not (``manifest.yaml_read`` picks).
The lean reader (``manifest.yaml_plain``) builds the data of a document that is all plain
mappings, lists and scalars with string keys, leaving the positions to ``NodePositions``, which
finds them in the composed nodes only when something asks (a message, a deployment's location).
At the first thing it does not handle (any tag, merge key, repeated or non-string key, value to
refuse, nesting past ``MAX_DEPTH``) it gives up and the full walk (``_Walker``) reads the
document again from the same nodes, recording every position and wording every issue: a
manifest with a problem is read exactly as before, a clean one faster than ``yaml.load`` with
the C loader.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from deployctl.errors import ManifestIssue
from deployctl.manifest.positions import JSONPath, Mark, RecordedPositions
from deployctl.manifest.yaml_plain import NodePositions, node_position, plain_data
from deployctl.manifest.yaml_read import ParsedYAML
from deployctl.manifest.yaml_scalars import (
    MAP_TAG,
    MAX_DEPTH,
    SEQ_TAG,
    STR_TAG,
    TAG,
    TIMESTAMP_TAG,
    NotPlain,
)

_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

MERGE_TAG = TAG + "merge"

# What a plain key that YAML 1.1 resolved to something else was read as, for the error message.
_KEY_TYPE_WORDS = {
    TAG + "bool": "a boolean",
    TAG + "int": "a number",
    TAG + "float": "a number",
    TAG + "null": "null",
    TIMESTAMP_TAG: "a date",
}

# Aliases can make a small file expand exponentially ("billion laughs"). The expanded size is
# measured on the node graph before anything is built (linear in the file, not in the
# expansion), and refused when aliases multiply it past both limits: a manifest without aliases
# is never refused for its size (the 32 MiB file limit bounds it), a bomb is refused at once.
MAX_VALUES = 200_000
MAX_EXPANSION = 10


class _TooManyValues(Exception):
    pass


def read_nodes(
    raw: bytes,
    source: str,
    describe_container: Callable[[JSONPath], str],
    *,
    full: bool = False,
) -> ParsedYAML:
    """Compose ``raw`` with libyaml as a single YAML document and build its data with
    positions: by the lean reader or, at anything it does not handle, the full walk
    (``manifest.yaml_read.parse_yaml`` says what the arguments are). ``full`` skips the lean
    reader."""
    loader = _Loader(raw)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            issue = _syntax_issue(error, raw, source)
            return ParsedYAML(None, RecordedPositions(source), [issue], False)
        except yaml.reader.ReaderError as error:
            line, col = _offset_position(raw, error.position)
            message = f"invalid YAML: {error.reason} (character {error.character!r})"
            issue = ManifestIssue(source, line, col, message)
            return ParsedYAML(None, RecordedPositions(source), [issue], False)
        if node is None:
            return ParsedYAML(None, RecordedPositions(source), [], False)
        if not full and (not _may_alias(raw) or _measure(node, source)[0] is None):
            # Only aliases make the data bigger than the text: a bomb is never built.
            try:
                return ParsedYAML(plain_data(node), NodePositions(node, source))
            except NotPlain:
                pass
        return _walk(loader, node, source, describe_container)
    finally:
        loader.dispose()


def _may_alias(raw: bytes) -> bool:
    """Whether ``raw`` may hold an alias (``*name`` needs an ``&name`` anchor). Bytes are
    searched as UTF-8: a UTF-16 document (PyYAML reads those too) is assumed to have some."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    return b"*" in raw and b"&" in raw


def _walk(
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    node: Node,
    source: str,
    describe_container: Callable[[JSONPath], str],
) -> ParsedYAML:
    """The full read: every check made, every issue worded, every position recorded."""
    positions = RecordedPositions(source)
    too_big, budget = _measure(node, source)
    if too_big is not None:
        return ParsedYAML(None, positions, [too_big], False)
    walker = _Walker(loader, source, positions, describe_container, budget)
    try:
        data = walker.walk(node, ())
    except _TooManyValues:
        message = f"the manifest expands to more than {walker.budget:,} values through aliases"
        return ParsedYAML(None, positions, [ManifestIssue(source, 1, 1, message)], False)
    except RecursionError:
        message = "the manifest is nested too deeply to read"
        return ParsedYAML(None, positions, [ManifestIssue(source, 1, 1, message)], False)
    return ParsedYAML(data, positions, walker.issues)


def _measure(root: Node, source: str) -> tuple[ManifestIssue | None, int]:
    """Refuse a document nested deeper than ``MAX_DEPTH`` or that aliases expand too far;
    otherwise return how many values building it may take (its expanded size is within that).

    One iterative pass over the composed graph (each node once, however many aliases point at
    it), so a billion-laughs document is refused in microseconds and deep nesting cannot
    exhaust the stack.
    """
    sizes: dict[int, int] = {}
    nodes = 0
    # (node, depth, children pushed yet)
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    active: set[int] = set()
    while stack:
        node, depth, expanded = stack.pop()
        if depth > MAX_DEPTH:
            line, col = node_position(node)
            message = f"the manifest is nested deeper than {MAX_DEPTH} levels"
            return ManifestIssue(source, line, col, message), 0
        if isinstance(node, ScalarNode):
            if id(node) not in sizes:
                sizes[id(node)] = 1
                nodes += 1
            continue
        children: list[Node] = (
            [item for pair in node.value for item in pair]
            if isinstance(node, MappingNode)
            else list(node.value)
        )
        if not expanded:
            if id(node) in sizes or id(node) in active:
                continue  # measured already, or an alias that contains itself
            nodes += 1
            active.add(id(node))
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in children)
            continue
        active.discard(id(node))
        sizes[id(node)] = 1 + sum(sizes.get(id(child), 1) for child in children)
    expanded_size = sizes.get(id(root), 1)
    limit = max(MAX_VALUES, MAX_EXPANSION * nodes)
    if expanded_size > limit:
        message = (
            f"the manifest expands to {expanded_size:,} values through aliases, from "
            f"{nodes:,} written: refusing an alias bomb"
        )
        return ManifestIssue(source, 1, 1, message), 0
    return None, limit


def _syntax_issue(error: yaml.MarkedYAMLError, raw: bytes, source: str) -> ManifestIssue:
    mark = error.problem_mark or error.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = error.problem or error.context or "unreadable document"
    # Some problems only make sense after their context ("... but found another document").
    if error.context and problem.startswith("but "):
        problem = f"{error.context}, {problem}"
    if mark is not None and "cannot start any token" in problem:
        lines = raw.splitlines()
        if 0 <= mark.line < len(lines) and lines[mark.line][mark.column : mark.column + 1] == b"\t":
            problem += " (YAML does not allow tabs for indentation; use spaces)"
    return ManifestIssue(source, line, col, f"invalid YAML: {problem}")


def _offset_position(raw: bytes, offset: int) -> Mark:
    offset = max(0, min(offset, len(raw)))
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return (raw.count(b"\n", 0, offset) + 1, offset - line_start + 1)


class _Walker:
    """One pass over the node tree: data, positions and issues, linear in the expanded size."""

    def __init__(
        self,
        loader: yaml.SafeLoader | yaml.CSafeLoader,
        source: str,
        positions: RecordedPositions,
        describe_container: Callable[[JSONPath], str],
        budget: int,
    ) -> None:
        self.loader = loader
        self.source = source
        self.positions = positions
        self.describe_container = describe_container
        self.issues: list[ManifestIssue] = []
        # Ids of the keys each mapping spelled out itself, recorded before flatten_mapping folds
        # merged keys in: only those can be "duplicates" (a merged key is meant to be overridden).
        self._own_keys: dict[int, frozenset[int]] = {}
        # Collections on the current walk path, to stop at an alias that contains itself.
        self._active: set[int] = set()
        # Nodes walked before: an alias walks its node again, whose problems are already reported.
        self._seen: set[int] = set()
        self._quiet = 0
        self._cycles: set[int] = set()
        # Never reached when _measure has passed the document: a second guard, not the check.
        self.budget = budget
        self._left = budget

    def report(self, node: Node, message: str) -> None:
        if self._quiet:
            return
        line, col = node_position(node)
        self.issues.append(ManifestIssue(self.source, line, col, message))

    def walk(self, node: Node, path: JSONPath) -> Any:
        self._left -= 1
        if self._left < 0:
            raise _TooManyValues
        self.positions.values[path] = node_position(node)
        repeat = id(node) in self._seen
        if repeat:
            self._quiet += 1
        else:
            self._seen.add(id(node))
        try:
            return self._walk_node(node, path)
        finally:
            if repeat:
                self._quiet -= 1

    def _walk_node(self, node: Node, path: JSONPath) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            # Always met through an alias (so quietly), yet never reported before: say it once.
            if id(node) not in self._cycles:
                self._cycles.add(id(node))
                line, col = node_position(node)
                message = f"{self.describe_container(path)} contains itself through an alias"
                self.issues.append(ManifestIssue(self.source, line, col, message))
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                if node.tag != MAP_TAG:
                    self.report(node, f"unsupported YAML tag '{node.tag}' on a mapping")
                return self._mapping(node, path)
            if node.tag != SEQ_TAG:
                self.report(node, f"unsupported YAML tag '{node.tag}' on a list")
            return [self.walk(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode, path: JSONPath) -> Any:
        if node.tag == STR_TAG:
            return node.value
        if node.tag == TIMESTAMP_TAG:
            # JSON (and so state and plan files) has no dates: keep the text as written.
            return node.value
        # After reporting a value that cannot be used, carry on with its text so that the schema
        # does not add a second, misleading complaint about the same value.
        try:
            value = self.loader.construct_object(node)
        except yaml.constructor.ConstructorError:
            self.report(node, f"unsupported YAML tag '{node.tag}'")
            return node.value
        except (ValueError, LookupError):  # "!!int 1x", "!!bool maybe", "!!int ''"
            self.report(node, f"cannot read '{node.value}' as YAML tag '{node.tag}'")
            return node.value
        if isinstance(value, float) and not math.isfinite(value):
            self.report(
                node,
                f"'{node.value}' is not a number deployctl can store (JSON has no NaN or "
                "infinity); write a finite number, or quote it to mean the text",
            )
            return node.value
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        self.report(
            node,
            f"unsupported YAML value of tag '{node.tag}'; "
            "use a string, number, boolean, mapping or list",
        )
        return node.value

    def _mapping(self, node: MappingNode, path: JSONPath) -> dict[str, Any]:
        own = self._flatten(node)
        chosen: dict[str, tuple[Node, Node, bool]] = {}
        for key_node, value_node in node.value:
            explicit = id(key_node) in own
            key = self._key(key_node, path, report=explicit)
            if key is None:
                continue
            previous = chosen.get(key)
            if previous is not None and explicit and previous[2]:
                first_line = previous[0].start_mark.line + 1
                self.report(
                    key_node,
                    f"duplicate key '{key}' in {self.describe_container(path)} "
                    f"(first at line {first_line})",
                )
                continue
            # flatten_mapping puts merged pairs first, in the order in which later ones win.
            chosen[key] = (key_node, value_node, explicit)
        result: dict[str, Any] = {}
        keys = self.positions.keys
        for key, (key_node, value_node, _) in chosen.items():
            child = (*path, key)
            keys[child] = node_position(key_node)
            result[key] = self.walk(value_node, child)
        return result

    def _key(self, node: Node, path: JSONPath, *, report: bool) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == STR_TAG:
            return str(node.value)
        if not report:
            # A merged-in key: reported where the mapping it comes from is written.
            return None
        where = self.describe_container(path)
        if isinstance(node, ScalarNode):
            word = _KEY_TYPE_WORDS.get(node.tag)
            if word is not None and node.value:
                self.report(
                    node,
                    f"key '{node.value}' in {where} is read by YAML as {word}, not a string; "
                    f'quote it ("{node.value}") to use it as a name',
                )
            elif word is not None:
                self.report(node, f"empty key in {where}; keys must be non-empty strings")
            else:
                self.report(node, f"key in {where} has unsupported YAML tag '{node.tag}'")
        else:
            kind = "mapping" if isinstance(node, MappingNode) else "list"
            self.report(node, f"a {kind} cannot be a key in {where}; keys must be strings")
        return None

    def _flatten(self, node: MappingNode) -> frozenset[int]:
        """Fold ``<<`` merge keys into ``node`` (once); returns the ids of its own keys."""
        own = self._own_keys.get(id(node))
        if own is not None:
            return own
        own = frozenset(id(key) for key, _ in node.value if key.tag != MERGE_TAG)
        self._own_keys[id(node)] = own
        if len(own) == len(node.value):
            return own
        # Merge sources must record their own keys before flatten_mapping rewrites them too.
        for key, value in node.value:
            if key.tag != MERGE_TAG:
                continue
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    self._flatten(source)
        try:
            self.loader.flatten_mapping(node)
        except yaml.constructor.ConstructorError as error:
            mark = error.problem_mark
            where = node_position(node)
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else where
            problem = error.problem or "invalid merge"
            self.issues.append(
                ManifestIssue(self.source, line, col, f"invalid YAML merge key (<<): {problem}")
            )
            node.value = [(k, v) for k, v in node.value if k.tag != MERGE_TAG]
        return own
