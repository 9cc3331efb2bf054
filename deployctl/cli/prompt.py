"""Asking the person at the terminal: the confirmation before an apply or a destroy.

Only the CLI asks; the core never prompts. Without a terminal nothing is asked and nothing is
done: CI passes ``--auto-approve`` or applies a reviewed plan file.
"""

from __future__ import annotations

import sys

from deployctl.errors import DeployctlError, UsageError


def confirm(question: str) -> None:
    """Ask for 'yes' on a terminal; refuse without one (CI must pass --auto-approve)."""
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask for confirmation on; pass --auto-approve to apply without "
            "asking, or apply a reviewed plan file"
        )
    sys.stdout.write(
        f"\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )
    sys.stdout.flush()
    answer = sys.stdin.readline().strip()
    if answer != "yes":
        raise DeployctlError("cancelled: nothing was changed")
