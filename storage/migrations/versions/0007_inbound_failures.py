"""inbound failures

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:

    # Every key written so far was handled: its transaction committed.
    with op.batch_alter_table('inbound_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='handled'))
        batch_op.add_column(sa.Column('error_class', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))


def downgrade() -> None:

    with op.batch_alter_table('inbound_key', schema=None) as batch_op:
        batch_op.drop_column('error')
        batch_op.drop_column('error_class')
        batch_op.drop_column('status')
