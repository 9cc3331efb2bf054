"""One module per command: ``register(subparsers)`` adds its parser(s) and sets ``handler``,
a function ``(args) -> exit code``. ``ALL`` is the order of ``deployctl --help``.
"""

from __future__ import annotations

from deployctl.cli.commands import apply, plan, predict, state, targets, validate

ALL = (validate, plan, apply, state, targets, predict)
