"""Monitoring alerts' tables (#16 part 2): the alert groups that became tickets, and the
per-engagement tokens the monitoring systems send them with.

A group is what one ticket stands for: Alertmanager's `groupKey`, Zabbix's event id, the
generic payload's `dedupe_key`. Its key is kept whole for people (`group_key`) and as a
SHA-256 for the unique constraint (`key_hash`): an Alertmanager group key has no length limit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import when as _when


class AlertGroup(SQLModel, table=True):
    """One alert group of an engagement and its ticket: firing or resolved, and the post
    about it the storm limit held back (`held_at`, cleared by the summary)."""

    __tablename__ = "alert_group"
    __table_args__ = (UniqueConstraint("engagement_id", "key_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    source: str = Field(max_length=16)  # alertmanager | zabbix | generic
    key_hash: str = Field(max_length=64)
    group_key: str = Field(sa_column=Column(Text, nullable=False))
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    state: str = Field(default="firing", max_length=16)  # firing | resolved
    fires: int = 1  # times it fired (the first, re-fires, flaps)
    first_fired_at: datetime = _when()
    last_fired_at: datetime = _when()
    resolved_at: datetime | None = _when(nullable=True)
    held_at: datetime | None = _when(nullable=True, index=True)  # a chat post held back since


class AlertToken(SQLModel, table=True):
    """A monitoring system's token for one engagement (`rentian alert-token create`): only
    its SHA-256 is kept, like the read API's (`storage.signin`); revocable, with its last use."""

    __tablename__ = "alert_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    name: str = Field(max_length=80)
    created_at: datetime = _when()
    revoked_at: datetime | None = _when(nullable=True)
    last_used_at: datetime | None = _when(nullable=True)
