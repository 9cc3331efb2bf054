"""Asking the person at the terminal: the confirmation before an apply or a destroy.

Only the CLI asks; the core never prompts. Nothing is asked, and nothing is done, without a
terminal or in CI (``CI=true``, even on a terminal: a job must never wait for an answer): the
command refuses at the point where it would ask. CI passes ``--auto-approve`` or applies a
reviewed plan file.
"""

from __future__ import annotations

import sys

from deployctl.console import terminal
from deployctl.errors import DeployctlError, UsageError


def confirm(question: str, *, operation: str = "apply") -> None:
    """Ask for 'yes' on a terminal; refuse in CI or without one (pass ``--auto-approve``).

    ``operation`` (``apply`` or ``destroy``) is named in the refusal.
    """
    fix = f"pass --auto-approve to {operation} without asking" + (
        "" if operation == "destroy" else ", or apply a reviewed plan file"
    )
    if terminal.in_ci():
        raise UsageError(
            f"{terminal.CI_VARIABLE} is set: deployctl asks for no confirmation in CI; {fix}"
        )
    if not sys.stdin.isatty():
        raise UsageError(f"no terminal to ask for confirmation on; {fix}")
    sys.stdout.write(
        f"\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )
    sys.stdout.flush()
    answer = sys.stdin.readline().strip()
    if answer != "yes":
        raise DeployctlError("cancelled: nothing was changed")
