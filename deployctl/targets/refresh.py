"""Refresh: asking the targets what exists, concurrently, and deciding existence per address.

Existence cannot be read from one call (``shared/plugins.md``): lists may be paginated behind the
plugin's back or leave names out, and ``get_deployment`` of a missing name raises whatever the
plugin likes. So each target is listed once, every wanted or listed name is fetched with
``get`` (a target whose list returns full records, ``TargetAdapter.lists_full_records`` as the
built-in ``local`` target, is asked with ``get`` only for wanted names its list left out, and
not even those when its list is complete, ``lists_every_deployment``: the local target's list
reads its directory), and the rules below decide:

- a listed name exists (a failing ``get`` then keeps the list's record);
- a wanted name the list did not report exists if ``get`` finds it; it is absent (with the
  reason) if ``get`` says it does not exist, explicitly (``KeyError``, an MLflow not-found error
  code, a botocore not-found code, HTTP 404) or in words ("deployment x not found", "Could not
  find endpoint", "HTTP 404"; see ``plugin_errors.says_not_found``);
- any other ``get`` failure of such a name (a timeout, a connection error after the retries,
  "internal error", an unrecognised message) leaves its existence unknown, and the refresh
  fails with ``RefreshError``, one line per address: planning it as absent would create a
  second deployment if it does exist;
- a failing ``list`` fails the refresh: a plan made without it cannot be trusted.

Why the words are trusted at all: many real plugins raise a bare ``Exception``, ``ValueError``
or a code-less ``MlflowException`` for a missing name, and for those the text is all there is.
It is trusted only for a name the list (which succeeded) did not report, so two independent
answers agree; and only when nothing else says what the error is (no specific error code, not a
transient failure anywhere in its chain, not an import, permission or OS error).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from deployctl.concurrency import CompletionQueue
from deployctl.errors import RefreshError, TargetError
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.values import address_text
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.plugin_errors import not_found_evidence

FOUND_BY_GET = "not reported by list_deployments; get_deployment found it"
NOT_LISTED_BY_COMPLETE_LIST = "not reported by list_deployments, which reports every deployment"
ABSENT_PREFIX = "not reported by list_deployments, and get_deployment raised: "

UNKNOWN_ADVICE = (
    "nothing was planned: each failed with something other than 'not found', so it may exist, "
    "and planning it as absent could create it twice; run again when the target answers "
    "(transient failures are retried as the target's 'retry:' says)"
)

_Key = tuple[str, str]


def refresh(
    adapters: Mapping[str, TargetAdapter],
    wanted: Mapping[str, Collection[str]],
    *,
    max_workers: int = 8,
) -> LiveView:
    """The live status of every wanted and every listed address of ``adapters``.

    ``wanted`` maps target keys to names that are desired or recorded in state. One ``list``
    per target and one ``get`` per wanted or listed name all run in one pool of at most
    ``max_workers`` threads. Raises the ``TargetError`` of a failing ``list`` (the first by
    target key when several fail), ``RefreshError`` naming every address whose existence
    cannot be decided (see the module's rules), and ``ValueError`` for a wanted key without an
    adapter.
    """
    without = sorted(set(wanted) - set(adapters))
    if without:
        raise ValueError(f"no adapter for wanted target(s): {', '.join(without)}")
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    if adapters and all(a.runs_in_process for a in adapters.values()):
        # Local files only (the built-in local target): threads would only contend for the
        # interpreter lock; one reads them fastest.
        max_workers = 1

    listed: dict[str, dict[str, LiveRecord]] = {}
    list_errors: dict[str, TargetError] = {}
    got: dict[_Key, LiveRecord] = {}
    get_errors: dict[_Key, TargetError] = {}

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="refresh") as pool:
        # future -> (target key, name); name None for a list.
        tasks: dict[Future[Any], tuple[str, str | None]] = {}
        requested: set[_Key] = set()
        completions = CompletionQueue()

        def submit(fn: Any, arg: str | None, key: str) -> None:
            future = pool.submit(fn) if arg is None else pool.submit(fn, arg)
            tasks[future] = (key, arg)
            completions.add(future)

        def request_get(key: str, name: str) -> None:
            if (key, name) not in requested:
                requested.add((key, name))
                submit(adapters[key].get, name, key)

        for key in sorted(adapters):
            submit(adapters[key].list, None, key)
        for key in sorted(wanted):
            if adapters[key].lists_full_records:
                continue  # asked for after the list, for the names it does not report
            for name in sorted(set(wanted[key])):
                request_get(key, name)

        try:
            while len(completions) and not list_errors:
                future = completions.next()
                if future is None or future.cancelled():
                    continue
                key, maybe_name = tasks[future]
                try:
                    result = future.result()
                except TargetError as exc:
                    if maybe_name is None:
                        list_errors[key] = exc
                    else:
                        get_errors[(key, maybe_name)] = exc
                    continue
                if maybe_name is not None:
                    got[(key, maybe_name)] = result
                    continue
                listed[key] = {r.name: r for r in result}
                if adapters[key].lists_full_records:
                    # The list's records are what get would return: get only what it left out
                    # (nothing, when the list is complete: what it left out does not exist).
                    if not adapters[key].lists_every_deployment:
                        for name in sorted(set(wanted.get(key, ())) - set(listed[key])):
                            request_get(key, name)
                    continue
                for name in sorted(listed[key]):
                    request_get(key, name)
        finally:
            # After a failed list (or an interrupt) the plan cannot be made: drop what has not
            # started; what is running finishes when the pool closes.
            for future in tasks:
                future.cancel()

    if list_errors:
        raise list_errors[sorted(list_errors)[0]]
    complete = {key for key, adapter in adapters.items() if adapter.lists_every_deployment}
    statuses, unknown = _statuses(wanted, listed, got, get_errors, complete)
    if unknown:
        raise RefreshError(unknown, advice=UNKNOWN_ADVICE)
    return LiveView(statuses=statuses)


def _statuses(
    wanted: Mapping[str, Collection[str]],
    listed: Mapping[str, Mapping[str, LiveRecord]],
    got: Mapping[_Key, LiveRecord],
    get_errors: Mapping[_Key, TargetError],
    complete: Collection[str] = (),
) -> tuple[dict[str, LiveStatus], list[TargetError]]:
    """The status of each address, and the ``get`` errors of those whose existence is unknown
    (in address order)."""
    statuses: dict[str, LiveStatus] = {}
    unknown: list[TargetError] = []
    for key in sorted(wanted.keys() | listed.keys()):
        records = listed.get(key, {})
        names = set(wanted.get(key, ()))
        names.update(records)
        for name in sorted(names):
            from_list = records.get(name)
            from_get = got.get((key, name)) if got else None  # none: lists had it all
            if from_list is not None:
                record = _merge(from_list, from_get) if from_get is not None else from_list
                status = LiveStatus(key, name, exists=True, record=record)
            elif from_get is not None:
                status = LiveStatus(key, name, exists=True, record=from_get, reason=FOUND_BY_GET)
            elif key in complete and (key, name) not in get_errors:
                status = LiveStatus(key, name, exists=False, reason=NOT_LISTED_BY_COMPLETE_LIST)
            else:
                error = get_errors.get((key, name))
                if error is not None and not says_absent(error):
                    unknown.append(error)
                    continue
                why = error.message if error is not None else "get_deployment was not called"
                status = LiveStatus(key, name, exists=False, reason=ABSENT_PREFIX + why)
            statuses[address_text(key, name)] = status
    return statuses, unknown


def says_absent(error: TargetError) -> bool:
    """Whether a failed ``get_deployment`` of a name the target's list did not report shows
    that it does not exist (the plugin said so, by code, type or words). A timeout or any
    other failure does not: the deployment may exist."""
    return error.cause is not None and not_found_evidence(error.cause) is not None


def _merge(listed: LiveRecord, got: LiveRecord) -> LiveRecord:
    # get usually says more (SageMaker's DescribeEndpoint, Modal's URLs) but some plugins' get
    # is poorer than their list (torchserve wraps raw text): keep both, get's fields first.
    return replace(
        got,
        raw={**listed.raw, **got.raw},
        model_uri=got.model_uri if got.model_uri is not None else listed.model_uri,
        flavor=got.flavor if got.flavor is not None else listed.flavor,
        config=got.config if got.config is not None else listed.config,
        config_keys=got.config_keys if got.config is not None else listed.config_keys,
        status=got.status if got.status is not None else listed.status,
        # A field either of them reports is reported.
        unreported=(
            got.unreported & listed.unreported
            if got.unreported is not None and listed.unreported is not None
            else None
        ),
    )
