"""One module per command: ``register(subparsers)`` adds its parser(s) and sets ``handler``,
a function ``(args) -> exit code``. ``ALL`` is the order of ``deployctl --help``.
"""

from __future__ import annotations

from deployctl.cli.commands import (
    apply,
    completion,
    drift,
    import_cmd,
    init,
    plan,
    predict,
    run_local,
    show,
    state,
    targets,
    validate,
)

ALL = (
    init,
    validate,
    plan,
    show,
    drift,
    apply,
    import_cmd,
    state,
    targets,
    predict,
    run_local,
    completion,
)
