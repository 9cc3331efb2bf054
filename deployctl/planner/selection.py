"""Choosing what a plan touches: ``--target ADDRESS`` and ``--exclude ADDRESS`` (repeatable).

An ADDRESS is ``TARGET/NAME`` for one deployment or ``TARGET`` alone for a whole target. With no
``--target`` everything is selected; ``--exclude`` always wins. An option that matches nothing
the manifest or the state knows is an error (``check_matches``), not an empty plan: a typo must
not pass for "nothing to do".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deployctl.errors import UsageError, closest
from deployctl.model import NAME_RE, Address


def _check(pattern: str, option: str) -> str:
    if "/" in pattern:
        try:
            Address.parse(pattern)
        except ValueError as exc:
            raise UsageError(f"{option} {pattern}: {exc}") from exc
    elif not NAME_RE.match(pattern):
        raise UsageError(f"{option} {pattern}: expected TARGET or TARGET/NAME")
    return pattern


@dataclass(frozen=True)
class Selection:
    """Which addresses a plan may touch."""

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, targets: Iterable[str] = (), excludes: Iterable[str] = ()) -> Selection:
        return cls(
            tuple(sorted({_check(t, "--target") for t in targets})),
            tuple(sorted({_check(e, "--exclude") for e in excludes})),
        )

    @property
    def partial(self) -> bool:
        return bool(self.targets or self.excludes)

    @staticmethod
    def _hit(patterns: tuple[str, ...], address: str) -> bool:
        target = address.partition("/")[0]
        return any(p in (address, target) for p in patterns)

    def matches(self, address: str) -> bool:
        if self.targets and not self._hit(self.targets, address):
            return False
        return not self._hit(self.excludes, address)

    def may_touch_target(self, key: str) -> bool:
        """Whether any address of target ``key`` can be selected (else it is not even read)."""
        if key in self.excludes:
            return False
        return not self.targets or any(t == key or t.startswith(f"{key}/") for t in self.targets)

    def check_matches(self, addresses: Iterable[str], targets: Iterable[str] = ()) -> None:
        """Refuse a ``--target``/``--exclude`` that matches none of ``addresses`` (``TARGET/NAME``
        texts) and, for a bare ``TARGET``, none of the known ``targets`` either (a target
        without deployments is still a target): ``UsageError``, one line per option, with the
        closest known address or target when there is one."""
        known = set(addresses)
        keys = set(targets) | {a.partition("/")[0] for a in known}
        lines = []
        for option, patterns in (("--target", self.targets), ("--exclude", self.excludes)):
            for pattern in patterns:
                candidates = known if "/" in pattern else keys
                if pattern in candidates:
                    continue
                line = f"{option} {pattern} matches no deployment in the manifest or the state"
                close = closest(pattern, sorted(candidates))
                if close:
                    line += f" (did you mean '{close}'?)"
                lines.append(line)
        if lines:
            raise UsageError("\n".join(lines))

    def describe(self) -> str:
        parts = []
        if self.targets:
            parts.append("only " + ", ".join(self.targets))
        if self.excludes:
            parts.append("excluding " + ", ".join(self.excludes))
        return "; ".join(parts)
