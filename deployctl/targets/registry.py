"""The target registry: which installed plugin handles a target URI's scheme.

A target URI's scheme (``deployctl.model.target_scheme``) names a plugin. Lookup order:

1. the built-in targets shipped with deployctl (``local``);
2. entry points in the ``deployctl.targets`` group (plugins written for deployctl);
3. entry points in the ``mlflow.deployments`` group, so every existing MLflow deployment plugin
   works unchanged (plus ``sagemaker``, which MLflow registers itself rather than by entry point).

A scheme no plugin handles is an error that suggests the closest installed scheme (``locl`` ->
"did you mean 'local'?", ``closest_scheme``); ``unknown_schemes`` reports them for a whole
manifest at each target's ``uri:`` (``deployctl validate``).

Nothing here imports a plugin (nor MLflow): only entry-point metadata is read, once per process
(the scan opens every installed distribution's metadata), and not at all to find a built-in.
Importing a plugin and connecting its client is ``deployctl.targets.loading``.

An entry point must name a module (``acme = acme_deploy``): MLflow's loader and deployctl look
for ``run_local``, ``target_help`` and the client class inside what it names. Some plugins
(``mlflow-tcdeploy-plugin``) name their client class instead (``acme = acme_deploy:Client``),
which MLflow refuses; ``check_names_a_module`` refuses it too, once the loader has imported what
the entry point names, with a message stating the fix.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from deployctl.errors import ManifestIssue, TargetError, TargetNotFoundError, closest

if TYPE_CHECKING:
    from deployctl.manifest.model import Manifest

BUILT_IN = "built-in"
DEPLOYCTL_PLUGIN = "deployctl plugin"
MLFLOW_PLUGIN = "MLflow plugin"

DEPLOYCTL_GROUP = "deployctl.targets"
MLFLOW_GROUP = "mlflow.deployments"
_GROUPS = {DEPLOYCTL_PLUGIN: DEPLOYCTL_GROUP, MLFLOW_PLUGIN: MLFLOW_GROUP}

_BUILT_INS: dict[str, str] = {"local": "deployctl.targets.local"}

# MLflow registers this one in code (``plugin_store.register``), after its entry points, so it
# wins over an entry point of the same name there as well.
_MLFLOW_REGISTERED: dict[str, str] = {"sagemaker": "mlflow.sagemaker"}
_MLFLOW_DISTRIBUTIONS = ("mlflow", "mlflow-skinny")

# How close an unknown scheme must be to an installed one to be suggested (difflib's ratio).
SCHEME_CUTOFF: Final = 0.6


@dataclass(frozen=True)
class TargetPlugin:
    """An installed target plugin, as found in the registry (nothing imported)."""

    scheme: str
    source: str
    module_name: str
    package: str | None = None
    version: str | None = None

    def describe(self) -> str:
        """``scheme (source, package version)`` for listings and error messages."""
        origin = self.source
        if self.package:
            origin += f", {self.package}"
            if self.version:
                origin += f" {self.version}"
        return f"{self.scheme} ({origin})"

    @property
    def group(self) -> str | None:
        """The entry-point group the plugin was found in; ``None`` for a built-in."""
        return _GROUPS.get(self.source)

    def entry_point(self) -> str:
        """The entry point as its package declares it: ``scheme = module[:attr]``."""
        return f"{self.scheme} = {self.module_name}"


class EntryPointError(TargetError):
    """A plugin's entry point names a class instead of a module; ``reason`` says so without
    the target and call (for ``deployctl targets``)."""

    def __init__(self, reason: str, *, target: str) -> None:
        super().__init__(
            reason, target=target, call="load", hint="report this to the plugin's authors"
        )
        self.reason = reason


def check_names_a_module(plugin: TargetPlugin, loaded: object, *, key: str) -> None:
    """Raise ``EntryPointError`` when ``loaded``, what ``plugin``'s entry point names (imported
    by the loader), is a class rather than a module (``module:Class``, as
    mlflow-tcdeploy-plugin declares it). MLflow's loader refuses such a plugin as well: it looks
    for ``run_local``, ``target_help`` and the client class inside what the entry point names.
    ``key`` is the target the error is for."""
    if not inspect.isclass(loaded):
        return
    module_path = plugin.module_name.partition(":")[0].strip()
    refused = (
        "MLflow's own loader refuses it too"
        if plugin.source == MLFLOW_PLUGIN
        else "deployctl refuses it, as MLflow's own loader would"
    )
    group = f" (group {plugin.group})" if plugin.group else ""
    raise EntryPointError(
        f"entry point '{plugin.entry_point()}'{group} names the class "
        f"{loaded.__name__}, not a module, and {refused} (it looks for run_local, target_help "
        f"and the client class in what the entry point names): the entry point must name the "
        f"module, '{plugin.scheme} = {module_path}'",
        target=key,
    )


def installed_targets() -> list[TargetPlugin]:
    """Every target scheme that can be loaded, sorted by scheme; each scheme appears once."""
    return sorted(_plugins_by_scheme().values(), key=lambda p: p.scheme)


def find_target(scheme: str) -> TargetPlugin | None:
    """The plugin that handles ``scheme``, or ``None``."""
    if scheme in _BUILT_INS:  # built-ins win over every entry point: no scan needed
        return _built_in(scheme)
    return _plugins_by_scheme().get(scheme)


def require_target(scheme: str, *, key: str | None = None, uri: str | None = None) -> TargetPlugin:
    """The plugin that handles ``scheme``; raises ``TargetNotFoundError`` naming the installed
    ones when there is none. ``key`` and ``uri`` (the manifest's target, if there is one) go
    into the message."""
    plugin = find_target(scheme)
    if plugin is not None:
        return plugin
    where = f"target '{key}': " if key is not None else ""
    given = f" (uri '{uri}')" if uri is not None else ""
    install = f"pip install the deployment plugin that provides the '{scheme}' target"
    close = closest_scheme(scheme)
    if close is not None:
        # A typo, most likely: the suggestion says it all, the listing is `deployctl targets`.
        raise TargetNotFoundError(
            f"{where}no installed plugin handles '{scheme}' targets{given}; "
            f"did you mean '{close}'?",
            hint=f"correct the scheme, or {install}",
        )
    installed = ", ".join(p.describe() for p in installed_targets()) or "none"
    raise TargetNotFoundError(
        f"{where}no installed plugin handles '{scheme}' targets{given}; "
        f"installed targets: {installed}",
        hint=install,
    )


def closest_scheme(scheme: str) -> str | None:
    """The installed scheme ``scheme`` is most likely a typo of, if one is close enough
    (``locl`` -> ``local``), as manifest key typos are suggested."""
    schemes = [plugin.scheme for plugin in installed_targets()]
    return closest(scheme.lower(), schemes, cutoff=SCHEME_CUTOFF)


def unknown_schemes(manifest: Manifest) -> list[ManifestIssue]:
    """One issue per target of ``manifest`` whose URI's scheme no installed plugin handles, at
    the target's ``uri:`` (for ``deployctl validate``: nothing is imported)."""
    issues = []
    for target in manifest.targets:
        if find_target(target.scheme) is not None:
            continue
        where = target.uri_location or target.location
        path, line, col = (where.path, where.line, where.col) if where else (manifest.path, 1, 1)
        close = closest_scheme(target.scheme)
        if close is not None:
            fix = f"did you mean '{close}'?"
        else:
            installed = ", ".join(p.scheme for p in installed_targets()) or "none"
            fix = (
                f"installed: {installed}; pip install the deployment plugin that provides "
                f"'{target.scheme}' targets"
            )
        message = (
            f"no installed plugin handles '{target.scheme}' targets, in field 'uri' of target "
            f"'{target.key}' ({fix})"
        )
        issues.append(ManifestIssue(str(path), line, col, message))
    return issues


# Every installed target by scheme, filled by the first lookup that needs the entry points; a
# new process starts without it (tests running the CLI in-process empty it between runs).
_plugins: dict[str, TargetPlugin] = {}


def _built_in(scheme: str) -> TargetPlugin:
    import deployctl

    return TargetPlugin(scheme, BUILT_IN, _BUILT_INS[scheme], "deployctl", deployctl.__version__)


def _plugins_by_scheme() -> dict[str, TargetPlugin]:
    if not _plugins:  # never empty once filled: the built-ins are always in it
        _plugins.update(_scan())
    return _plugins


def _scan() -> dict[str, TargetPlugin]:
    from importlib import metadata

    found: dict[str, TargetPlugin] = {scheme: _built_in(scheme) for scheme in _BUILT_INS}
    for group, source in ((DEPLOYCTL_GROUP, DEPLOYCTL_PLUGIN), (MLFLOW_GROUP, MLFLOW_PLUGIN)):
        in_group: dict[str, TargetPlugin] = {}
        for ep in metadata.entry_points(group=group):
            dist = getattr(ep, "dist", None)
            # A distribution seen twice on sys.path lists its entry points twice: keep the first.
            in_group.setdefault(
                ep.name,
                TargetPlugin(
                    ep.name,
                    source,
                    ep.value,
                    getattr(dist, "name", None),
                    getattr(dist, "version", None),
                ),
            )
        if group == MLFLOW_GROUP:
            in_group.update(_mlflow_registered(metadata))
        for scheme, plugin in in_group.items():
            found.setdefault(scheme, plugin)
    return found


def _mlflow_registered(metadata: Any) -> dict[str, TargetPlugin]:
    for dist_name in _MLFLOW_DISTRIBUTIONS:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            continue
        return {
            scheme: TargetPlugin(scheme, MLFLOW_PLUGIN, module, dist.metadata["Name"], dist.version)
            for scheme, module in _MLFLOW_REGISTERED.items()
        }
    return {}
