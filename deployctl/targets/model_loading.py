"""Loading a model with MLflow's pyfunc for the local target, failing in one line that says what
to fix.

A ``models:/`` URI is read through the MLflow model registry: ``MLFLOW_REGISTRY_URI``, else
``MLFLOW_TRACKING_URI``, else MLflow's default (``./mlruns`` if it exists, else a SQLite file in
the current directory, which mlflow-skinny cannot open). MLflow's own errors for a registry it
cannot use run to several sentences and point at its documentation, and against a server that
does not answer it retries for minutes; so an HTTP registry is first tried with one plain
connection (unless a proxy stands between), and each failure becomes one line naming the model
URI, the registry and the fix. The error code is INTERNAL_ERROR: a model that cannot be loaded
is neither a missing deployment nor a rejected flavor or config.

MLflow is imported by the functions here, when a model is loaded.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.request
from typing import Any
from urllib.parse import urlparse

from deployctl.targets.local import INTERNAL_ERROR, local_error

REGISTRY_SCHEME = "models:/"
CONNECT_TIMEOUT = 5.0
ENV_VARIABLES = ("MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI")
SET_REGISTRY = (
    "set MLFLOW_TRACKING_URI to your MLflow server (http://HOST:PORT) or use a saved model's "
    "folder as model_uri"
)
# An MLflow message is cut at its first sentence, and at this many characters.
REASON_LIMIT = 160
# The user:password@ of a URL: never shown.
_CREDENTIALS = re.compile(r"(?<=//)[^/@\s]+@")


def load_pyfunc(model_uri: str) -> Any:
    """``mlflow.pyfunc.load_model(model_uri)``; a failure is one ``local_error`` line."""
    import mlflow.pyfunc

    registry = registry_uri() if model_uri.startswith(REGISTRY_SCHEME) else None
    if registry is not None:
        down = unreachable(registry)
        if down:
            raise local_error(
                redact(
                    f"cannot load {model_uri}: the model registry at {registry} does not "
                    f"answer ({down}): start it or {SET_REGISTRY}"
                ),
                INTERNAL_ERROR,
            )
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:
        message = redact(load_failure(model_uri, registry, exc))
        raise local_error(message, INTERNAL_ERROR) from exc


def registry_uri() -> str:
    """The model registry URI MLflow uses here (from the environment, else its default)."""
    import mlflow

    return str(mlflow.get_registry_uri())


def load_failure(model_uri: str, registry: str | None, exc: BaseException) -> str:
    """Why ``model_uri`` could not be loaded, in one line; ``registry`` for a ``models:/`` URI."""
    text = " ".join(str(exc).split())
    if registry is not None:
        configured = any(os.environ.get(name) for name in ENV_VARIABLES)
        unusable = type(exc).__name__ == "UnsupportedModelRegistryStoreURIException"
        if "MLFLOW_ALLOW_FILE_STORE" in text:
            unusable = True
            why = (
                f"MLflow refuses the file store at {registry}: set MLFLOW_ALLOW_FILE_STORE=true, or"
            )
        else:
            scheme = urlparse(registry).scheme or "file"
            why = (
                f"this MLflow cannot use the {scheme}: registry at {registry} "
                "(pip install mlflow can):"
            )
        if unusable and not configured:
            return (
                f"cannot load {model_uri}: no model registry is set up (MLFLOW_TRACKING_URI is "
                f"not set): {SET_REGISTRY}"
            )
        if unusable:
            return f"cannot load {model_uri}: {why} {SET_REGISTRY}"
        return f"cannot load {model_uri} from the model registry at {registry}: {_first(text)}"
    if _is_missing_path(model_uri):
        # A relative path is MLflow's to resolve, against the current directory.
        where = "" if os.path.isabs(model_uri) else f" (relative to {os.getcwd()})"
        return f"cannot load model {model_uri}: no such folder{where}"
    return f"cannot load model {model_uri}: {_first(text) or type(exc).__name__}"


def _is_missing_path(model_uri: str) -> bool:
    """Whether ``model_uri`` is a plain path (no URI scheme) to nothing."""
    path = model_uri.removeprefix("file://") if model_uri.startswith("file:///") else model_uri
    if len(urlparse(path).scheme) > 1:  # models:/, runs:/, s3://... (C:\ is a path)
        return False
    return not os.path.exists(os.path.expanduser(path))


def unreachable(registry: str) -> str | None:
    """Why an HTTP(S) registry does not take a connection (None if it does, if it is not HTTP,
    or if a proxy would carry MLflow's requests: only the proxy knows then)."""
    parsed = urlparse(registry)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    if parsed.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(
        parsed.hostname
    ):
        return None
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        return None  # MLflow will say what is wrong with the URI
    try:
        with socket.create_connection((parsed.hostname, port), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        return why[:1].lower() + why[1:]


def redact(text: str) -> str:
    """``text`` without the ``user:password@`` of the URLs in it."""
    return _CREDENTIALS.sub("", text)


def _first(text: str) -> str:
    """The first sentence of ``text``, at most ``REASON_LIMIT`` characters."""
    sentence = text.split(". ", 1)[0]
    if len(sentence) > REASON_LIMIT:
        sentence = sentence[: REASON_LIMIT - 1] + "…"
    return sentence
