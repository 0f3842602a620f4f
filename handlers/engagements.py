"""`rentian engagement apply`: write a validated engagement file (SOW as code) to the database.

Applying the same file twice changes nothing; a changed file updates the engagement and
leaves an audit entry listing what changed. People dropped from the file are deactivated,
never deleted: their signatures and work logs still point at them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session, col

from base.errors import ConfigError
from bot import directory
from handlers import checklist
from handlers.sow import EngagementSpec, PersonSpec, spec_hash
from storage import audit
from storage.models import ChatBinding, Engagement, Identity, Person


@dataclass
class ApplyResult:
    code: str
    action: str  # created | updated | unchanged
    changes: list[str] = field(default_factory=list)


def engagement_fields(spec: EngagementSpec) -> dict[str, Any]:
    """The engagement row's columns for `spec` (JSON-ready)."""
    sla = spec.sla
    return {
        "name": spec.name, "client": spec.client, "vendor": spec.vendor,
        "timezone": spec.timezone, "locale": spec.locale,
        "start_date": spec.start, "end_date": spec.end, "services": list(spec.services),
        "hours_per_day": spec.hours_per_day, "min_unit_minutes": spec.min_unit_minutes,
        "daily_cap_minutes": spec.daily_cap_minutes,
        "allow_unregistered_reporters": spec.allow_unregistered_reporters,
        "budget": dict(spec.budget_minutes),
        "rules": {
            "backdate_days": spec.backdate_days,
            "log_reminder": f"{spec.log_reminder:%H:%M}",
            "budget_alerts": [str(share) for share in spec.budget_alerts],
            "blocker_escalation_hours": list(spec.blocker_escalation_hours),
            "sync_time": f"{spec.sync_time:%H:%M}",
            "digest_time": f"{spec.digest_time:%H:%M}",
            "email_signing": spec.email_signing,
            "overtime_ceiling": spec.overtime_ceiling_minutes,
            **spec.sections,  # [knowledge], [alerts]: each under its name (handlers.sow.SECTIONS)
        },
        "sla": {
            "warning_at": str(sla.warning_at), "escalate_at": str(sla.escalate_at),
            "escalation_roles": list(sla.escalation_roles),
            "auto_close_days": sla.auto_close_days,
            "targets": {
                severity: {"response": t.response_minutes, "resolve": t.resolve_minutes,
                           "calendar": t.calendar}
                for severity, t in sorted(sla.targets.items())
            },
        },
        "calendar": {
            "business_hours": f"{spec.calendar.business_start:%H:%M}-{spec.calendar.business_end:%H:%M}",
            "holidays": [d.isoformat() for d in spec.calendar.holidays],
            "workdays": [d.isoformat() for d in spec.calendar.workdays],
        },
    }  # fmt: skip


def apply(
    session: Session, spec: EngagementSpec, now: datetime, actor: str = "operator"
) -> ApplyResult:
    """Create or update the engagement of `spec` in the caller's transaction."""
    digest = spec_hash(spec)
    engagement = session.execute(
        select(Engagement).where(col(Engagement.code) == spec.code)
    ).scalar_one_or_none()
    if engagement is not None and engagement.spec_hash == digest:
        return ApplyResult(spec.code, "unchanged")
    created = engagement is None
    if engagement is None:
        engagement = Engagement(code=spec.code, created_at=now, **engagement_fields(spec))
        changes: list[str] = []
    else:
        changes = _update_fields(engagement, engagement_fields(spec))
    engagement.spec_hash, engagement.updated_at = digest, now
    session.add(engagement)
    session.flush()
    engagement_id = engagement.id or 0
    # Its identities are rewritten by a Core DELETE, which the directory's flush hook does not
    # see: every process rereads the engagement, its people and chats (bot.directory).
    directory.changed(session, engagement_id)
    changes += _sync_people(session, engagement_id, spec.people)
    changes += _sync_chats(session, engagement_id, spec, now)
    checklist.ensure_items(session, engagement_id)
    action = "created" if created else "updated"
    audit.append(
        session, at=now, actor=actor, action=f"engagement.{action}", ref=spec.code,
        engagement_id=engagement_id, data={"hash": digest, "changes": changes},
    )  # fmt: skip
    return ApplyResult(spec.code, action, changes)


def _update_fields(engagement: Engagement, fields: dict[str, Any]) -> list[str]:
    changes = []
    for name, value in fields.items():
        before = getattr(engagement, name)
        if before != value:
            changes.append(f"{name}: {_short(before)} -> {_short(value)}")
            setattr(engagement, name, value)
    return changes


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _sync_people(session: Session, engagement_id: int, people: tuple[PersonSpec, ...]) -> list[str]:
    existing = {
        p.key: p
        for p in session.execute(
            select(Person).where(col(Person.engagement_id) == engagement_id)
        ).scalars()
    }
    changes = []
    wanted = {spec.key for spec in people}
    for key, person in existing.items():
        if key not in wanted and person.active:
            person.active = False
            changes.append(f"people: - {key}")
    # Identities are rewritten whole: drop them first so one can move between people.
    session.execute(delete(Identity).where(col(Identity.engagement_id) == engagement_id))
    session.flush()
    for spec in people:
        person = existing.get(spec.key)
        values: dict[str, Any] = {"name": spec.name, "party": spec.party,
                                  "roles": list(spec.roles), "level": spec.level, "active": True}  # fmt: skip
        if person is None:
            person = Person(engagement_id=engagement_id, key=spec.key, **values)
            changes.append(f"people: + {spec.key}")
        elif any(getattr(person, k) != v for k, v in values.items()):
            changes.append(f"people: ~ {spec.key}")
            for name, value in values.items():
                setattr(person, name, value)
        session.add(person)
        session.flush()
        for channel, external_id in sorted(spec.identities.items()):
            session.add(Identity(engagement_id=engagement_id, person_id=person.id or 0,
                                 channel=channel, external_id=external_id))  # fmt: skip
    session.flush()
    return changes


def _sync_chats(
    session: Session, engagement_id: int, spec: EngagementSpec, now: datetime
) -> list[str]:
    changes = []
    listed = {(chat.channel, chat.id): chat for chat in spec.chats}
    for index, chat in enumerate(spec.chats):
        binding = session.execute(
            select(ChatBinding).where(
                col(ChatBinding.channel) == chat.channel, col(ChatBinding.chat_id) == chat.id
            )
        ).scalar_one_or_none()
        if binding is None:
            session.add(ChatBinding(engagement_id=engagement_id, channel=chat.channel, chat_id=chat.id,
                                    name=chat.name, bound_by="file", bound_at=now))  # fmt: skip
            changes.append(f"chats: + {chat.channel}:{chat.id}")
        elif binding.engagement_id != engagement_id:
            other = session.get(Engagement, binding.engagement_id)
            raise ConfigError([f"chats[{index}]: {chat.channel}:{chat.id} is already bound to "
                               f"{other.code if other else '?'}"])  # fmt: skip
        elif binding.name != chat.name:
            binding.name = chat.name
            session.add(binding)
    from_file = session.execute(
        select(ChatBinding).where(
            col(ChatBinding.engagement_id) == engagement_id, col(ChatBinding.bound_by) == "file"
        )
    ).scalars()
    for binding in list(from_file):
        if (binding.channel, binding.chat_id) not in listed:
            session.delete(binding)
            changes.append(f"chats: - {binding.channel}:{binding.chat_id}")
    session.flush()
    return changes
