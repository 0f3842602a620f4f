"""period signatures

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 10:00:00.000000

The monthly close keeps its two signatures as `signature` rows on the month, like the scope,
change requests and acceptance, and its state as `period.status` (open | closed | locked).
The four columns that held who closed and confirmed, and when, are moved into signature rows
and dropped: kept, they would be a second record of the same signatures to keep in step.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_period = sa.table(
    'period',
    sa.column('id', sa.Integer()), sa.column('engagement_id', sa.Integer()),
    sa.column('month', sa.String()), sa.column('status', sa.String()),
    sa.column('closed_by_id', sa.Integer()), sa.column('closed_at', sa.DateTime(timezone=True)),
    sa.column('confirmed_by_id', sa.Integer()), sa.column('confirmed_at', sa.DateTime(timezone=True)),
    sa.column('content_hash', sa.String()),
)
_signature = sa.table(
    'signature',
    sa.column('id', sa.Integer()), sa.column('engagement_id', sa.Integer()),
    sa.column('subject', sa.String()), sa.column('person_id', sa.Integer()),
    sa.column('party', sa.String()), sa.column('content_hash', sa.String()),
    sa.column('at', sa.DateTime(timezone=True)), sa.column('voided_at', sa.DateTime(timezone=True)),
)
_audit = sa.table(
    'audit_log',
    sa.column('id', sa.Integer()), sa.column('engagement_id', sa.Integer()),
    sa.column('action', sa.String()), sa.column('ref', sa.String()), sa.column('data', sa.Text()),
)


def upgrade() -> None:

    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='open'))

    connection = op.get_bind()
    for period in connection.execute(sa.select(_period)).mappings().all():
        if period['closed_at'] is None:
            continue  # open, or reopened (which cleared the close)
        locked = period['confirmed_at'] is not None
        connection.execute(
            _period.update().where(_period.c.id == period['id'])
            .values(status='locked' if locked else 'closed')
        )
        # The statement the PM closed: its hash went into the audit log only (and into the
        # period once confirmed, the two being the same: a closed month takes no work logs).
        closed_hash = _closing_hash(connection, period) or period['content_hash']
        signatures = [('vendor', period['closed_by_id'], period['closed_at'], closed_hash)]
        if locked:
            signatures.append(('client', period['confirmed_by_id'], period['confirmed_at'], period['content_hash']))
        for party, person_id, at, content_hash in signatures:
            if person_id is None:
                continue
            connection.execute(_signature.insert().values(
                engagement_id=period['engagement_id'], subject=period['month'], person_id=person_id,
                party=party, content_hash=content_hash, at=at, voided_at=None,
            ))

    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('confirmed_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('closed_by_id')


def _closing_hash(connection: sa.Connection, period: sa.RowMapping) -> str:
    row = connection.execute(
        sa.select(_audit.c.data).where(
            _audit.c.engagement_id == period['engagement_id'], _audit.c.action == 'period.closed',
            _audit.c.ref == period['month'],
        ).order_by(_audit.c.id.desc()).limit(1)
    ).scalar()
    return str(json.loads(row).get('hash', '')) if row else ''


def downgrade() -> None:

    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_period_closed_by_id_person', 'person', ['closed_by_id'], ['id'])
        batch_op.create_foreign_key('fk_period_confirmed_by_id_person', 'person', ['confirmed_by_id'], ['id'])

    connection = op.get_bind()
    columns = {'vendor': ('closed_by_id', 'closed_at'), 'client': ('confirmed_by_id', 'confirmed_at')}
    for period in connection.execute(sa.select(_period.c.id, _period.c.engagement_id, _period.c.month)).mappings().all():
        held = connection.execute(sa.select(_signature).where(
            _signature.c.engagement_id == period['engagement_id'], _signature.c.subject == period['month'],
            _signature.c.voided_at.is_(None),
        )).mappings().all()
        values = {}
        for signature in held:
            if signature['party'] in columns:
                who, when = columns[signature['party']]
                values[who], values[when] = signature['person_id'], signature['at']
        if values:
            connection.execute(_period.update().where(_period.c.id == period['id']).values(**values))
        connection.execute(_signature.delete().where(
            _signature.c.engagement_id == period['engagement_id'], _signature.c.subject == period['month'],
        ))

    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.drop_column('status')
