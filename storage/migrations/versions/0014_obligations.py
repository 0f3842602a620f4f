"""obligations

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 08:00:00.000000

The SOW's recurring obligations (#16): one row per occurrence (O-n) with its evidence, its
state and the notices already sent about it; `next_check_at` indexed for the sweep.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "obligation_occurrence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("evidence_link", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("evidence_note", sa.Text(), nullable=True),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["engagement_id"], ["engagement.id"]),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["done_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("engagement_id", "key", "due_on"),
        sa.UniqueConstraint("engagement_id", "number"),
    )
    with op.batch_alter_table("obligation_occurrence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_obligation_occurrence_engagement_id"), ["engagement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_obligation_occurrence_due_on"), ["due_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_obligation_occurrence_next_check_at"), ["next_check_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("obligation_occurrence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_obligation_occurrence_next_check_at"))
        batch_op.drop_index(batch_op.f("ix_obligation_occurrence_due_on"))
        batch_op.drop_index(batch_op.f("ix_obligation_occurrence_engagement_id"))
    op.drop_table("obligation_occurrence")
