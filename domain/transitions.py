"""A record's life cycle as data: (state, event) -> new state, and who may cause it.

Each record (ticket, change request, blocker, deliverable, delay, period) declares one
`Lifecycle`; a handler asks it for the step (`lifecycle.step(state, event, roles)`), gets a
decision, and only then persists and notifies. Nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ANYONE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Transition:
    """`event` moves a record from `source` to `target`; `who` are the roles or parties
    (`client`, `vendor`) that may cause it, empty for anyone allowed the command."""

    source: str
    event: str
    target: str
    who: frozenset[str] = ANYONE


@dataclass(frozen=True)
class Step:
    """A decision: `allowed` with the new state, or refused because the state does not allow
    the event (`wrong_state`) or the person may not cause it (`not_allowed`)."""

    source: str
    event: str
    target: str | None
    reason: str = ""  # "" | "wrong_state" | "not_allowed"

    @property
    def allowed(self) -> bool:
        return self.target is not None


class Lifecycle:
    """The transition table of one kind of record."""

    def __init__(self, name: str, states: Iterable[str], transitions: Iterable[Transition]) -> None:
        self.name = name
        self.states: tuple[str, ...] = tuple(states)
        self.transitions: tuple[Transition, ...] = tuple(transitions)
        self._table: dict[tuple[str, str], Transition] = {}
        for t in self.transitions:
            if t.source not in self.states or t.target not in self.states:
                raise ValueError(f"{name}: {t.source} -{t.event}-> {t.target}: unknown state")
            if (t.source, t.event) in self._table:
                raise ValueError(f"{name}: {t.source} -{t.event}-> declared twice")
            self._table[(t.source, t.event)] = t

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.event for t in self.transitions))

    def sources(self, event: str) -> tuple[str, ...]:
        """The states from which `event` is possible."""
        return tuple(t.source for t in self.transitions if t.event == event)

    def can(self, state: str, event: str) -> bool:
        return (state, event) in self._table

    def permits(self, event: str, who: Iterable[str]) -> bool:
        """Whether someone with roles or party `who` may cause `event` in some state — for a
        handler that refuses the person before it looks the record up."""
        mine = frozenset(who)
        return any(t.event == event and (not t.who or t.who & mine) for t in self.transitions)

    def step(self, state: str, event: str, who: Iterable[str] = ()) -> Step:
        """What `event` does to a record in `state` when caused by someone with roles or
        party `who` (their roles plus their party)."""
        transition = self._table.get((state, event))
        if transition is None:
            return Step(state, event, None, "wrong_state")
        if transition.who and not transition.who.intersection(who):
            return Step(state, event, None, "not_allowed")
        return Step(state, event, transition.target)

    def final(self) -> tuple[str, ...]:
        """States no event leaves."""
        left = {t.source for t in self.transitions}
        return tuple(s for s in self.states if s not in left)
