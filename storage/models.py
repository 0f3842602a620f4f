"""The tables. Quantities of work are integer minutes; times are aware UTC datetimes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import json_field as _json
from storage.types import when as _when

# An engagement's language unless it says otherwise (the same as `bot.i18n.DEFAULT_LOCALE`).
DEFAULT_LOCALE = "zh-CN"




class Engagement(SQLModel, table=True):
    """One client engagement under a SOW (the engagement file, as applied)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=40)
    name: str
    client: str
    vendor: str
    timezone: str = "Asia/Shanghai"
    locale: str = DEFAULT_LOCALE
    start_date: date
    end_date: date
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    hours_per_day: int = 8
    min_unit_minutes: int = 60
    daily_cap_minutes: int = 480
    allow_unregistered_reporters: bool = True
    budget: dict[str, int] = _json()  # level -> contracted minutes
    sla: dict[str, Any] = _json()
    calendar: dict[str, Any] = _json()
    rules: dict[str, Any] = _json()  # work-log rules: backdate_days, log_reminder, budget_alerts
    spec_hash: str = ""
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Person(SQLModel, table=True):
    """Someone of the client or the vendor, as listed in the engagement file."""

    __table_args__ = (UniqueConstraint("engagement_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    key: str  # the engagement file's `id`, e.g. "wang.li"
    name: str
    party: str  # client | vendor
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    level: str | None = None
    active: bool = True


class Identity(SQLModel, table=True):
    """A person's id on one channel (Feishu open_id, DingTalk staff id, email, console name)."""

    __table_args__ = (
        UniqueConstraint("engagement_id", "channel", "external_id"),
        Index("ix_identity_lookup", "channel", "external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    person_id: int = Field(foreign_key="person.id", index=True)
    channel: str
    external_id: str


class ChatBinding(SQLModel, table=True):
    """A group chat (or mailbox) bound to an engagement: messages there belong to it."""

    __tablename__ = "chat_binding"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    channel: str
    chat_id: str
    name: str = ""
    bound_by: str = ""  # person key, or "file" when the engagement file lists the chat
    bound_at: datetime = _when()
    sync_enabled: bool = True  # the daily progress sync is posted here
    sync_time: str = ""  # HH:MM; empty: the engagement's default


class InboundKey(SQLModel, table=True):
    """Intake dedupe (invariant 2): one row per platform event ever handled, or failed."""

    __tablename__ = "inbound_key"
    __table_args__ = (UniqueConstraint("channel", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    key: str
    received_at: datetime = _when(index=True)
    # "handled", or "failed" with the error (its class, its first line, at most ~200
    # characters): the event is not handled again, `rentian inbox --status failed` lists it.
    status: str = Field(
        default="handled", max_length=16, sa_column_kwargs={"server_default": "handled"}
    )
    error_class: str = Field(default="", sa_column_kwargs={"server_default": ""})
    error: str = Field(default="", sa_column_kwargs={"server_default": ""})


class OutboxMessage(SQLModel, table=True):
    """A message to send, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_digest", "engagement_id", "created_at", "kind"),  # the digest's window
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int | None = Field(default=None, foreign_key="engagement.id", index=True)
    channel: str
    recipient_type: str  # chat | person
    recipient: str  # chat id, or the person's key
    address: str  # where the channel sends: chat id, or the person's id there
    reply_to: str = ""
    kind: str
    ref: str = ""
    text: str = Field(sa_column=Column(Text, nullable=False))
    payload: dict[str, Any] = _json()
    # The engagement's locale when written: the channel's fixed words (card titles, buttons).
    locale: str = Field(
        default=DEFAULT_LOCALE, max_length=16, sa_column_kwargs={"server_default": DEFAULT_LOCALE}
    )
    dedupe_key: str | None = Field(default=None, unique=True)
    status: str = "pending"  # pending | sending | sent | failed | unknown (see storage.outbox)
    attempts: int = 0
    next_attempt_at: datetime = _when()
    last_error: str = ""
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class Counter(SQLModel, table=True):
    """Per-engagement reference numbers: T-1, T-2… K-1… CR-1…"""

    engagement_id: int = Field(foreign_key="engagement.id", primary_key=True)
    prefix: str = Field(primary_key=True, max_length=8)
    value: int = 0


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained record of every signature, estimate and scope change."""

    __tablename__ = "audit_log"
    # An engagement's last entry (the daily sync's anchor): PostgreSQL's index on engagement_id
    # alone is not ordered by id. A record's entries (the console's signatures, the evidence
    # pack): by engagement and reference.
    __table_args__ = (
        Index("ix_audit_log_engagement_head", "engagement_id", "id"),
        Index("ix_audit_log_engagement_ref", "engagement_id", "ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int | None = Field(default=None, index=True)
    at: datetime = _when()
    actor: str
    action: str
    ref: str = ""
    data: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON
    prev_hash: str = Field(unique=True)  # a fork of the chain cannot be written
    hash: str


class ChecklistItem(SQLModel, table=True):
    """One item of the phase-1 onboarding checklist (服务启动清单)."""

    __tablename__ = "checklist_item"
    __table_args__ = (UniqueConstraint("engagement_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    key: str
    party: str
    position: int
    done_at: datetime | None = _when(nullable=True)
    done_by_id: int | None = Field(default=None, foreign_key="person.id")
    note: str = ""


class JobRun(SQLModel, table=True):
    """When each scheduler job last ran, so `tick` knows what is due."""

    __tablename__ = "job_run"

    name: str = Field(primary_key=True)
    last_run_at: datetime = _when()


class Ticket(SQLModel, table=True):
    """A support ticket (工单) with its SLA clocks.

    `next_check_at` is when the SLA sweep must look at it next (an alert threshold, the
    auto-close time); NULL when nothing is pending, so closed tickets cost the sweep nothing.
    """

    __table_args__ = (
        UniqueConstraint("engagement_id", "number"),
        Index("ix_ticket_open", "engagement_id", "status"),
        Index("ix_ticket_opened", "engagement_id", "opened_at"),  # jobs' windows (0009)
        Index("ix_ticket_resolved", "engagement_id", "resolved_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    number: int
    severity: str  # P1..P4
    service: str | None = None
    in_scope: bool = True
    title: str = Field(sa_column=Column(Text, nullable=False))
    status: str = "open"  # open | in_progress | pending | resolved | closed
    reporter_key: str  # person key, or unregistered:<channel>:<id>
    reporter_name: str
    reporter_id: int | None = Field(default=None, foreign_key="person.id")
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    opened_at: datetime = _when()
    acked_at: datetime | None = _when(nullable=True)
    resolved_at: datetime | None = _when(nullable=True)
    closed_at: datetime | None = _when(nullable=True)
    pending_since: datetime | None = _when(nullable=True)
    pending_reason: str = ""
    paused_minutes: int = 0  # resolution-calendar minutes spent paused (pending, resolved)
    response_due_at: datetime = _when()
    resolve_due_at: datetime | None = _when(nullable=True)  # None while the clock is paused
    alerts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    next_check_at: datetime | None = _when(nullable=True, index=True)
    # Where to post about it later (a durable target: the chat it was opened in).
    channel: str
    chat_id: str
    message_id: str = ""

    @property
    def ref(self) -> str:
        return f"T-{self.number}"


class TicketEvent(SQLModel, table=True):
    """One line of a ticket's history: opened, acknowledged, paused, noted, resolved…"""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _when()
    actor: str
    kind: str
    text: str = Field(default="", sa_column=Column(Text, nullable=False))


class WorkLog(SQLModel, table=True):
    """A person's logged work (报工): integer minutes on a date, against one written target.

    Corrections are new rows (`kind` "adjustment", minutes may be negative), never edits; an
    entry undone within minutes is voided, not deleted.
    """

    __tablename__ = "worklog"
    __table_args__ = (
        Index("ix_worklog_day", "engagement_id", "work_date", "person_id"),  # a day's, by person
        Index("ix_worklog_person_day", "engagement_id", "person_id", "work_date"),
        Index("ix_worklog_engagement_id", "engagement_id", "id"),  # the read API's pages
        # The console's sums by day, level and person, read from the index alone.
        Index(
            "ix_worklog_sums",
            *("engagement_id", "work_date", "level", "person_id", "minutes", "voided_at"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    person_id: int = Field(foreign_key="person.id")
    level: str  # the person's resource level when the work was done
    work_date: date
    minutes: int
    target_kind: str  # ticket | task | cr | service
    target_ref: str  # T-7, K-3, CR-2, or the service key
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    overtime: bool = False
    kind: str = "entry"  # entry | adjustment
    created_by_id: int = Field(foreign_key="person.id")
    created_at: datetime = _when()
    voided_at: datetime | None = _when(nullable=True)


class Period(SQLModel, table=True):
    """A month's two-party close (人天结算): the PM closes, the client approver confirms.

    Who closed and who confirmed, when, on which statement: the `Signature` rows whose
    subject is the month; reopening voids the PM's.
    """

    __table_args__ = (UniqueConstraint("engagement_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    month: str  # YYYY-MM
    status: str = Field(  # open | closed | locked (domain.lifecycles.periods)
        default="open", max_length=16, sa_column_kwargs={"server_default": "open"}
    )
    content_hash: str = ""  # the statement both parties signed, once locked

    @property
    def locked(self) -> bool:
        return self.status == "locked"


class Task(SQLModel, table=True):
    """A task of the requirement breakdown (K-n): priority, estimate by level, plan date.

    Part of the scope baseline once both parties sign (`baseline_version`), or added later
    under an effective change request (`change_request_id`).
    """

    __table_args__ = (
        UniqueConstraint("engagement_id", "number"),
        Index("ix_task_plan", "engagement_id", "status", "plan_date"),  # due and overdue tasks
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    number: int
    title: str = Field(sa_column=Column(Text, nullable=False))
    level: str
    estimate_minutes: int
    priority: str = "medium"  # high | medium | low
    plan_date: date | None = None
    plan_version: int = 1
    status: str = "open"  # open | done
    baseline_version: int | None = None
    change_request_id: int | None = Field(default=None, foreign_key="changerequest.id")
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    created_by_id: int = Field(foreign_key="person.id")
    created_at: datetime = _when()
    done_at: datetime | None = _when(nullable=True)
    overdue_warned_for: date | None = None  # the plan date a plan.overdue was sent for

    @property
    def ref(self) -> str:
        return f"K-{self.number}"


class PlanChange(SQLModel, table=True):
    """A task's plan history: each delay notice is a new plan version with its cause."""

    __tablename__ = "plan_change"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    version: int
    old_date: date | None = None
    new_date: date
    reason: str = Field(sa_column=Column(Text, nullable=False))
    person_id: int = Field(foreign_key="person.id")
    at: datetime = _when()


class Baseline(SQLModel, table=True):
    """A signed scope baseline: the task list as both parties signed it."""

    __table_args__ = (UniqueConstraint("engagement_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    version: int
    snapshot: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON of the tasks
    content_hash: str
    created_at: datetime = _when()


class Signature(SQLModel, table=True):
    """One party's signature on a subject (`scope`, `CR-2`, `D-4`, the month `2026-11` of a
    monthly close) as it stood (`content_hash`).

    A signature whose subject changed afterwards is voided, never deleted.
    """

    __table_args__ = (
        Index("ix_signature_subject", "engagement_id", "subject"),
        Index("ix_signature_engagement_id", "engagement_id", "id"),  # the read API's pages
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    subject: str
    person_id: int = Field(foreign_key="person.id")
    party: str
    content_hash: str
    at: datetime = _when()
    voided_at: datetime | None = _when(nullable=True)


class ChangeRequest(SQLModel, table=True):
    """A change request (变更单, CR-n): new scope -> estimate by level -> both sign -> effective."""

    __table_args__ = (
        UniqueConstraint("engagement_id", "number"),
        Index("ix_changerequest_status", "engagement_id", "status", "number"),
        Index("ix_changerequest_effective", "engagement_id", "effective_at"),  # weekly report
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    number: int
    title: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = "filed"  # filed | estimated | effective | rejected
    estimate: dict[str, int] = _json()  # level -> extra minutes
    impact: str = ""  # e.g. the plan impact "+5d"
    estimate_version: int = 0
    filed_by_id: int = Field(foreign_key="person.id")
    filed_at: datetime = _when()
    channel: str = ""
    chat_id: str = ""
    message_id: str = ""
    effective_at: datetime | None = _when(nullable=True)
    rejected_at: datetime | None = _when(nullable=True)
    rejected_by_id: int | None = Field(default=None, foreign_key="person.id")
    rejected_reason: str = ""

    @property
    def ref(self) -> str:
        return f"CR-{self.number}"


class Blocker(SQLModel, table=True):
    """A blocker (阻塞问题, B-n) such as environment access waiting on the client."""

    __table_args__ = (
        UniqueConstraint("engagement_id", "number"),
        Index("ix_blocker_opened", "engagement_id", "opened_at"),  # weekly report
        # the open ones (cleared_at NULL), oldest first
        Index("ix_blocker_cleared", "engagement_id", "cleared_at", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    number: int
    description: str = Field(sa_column=Column(Text, nullable=False))
    owner_id: int | None = Field(default=None, foreign_key="person.id")
    task_id: int | None = Field(default=None, foreign_key="task.id")
    opened_by: str
    opened_at: datetime = _when()
    cleared_at: datetime | None = _when(nullable=True)
    cleared_by: str = ""
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    escalations: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    next_check_at: datetime | None = _when(nullable=True, index=True)
    channel: str = ""
    chat_id: str = ""

    @property
    def ref(self) -> str:
        return f"B-{self.number}"


class Deliverable(SQLModel, table=True):
    """A deliverable (交付物, D-n) submitted for a task or change request, and its acceptance."""

    __table_args__ = (
        UniqueConstraint("engagement_id", "number"),
        Index("ix_deliverable_decided", "engagement_id", "decided_at"),  # weekly report
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    number: int
    name: str = Field(sa_column=Column(Text, nullable=False))
    link: str = Field(default="", sa_column=Column(Text, nullable=False))
    task_id: int | None = Field(default=None, foreign_key="task.id")
    change_request_id: int | None = Field(default=None, foreign_key="changerequest.id")
    status: str = "submitted"  # submitted | accepted | rejected
    submitted_by_id: int = Field(foreign_key="person.id")
    submitted_at: datetime = _when()
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = _when(nullable=True)
    reason: str = ""
    content_hash: str = ""

    @property
    def ref(self) -> str:
        return f"D-{self.number}"


class Training(SQLModel, table=True):
    """Knowledge transfer (培训): a session held, who attended, where the manual is."""

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    topic: str = Field(sa_column=Column(Text, nullable=False))
    held_on: date
    attendees: str = ""
    manual: str = ""
    recorded_by_id: int = Field(foreign_key="person.id")
    recorded_at: datetime = _when()


class InboxEvent(SQLModel, table=True):
    """A verified event accepted from a platform and not handled yet (bot.inbox): the intake's
    backlog. A row is deleted in the transaction that handles it, so the table holds only
    what is waiting, never history (`inbound_key` keeps that)."""

    __tablename__ = "inbox_event"
    __table_args__ = (
        UniqueConstraint("channel", "key"),
        Index("ix_inbox_event_chat", "chat_key", "id"),  # a chat's head: its lowest id
    )

    id: int | None = Field(default=None, primary_key=True)  # the order events are handled in
    channel: str
    key: str  # the event's dedupe key, `Inbound.event_id`
    chat_key: str  # channel and chat id: one chat's events are handled one after another
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the cleaned `Inbound`, JSON
    received_at: datetime = _when()


class ConsoleLink(SQLModel, table=True):
    """A one-time sign-in link to the web console (`/看板`, `rentian console-link`): only the
    token's SHA-256 is kept. It signs in the account it was sent to — a (channel, id) pair,
    which is a person in each engagement that lists it — once, before it expires."""

    __tablename__ = "console_link"
    __table_args__ = (Index("ix_console_link_account", "channel", "external_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    channel: str
    external_id: str
    created_at: datetime = _when()
    expires_at: datetime = _when()
    used_at: datetime | None = _when(nullable=True)


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser: the cookie's token, hashed, and the account it is; what it may see
    is read again on every request (a role taken away counts at once)."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    channel: str
    external_id: str
    created_at: datetime = _when()
    expires_at: datetime = _when(index=True)
    ended_at: datetime | None = _when(nullable=True)


class ApiToken(SQLModel, table=True):
    """A read-API token for one engagement (`rentian api-token create`): hashed, revocable,
    with its last use."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    name: str = Field(max_length=80)
    created_at: datetime = _when()
    revoked_at: datetime | None = _when(nullable=True)
    last_used_at: datetime | None = _when(nullable=True)


# Tables kept in modules of their own, registered with the others (Alembic, create_all).
import storage.models_alerts  # noqa: E402
import storage.models_knowledge  # noqa: E402
import storage.models_obligations  # noqa: E402, F401
