"""The manifest reference: ``docs/manifest.md``, generated from the manifest JSON Schema.

The schema (``schemas/manifest.schema.json``) is the single source of what a manifest may hold
and what each field means: every property carries a ``description`` and ``examples``, which
editors show through the YAML language server. This module renders the same text as Markdown,
one section per kind of mapping (the top level, a target, a deployment, …) and one entry per
field, so the reference cannot disagree with the validator. Regenerate it with::

    python -m deployctl.manifest.reference > docs/manifest.md

``tests/test_docs.py`` fails when ``docs/manifest.md`` differs from what this prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

REGENERATE = "python -m deployctl.manifest.reference > docs/manifest.md"

# How the keys of a mapping of user-chosen names are written in paths: targets.<TARGET>.
_MAP_KEY_LABELS = {"targets": "TARGET", "deployments": "NAME", "variables": "NAME"}

_INTRO = """\
# Manifest reference

<!-- Generated from schemas/manifest.schema.json by `{regenerate}`. Do not edit by hand:
     change the schema's descriptions and examples, then regenerate. -->

One YAML file per environment declares the deployments deployctl manages. This page lists every
field the manifest schema allows, with its type, its meaning and examples. How the pieces work
together — interpolation, defaults, lifecycle guards, secrets, registry aliases, smoke tests —
is explained in [the manifest guide](manifest-guide.md).

**Editor support.** The schema's `$id` is `{schema_id}`. With the YAML
language server (VS Code's YAML extension, Neovim, JetBrains) a first line

```yaml
# yaml-language-server: $schema={schema_id}
```

validates the manifest as you type and shows these descriptions and examples; the schema is
also in the repository (`schemas/manifest.schema.json`) and in the installed package
(`deployctl/schemas/manifest.schema.json`), for a `$schema=` path that works offline.

Unknown keys are errors everywhere except inside `config`, and so are duplicate keys.
`${{var.NAME}}` and `${{env.NAME}}` may appear in string values anywhere below `targets`.
"""


@dataclass
class _Section:
    """One kind of mapping in a manifest, documented once wherever it appears."""

    anchor: str
    node: Mapping[str, Any]
    paths: list[str] = field(default_factory=list)
    intro: str = ""  # the description of the definition whose anyOf holds this mapping


class _Reference:
    """Walks the schema from its root and renders what it finds."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self.defs: Mapping[str, Any] = schema.get("$defs", {})
        self.sections: dict[str, _Section] = {}

    # -- walking --

    def resolve(self, node: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
        """``(def name, schema)`` of ``node``: the definition a ``$ref`` names, or itself."""
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            return name, self.defs[name]
        return None, node

    def walk(self, node: Mapping[str, Any], path: str, anchor: str, intro: str = "") -> None:
        """Registers the section of the mapping ``node`` at ``path`` and of every mapping below
        it, in reading order (a target's ``defaults`` after its deployments, which they are
        merged under). A mapping met again only gains a path."""
        name, target = self.resolve(node)
        if "properties" not in target and "patternProperties" not in target:
            return
        key = name or anchor
        section = self.sections.get(key)
        if section is not None:
            if path not in section.paths:
                section.paths.append(path)
                # Named after where it is written most: a deployment's, not a target's defaults.
                section.paths.sort(key=lambda p: ".defaults" in p)
            return
        section = self.sections[key] = _Section(key.lower(), target, [path], intro)
        fields = sorted(_fields(target), key=lambda item: item[0] == "defaults")
        for field_name, prop in fields:
            self.walk_value(prop, _join(path, field_name), field_name)

    def walk_value(self, prop: Mapping[str, Any], path: str, name: str) -> None:
        _, target = self.resolve(prop)
        for branch in target.get("anyOf", []):
            self.walk(branch, path, f"{name}-mapping", intro=target.get("description", ""))
        self.walk(prop, path, name)
        values = target.get("additionalProperties")
        if isinstance(values, Mapping):
            label = _MAP_KEY_LABELS.get(name, "KEY")
            self.walk(values, f"{path}.<{label}>", f"{name}-entry")

    def section_for(self, node: Mapping[str, Any]) -> _Section | None:
        for section in self.sections.values():
            if section.node is node:
                return section
        return None

    # -- rendering --

    def type_of(self, node: Mapping[str, Any]) -> str:
        """A short phrase for what ``node`` accepts, with links to the sections it names."""
        name, target = self.resolve(node)
        section = self.section_for(target)
        if section is not None:
            return f"mapping, see [`{section.paths[0]}`](#{section.anchor})"
        if name is not None and "pattern" in target:
            return f"[{name}](#value-{name.lower()})"
        if "$ref" in target:
            return self.type_of(target)
        if "const" in target:
            return f"`{_scalar(target['const'])}`"
        if "enum" in target:
            return "one of " + ", ".join(f"`{_scalar(v)}`" for v in target["enum"])
        if "anyOf" in target:
            return " or ".join(self.type_of(branch) for branch in target["anyOf"])
        kind = target.get("type")
        if isinstance(kind, list):
            names = [str(k) for k in kind]
            return ", ".join(names[:-1]) + " or " + names[-1]
        if kind == "array":
            items = self.type_of(target.get("items", {}))
            return f"list of {items}" + (" (no duplicates)" if target.get("uniqueItems") else "")
        if kind == "object":
            values = target.get("additionalProperties")
            if isinstance(values, Mapping):
                inner = self.type_of(values)
                if inner.startswith("mapping, see "):
                    return (
                        f"mapping of names, each described in {inner.removeprefix('mapping, see ')}"
                    )
                return f"mapping of names to {inner}"
            return "mapping (free-form)"
        if kind == "integer" and "minimum" in target and "maximum" in target:
            return f"integer, {target['minimum']} to {target['maximum']}"
        if kind == "integer" and "minimum" in target:
            return f"integer, at least {target['minimum']}"
        if kind == "string" and target.get("minLength") == 1:
            return "string, not empty"
        return str(kind or "any value")

    def render(self) -> str:
        self.walk(self.schema, "", "top-level")
        out = [_INTRO.format(regenerate=REGENERATE, schema_id=self.schema.get("$id", ""))]
        examples = self.schema.get("examples", [])
        if examples:
            out.append("## A complete example\n")
            out.extend(f"```yaml\n{_yaml(example)}```\n" for example in examples)
        out.append("## Contents\n")
        out.extend(f"- [{_title(s)}](#{s.anchor})" for s in self.sections.values())
        out.append("- [Value types](#value-types)\n")
        for section in self.sections.values():
            out.extend(self.render_section(section))
        out.extend(self.render_value_types())
        return "\n".join(out).rstrip("\n") + "\n"

    def render_section(self, section: _Section) -> Iterator[str]:
        yield f'<a id="{section.anchor}"></a>\n'
        yield f"## {_title(section)}\n"
        if len(section.paths) > 1:
            yield "Also at " + ", ".join(f"`{p}`" for p in section.paths[1:]) + ".\n"
        for text in (section.intro, section.node.get("description", "")):
            if text:
                yield f"{_prose(text)}\n"
        required = set(section.node.get("required", []))
        yield "| field | type | required |"
        yield "| --- | --- | --- |"
        for name, prop in _fields(section.node):
            link = f"[`{_cell(name)}`](#{section.anchor}-{_slug(name)})"
            need = "yes" if name in required else ""
            yield f"| {link} | {_cell(self.type_of(prop))} | {need} |"
        yield ""
        for name, prop in _fields(section.node):
            yield f'<a id="{section.anchor}-{_slug(name)}"></a>\n'
            yield f"### `{_join(section.paths[0], name)}`\n"
            need = ", required" if name in required else ""
            yield f"*{self.type_of(prop)}{need}*\n"
            text = prop.get("description") or self.resolve(prop)[1].get("description")
            if text:
                yield f"{_prose(text)}\n"
            yield from _render_examples(name, prop.get("examples", []))

    def render_value_types(self) -> Iterator[str]:
        """The definitions with a pattern: what a name, a duration or a path may look like."""
        yield '<a id="value-types"></a>\n'
        yield "## Value types\n"
        for name, node in self.defs.items():
            if "pattern" not in node or self.section_for(node) is not None:
                continue
            yield f'<a id="value-{name.lower()}"></a>\n'
            yield f"### {name}\n"
            if node.get("description"):
                yield f"{_prose(node['description'])}\n"
            yield f"Pattern: `{node['pattern']}`\n"
            examples = node.get("examples", [])
            if examples:
                yield "Examples: " + ", ".join(f"`{_inline(e)}`" for e in examples) + "\n"


def _fields(node: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The named fields of a mapping schema: its properties, then its pattern properties
    (named by their ``title``, else their pattern)."""
    yield from node.get("properties", {}).items()
    for pattern, prop in node.get("patternProperties", {}).items():
        yield str(prop.get("title", pattern)), prop


def _render_examples(name: str, examples: list[Any]) -> Iterator[str]:
    if not examples:
        return
    if all(not isinstance(e, dict | list) for e in examples):
        label = "Example" if len(examples) == 1 else "Examples"
        yield f"{label}: " + ", ".join(f"`{_inline(e)}`" for e in examples) + "\n"
        return
    blocks = [_yaml({name: e}) for e in examples]
    yield "```yaml\n" + "# or\n".join(blocks) + "```\n"


def _yaml(value: Any) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        """Indents list items under their key, as the examples in this repository do."""

        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    text: str = yaml.dump(
        value,
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=96,
    )
    return text


def _inline(value: Any) -> str:
    """A scalar example as it is written in YAML, on one line."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _prose(text: str) -> str:
    """A description as Markdown text: ``<environment>`` is text, not an HTML tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: str) -> str:
    """Text for a table cell, where ``|`` would end the cell (also inside code spans)."""
    return text.replace("|", "\\|")


def _title(section: _Section) -> str:
    return f"`{section.paths[0]}`" if section.paths[0] else "The top level"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def render_reference(schema: Mapping[str, Any]) -> str:
    """``docs/manifest.md``: the Markdown reference of ``schema`` (the manifest schema)."""
    return _Reference(schema).render()


def main() -> int:
    """Prints the reference of the schema shipped with deployctl (see the module docstring)."""
    from deployctl.manifest.schema import manifest_schema

    # UTF-8 whatever the locale: the file is UTF-8 (the schema's text is not all ASCII).
    sys.stdout.buffer.write(render_reference(manifest_schema()).encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
