"""Who is looking, and what they may see: a signed-in account's seats (the person it is in each
engagement that lists it) or an API token's one engagement. Read afresh for every request, so
a role taken away, a person deactivated or a token revoked counts at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from domain.visibility import sees_engagement
from storage.models import ApiToken, Engagement, Identity, Person
from storage.signin import Account


@dataclass(frozen=True)
class Seat:
    """The viewer as a person of one engagement they may see."""

    engagement_id: int
    code: str
    engagement_name: str
    locale: str
    person_id: int
    person_key: str
    person_name: str
    party: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Viewer:
    """A signed-in person (`account`), or an API token (`token_id`), and the engagements they
    may see, in the order of their codes."""

    name: str
    seats: tuple[Seat, ...]
    account: Account | None = None
    token_id: int | None = None

    @property
    def engagement_ids(self) -> frozenset[int]:
        return frozenset(seat.engagement_id for seat in self.seats)

    def seat(self, engagement_id: int) -> Seat | None:
        return next((s for s in self.seats if s.engagement_id == engagement_id), None)

    def seat_by_code(self, code: str) -> Seat | None:
        return next((s for s in self.seats if s.code == code), None)

    @property
    def locale(self) -> str:
        """The language of their first engagement (a page of one engagement uses its own)."""
        return self.seats[0].locale if self.seats else "zh-CN"


def viewer_of(session: Session, account: Account) -> Viewer:
    """The account's seats: every active person it is, in an engagement they may see."""
    rows = session.execute(
        select(Person, Engagement)
        .join(Identity, col(Identity.person_id) == col(Person.id))
        .join(Engagement, col(Engagement.id) == col(Person.engagement_id))
        .where(col(Identity.channel) == account.channel,
               col(Identity.external_id) == account.external_id)
        .order_by(col(Engagement.code))
    ).all()  # fmt: skip
    seats = tuple(
        _seat(person, engagement) for person, engagement in rows
        if sees_engagement(person.party, person.roles, person.active)
    )  # fmt: skip
    name = rows[0][0].name if rows else account.external_id
    return Viewer(name=name, seats=seats, account=account)


def token_viewer(session: Session, token: ApiToken) -> Viewer:
    """An API token sees its one engagement, as nobody in particular."""
    engagement = session.get(Engagement, token.engagement_id)
    assert engagement is not None and engagement.id is not None
    seat = Seat(engagement.id, engagement.code, engagement.name, engagement.locale, 0, "",
                token.name, "token", frozenset())  # fmt: skip
    return Viewer(name=token.name, seats=(seat,), token_id=token.id)


def _seat(person: Person, engagement: Engagement) -> Seat:
    assert engagement.id is not None and person.id is not None
    return Seat(
        engagement.id, engagement.code, engagement.name, engagement.locale, person.id,
        person.key, person.name, person.party, frozenset(person.roles),
    )  # fmt: skip
