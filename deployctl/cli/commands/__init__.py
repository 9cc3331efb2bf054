"""One module per command: ``register(subparsers)`` adds its parser(s) and sets ``handler``,
a function ``(args) -> exit code``. ``ALL`` is the order of ``deployctl --help``.
"""

from __future__ import annotations

from deployctl.cli.commands import (
    apply,
    drift,
    import_cmd,
    plan,
    predict,
    run_local,
    show,
    state,
    targets,
    validate,
)

ALL = (validate, plan, show, drift, apply, import_cmd, state, targets, predict, run_local)
