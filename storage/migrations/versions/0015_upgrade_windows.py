"""upgrade windows

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 10:30:00.000000

An obligation's occurrence may be an upgrade window (#16): when it runs, the plan both parties
sign before its start, and the markers of its start, block and end notices.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_WHEN = ("window_start_at", "window_end_at", "approved_at", "started_at", "blocked_at", "ended_at")


def upgrade() -> None:
    with op.batch_alter_table("obligation_occurrence") as table:
        for name in _WHEN:
            table.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        table.add_column(
            sa.Column("plan_link", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        table.add_column(sa.Column("plan_note", sa.Text(), nullable=True))
        table.add_column(
            sa.Column("window_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("obligation_occurrence") as table:
        for name in ("window_hash", "plan_note", "plan_link", *reversed(_WHEN)):
            table.drop_column(name)
