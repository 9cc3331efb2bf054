"""``CompletionQueue`` hands futures back in the order they finish, with real threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from deployctl.concurrency import CompletionQueue

# Long enough for a worker thread to finish a trivial task on a loaded machine; never reached
# when the queue works, since every wait below ends as soon as a future completes.
WAIT = 5.0


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="test") as pool:
        yield pool


def _waiting_for(event: threading.Event, value: str) -> str:
    if not event.wait(WAIT):
        raise TimeoutError(f"{value} was never released")
    return value


def test_futures_come_back_in_the_order_they_finish_not_the_order_added(
    pool: ThreadPoolExecutor,
) -> None:
    gates = {name: threading.Event() for name in ("first", "second", "third")}
    queue = CompletionQueue()
    for name in gates:
        queue.add(pool.submit(_waiting_for, gates[name], name))

    finished = []
    for name in ("third", "first", "second"):
        gates[name].set()
        future = queue.next(timeout=WAIT)
        assert future is not None
        finished.append(future.result())

    assert finished == ["third", "first", "second"]


def test_len_counts_the_futures_not_yet_handed_back(pool: ThreadPoolExecutor) -> None:
    queue = CompletionQueue()
    assert len(queue) == 0
    gate = threading.Event()
    queue.add(pool.submit(_waiting_for, gate, "a"))
    queue.add(pool.submit(_waiting_for, gate, "b"))
    assert len(queue) == 2

    gate.set()
    assert queue.next(timeout=WAIT) is not None
    # Both have finished by now, but only one was handed back.
    pool.shutdown(wait=True)
    assert len(queue) == 1
    assert queue.next(timeout=WAIT) is not None
    assert len(queue) == 0


def test_next_returns_none_when_nothing_finishes_within_the_timeout(
    pool: ThreadPoolExecutor,
) -> None:
    gate = threading.Event()
    queue = CompletionQueue()
    queue.add(pool.submit(_waiting_for, gate, "slow"))

    started = time.monotonic()
    assert queue.next(timeout=0.05) is None
    assert time.monotonic() - started >= 0.05
    assert len(queue) == 1  # a timeout hands nothing back

    gate.set()
    future = queue.next(timeout=WAIT)
    assert future is not None and future.result() == "slow"


def test_next_without_a_timeout_waits_for_a_future_finished_by_another_thread() -> None:
    future: Future[str] = Future()
    queue = CompletionQueue()
    queue.add(future)
    timer = threading.Timer(0.05, future.set_result, args=("late",))
    timer.start()
    try:
        assert queue.next() is future
    finally:
        timer.cancel()
    assert future.result() == "late"


def test_a_future_already_done_when_added_comes_back_at_once() -> None:
    done: Future[int] = Future()
    done.set_result(1)
    queue = CompletionQueue()
    queue.add(done)
    assert queue.next(timeout=0) is done
    assert len(queue) == 0


def test_failed_and_cancelled_futures_come_back_too() -> None:
    gate = threading.Event()
    queue = CompletionQueue()
    with ThreadPoolExecutor(max_workers=1) as pool:
        blocker = pool.submit(_waiting_for, gate, "blocker")
        pending = pool.submit(str, "never runs")  # queued behind the blocker
        failing = pool.submit(_fail)
        for future in (blocker, pending, failing):
            queue.add(future)
        assert pending.cancel()
        cancelled = queue.next(timeout=WAIT)
        assert cancelled is pending and cancelled.cancelled()
        gate.set()
        rest = [queue.next(timeout=WAIT), queue.next(timeout=WAIT)]

    assert rest[0] is blocker
    assert rest[1] is failing
    assert isinstance(failing.exception(), ValueError)
    assert len(queue) == 0


def _fail() -> None:
    raise ValueError("boom")


def test_many_futures_from_many_threads_each_come_back_once(pool: ThreadPoolExecutor) -> None:
    queue = CompletionQueue()
    futures = [pool.submit(pow, i, 2) for i in range(500)]
    for future in futures:
        queue.add(future)

    seen = []
    while len(queue):
        future = queue.next(timeout=WAIT)
        assert future is not None
        seen.append(future)

    assert len(seen) == 500
    assert {id(f) for f in seen} == {id(f) for f in futures}
    assert queue.next(timeout=0) is None
