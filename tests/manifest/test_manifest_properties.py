"""Property-based: whatever a broken manifest holds, loading it is a located error, never a crash.

Hypothesis mutates the example manifests (deleting, duplicating and swapping lines, inserting
YAML-significant text, replacing characters with arbitrary ones, truncating) and asserts that
``deployctl validate`` either accepts the result or exits 1 with every line of its error output
of the form ``FILE:LINE:COL: message`` (or one ``Error: FILE: ...`` line) — never a traceback,
never exit 3, never a hang (each example runs under a deadline).
"""

from __future__ import annotations

import contextlib
import io
import re
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import EXAMPLES

from deployctl.cli.main import main
from deployctl.errors import DeployctlError, ManifestError
from deployctl.manifest import load_manifest

SOURCES = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))]
YAML_BITS = [
    ": ",
    "- ",
    "&a ",
    "*a",
    "<<: *a",
    "!!python/object:os.system ",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "\t",
    ".nan",
    "-.inf",
    "${var.",
    "${env.HOME}",
    "\n  ",
    "#",
    "|",
    "? ",
    "%YAML 1.1\n",
    "---\n",
    "\x00",
    "\u202e",
    "1e999",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SOURCES)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "char", "cut"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            at = draw(st.integers(0, len(lines[i])))
            bit = draw(st.sampled_from(YAML_BITS) | st.text(max_size=8))
            lines[i] = lines[i][:at] + bit + lines[i][at:]
        elif kind == "char" and lines[i]:
            at = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:at] + draw(st.characters()) + lines[i][at + 1 :]
        elif kind == "cut":
            lines = lines[:i]
    return "".join(lines)


LOCATED = re.compile(r"^.+:\d+:\d+: .+$")


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "dev.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


@settings(
    max_examples=150,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=mutated())
def test_a_mutated_manifest_loads_or_fails_with_located_issues(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    try:
        load_manifest(path, environ={})
    except ManifestError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.path == str(path)
            assert issue.line >= 1 and issue.col >= 1
            assert "\n" not in str(issue)
    except DeployctlError as exc:
        assert str(exc).startswith(str(path))


@settings(
    max_examples=40,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=mutated())
def test_validate_exits_0_or_1_with_one_located_line_per_problem(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", "-f", str(path)])
    assert code in (0, 1), err.getvalue()
    if code == 1:
        lines = err.getvalue().splitlines()
        assert lines
        assert "Traceback" not in err.getvalue()
        for line in lines:
            assert LOCATED.match(line) or line.startswith("Error: "), line
