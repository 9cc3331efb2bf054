"""Hostile or broken manifests: refused at once with FILE:LINE:COL, never a hang or a traceback."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from deployctl.errors import DeployctlError, ManifestError
from deployctl.manifest import load_manifest
from deployctl.manifest.loader import MAX_MANIFEST_BYTES

Issues = list[tuple[int, int, str]]

BASE = """\
version: 1
environment: dev
targets:
  local:
    uri: local:.d
    deployments:
      churn:
        model_uri: models:/churn/3
"""


def issues(path: Path, **kwargs: object) -> Issues:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, **kwargs)  # type: ignore[arg-type]
    return [(i.line, i.col, i.message) for i in caught.value.issues]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dev.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("spelling", [".nan", ".NaN", ".inf", "-.inf", "+.Inf"])
def test_nan_and_infinity_in_config_are_refused_at_their_position(
    tmp_path: Path, spelling: str
) -> None:
    path = write(tmp_path, BASE + f"        config: {{threshold: {spelling}}}\n")
    [(line, col, message)] = issues(path)
    assert (line, col) == (9, 29)
    assert "JSON has no NaN or infinity" in message


def test_nan_as_a_variable_value_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("targets:", "variables:\n  rate: .nan\ntargets:")
    [(line, _, message)] = issues(write(tmp_path, text))
    assert line == 4 and "NaN" in message


def test_nan_given_with_var_for_a_number_variable_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("targets:", "variables:\n  rate: 0.5\ntargets:") + (
        "        config: {rate: '${var.rate}'}\n"
    )
    found = issues(write(tmp_path, text), variables={"rate": "nan"})
    assert any("rate" in message for _, _, message in found)


def test_a_quoted_nan_is_text_and_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "        config: {mode: '.nan'}\n")
    manifest = load_manifest(path)
    assert next(manifest.deployments()).spec.config == {"mode": ".nan"}


def test_a_name_ending_in_a_newline_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("      churn:\n", '      "churn\\n":\n')
    found = issues(write(tmp_path, text))
    assert found and found[0][0] == 7
    assert "\\n" in found[0][2] or "newline" in found[0][2] or "name" in found[0][2]


def test_nesting_deeper_than_64_levels_is_refused(tmp_path: Path) -> None:
    deep = "[" * 70 + "]" * 70
    [(line, _, message)] = issues(write(tmp_path, BASE + f"        config: {{x: {deep}}}\n"))
    assert line == 9
    assert message == "the manifest is nested deeper than 64 levels"


def test_an_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    lines = ["version: 1", "environment: dev", "targets: {}", "x0: &a0 [1,1,1,1,1,1,1,1,1,1]"]
    for i in range(1, 10):
        lines.append(f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    [(line, col, message)] = issues(write(tmp_path, "\n".join(lines) + "\n"))
    assert (line, col) == (1, 1)
    # Ten levels of ten: counted on the graph, never built (building it would take hours).
    assert message.startswith("the manifest expands to 12,345,679,")
    assert message.endswith("refusing an alias bomb")


def test_aliases_that_expand_a_little_are_fine(tmp_path: Path) -> None:
    text = BASE + "        config: &c {workers: 2}\n      fraud:\n        model_uri: m\n"
    text += "        config: *c\n"
    manifest = load_manifest(write(tmp_path, text))
    assert [d.spec.config for d in manifest.deployments()] == [{"workers": 2}] * 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_at_once_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "dev.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_manifest(fifo)
        except BaseException as exc:  # the assertion below says what it was
            outcome.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "loading a FIFO hung"
    assert isinstance(outcome[0], DeployctlError)
    assert str(outcome[0]).startswith(f"{fifo}: cannot read manifest: not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused() -> None:
    with pytest.raises(DeployctlError, match="not a regular file"):
        load_manifest("/dev/zero")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployctlError, match="cannot read manifest"):
        load_manifest(tmp_path)


def test_a_manifest_over_10_mib_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "dev.yaml"
    with open(path, "wb") as f:
        f.write(BASE.encode())
        f.truncate(MAX_MANIFEST_BYTES + 1)
    with pytest.raises(DeployctlError, match=r"more than the 32 MiB a manifest may have"):
        load_manifest(path)


@pytest.mark.parametrize(
    "url", ["postgresql://ci:hunter2@db/deployctl", "postgresql://ci@db/deployctl?password=hunter2"]
)
def test_state_url_with_a_password_is_refused_at_its_position(tmp_path: Path, url: str) -> None:
    text = BASE.replace("targets:", f"state:\n  url: {url}\ntargets:")
    [(line, col, message)] = issues(write(tmp_path, text))
    assert (line, col) == (4, 8)
    assert "must not hold a password" in message and "PGPASSWORD" in message
    assert "hunter2" not in message


def test_state_needs_exactly_one_of_url_or_path(tmp_path: Path) -> None:
    text = BASE.replace("targets:", "state: {url: 's3://b/p/', path: x.json}\ntargets:")
    [(line, _, message)] = issues(write(tmp_path, text))
    assert line == 3
    assert message == "state needs exactly one of url (a shared backend) or path (a local file)"


def test_a_state_path_is_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "envs").mkdir()
    path = tmp_path / "envs" / "dev.yaml"
    path.write_text(BASE.replace("targets:", "state: {path: ../state/dev.json}\ntargets:"))
    manifest = load_manifest(path)
    assert manifest.state is not None
    assert manifest.state.path == str(tmp_path / "state" / "dev.json")
    assert manifest.state.url is None


def test_control_characters_in_names_are_escaped_in_messages(tmp_path: Path) -> None:
    text = BASE.replace("      churn:\n", '      "churn\\e[31m\\u202e":\n')
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    shown = str(caught.value)
    assert "churn\\x1b[31m\\u202e" in shown
    assert "\x1b" not in shown and "\u202e" not in shown
    assert len(shown.splitlines()) == 1
