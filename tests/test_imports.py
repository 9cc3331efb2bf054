"""Every module imports on its own (no import cycles), and the CLI starts without heavy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

MODULES = sorted(
    ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    for path in (REPO / "deployctl").rglob("*.py")
    if "__pycache__" not in path.parts and path.name != "__main__.py"
)
HEAVY = ("pandas", "numpy", "deepdiff", "mlflow", "rich", "jsonschema", "yaml", "orjson")


# Imports each module named in argv in a child forked from this bare interpreter (as fresh as
# `python -c "import MODULE"`, without an interpreter start-up per module), a few at a time;
# prints the traceback of each module that fails.
IMPORT_EACH_ALONE = """
import os, sys, traceback

def child(module):
    try:
        __import__(module)
    except BaseException:
        sys.stdout.write(f"{module}: {traceback.format_exc()[-800:]}\\n")
        sys.stdout.flush()
        os._exit(1)
    os._exit(0)

running = set()
for module in sys.argv[1:]:
    if len(running) >= (os.cpu_count() or 2):
        running.discard(os.wait()[0])
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child(module)
    running.add(pid)
while running:
    running.discard(os.wait()[0])
"""


def _python_prints(code: str) -> str:
    """What a fresh interpreter running ``code`` prints (stripped)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_every_module_imports_on_its_own() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_ALONE, *MODULES],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("layer", ["deployctl.planner", "deployctl.executor", "deployctl.state"])
def test_the_core_never_imports_rich_or_argparse(layer: str) -> None:
    code = (
        f"import sys, {layer}; print(sorted(m for m in ('rich', 'argparse') if m in sys.modules))"
    )
    assert _python_prints(code) == "[]"


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import sys; from deployctl.cli.main import build_parser; build_parser(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert _python_prints(code) == "[]"


def test_a_manifest_in_plain_block_style_is_read_without_importing_pyyaml(tmp_path: Path) -> None:
    manifest = tmp_path / "dev.yaml"
    manifest.write_text(
        "version: 1\nenvironment: dev\ntargets:\n  local:\n    uri: local:targets/dev\n"
        "    deployments:\n      m:\n        model_uri: models:/m/3\n        config:\n"
        "          workers: 2\n          ratio: 0.5\n          gpu: false\n"
    )
    code = (
        "import sys; from deployctl.manifest import load_manifest; "
        f"m = load_manifest({str(manifest)!r}); "
        "print([d.spec.config for d in m.deployments()], 'yaml' in sys.modules)"
    )
    assert _python_prints(code) == "[{'workers': 2, 'ratio': 0.5, 'gpu': False}] False"


def test_reading_a_local_state_imports_no_lock_module(tmp_path: Path) -> None:
    code = (
        "import sys; from deployctl.state.local import LocalStateBackend; "
        f"state = LocalStateBackend({str(tmp_path / 'dev.json')!r}).read(); "
        "print(state.exists, [m for m in sys.modules if m.startswith('deployctl.state.lock')])"
    )
    assert _python_prints(code) == "False []"
