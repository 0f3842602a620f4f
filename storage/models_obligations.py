"""Recurring obligations' table (#16 part 3): each occurrence of an `[[obligations]]` entry,
materialised for a bounded horizon ahead (`domain.obligations.HORIZON_DAYS`, topped up by the
`obligations.plan` job), with its evidence and the notices already sent about it.

`next_check_at` is when the sweep must look at it again (its next notice), None when nothing is
left to send: the sweep reads only the rows that have come due, on that column's index.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import when as _when


class ObligationOccurrence(SQLModel, table=True):
    """One due date of one obligation (O-n): open, submitted (evidence in, the client's
    acknowledgement awaited) or done; who recorded the evidence and who acknowledged it."""

    __tablename__ = "obligation_occurrence"
    __table_args__ = (
        UniqueConstraint("engagement_id", "key", "due_on"),
        UniqueConstraint("engagement_id", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    key: str = Field(max_length=40)  # the obligation's key in the engagement file
    number: int  # O-n
    due_on: date = Field(index=True)
    state: str = Field(default="open", max_length=16)  # open | submitted | done
    evidence_link: str | None = Field(default=None, max_length=500)
    evidence_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    content_hash: str | None = Field(default=None, max_length=64)  # what the client acknowledges
    submitted_at: datetime | None = _when(nullable=True)
    submitted_by_id: int | None = Field(default=None, foreign_key="person.id")
    done_at: datetime | None = _when(nullable=True)
    done_by_id: int | None = Field(default=None, foreign_key="person.id")
    reminded_at: datetime | None = _when(nullable=True)
    overdue_at: datetime | None = _when(nullable=True)
    escalated_at: datetime | None = _when(nullable=True)
    next_check_at: datetime | None = _when(nullable=True, index=True)
    # An upgrade window (the obligation has `window`): when it runs, the plan both parties sign
    # before its start (`window_hash`, signatures on subject `O-n/window`), and the notices of
    # its start (or of its being blocked, unsigned) and end.
    window_start_at: datetime | None = _when(nullable=True)
    window_end_at: datetime | None = _when(nullable=True)
    plan_link: str | None = Field(default=None, max_length=500)
    plan_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    window_hash: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = _when(nullable=True)
    started_at: datetime | None = _when(nullable=True)
    blocked_at: datetime | None = _when(nullable=True)
    ended_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()

    @property
    def ref(self) -> str:
        return f"O-{self.number}"

    @property
    def window_subject(self) -> str:
        """The signatures' subject for the upgrade window's plan."""
        return window_subject(self.ref)


def window_subject(ref: str) -> str:
    """`O-5` → `O-5/window`: what both parties sign before an upgrade window starts (the
    occurrence's own subject `O-5` is the client's acknowledgement of its evidence)."""
    return f"{ref}/window"
