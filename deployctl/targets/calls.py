"""One call into plugin code: time-limited, retried when transient, logged, errors made one type.

Every client method and module function deployctl calls on a plugin goes through
``call_plugin``, so ``--debug`` (or any DEBUG log handler) shows one line per attempt with the
target, the call, the address, how long it took and how it ended. Nothing is logged at INFO or
above: what a person sees is the console's business (a ``RetryListener`` hears of each retry).

With a ``CallPolicy`` (the target's ``timeout`` and ``retry`` in the manifest):

- each attempt has the policy's time limit for the call (``CallPolicy.timeout``), enforced by
  running it in a worker thread (``deadline``): a call that does not answer in time raises
  ``TargetTimeoutError`` while the plugin call runs on in its thread;
- a transient failure is tried again, up to ``attempts`` calls in all, after an exponential
  backoff with jitter (``backoff * 2**(n-1)`` seconds, times 0.5 to 1, before the n-th retry).
  Transient (``plugin_errors.retryable``): refused by the target (throttling, "temporarily
  unavailable" codes, could not connect) for any call; a broken connection or a timed-out
  list or get only for those reads. A create, update or delete that timed out or lost its
  connection may have taken effect, so it is never repeated: its outcome is unknown.
  Conflicts and bad requests are never retried;
- the error raised at last says how many attempts were made (``TargetError.attempts``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from deployctl.errors import TargetError, TargetTimeoutError
from deployctl.model.calls import WRITE_CALLS, CallPolicy, format_duration
from deployctl.targets.deadline import CallTimedOut, call_with_deadline
from deployctl.targets.plugin_errors import describe_exception, plugin_error, retryable

# No single wait between attempts is longer than this, however many attempts are allowed.
MAX_WAIT: Final = 600.0


@dataclass(frozen=True)
class Retry:
    """An attempt that failed transiently and is about to be made again.

    ``attempt`` failed (1-based) of at most ``attempts``; the next one starts after ``delay``
    seconds; ``error`` is what the failed attempt raised, ``reason`` why in a few words (the
    plugin's exception, or the time limit it exceeded).
    """

    target: str
    call: str
    address: str | None
    attempt: int
    attempts: int
    delay: float
    error: TargetError
    reason: str

    def describe(self) -> str:
        """``prod/churn: create_deployment failed (attempt 1 of 3), retrying in 2.1s: ...``"""
        where = f"{self.address}: " if self.address else f"target '{self.target}': "
        return (
            f"{where}{self.call} failed (attempt {self.attempt} of {self.attempts}), "
            f"retrying in {self.delay:.1f}s: {self.reason}"
        )


RetryListener = Callable[[Retry], None]


def backoff_delay(backoff: float, attempt: int, rng: Callable[[], float] | None = None) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): ``backoff * 2**(attempt-1)`` times a
    random factor from 0.5 to 1 ("equal jitter": callers that failed together spread out),
    at most ``MAX_WAIT``. ``rng``: the random source (default ``random.random``)."""
    if rng is None:
        import random  # only when a call is retried

        rng = random.random
    ceiling = min(backoff * 2.0 ** (attempt - 1), MAX_WAIT)
    return ceiling * (0.5 + rng() / 2)


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
    policy: CallPolicy | None = None,
    on_retry: RetryListener | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """``fn(*args, **kwargs)`` under ``policy`` (none: one attempt, no time limit), each attempt
    logged on ``logger`` as ``target KEY: CALL [for ADDRESS] took N.N ms: ok|ExceptionType|
    TimedOut`` (a retry with `` (attempt N of M)`` before `` took``).

    An ``Exception`` becomes the ``TargetError`` ``plugin_error`` makes of it (naming
    ``target``, ``call`` and ``address``), a call over its time limit a ``TargetTimeoutError``;
    ``KeyboardInterrupt`` and the like pass unchanged. ``on_retry`` hears of each retry before
    its wait (``sleep``).
    """
    attempts = policy.attempts if policy is not None else 1
    timeout = policy.timeout(call) if policy is not None else None
    changes = call in WRITE_CALLS
    attempt = 1
    while True:
        result = _attempt(
            logger,
            lambda: fn(*args, **kwargs),
            timeout,
            target=target,
            call=call,
            address=address,
            scheme=scheme,
            attempt=attempt,
            attempts=attempts,
        )
        if isinstance(result, _Returned):
            return result.value
        error = result
        cause = error.cause
        again = (
            not changes
            if isinstance(error, TargetTimeoutError)
            else cause is not None and retryable(cause, changes=changes)
        )
        if attempt >= attempts or not again:
            if cause is not None:
                raise error from cause
            raise error
        assert policy is not None  # more than one attempt comes from a policy
        delay = backoff_delay(policy.backoff, attempt)
        if on_retry is not None:
            reason = (
                describe_exception(cause)
                if cause is not None
                else f"no answer within {format_duration(timeout or 0.0)}"
            )
            on_retry(Retry(target, call, address, attempt, attempts, delay, error, reason))
        sleep(delay)
        attempt += 1


@dataclass(frozen=True)
class _Returned:
    value: Any


def _attempt(
    logger: logging.Logger,
    run: Callable[[], Any],
    timeout: float | None,
    *,
    target: str,
    call: str,
    address: str | None,
    scheme: str,
    attempt: int,
    attempts: int,
) -> _Returned | TargetError:
    """One attempt: what it returned, or the ``TargetError`` it failed with."""
    outcome = "ok"
    started = time.perf_counter()
    try:
        return _Returned(call_with_deadline(run, timeout))
    except CallTimedOut:
        assert timeout is not None
        outcome = "TimedOut"
        return _timeout_error(target, call, address, timeout, attempt)
    except Exception as exc:
        outcome = type(exc).__name__
        return plugin_error(
            exc, target=target, call=call, address=address, scheme=scheme, attempts=attempt
        )
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        logger.debug(
            "target %s: %s%s%s took %.1f ms: %s",
            target,
            call,
            f" for {address}" if address else "",
            f" (attempt {attempt} of {attempts})" if attempt > 1 else "",
            (time.perf_counter() - started) * 1000,
            outcome,
        )


def _timeout_error(
    target: str, call: str, address: str | None, timeout: float, attempts: int
) -> TargetTimeoutError:
    limit = format_duration(timeout)
    if call in WRITE_CALLS:
        message = (
            f"no answer within {limit}; deployctl stopped waiting, but the call may still "
            "take effect on the target: its outcome is unknown"
        )
        hint = (
            "the next plan reads the target and plans from what is live; raise timeout.write "
            f"of target '{target}' in the manifest if such calls take longer"
        )
    else:
        message = f"no answer within {limit}"
        hint = f"raise timeout.read of target '{target}' in the manifest if it is this slow"
    return TargetTimeoutError(
        message,
        target=target,
        call=call,
        address=address,
        timeout=timeout,
        outcome_unknown=call in WRITE_CALLS,
        hint=hint,
        attempts=attempts,
    )


__all__ = ["MAX_WAIT", "Retry", "RetryListener", "backoff_delay", "call_plugin"]
