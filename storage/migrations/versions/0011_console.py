"""console

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:00:00.000000

The web console's sign-in (one-time links and sessions, stored hashed) and the read API's
tokens; indexes for the console: the audit log by engagement and reference (a record's
entries), work logs and signatures by engagement in id order (the read API's pages).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op



revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('console_link', schema=None) as batch_op:
        batch_op.create_index('ix_console_link_account', ['channel', 'external_id', 'created_at'], unique=False)

    op.create_table('console_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_session_expires_at'), ['expires_at'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('engagement_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['engagement_id'], ['engagement.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_engagement_id'), ['engagement_id'], unique=False)

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_engagement_ref', ['engagement_id', 'ref'], unique=False)
    # The read API's keyset pages: an engagement's rows in id order.
    with op.batch_alter_table('worklog', schema=None) as batch_op:
        batch_op.create_index('ix_worklog_engagement_id', ['engagement_id', 'id'], unique=False)
        # The console's sums by day, level and person, read from the index alone.
        batch_op.create_index('ix_worklog_sums', ['engagement_id', 'work_date', 'level', 'person_id', 'minutes', 'voided_at'], unique=False)
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index('ix_signature_engagement_id', ['engagement_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index('ix_signature_engagement_id')
    with op.batch_alter_table('worklog', schema=None) as batch_op:
        batch_op.drop_index('ix_worklog_sums')
        batch_op.drop_index('ix_worklog_engagement_id')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_engagement_ref')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_engagement_id'))
    op.drop_table('api_token')
    with op.batch_alter_table('console_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_session_expires_at'))
    op.drop_table('console_session')
    with op.batch_alter_table('console_link', schema=None) as batch_op:
        batch_op.drop_index('ix_console_link_account')
    op.drop_table('console_link')
