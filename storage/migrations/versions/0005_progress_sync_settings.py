"""progress sync settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 23:10:45.131972
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('chat_binding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_enabled', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('sync_time', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_kind_created', ['kind', 'created_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_kind_created')

    with op.batch_alter_table('chat_binding', schema=None) as batch_op:
        batch_op.drop_column('sync_time')
        batch_op.drop_column('sync_enabled')


