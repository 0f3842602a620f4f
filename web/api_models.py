"""The read API's answers, as pydantic models: FastAPI documents each one in the OpenAPI schema
(`/api/openapi.json`) and checks every answer against it, so the schema never drifts from what
is sent. Times are ISO-8601 in the engagement's time zone, with its offset; quantities of work
are integer minutes, with person-days beside them for reading."""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

# The catalogue's severities and the ticket life cycle's states (tests/test_console_api.py
# holds these to `domain.catalog.SEVERITIES` and `domain.lifecycles.tickets.STATES`).
Severity = Literal["P1", "P2", "P3", "P4"]
TicketStatus = Literal["open", "in_progress", "pending", "resolved", "closed"]
Phase = Literal["not_started", "start", "execution", "ended"]
# An obligation occurrence's states and an upgrade window's standing (held in the tests to
# `domain.obligations` and `web.views.obligation_records`).
ObligationState = Literal["open", "submitted", "done"]
WindowState = Literal["unplanned", "planned", "approved", "blocked", "started", "ended"]

T = TypeVar("T")


class ProblemDetail(BaseModel):
    """One thing wrong with a request: which parameter, and why."""

    parameter: str = Field(description="where: `query.limit`, `path.code`, `query.cursor`…")
    message: str


class Problem(BaseModel):
    """Every error answer (401, 404, 422…) has this shape."""

    error: str = Field(description="unauthorized | not_found | invalid_request | …")
    message: str
    details: list[ProblemDetail] = Field(default_factory=list)


class Page(BaseModel, Generic[T]):
    """One page of a list. Follow `next_cursor` (pass it as `cursor`) until it is null; a page
    may hold fewer than `limit` items even when more follow."""

    items: list[T]
    next_cursor: str | None = Field(description="the next page's `cursor`; null on the last page")


class PersonRef(BaseModel):
    key: str = Field(description="the person's id in the engagement file, e.g. `zhao.gang`")
    name: str


class Engagement(BaseModel):
    code: str
    name: str
    client: str
    vendor: str
    start: date
    end: date
    timezone: str
    locale: str
    phase: Phase
    hours_per_day: int
    used_minutes: int
    contracted_minutes: int = Field(description="the SOW's, plus effective change requests")
    used_person_days: float
    contracted_person_days: float


class Ticket(BaseModel):
    ref: str = Field(description="`T-7`")
    number: int
    title: str
    severity: Severity
    service: str | None
    in_scope: bool
    status: TicketStatus
    reporter: PersonRef = Field(description="an unregistered reporter's key starts `unregistered:`")
    assignee: PersonRef | None
    opened_at: datetime
    acked_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    pending_since: datetime | None
    response_due_at: datetime
    resolve_due_at: datetime | None = Field(description="null while the clock is paused or stopped")
    breached: bool = Field(description="a target was missed on either leg (response, resolution)")


class WorkTarget(BaseModel):
    kind: Literal["ticket", "task", "cr", "service"]
    ref: str = Field(description="`T-7`, `K-3`, `CR-2`, or the service key")


class WorkLog(BaseModel):
    id: int
    person: PersonRef
    level: str
    date: date
    minutes: int = Field(description="negative for a correction that takes work off")
    person_days: float
    target: WorkTarget
    note: str
    kind: Literal["entry", "adjustment"]
    overtime: bool
    logged_at: datetime
    voided: bool
    voided_at: datetime | None


class Signature(BaseModel):
    id: int
    subject: str = Field(description="`scope`, `CR-2`, `D-4`, or a month `2026-11` (its close)")
    person: PersonRef
    party: Literal["client", "vendor"]
    content_hash: str
    at: datetime
    voided: bool = Field(description="the signed content changed afterwards")
    voided_at: datetime | None


class BudgetLine(BaseModel):
    level: str = Field(description="a resource level, or `total`")
    contracted_minutes: int
    used_minutes: int
    left_minutes: int
    contracted_person_days: float
    used_person_days: float
    left_person_days: float
    used_share: float | None = Field(description="used / contracted; null with no contract")


class Burn(BaseModel):
    window_working_days: int
    minutes_per_working_day: float
    runs_out: date | None = Field(description="at this rate; null when nothing is being used")


class Budget(BaseModel):
    code: str
    as_of: date
    hours_per_day: int
    levels: list[BudgetLine]
    total: BudgetLine
    burn: Burn


class Attainment(BaseModel):
    met: int
    total: int = Field(description="tickets whose clock has an outcome (stopped, or late)")


class SlaTotal(BaseModel):
    response: Attainment
    resolution: Attainment


class SlaLine(SlaTotal):
    severity: Severity


class Sla(BaseModel):
    code: str
    month: str = Field(description="`YYYY-MM`: the tickets opened in it, in the engagement's time")
    severities: list[SlaLine]
    total: SlaTotal


class UpgradeWindow(BaseModel):
    """An upgrade window: when it runs, the plan both parties sign before it starts."""

    start_at: datetime | None
    end_at: datetime | None
    state: WindowState
    plan_link: str | None
    plan_note: str | None
    plan_hash: str | None = Field(
        description="SHA-256 of the plan both parties sign (subject `O-n/window`)"
    )
    signed_by: list[Literal["client", "vendor"]] = Field(
        description="the parties whose signature holds on the plan as it stands"
    )
    approved_at: datetime | None
    started_at: datetime | None
    blocked_at: datetime | None
    ended_at: datetime | None


class Obligation(BaseModel):
    ref: str = Field(description="`O-3`")
    number: int
    key: str = Field(description="the obligation's key in the engagement file")
    title: str
    due_on: date
    state: ObligationState
    overdue: bool = Field(description="not done, and its due date (the engagement's) has passed")
    evidence_link: str | None
    evidence_note: str | None
    content_hash: str | None = Field(
        description="SHA-256 of the evidence the client acknowledges (subject `O-n`)"
    )
    submitted_at: datetime | None
    submitted_by: PersonRef | None
    done_at: datetime | None
    done_by: PersonRef | None = Field(description="who acknowledged it, or recorded it done")
    window: UpgradeWindow | None = Field(
        description="null unless the obligation is an upgrade window"
    )


class EngagementPage(Page[Engagement]):
    pass


class TicketPage(Page[Ticket]):
    pass


class WorkLogPage(Page[WorkLog]):
    pass


class SignaturePage(Page[Signature]):
    pass


class ObligationPage(Page[Obligation]):
    pass
