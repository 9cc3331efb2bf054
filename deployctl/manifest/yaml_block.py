"""The line reader: the data of a manifest written in plain block style, read line by line.

Almost every manifest is block mappings of ``key: value`` lines, a few block lists, comments and
scalars that fit on their line. Such a document can be read a line at a time, with one regular
expression per line, several times faster than libyaml composes its nodes (which is most of what
a no-op plan of a big manifest costs). This reader does exactly that and nothing more: at the
first line outside that subset (a flow collection other than ``[]``/``{}``, a block scalar, a
scalar spanning lines, an anchor, alias, tag or directive, a tab, a character YAML refuses, an
indentation YAML would refuse, a repeated key, a key YAML 1.1 reads as no string, nesting past
``MAX_DEPTH``) it gives up with ``NotPlain`` and libyaml reads the document as before. Within the
subset, each line means one thing in YAML, so what this reader builds is what the lean reader
(``manifest.yaml_plain``) builds from libyaml's nodes: plain scalars are resolved by PyYAML's own
YAML 1.1 rules and built by the same function (``manifest.yaml_scalars``). The tests hold the
two readers to the same data and positions on the examples and on thousands of generated and
mutated documents. PyYAML is imported only for what libyaml reads: a one-line flow collection,
or a position deeper than the noted levels.

Positions: the keys and values of the top four levels (a deployment is at
``targets.T.deployments.NAME``) are noted as they are read; a lookup of anything deeper, which
only a message needs, composes the document with libyaml then (``NodePositions``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from deployctl.manifest.positions import JSONPath, Mark, Position
from deployctl.manifest.yaml_scalars import MAX_DEPTH, STR_TAG, NotPlain, implicit_tag, scalar

if TYPE_CHECKING:
    from yaml.nodes import Node

    from deployctl.manifest.yaml_plain import NodePositions

# Levels whose positions are noted while reading: the root's keys are level 1.
NOTED_LEVELS = 4
# libyaml refuses an implicit key longer than 1024 characters; the subset stops well before.
_MAX_KEY = 1000

# A plain scalar that fits on its line, in block context: it starts with no indicator (a "-"
# only before a letter, digit, "." or "_"); a ":" inside is followed by a non-space; inner
# spaces are followed by what may go on (not "#", not ": "), so neither a comment nor trailing
# spaces are part of it.
_PLAIN = (
    r"(?:[^ '\"#&*!|>%@`\[\]{},?:\-]|-(?=[0-9A-Za-z._]))"
    r"(?:[^ :]+|:(?=[^ ])| +(?=[^ #:]|:[^ ]))*+"
)
_SCALAR = (
    rf"(?:(?P<plain>{_PLAIN})"
    r"|\"(?P<dq>[^\"\\]*)\""  # double-quoted, no escapes
    r"|'(?P<sq>(?:[^']|'')*)'"  # single-quoted ('' is a quote)
    r"|(?P<empty>\[\]|\{\})"
    r"|(?P<flow>[\[{].*))"  # a flow collection: libyaml reads the rest of the line
)
_END = r"(?: +#.*)? *"
_KEY_LINE = re.compile(
    rf"(?:(?P<key>{_PLAIN})|\"(?P<dkey>[^\"\\]*)\"|'(?P<skey>(?:[^']|'')*)')"
    rf":(?: +{_SCALAR})?{_END}"
)
_SCALAR_LINE = re.compile(_SCALAR + _END)
# The usual line, ``  key: value`` or ``  key:``, a subset of what _KEY_LINE reads: a key of
# letters, digits, "_", "." and "-" (not first), a plain value of those and "/" (a "." or "/"
# first, no "-"), with ":" only between them; no comment, no trailing space.
_SIMPLE_LINE = re.compile(
    r"( *)([A-Za-z0-9_][A-Za-z0-9_.-]{0,200}):"
    r"(?: ([A-Za-z0-9_./][A-Za-z0-9_./-]*(?::[A-Za-z0-9_./-]+)*))?"
)
# Everything but a line feed, printable ASCII and the printable non-ASCII YAML reads as text
# (not U+0085, U+2028, U+2029, which YAML 1.1 reads as line breaks, nor the byte order mark).
# Compiled when a manifest is not ASCII: compiling it takes 6 ms, a tenth of reading 5,000
# deployments.
_OUTSIDE = "[^\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
_OUTSIDE_ASCII = re.compile("[^\n\x20-\x7e]")


_UNREAD = object()


class _Frame:
    """An open block mapping or list: the column its entries start at, and where it is."""

    __slots__ = ("container", "indent", "indentless", "path")

    def __init__(
        self, indent: int, container: Any, path: JSONPath | None, *, indentless: bool = False
    ) -> None:
        self.indent = indent
        self.container = container
        self.path = path  # None below the noted levels
        # A list written at its key's own column ("key:\n- a"): it ends at the next line of
        # that column that is no "- " entry.
        self.indentless = indentless


class _Pending:
    """A key or list entry with no value on its line: a nested block may follow."""

    __slots__ = ("frame", "indent", "path", "slot")

    def __init__(self, frame: _Frame, slot: str | int, indent: int, path: JSONPath | None) -> None:
        self.frame = frame
        self.slot = slot
        self.indent = indent
        self.path = path


class LinePositions:
    """:class:`~deployctl.manifest.positions.Positions` of a document the line reader read:
    the noted levels from what it noted, anything else from libyaml's nodes, composed on the
    first such lookup."""

    def __init__(
        self, raw: bytes, source: str, keys: dict[JSONPath, Mark], values: dict[JSONPath, Mark]
    ) -> None:
        self.source = source
        self._raw = raw
        self._keys = keys
        self._values = values
        self._nodes: NodePositions | None = None

    def _composed(self) -> NodePositions:
        if self._nodes is None:
            import yaml

            from deployctl.manifest.yaml_plain import NodePositions

            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(self._raw)
            try:
                root = loader.get_single_node()
            finally:
                loader.dispose()
            assert root is not None  # the line reader read a mapping from it
            self._nodes = NodePositions(root, self.source)
        return self._nodes

    def value(self, path: JSONPath) -> Position:
        found = self._values.get(path)
        if found is not None:
            return Position(self.source, *found)
        return self._composed().value(path)

    def key(self, path: JSONPath) -> Position:
        found = self._keys.get(path)
        if found is not None:
            return Position(self.source, *found)
        return self._composed().key(path)

    def written_key(self, path: JSONPath) -> Position | None:
        found = self._keys.get(path)
        if found is not None:
            return Position(self.source, *found)
        return self._composed().written_key(path)


def read_lines(raw: bytes, source: str) -> tuple[dict[str, Any], LinePositions]:
    """The data of ``raw`` (a mapping) and its positions; ``NotPlain`` when ``raw`` is not all
    in the subset this reader reads (libyaml reads it then)."""
    if raw[:3] == b"\xef\xbb\xbf" or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise NotPlain  # a byte order mark: libyaml picks the encoding
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotPlain from None
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # one line break, as libyaml reads it
    outside = _OUTSIDE_ASCII if text.isascii() else re.compile(_OUTSIDE)
    if outside.search(text) is not None:
        raise NotPlain  # a tab, a lone carriage return, a character YAML refuses or breaks at
    return _Reader(raw, source).read(text.split("\n"))


class _Reader:
    """One read: the blocks open at the current line (``stack``), a key or entry waiting for
    its nested block (``pending``), the positions noted, and the tags and flow collections
    read so far (a manifest repeats its values: each is resolved once)."""

    def __init__(self, raw: bytes, source: str) -> None:
        self.raw = raw
        self.source = source
        self.keys: dict[JSONPath, Mark] = {}
        self.values: dict[JSONPath, Mark] = {}
        self.stack: list[_Frame] = []
        self.pending: _Pending | None = None
        self.resolved: dict[str, str] = {}
        self.plains: dict[str, Any] = {}
        self.flows: dict[str, Node] = {}

    def read(self, lines: list[str]) -> tuple[dict[str, Any], LinePositions]:
        root: dict[str, Any] = {}
        numbered = enumerate(lines, 1)
        for number, line in numbered:
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            indent = len(line) - len(content)
            if indent == 0 and (content == "---" or content.startswith("--- #")):
                continue  # the document's start marker, before any content
            if content[0] == "-":
                raise NotPlain  # a list at the root: no manifest
            self.stack.append(_Frame(indent, root, ()))
            self.values[()] = (number, indent + 1)
            self._pair(self.stack[-1], number, indent, content)
            break
        else:
            raise NotPlain  # nothing but comments: libyaml says what an empty document is
        for number, line in numbered:
            simple = _SIMPLE_LINE.fullmatch(line)
            if simple is not None:  # most lines of most manifests
                self._simple(number, *simple.groups())
                continue
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            indent = len(line) - len(content)
            top = self.stack[-1]
            if (
                self.pending is None
                and indent == top.indent
                and type(top.container) is dict
                and content[0] != "-"
            ):
                self._pair(top, number, indent, content)  # the common case: the next key
            else:
                self._line(number, indent, content)
        return root, LinePositions(self.raw, self.source, self.keys, self.values)

    def _simple(self, number: int, spaces: str, key: str, text: str | None) -> None:
        """A line ``_SIMPLE_LINE`` matched: what ``_line`` and ``_pair`` do with it, without
        the general expression (no list entry, quote, comment or flow collection to tell
        apart)."""
        indent = len(spaces)
        pending = self.pending
        if pending is not None:
            self.pending = None
            if indent > pending.indent:
                self._open(pending, number, indent, False)
        stack = self.stack
        top = stack[-1]
        while indent < top.indent or (top.indentless and indent == top.indent):
            stack.pop()
            if not stack:
                raise NotPlain  # less indented than the root
            top = stack[-1]
        if indent != top.indent or type(top.container) is not dict:
            raise NotPlain  # between levels, or a key in a list
        if (self.resolved.get(key) or self._tag(key)) != STR_TAG:
            raise NotPlain  # "yes:", "1:" are no string keys
        mapping: dict[str, Any] = top.container
        if key in mapping:
            raise NotPlain  # a repeated key: the full walk reports it
        path = None if top.path is None else self._noted(top.path, key, number, indent)
        if text is None:
            mapping[key] = None
            self.pending = _Pending(top, key, indent, path)
            return
        value = self.plains.get(text, _UNREAD)
        mapping[key] = self._plain(text) if value is _UNREAD else value
        if path is not None:
            self.values[path] = (number, indent + len(key) + 3)

    def _line(self, number: int, indent: int, content: str) -> None:
        """A line that may open a nested block, close some, or be a list entry."""
        item = content[0] == "-" and (len(content) == 1 or content[1] == " ")
        pending = self.pending
        if pending is not None:
            self.pending = None
            if indent > pending.indent or (
                indent == pending.indent and item and type(pending.frame.container) is dict
            ):
                self._open(pending, number, indent, item)
        stack = self.stack
        top = stack[-1]
        while indent < top.indent or (top.indentless and indent == top.indent and not item):
            stack.pop()
            if not stack:
                raise NotPlain  # less indented than the root
            top = stack[-1]
        if indent != top.indent:
            raise NotPlain  # more indented with nothing open to hold it, or between levels
        if item:
            if type(top.container) is not list:
                raise NotPlain
            self._entry(top, number, indent, content)
        else:
            if type(top.container) is not dict:
                raise NotPlain
            self._pair(top, number, indent, content)

    def _open(self, pending: _Pending, number: int, indent: int, item: bool) -> None:
        """Start the block that holds ``pending``'s value at this line."""
        container: dict[str, Any] | list[Any] = [] if item else {}
        self._push(
            _Frame(indent, container, pending.path, indentless=item and indent == pending.indent)
        )
        pending.frame.container[pending.slot] = container
        if pending.path is not None:
            self.values[pending.path] = (number, indent + 1)

    def _pair(self, frame: _Frame, number: int, indent: int, content: str) -> None:
        """A ``key: value`` line of the mapping ``frame``."""
        match = _KEY_LINE.fullmatch(content)
        if match is None:
            raise NotPlain
        key, dkey, skey, plain, dq, sq, empty, flow = match.groups()
        if len(content) > _MAX_KEY and max(match.end(1), match.end(2), match.end(3)) > _MAX_KEY:
            raise NotPlain  # libyaml refuses a key written this long
        if key is not None:
            if (self.resolved.get(key) or self._tag(key)) != STR_TAG:
                raise NotPlain  # "yes:", "1:", "<<:", "~:" are no string keys
        elif dkey is not None:
            key = dkey
        else:
            key = skey.replace("''", "'")
        mapping: dict[str, Any] = frame.container
        if key in mapping:
            raise NotPlain  # a repeated key: the full walk reports it
        path = None if frame.path is None else self._noted(frame.path, key, number, indent)
        if plain is not None:  # the common case first: a plain scalar read before
            value = self.plains.get(plain, _UNREAD)
            mapping[key] = self._plain(plain) if value is _UNREAD else value
        elif dq is None and sq is None and empty is None and flow is None:
            mapping[key] = None
            self.pending = _Pending(frame, key, indent, path)
            return
        else:
            mapping[key] = self._value(plain, dq, sq, empty, flow)
        if path is not None:
            self.values[path] = (number, indent + 1 + _value_start(match))

    def _noted(self, parent: JSONPath, key: str, number: int, indent: int) -> JSONPath | None:
        """The path of ``key`` in the mapping at ``parent``, its position noted, when it is
        within the noted levels (else ``None``: nothing below is noted either)."""
        if len(parent) >= NOTED_LEVELS:
            return None
        path = (*parent, key)
        self.keys[path] = (number, indent + 1)
        return path

    def _entry(self, frame: _Frame, number: int, indent: int, content: str) -> None:
        """A ``- ...`` line of the list ``frame``."""
        rest = content[1:].lstrip(" ")
        items: list[Any] = frame.container
        index = len(items)
        path = None
        if frame.path is not None and len(frame.path) < NOTED_LEVELS:
            path = (*frame.path, index)
        if not rest or rest[0] == "#":
            items.append(None)
            self.pending = _Pending(frame, index, indent, path)
            return
        column = indent + len(content) - len(rest)
        if rest[0] == "-" and (len(rest) == 1 or rest[1] == " "):
            raise NotPlain  # a list in a list on one line
        match = _SCALAR_LINE.fullmatch(rest)
        if match is not None:
            items.append(self._value(*match.groups()))
            if path is not None:
                self.values[path] = (number, column + 1 + _value_start(match))
            return
        mapping: dict[str, Any] = {}
        items.append(mapping)
        if path is not None:
            self.values[path] = (number, column + 1)
        nested = _Frame(column, mapping, path)
        self._push(nested)
        self._pair(nested, number, column, rest)

    def _value(
        self, plain: str | None, dq: str | None, sq: str | None, empty: str | None, flow: str | None
    ) -> Any:
        """The value a line wrote (one of its value groups is set)."""
        if plain is not None:
            value = self.plains.get(plain, _UNREAD)
            return self._plain(plain) if value is _UNREAD else value
        if dq is not None:
            return dq
        if sq is not None:
            return sq.replace("''", "'")
        if empty is not None:
            return [] if empty == "[]" else {}
        assert flow is not None
        return self._flow(flow)

    def _push(self, frame: _Frame) -> None:
        """Open the block ``frame``; ``NotPlain`` past ``MAX_DEPTH``."""
        if len(self.stack) >= MAX_DEPTH:
            raise NotPlain
        self.stack.append(frame)

    def _flow(self, text: str) -> Any:
        """The flow collection written ``text`` (with what follows it on its line: a comment),
        composed by libyaml on its own (a one-line flow collection means the same anywhere) and
        built by the lean reader; ``NotPlain`` when it is more than one line, when libyaml
        refuses it or the lean reader gives up, or when it holds an anchor or alias."""
        import yaml

        from deployctl.manifest.yaml_plain import plain_data

        node = self.flows.get(text)
        if node is None:
            if "&" in text or "*" in text:
                raise NotPlain  # aliases are for the full walk, which bounds their expansion
            try:
                node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            except yaml.YAMLError:
                raise NotPlain from None
            if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
                raise NotPlain
            self.flows[text] = node
        return plain_data(node)  # built anew each time: no two values share a list or dict

    def _plain(self, text: str) -> Any:
        """The value of the plain scalar ``text``; remembered (it is a string, number, boolean
        or null: the same value serves every line that writes it)."""
        tag = self.resolved.get(text) or self._tag(text)
        value = self.plains[text] = text if tag == STR_TAG else scalar(tag, text)
        return value

    def _tag(self, text: str) -> str:
        """The tag YAML 1.1 (PyYAML's resolver) gives the plain scalar ``text``; remembered."""
        tag = self.resolved[text] = implicit_tag(text)
        return tag


def _value_start(match: re.Match[str]) -> int:
    """Where the value of a matched line starts (its opening quote, when quoted)."""
    for group, before in (("plain", 0), ("dq", 1), ("sq", 1), ("empty", 0), ("flow", 0)):
        start = match.start(group)
        if start >= 0:
            return start - before
    raise AssertionError("a matched value has a start")  # pragma: no cover


__all__ = ["NOTED_LEVELS", "LinePositions", "read_lines"]
