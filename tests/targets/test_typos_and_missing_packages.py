"""A scheme typo gets "did you mean"; a plugin that lacks a package says which one to install.

Schemes: at validate time the error is the manifest's FILE:LINE:COL of the ``uri:`` value; when
a command loads the target, it names the target. Missing packages: real imports that fail (the
``importfail`` test plugin imports a module nobody installed), and real distribution metadata
written to a directory on ``sys.path`` for the cases where a distribution is installed but its
files are not (a broken install, an entry point left behind by its module).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import manifest, run_cli, write_manifest

from deployctl.errors import TargetError, TargetNotFoundError
from deployctl.targets.missing_packages import MissingPackage, missing_package, package_for
from deployctl.targets.plugin_errors import plugin_error
from deployctl.targets.registry import closest_scheme, require_target

MISSING = "dtp_dependency_that_is_not_installed"  # what the importfail plugin imports


def typo_manifest(uri: str) -> str:
    return manifest(targets={"prod": {"uri": uri, "deployments": {"churn": "models:/churn/3"}}})


# -- scheme typos --


@pytest.mark.parametrize(
    ("scheme", "meant"),
    [("locl", "local"), ("lcoal", "local"), ("Lokal", "local"), ("seedtets", "seedtest")],
)
def test_a_scheme_typo_is_matched_to_an_installed_scheme(
    test_plugins: object, scheme: str, meant: str
) -> None:
    assert closest_scheme(scheme) == meant


@pytest.mark.parametrize("scheme", ["acme", "nosuch", "nosuchplugin"])
def test_a_scheme_unlike_every_installed_one_gets_no_suggestion(
    test_plugins: object, scheme: str
) -> None:
    assert closest_scheme(scheme) is None


def test_validate_puts_the_suggestion_at_the_uri_in_the_manifest(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", typo_manifest("locl:.deployctl/dev"))
    result = run_cli("validate", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        "dev.yaml:5:10: no installed plugin handles 'locl' targets, in field 'uri' of target "
        "'prod' (did you mean 'local'?)\n"
    )


def test_validate_without_a_close_scheme_lists_the_installed_ones_and_says_to_install(
    tmp_path: Path,
) -> None:
    write_manifest(tmp_path / "dev.yaml", typo_manifest("acme:/endpoints"))
    result = run_cli("validate", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    [line] = result.err.splitlines()
    assert line.startswith(
        "dev.yaml:5:10: no installed plugin handles 'acme' targets, in field 'uri' of target "
        "'prod' (installed: "
    )
    assert "local" in line and "did you mean" not in line
    assert line.endswith("; pip install the deployment plugin that provides 'acme' targets)")


def test_plan_names_the_target_and_suggests_the_scheme_on_one_line(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", typo_manifest("locl:.deployctl/dev"))
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert error == (
        "Error: target 'prod': no installed plugin handles 'locl' targets "
        "(uri 'locl:.deployctl/dev'); did you mean 'local'? (correct the scheme, or pip install "
        "the deployment plugin that provides the 'locl' target)"
    )
    assert "Traceback" not in result.err


def test_target_help_suggests_the_scheme(tmp_path: Path, test_plugins: object) -> None:
    result = run_cli("target-help", "mlflowtst", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith(
        "Error: no installed plugin handles 'mlflowtst' targets; did you mean 'mlflowtest'?"
    )
    assert len(result.err.splitlines()) == 1


def test_a_suggested_scheme_replaces_the_listing_of_installed_targets() -> None:
    with pytest.raises(TargetNotFoundError) as info:
        require_target("locl", key="prod", uri="locl:/x")
    assert info.value.message == (
        "target 'prod': no installed plugin handles 'locl' targets (uri 'locl:/x'); "
        "did you mean 'local'?"
    )
    assert info.value.hint is not None and "pip install" in info.value.hint


# -- missing packages: the importfail plugin imports a module nobody installed --


def test_a_plugin_missing_a_package_says_which_one_to_install(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", typo_manifest(f"importfail:{tmp_path / 't'}"))
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert error == (
        "Error: target 'prod', import: cannot import plugin module 'dtp_broken.import_error' for "
        f"'importfail' targets: the plugin needs the Python package '{MISSING}' "
        f"(pip install {MISSING})"
    )


def test_target_help_of_a_plugin_missing_a_package_says_which_one_to_install(
    tmp_path: Path, test_plugins: object
) -> None:
    result = run_cli("target-help", "importfail", cwd=tmp_path)
    assert result.code == 1
    assert result.err.rstrip().endswith(f"(pip install {MISSING})")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on ``sys.path`` (as site-packages is) for distribution metadata."""
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    importlib.invalidate_caches()
    yield directory
    importlib.invalidate_caches()


def install_metadata(site: Path, name: str, *, top_level: str, entry_points: str = "") -> None:
    """Metadata of distribution ``name`` 1.0 declaring the module ``top_level``, whose files
    are not there (as after a partial uninstall or a broken upgrade)."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "top_level.txt").write_text(f"{top_level}\n")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points)


def test_a_module_whose_distribution_is_installed_but_broken_says_to_reinstall_it(
    tmp_path: Path, site: Path, test_plugins: object
) -> None:
    install_metadata(site, "dtp-dependency", top_level=MISSING)
    write_manifest(tmp_path / "dev.yaml", typo_manifest(f"importfail:{tmp_path / 't'}"))
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    assert (
        "the plugin needs the Python package 'dtp-dependency', which is installed (1.0) without "
        f"its module '{MISSING}' (pip install --force-reinstall dtp-dependency)"
    ) in result.err


def test_an_entry_point_left_behind_by_its_module_says_to_reinstall_the_plugin(
    tmp_path: Path, site: Path
) -> None:
    install_metadata(
        site,
        "dtp-ghost-plugin",
        top_level="dtp_ghost",
        entry_points="[deployctl.targets]\nghosttest = dtp_ghost.deploy\n",
    )
    write_manifest(tmp_path / "dev.yaml", typo_manifest(f"ghosttest:{tmp_path / 't'}"))
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert error == (
        "Error: target 'prod', import: cannot import plugin module 'dtp_ghost.deploy' for "
        "'ghosttest' targets: the plugin's module 'dtp_ghost' is not installed "
        "(pip install --force-reinstall dtp-ghost-plugin)"
    )


def test_a_missing_module_inside_a_namespace_package_is_its_dashed_distribution(
    site: Path,
) -> None:
    (site / "dtp_ns").mkdir()  # no __init__.py: a namespace package, as google and azure are
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("dtp_ns.cloud_storage")
    assert missing_package(info.value) == MissingPackage(
        "dtp_ns.cloud_storage", "dtp-ns-cloud-storage"
    )


def test_a_submodule_an_installed_distribution_lacks_points_at_its_version() -> None:
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("yaml.dtp_not_a_module")
    missing = missing_package(info.value)
    assert missing is not None
    assert (missing.module, missing.distribution) == ("yaml.dtp_not_a_module", "PyYAML")
    assert str(missing) == (
        f"the plugin needs the Python module 'yaml.dtp_not_a_module', which the installed PyYAML "
        f"{missing.installed} does not have: install the version of PyYAML that the plugin needs"
    )


@pytest.mark.parametrize(
    ("module", "distribution", "text"),
    [
        (
            "sklearn",
            "scikit-learn",
            "the plugin needs the Python package 'scikit-learn' (import name 'sklearn'): "
            "pip install scikit-learn",
        ),
        (
            "cv2",
            "opencv-python",
            "the plugin needs the Python package 'opencv-python' (import name 'cv2'): "
            "pip install opencv-python",
        ),
        (
            MISSING,
            MISSING,
            f"the plugin needs the Python package '{MISSING}': pip install {MISSING}",
        ),
    ],
)
def test_an_import_name_is_mapped_to_the_distribution_to_install(
    module: str, distribution: str, text: str
) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here: its import cannot fail")
    assert package_for(module).distribution == distribution
    assert str(package_for(module)) == text


def test_a_missing_namespace_says_the_package_is_one_of_the_namespace() -> None:
    if importlib.util.find_spec("azure") is not None:
        pytest.skip("an azure package is installed here")
    assert str(package_for("azure")) == (
        "the plugin needs a Python package of the 'azure' namespace (azure-…), and none is "
        "installed: pip install the azure-… package that the plugin's documentation names"
    )


def test_a_plugin_call_that_cannot_import_a_dependency_says_which_package_to_install() -> None:
    try:
        importlib.import_module(MISSING)  # as a plugin importing boto3 only when it creates
    except ModuleNotFoundError as exc:
        wrapped = RuntimeError("There was an error while creating the deployment")
        wrapped.__cause__ = exc
        error = plugin_error(wrapped, target="sm", call="create", address="sm/churn", scheme="x")
    assert isinstance(error, TargetError)
    assert str(error) == (
        "target 'sm', create for sm/churn: RuntimeError: There was an error while creating the "
        f"deployment (the plugin needs the Python package '{MISSING}': pip install {MISSING})"
    )


def test_other_exceptions_name_no_package() -> None:
    assert missing_package(ValueError("bad")) is None
    assert missing_package(ImportError("cannot import name 'x' from 'y'")) is None
    assert MISSING not in sys.modules
