"""worklogs and periods

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:33:23.062536
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagement.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('engagement_id', 'month')
    )
    op.create_table('worklog',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('work_date', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('target_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('target_ref', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('overtime', sa.Boolean(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagement.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('worklog', schema=None) as batch_op:
        batch_op.create_index('ix_worklog_day', ['engagement_id', 'work_date'], unique=False)
        batch_op.create_index('ix_worklog_person_day', ['engagement_id', 'person_id', 'work_date'], unique=False)

    with op.batch_alter_table('engagement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))




def downgrade() -> None:

    with op.batch_alter_table('engagement', schema=None) as batch_op:
        batch_op.drop_column('rules')

    with op.batch_alter_table('worklog', schema=None) as batch_op:
        batch_op.drop_index('ix_worklog_person_day')
        batch_op.drop_index('ix_worklog_day')

    op.drop_table('worklog')
    op.drop_table('period')

