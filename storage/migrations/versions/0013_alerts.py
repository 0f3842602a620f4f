"""alerts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 07:00:00.000000

Monitoring alerts into tickets (#16): the alert groups, each with its ticket, and the
monitoring systems' per-engagement tokens (stored hashed).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("fires", sa.Integer(), nullable=False),
        sa.Column("first_fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagement.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("engagement_id", "key_hash"),
    )
    with op.batch_alter_table("alert_group", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_group_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_group_held_at"), ["held_at"], unique=False)

    op.create_table(
        "alert_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagement.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("alert_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_token_engagement_id"), ["engagement_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_token_engagement_id"))
    op.drop_table("alert_token")
    with op.batch_alter_table("alert_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_group_held_at"))
        batch_op.drop_index(batch_op.f("ix_alert_group_ticket_id"))
    op.drop_table("alert_group")
