"""Consoles that cannot encode Unicode get ASCII symbols and escapes, never a crash."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from support import ONE_DEPLOYMENT, write_manifest

from deployctl.console.encoding import FallbackWriter, can_encode, for_stream


def ascii_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")


def test_a_utf8_stream_is_used_as_it_is() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    assert for_stream(stream) is stream


def test_an_ascii_stream_gets_ascii_symbols_and_escapes() -> None:
    stream = ascii_stream()
    writer = for_stream(stream)
    assert isinstance(writer, FallbackWriter)
    writer.write('config.workers: 1 → 2 ✓ ✗ ± … model "модель"\n')
    stream.flush()
    written = stream.buffer.getvalue().decode("ascii")  # type: ignore[attr-defined]
    assert (
        written
        == 'config.workers: 1 -> 2 + x +/- ... model "\\u043c\\u043e\\u0434\\u0435\\u043b\\u044c"\n'
    )


def test_cp1252_cannot_encode_the_arrow() -> None:
    assert not can_encode(io.TextIOWrapper(io.BytesIO(), encoding="cp1252"))


def test_plan_on_an_ascii_console_exits_0_with_ascii_arrows(tmp_path: Path) -> None:
    # A real process: the interpreter's own stdout encoding is what PYTHONIOENCODING sets.
    manifest = ONE_DEPLOYMENT.replace("models:/churn/3", "models:/churn/3\n        config: {w: 1}")
    write_manifest(tmp_path / "dev.yaml", manifest)
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "NO_COLOR": "1"}
    cli = [sys.executable, "-m", "deployctl"]
    applied = subprocess.run(
        [*cli, "apply", "-f", "dev.yaml", "--auto-approve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert applied.returncode == 0, applied.stderr
    (tmp_path / "dev.yaml").write_text(manifest.replace("{w: 1}", "{w: 2}"))
    outputs = {}
    for extra in ([], ["--markdown"]):
        planned = subprocess.run(
            [*cli, "plan", "-f", "dev.yaml", *extra],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert planned.returncode == 0, planned.stderr
        assert b"Traceback" not in planned.stderr
        outputs[tuple(extra)] = planned.stdout.decode("ascii")  # nothing but ASCII was written
    assert "config.w: 1 -> 2" in outputs[()]
