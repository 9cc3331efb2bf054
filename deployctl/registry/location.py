"""Which model registry a resolution asks, how to name it in a message, and whether it answers.

MLflow picks the registry as ``MlflowClient(tracking_uri=..., registry_uri=...)`` does: the
registry URI given, else ``MLFLOW_REGISTRY_URI``, else the tracking URI given, else
``MLFLOW_TRACKING_URI``, else MLflow's default (a local database next to the current directory,
which is rarely what a plan means: messages then say how to name a registry).

MLflow retries a request that fails to connect ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` times (7 by
default, with exponential backoff: minutes). Rather than change those process-wide settings,
which plugins in the same process read too, ``unreachable`` first asks an ``http(s)`` registry
once, with a short time limit, whether anything answers at all: a registry that is down fails
the plan at once, while one that answers keeps MLflow's retries (rate limits are common).
"""

from __future__ import annotations

import http.client
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

# How long the reachability check waits for a connection and an answer, in seconds.
REACH_TIMEOUT = 10.0

NAME_A_REGISTRY = "name one in MLFLOW_TRACKING_URI or the manifest's registry: {tracking_uri: URI}"


@dataclass(frozen=True)
class RegistryLocation:
    """A model registry: its URI as MLflow is given it, and whether anyone chose it."""

    uri: str
    # False when nothing named a registry and MLflow falls back to its default.
    chosen: bool = True

    @property
    def shown(self) -> str:
        """The URI for messages: without a user name or password."""
        return redact(self.uri)

    def scrub(self, text: str) -> str:
        """``text`` (a message from MLflow) without this URI's user name and password."""
        userinfo = urllib.parse.urlsplit(self.uri).netloc.rpartition("@")[0]
        return text.replace(f"{userinfo}@", "") if userinfo else text

    def __str__(self) -> str:
        if self.chosen:
            return f"the model registry at {self.shown}"
        return f"MLflow's default model registry ({self.shown}; none was named)"

    def hint(self, fix: str | None = None) -> str | None:
        """``fix``, and how to name a registry when none was."""
        if self.chosen:
            return fix
        return f"{fix}; {NAME_A_REGISTRY}" if fix else NAME_A_REGISTRY


def locate(tracking_uri: str | None, registry_uri: str | None = None) -> RegistryLocation:
    """The registry ``MlflowClient(tracking_uri, registry_uri)`` would use (see the module)."""
    named = (
        registry_uri
        or os.environ.get("MLFLOW_REGISTRY_URI")
        or tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
    )
    if named:
        return RegistryLocation(named)
    import mlflow  # only reached when resolving, after MLflow imported fine

    return RegistryLocation(mlflow.get_tracking_uri(), chosen=False)


def redact(uri: str) -> str:
    """``uri`` without the ``user:password@`` part of its network location."""
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def unreachable(location: RegistryLocation, timeout: float = REACH_TIMEOUT) -> str | None:
    """Why nothing answers at an ``http(s)`` registry (``connection refused``, ...), or ``None``
    when something does, whatever it says, or when the registry is not ``http(s)``."""
    parts = urllib.parse.urlsplit(location.uri)
    if parts.scheme not in ("http", "https"):
        return None
    # Whether a server answers is all this asks: no credentials, no redirects followed.
    url = redact(location.uri)
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # an HTTP answer: the server is there
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLError):
            return None  # it answered; TLS settings (MLFLOW_TRACKING_INSECURE_TLS...) are MLflow's
        return _describe(reason, timeout)
    except http.client.HTTPException:
        return None  # something answered, if oddly: MLflow's own request will say more
    except OSError as exc:  # TimeoutError included
        return _describe(exc, timeout)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is an answer (the opener raises HTTPError for it)


def _describe(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__
