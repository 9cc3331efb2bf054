"""``deployctl run-local``: serve a model on this machine through the target plugin's ``run_local``.

Either a deployment of a manifest (``-f MANIFEST ADDRESS``: its target, model_uri, flavor and
config) or one given on the command line (``--target-uri``, ``--name``, ``--model-uri``,
``--flavor``, ``--config KEY=VALUE``), as ``mlflow deployments run-local`` takes it. The plugin's
``run_local`` usually blocks while it serves; no client is constructed for it.
"""

from __future__ import annotations

import argparse

from deployctl.cli import arguments, context, options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import UsageError
from deployctl.model import DeploymentSpec, JSONObject, target_scheme

_EXPLICIT = ("target_uri", "name", "model_uri", "flavor", "config")
_OPTION = {
    "target_uri": "--target-uri",
    "name": "--name",
    "model_uri": "--model-uri",
    "flavor": "--flavor",
    "config": "--config",
}


def parse_config(items: list[str]) -> JSONObject:
    """``KEY=VALUE`` options as a config mapping; values stay strings, as MLflow's ``-C`` passes
    them (plugins parse them themselves)."""
    config: JSONObject = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--config '{item}' must have the form KEY=VALUE")
        if key in config:
            raise UsageError(f"--config {key} is given twice; give each key once")
        config[key] = value
    return config


def _from_manifest(
    args: argparse.Namespace,
) -> tuple[str, str, dict[str, str], str, DeploymentSpec]:
    """(target key, target URI, field mapping, name, spec) of ADDRESS in the manifest."""
    given = [_OPTION[o] for o in _EXPLICIT if getattr(args, o)]
    if given:
        raise UsageError(
            f"{', '.join(given)} cannot be combined with -f MANIFEST: the deployment comes from "
            "the manifest (or leave out -f and ADDRESS and give it all with options)"
        )
    if not args.address:
        raise UsageError("run-local -f MANIFEST needs the ADDRESS (TARGET/NAME) of a deployment")
    address = arguments.parse_address(args.address)
    key, name = address.target, address.name
    manifest = context.load(args)
    target = manifest.target(key)
    if target is None:
        known = ", ".join(t.key for t in manifest.targets) or "none"
        raise UsageError(f"{manifest.path} has no target '{key}' (targets: {known})")
    deployment = manifest.deployment(address)
    if deployment is None:
        known = ", ".join(d.name for d in target.deployments) or "none"
        raise UsageError(
            f"{manifest.path} has no deployment '{name}' in target '{key}' (deployments: {known})"
        )
    return key, target.resolved_uri, target.field_mapping(), name, deployment.spec


def _from_options(args: argparse.Namespace) -> tuple[str, str, dict[str, str], str, DeploymentSpec]:
    if args.var:
        raise UsageError("--var needs -f MANIFEST: it sets a variable of the manifest")
    if args.address:
        raise UsageError(
            f"ADDRESS '{args.address}' needs -f MANIFEST (or leave it out and give the "
            "deployment with --target-uri, --name and --model-uri)"
        )
    missing = [_OPTION[o] for o in ("target_uri", "name", "model_uri") if not getattr(args, o)]
    if missing:
        raise UsageError(
            f"run-local needs -f MANIFEST ADDRESS, or {', '.join(missing)} "
            "(with --target-uri, --name and --model-uri)"
        )
    spec = DeploymentSpec(args.model_uri, args.flavor, parse_config(args.config))
    uri: str = args.target_uri
    return target_scheme(uri), uri, {}, args.name, spec


def run(args: argparse.Namespace) -> int:
    from deployctl.targets.loading import load_module

    if args.manifest:
        key, uri, _, name, spec = _from_manifest(args)
    else:
        key, uri, _, name, spec = _from_options(args)
    # No client: run_local is a module function, and constructors may connect to clusters.
    # Nothing is printed first, so that an error stays the only line (the plugin logs itself).
    load_module(uri, key=key).run_local(name, spec)
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "run-local",
        help="serve a deployment's model on this machine through its plugin's run_local",
        description="Serve a model locally with the target plugin's run_local (blocks while it "
        "serves): a deployment of a manifest (-f MANIFEST ADDRESS) or one given with options.",
    )
    p.add_argument("address", nargs="?", metavar="ADDRESS", help="TARGET/NAME in the manifest")
    options.manifest(p, required=False)
    p.add_argument(
        "--target-uri", metavar="URI", help="the target URI; its scheme names the plugin"
    )
    p.add_argument("--name", metavar="NAME", help="the deployment name")
    p.add_argument("--model-uri", metavar="URI", help="the model to serve (e.g. models:/churn/3)")
    p.add_argument("--flavor", metavar="FLAVOR", help="the model flavor (plugin default if absent)")
    p.add_argument(
        "-C",
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value for the plugin, passed as a string (repeatable)",
    )
    p.set_defaults(handler=run)
