"""Needs a dependency that is not installed."""

import dtp_dependency_that_is_not_installed  # noqa: F401
