"""outbox locale

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='zh-CN'))

    # Rows written before the column existed (pending ones are yet to be sent) speak their
    # engagement's language too.
    op.execute(
        "UPDATE outbox SET locale = (SELECT engagement.locale FROM engagement"
        " WHERE engagement.id = outbox.engagement_id) WHERE engagement_id IS NOT NULL"
    )


def downgrade() -> None:

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('locale')
