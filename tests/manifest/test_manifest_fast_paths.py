"""The fast paths of manifest loading agree with the full ones they stand in for.

A clean manifest is read by the lean YAML reader (positions looked up in the nodes on demand) and
checked by the compiled validator (``jsonschema_rs``, patterns translated from Python's ``re``);
anything else takes the full walk and ``jsonschema``. These tests pin the agreement: the same
data and positions from both readers, the same valid/invalid verdict from both validators on
many valid and broken manifests, and the same located messages when something is wrong.
"""

from __future__ import annotations

import copy
import gc
import json
import re
import sys
import textwrap
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from support import EXAMPLES, run_cli, typed
from test_manifest_properties import SOURCES, mutated

from deployctl.errors import ManifestError
from deployctl.manifest import load_manifest, manifest_schema
from deployctl.manifest.positions import JSONPath, RecordedPositions
from deployctl.manifest.schema import (
    PYTHON_SPACE,
    UntranslatablePattern,
    fast_is_valid,
    fast_validator,
    jsonschema_validator,
    rust_pattern,
)
from deployctl.manifest.validate import describe_container, validate_manifest
from deployctl.manifest.yaml_block import LinePositions
from deployctl.manifest.yaml_plain import NodePositions
from deployctl.manifest.yaml_read import ParsedYAML, parse_yaml
from deployctl.manifest.yaml_scalars import MAX_DEPTH

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]
jsonschema_rs = pytest.importorskip("jsonschema_rs")


def _read(text: str, *, full: bool = False) -> ParsedYAML:
    return parse_yaml(
        text.encode("utf-8", "surrogatepass"), "dev.yaml", describe_container, full=full
    )


def _paths(value: Any, path: JSONPath = ()) -> list[JSONPath]:
    """Every path in ``value``, and one below each leaf and beside each entry (never written:
    the lookups fall back to an ancestor)."""
    found = [path, (*path, "never-written"), (*path, 10**6)]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def assert_readers_agree(text: str) -> None:
    """The reader ``parse_yaml`` picks for ``text`` (line, lean or full) gives the full walk's
    data, issues and positions."""
    lean, full = _read(text), _read(text, full=True)
    assert isinstance(full.positions, RecordedPositions)
    if not isinstance(lean.positions, (NodePositions, LinePositions)):
        # The lean reader gave up: its answer is the full walk's, issue for issue.
        assert (lean.issues, lean.document) == (full.issues, full.document)
        assert typed(lean.data) == typed(full.data)
        return
    assert not lean.issues and not full.issues and full.document
    assert typed(lean.data) == typed(full.data)
    for path in _paths(full.data):
        where = (path, lean.positions, full.positions)
        assert lean.positions.value(path) == full.positions.value(path), where
        assert lean.positions.key(path) == full.positions.key(path), where
        assert lean.positions.written_key(path) == full.positions.written_key(path), where


# -- the YAML readers ------------------------------------------------------------------------------


def test_a_clean_manifest_is_read_without_the_full_walk() -> None:
    for text in SOURCES:
        parsed = _read(text)
        assert isinstance(parsed.positions, LinePositions)  # read line by line
        assert not parsed.issues


@pytest.mark.parametrize("text", SOURCES, ids=[p.name for p in sorted(EXAMPLES.glob("*.yaml"))])
def test_both_readers_give_the_examples_the_same_data_and_positions(text: str) -> None:
    assert_readers_agree(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {b: 1}\nc: *x\nd: [*x, *x]\n",  # aliases: copies, at the anchor's position
        "a: 0o17\nb: 017\nc: 0x1F\nd: 1_000\ne: 1:30\nf: -5\ng: +7\nh: \uff10\n",  # YAML 1.1 ints
        "a: 1.5\nb: .5\nc: 1e3\nd: -0.0\ne: 1_0.5\n",
        "a: yes\nb: Off\nc: ~\nd: null\ne: 2024-05-01\nf: ''\ng: \"\"\n",
        "- [a, [b, [c, {d: [e]}]]]\n- {}\n- []\n",
        '"quoted key": 1\n? complex\n: 2\n',
        "a: |\n  text\n  more\nb: >\n  folded\n",
        "# only a comment before\n\n  a: 1\n",
        "just a string\n",
        "42\n",
        "\ufeffa: 1\n",
    ],
)
def test_both_readers_agree_on_plain_yaml(text: str) -> None:
    assert_readers_agree(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # a repeated key
        "yes: 1\n",  # a key YAML 1.1 reads as a boolean
        "1: x\n",
        "a: !secret x\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!int '0x'\n",
        "a: !!bool maybe\n",
        "a: .nan\n",
        "a: !!set {x, y}\n",
        "base: &b {x: 1}\nc: {<<: *b, y: 2}\n",
        "a: &loop [1, *loop]\n",
        "a: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n",
        "{a: 1}: x\n",
        "[a]: x\n",
        "a: 1" + "0" * 5000 + "\n",  # more digits than int() reads
    ],
)
def test_what_the_lean_reader_does_not_handle_takes_the_full_walk(text: str) -> None:
    parsed = _read(text)
    assert isinstance(parsed.positions, RecordedPositions)
    assert_readers_agree(text)


@settings(
    max_examples=200,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=mutated())
def test_both_readers_agree_on_mutated_manifests(text: str) -> None:
    assert_readers_agree(text)


@pytest.mark.parametrize(
    ("value", "tag"),
    [("!!bool maybe", "bool"), ("!!int ''", "int"), ("!!int 1x", "int"), ("1" + "0" * 5000, "int")],
)
def test_a_value_its_tag_cannot_read_is_located_not_a_crash(
    issues_of: Issues, value: str, tag: str
) -> None:
    issues = issues_of(f"version: 1\nenvironment: dev\ntargets: {{}}\nx: {value}\n")
    text = value.split(" ", 1)[-1].strip("'") if value.startswith("!!") else value
    assert (4, 4, f"cannot read '{text}' as YAML tag 'tag:yaml.org,2002:{tag}'") in issues


def test_a_big_manifest_without_aliases_is_never_refused_for_its_size(
    write_manifest: WriteManifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The full walk (a merge key sends it there) once stopped at MAX_VALUES values however
    # many the file itself held: a 50,000-deployment manifest could not be loaded.
    monkeypatch.setattr("deployctl.manifest.yaml_nodes.MAX_VALUES", 30)
    lines = [
        "version: 1",
        "environment: dev",
        "targets:",
        "  local:",
        "    uri: local:x",
        "    defaults: &d {flavor: python_function}",
        "    deployments:",
    ]
    for i in range(20):
        lines += [f"      m{i}:", "        <<: *d", f"        model_uri: models:/m{i}/1"]
    manifest = load_manifest(write_manifest("\n".join(lines) + "\n"), environ={})
    assert len(list(manifest.deployments())) == 20


# -- the validators --------------------------------------------------------------------------------


def test_the_compiled_validator_is_used_when_installed() -> None:
    # Every pattern of the schema must translate: an untranslatable one turns the fast path off.
    assert fast_validator() is not None


def test_python_space_is_exactly_what_python_reads_as_space() -> None:
    spaces = re.compile(rf"[{PYTHON_SPACE}]")
    python = re.compile(r"\s")
    differ = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if bool(spaces.match(chr(code))) != bool(python.match(chr(code)))
    ]
    assert differ == []


def _schema_patterns() -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    found.add(value)
                elif key == "patternProperties":
                    found.update(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(manifest_schema())
    return found


# Characters on which Python's re and Rust's regex could read a pattern differently.
TRICKY = [chr(c) for c in range(0x21)] + [
    chr(c) for c in (0x7F, 0x85, 0xA0, 0x1680, 0x2000, 0x200B, 0x2028, 0x202F, 0x3000, 0xFEFF)
]
TRICKY += [".", "|", "$", "^", "-", "_", "é", "٣", "\U0001f600"]
WORDS = ["ms", "json", "config", "model_uri"]


@pytest.mark.parametrize(
    "pattern",
    [*sorted(_schema_patterns()), r"^a$", r"a$|^b", r"[$]x", r"^\S+\s*$", r"^[]a]+$", r"^[^]\s]+$"],
)
def test_translated_patterns_match_what_python_matches(pattern: str) -> None:
    python = re.compile(pattern)
    rust = jsonschema_rs.validator_for({"type": "string", "pattern": rust_pattern(pattern)})
    stems = ["", "a", "1", "1.5", "config.", "config.a", "model_uri", "Tags.x", "x|json"]
    tails = ("", "a", "s", "\n", "\n\n", ".b", "|json")
    samples = [s + c + t for s in stems for c in [*TRICKY, *WORDS] for t in tails]
    differ = [s for s in samples if bool(python.search(s)) != rust.is_valid(s)]
    assert differ == []


@pytest.mark.parametrize("pattern", [r"\d+", r"^\w$", r"\bx", r"[a[b]]", r"[a--b]", r"[\S]"])
def test_patterns_rust_would_read_otherwise_are_refused(pattern: str) -> None:
    with pytest.raises(UntranslatablePattern):
        rust_pattern(pattern)


def _reference_is_valid(data: Any) -> bool:
    # jsonschema, as it words the errors (with the schema's references inlined, as it runs).
    return bool(jsonschema_validator().is_valid(data))


def test_jsonschema_reads_the_inlined_schema_as_the_schema() -> None:
    plain = Draft202012Validator(manifest_schema())
    for data in [*BASES, {"version": 1}, {**EVERY_PART, "version": 2}]:
        assert _reference_is_valid(data) == plain.is_valid(data)


def _data_of(text: str) -> Any:
    parsed = _read(text)
    return parsed.data if parsed.document else None


@settings(
    max_examples=200,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=mutated())
def test_both_validators_agree_on_mutated_manifests(text: str) -> None:
    data = _data_of(text)
    fast = fast_is_valid(data)
    assert fast is None or fast == _reference_is_valid(data)


EXAMPLE_DATA = [_data_of(text) for text in SOURCES]
# A valid manifest that uses every part of the schema (the examples leave some out).
EVERY_PART: dict[str, Any] = {
    "version": 1,
    "environment": "dev-1",
    "state": {"path": "state/dev.json"},
    "variables": {"region": "eu", "workers": 2, "ratio": 0.5, "on": True},
    "targets": {
        "sm": {
            "uri": "sagemaker:/eu",
            "timeout": {"read": "5s", "write": "30m"},
            "retry": {"attempts": 3, "backoff": "1.5s"},
            "update": "replace",
            "client": "per_action",
            "fields": {
                "name": "EndpointName",
                "model_uri": "Tags.model_uri",
                "config.instance_count": "ProductionVariants.0.CurrentInstanceCount",
                "config.spec": "deploy|json.modelUrl",
            },
            "defaults": {
                "flavor": "python_function",
                "config": {"a": 1},
                "lifecycle": {"prevent_destroy": True, "ignore_changes": ["config.a"]},
                "sensitive": ["config.token"],
            },
            "deployments": {
                "churn": {
                    "model_uri": "models:/churn/1",
                    "lifecycle": {"replace_on": ["model_uri", "flavor"]},
                    "sensitive": ["config.key"],
                    "adopt": True,
                }
            },
        },
        "local": {"uri": "local:x", "timeout": "10s", "deployments": {}},
    },
}
BASES = [*EXAMPLE_DATA, EVERY_PART]
# Strings near what the schema's patterns accept, with a character they may read differently.
STEMS = ["", "a", "1", "1.5", "config.", "config.a", "model_uri", "Tags.x", "x|json", "v_1"]
NEAR_PATTERNS = st.builds(
    lambda stem, char, tail: stem + char + tail,
    st.sampled_from(STEMS),
    st.sampled_from([*TRICKY, *WORDS]),
    st.sampled_from(["", "a", "s", "ms", "\n", ".b", "|json"]),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=12)
    | NEAR_PATTERNS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = NEAR_PATTERNS | st.text(max_size=12) | st.sampled_from(["model_uri", "config.a b", "1.5s"])


def _containers(value: Any, path: JSONPath = ()) -> list[JSONPath]:
    found = [path] if isinstance(value, (dict, list)) and value else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _containers(item, (*path, index))
    return found


def _at(data: Any, path: JSONPath) -> Any:
    for part in path:
        data = data[part]
    return data


@settings(max_examples=300, deadline=timedelta(seconds=2))
@given(data=st.data())
def test_both_validators_agree_on_manifests_with_values_and_keys_replaced(
    data: st.DataObject,
) -> None:
    manifest = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(1, 3))):
        container = _at(manifest, data.draw(st.sampled_from(_containers(manifest))))
        if isinstance(container, list):
            container[data.draw(st.integers(0, len(container) - 1))] = data.draw(JSON_VALUES)
            continue
        key = data.draw(st.sampled_from(sorted(container)))
        if data.draw(st.booleans()):
            container[key] = data.draw(JSON_VALUES)
        else:  # rename the key: names, field paths, config keys meet the schema's patterns
            container[data.draw(KEYS)] = container.pop(key)
    fast = fast_is_valid(manifest)
    assert fast is None or fast == _reference_is_valid(manifest)


def _strings(value: Any, path: JSONPath = ()) -> list[tuple[JSONPath, bool]]:
    """(path, is a key) of every string value and every mapping key in ``value``."""
    found: list[tuple[JSONPath, bool]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(((*path, key), True))
            found += _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _strings(item, (*path, index))
    elif isinstance(value, str):
        found.append((path, False))
    return found


def _respell(parent: Any, key: str | int, is_key: bool, spelling: str) -> None:
    """Write ``spelling`` as the key ``key`` of ``parent`` (in its place: the order of keys is
    the order of jsonschema's errors), or as the value at ``key``."""
    if not is_key:
        parent[key] = spelling
        return
    items = [(spelling if k == key else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)


def test_both_validators_agree_when_any_string_or_key_gets_a_tricky_character() -> None:
    # Every name, field path, duration and config key the schema matches with a regex, and
    # everything else, each with each character on which Python and Rust could part ways.
    manifest = copy.deepcopy(EVERY_PART)
    differ = []
    for path, is_key in _strings(manifest):
        parent, key = _at(manifest, path[:-1]), path[-1]
        text = str(key) if is_key else parent[key]
        for char in TRICKY:
            for spelling in (text + char, text[:1] + char + text[1:]):
                _respell(parent, key, is_key, spelling)
                if fast_is_valid(manifest) != _reference_is_valid(manifest):
                    differ.append((path, is_key, spelling))
                _respell(parent, spelling if is_key else key, is_key, text)
    assert manifest == EVERY_PART  # put back after each change
    assert differ == []


def test_the_compiled_validator_accepts_the_examples_and_refuses_a_broken_one() -> None:
    for data in BASES:
        assert fast_is_valid(data) is True
        assert _reference_is_valid(data)
    broken = copy.deepcopy(EXAMPLE_DATA[0])
    broken["version"] = 2
    assert fast_is_valid(broken) is False


def test_without_the_compiled_validator_jsonschema_does_it_all(
    issues_of: Issues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)  # import fails
    fast_validator.cache_clear()
    try:
        assert fast_validator() is None
        assert fast_is_valid(EXAMPLE_DATA[0]) is None
        issues = issues_of("version: 2\nenvironment: dev\ntargets: {}\n")
        assert issues == [
            (1, 10, "unsupported manifest version 2 (this deployctl reads version 1)")
        ]
        good = _read(SOURCES[0])
        assert validate_manifest(good.data, good.positions, "dev.yaml") == []
    finally:
        fast_validator.cache_clear()


# -- loading ---------------------------------------------------------------------------------------


def _big_manifest(count: int, broken: int) -> str:
    lines = ["version: 1", "environment: dev", "targets:", "  local:", "    uri: local:x"]
    lines.append("    deployments:")
    for i in range(count):
        field = "modle_uri" if i == broken else "model_uri"
        lines += [
            f"      m{i:04d}:",
            f"        {field}: models:/m{i}/1",
            "        config: {workers: 2, region: eu-west-1}",
        ]
    return "\n".join(lines) + "\n"


def test_a_problem_deep_in_a_big_manifest_is_located_as_before(tmp_path: Path) -> None:
    text = _big_manifest(300, broken=250)
    (tmp_path / "dev.yaml").write_text(text, encoding="utf-8")
    result = run_cli("validate", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    line = 7 + 3 * 250 + 1  # header, then three lines per deployment; the field's own line
    assert result.err.splitlines() == [
        f"dev.yaml:{line - 1}:7: deployment 'm0250' is missing required field 'model_uri'",
        f"dev.yaml:{line}:9: unknown field 'modle_uri' in deployment 'm0250' "
        "(did you mean 'model_uri'?)",
    ]
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(_big_manifest(300, broken=-1), encoding="utf-8")
    result = run_cli("validate", "-f", "fixed.yaml", cwd=tmp_path)
    assert (result.code, result.out) == (
        0,
        "fixed.yaml: valid (environment dev, 1 target(s), 300 deployment(s))\n",
    )


def test_deployments_are_located_where_their_names_are_written(
    write_manifest: WriteManifest,
) -> None:
    manifest = load_manifest(write_manifest(_big_manifest(40, broken=-1)), environ={})
    (target,) = manifest.targets
    assert (target.location.line, target.location.col) == (4, 3)  # type: ignore[union-attr]
    for i, deployment in enumerate(target.deployments):
        assert deployment.location is not None
        assert (deployment.location.line, deployment.location.col) == (7 + 3 * i, 7)


def test_a_reference_in_one_field_leaves_the_rest_of_the_data_alone(
    write_manifest: WriteManifest,
) -> None:
    path = write_manifest(
        textwrap.dedent(
            """
            version: 1
            environment: dev
            variables: {region: eu-west-1}
            targets:
              local:
                uri: local:x
                defaults: {config: {shared: {a: 1}}}
                deployments:
                  churn: {model_uri: models:/churn/1, config: {region: "${var.region}"}}
                  fraud: {model_uri: "models:/fraud/$${literal}", config: {b: [1, 2]}}
            """
        )
    )
    specs = {d.name: d.spec for d in load_manifest(path, environ={}).deployments()}
    assert specs["churn"].config == {"shared": {"a": 1}, "region": "eu-west-1"}
    assert specs["fraud"].model_uri == "models:/fraud/${literal}"
    assert specs["fraud"].config == {"shared": {"a": 1}, "b": [1, 2]}
    assert specs["churn"].config["shared"] is not specs["fraud"].config["shared"]


def test_loading_leaves_the_garbage_collector_as_it_was(write_manifest: WriteManifest) -> None:
    path = write_manifest(_big_manifest(50, broken=-1))
    bad = write_manifest(_big_manifest(50, broken=3), name="bad.yaml")
    was = gc.isenabled()
    gc.disable()
    try:
        load_manifest(path, environ={})
        with pytest.raises(ManifestError):
            load_manifest(bad, environ={})
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_the_schema_is_not_changed_for_the_compiled_validator() -> None:
    before = json.dumps(manifest_schema(), sort_keys=True)
    fast_validator.cache_clear()
    fast_validator()
    assert json.dumps(manifest_schema(), sort_keys=True) == before
