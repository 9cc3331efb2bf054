"""Workers take an apply's changes by target in turn: concurrent workers start on different
targets, each target's changes keep their plan order, and changes put back come first."""

from __future__ import annotations

import threading

from deployctl.executor.pending import PendingChanges
from deployctl.planner import Action, ResourceChange
from deployctl.planner.plan import ActionReason


def change(target: str, name: str) -> ResourceChange:
    return ResourceChange(
        target, name, f"local:/{target}", Action.CREATE, "new", ActionReason.CREATE_BECAUSE_NEW
    )


def plan_order(targets: str, per_target: int) -> list[ResourceChange]:
    return [change(t, f"d{i}") for t in targets for i in range(per_target)]


def addresses(batch: list[ResourceChange]) -> list[str]:
    return [c.address for c in batch]


def test_each_take_is_of_one_target_and_the_turn_passes_to_the_next() -> None:
    pending = PendingChanges(plan_order("abc", 4))
    assert addresses(pending.take(2)) == ["a/d0", "a/d1"]
    assert addresses(pending.take(3)) == ["b/d0", "b/d1", "b/d2"]
    assert addresses(pending.take(9)) == ["c/d0", "c/d1", "c/d2", "c/d3"]  # one target only
    assert addresses(pending.take(9)) == ["a/d2", "a/d3"]
    assert addresses(pending.take(9)) == ["b/d3"]
    assert pending.take(9) == [] and len(pending) == 0


def test_without_turns_the_plan_order_is_kept() -> None:
    pending = PendingChanges(plan_order("ab", 3), rotate=False)
    taken = [pending.take(2) for _ in range(4)]
    assert [addresses(t) for t in taken] == [["a/d0", "a/d1"], ["a/d2"], ["b/d0", "b/d1"], ["b/d2"]]


def test_changes_put_back_come_first_and_are_left_for_the_report() -> None:
    pending = PendingChanges(plan_order("ab", 3))
    batch = pending.take(3)
    assert addresses(batch) == ["a/d0", "a/d1", "a/d2"]
    pending.put_back(batch[1:])  # the first was started, the others not
    assert len(pending) == 5
    assert pending.addresses()[:2] == ["a/d1", "a/d2"]
    assert sorted(pending.addresses()) == ["a/d1", "a/d2", "b/d0", "b/d1", "b/d2"]
    pending.clear()
    assert pending.take(1) == [] and pending.addresses() == [] and len(pending) == 0


def test_concurrent_takers_get_every_change_once() -> None:
    pending = PendingChanges(plan_order("abcdefgh", 50))
    taken: list[list[ResourceChange]] = []

    def work() -> None:
        while batch := pending.take(3):
            taken.append(batch)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(len({c.target for c in batch}) == 1 for batch in taken)
    flat = [c.address for batch in taken for c in batch]
    assert sorted(flat) == sorted(c.address for c in plan_order("abcdefgh", 50))
