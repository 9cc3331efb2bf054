"""One call into plugin code: timed, logged at DEBUG, and its exception made a ``TargetError``.

Every client method and module function deployctl calls on a plugin goes through
``call_plugin``, so ``--debug`` (or any DEBUG log handler) shows one line per plugin call with
the target, the call, the address, how long it took and how it ended. Nothing is logged at INFO
or above: what a person sees is the console's business.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from deployctl.targets.plugin_errors import plugin_error


def call_plugin(
    logger: logging.Logger,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    target: str,
    call: str,
    address: str | None,
    scheme: str,
) -> Any:
    """``fn(*args, **kwargs)``, logged on ``logger`` as
    ``target KEY: CALL [for ADDRESS] took N.N ms: ok|ExceptionType``.

    An ``Exception`` becomes the ``TargetError`` ``plugin_error`` makes of it (naming
    ``target``, ``call`` and ``address``); ``KeyboardInterrupt`` and the like pass unchanged.
    """
    outcome = "ok"
    started = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        outcome = type(exc).__name__
        raise plugin_error(exc, target=target, call=call, address=address, scheme=scheme) from exc
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        logger.debug(
            "target %s: %s%s took %.1f ms: %s",
            target,
            call,
            f" for {address}" if address else "",
            (time.perf_counter() - started) * 1000,
            outcome,
        )


__all__ = ["call_plugin"]
