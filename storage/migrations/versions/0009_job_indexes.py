"""job indexes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 20:40:00.000000

Indexes for the queries the scheduled jobs run, so that a job reads the rows of its window and
not every row of the engagement's history (issue #14): the daily sync and the weekly report
select tickets, blockers, change requests and acceptances of a day or a week, the sync lists
open blockers, change requests awaiting signatures and tasks due soon, plan.overdue the tasks
past their plan, the digest the last day's alerts; the sync's anchor line reads an
engagement's last audit entry.

SQLite plans without statistics (nothing runs ANALYZE) and takes any `engagement_id = ?` to
select about ten rows; an index wins there only if it also serves the rest of the WHERE and the
ORDER BY. Hence the trailing columns: open blockers come out oldest first, change requests by
number, a day's work logs by person; two older indexes are rebuilt that way.
"""

from __future__ import annotations

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# (table, index name, columns): kept in step with the `Index(...)` entries in storage/models.py
_NEW = [
    ('ticket', 'ix_ticket_opened', ['engagement_id', 'opened_at']),
    ('ticket', 'ix_ticket_resolved', ['engagement_id', 'resolved_at']),
    ('blocker', 'ix_blocker_opened', ['engagement_id', 'opened_at']),
    ('blocker', 'ix_blocker_cleared', ['engagement_id', 'cleared_at', 'opened_at']),
    ('changerequest', 'ix_changerequest_status', ['engagement_id', 'status', 'number']),
    ('changerequest', 'ix_changerequest_effective', ['engagement_id', 'effective_at']),
    ('deliverable', 'ix_deliverable_decided', ['engagement_id', 'decided_at']),
    ('task', 'ix_task_plan', ['engagement_id', 'status', 'plan_date']),
    ('audit_log', 'ix_audit_log_engagement_head', ['engagement_id', 'id']),
]
# (table, old index, its columns, new index, its columns): rebuilt for the jobs
_REBUILT = [
    ('worklog', 'ix_worklog_day', ['engagement_id', 'work_date'],
     'ix_worklog_day', ['engagement_id', 'work_date', 'person_id']),
    ('outbox', 'ix_outbox_kind_created', ['kind', 'created_at'],
     'ix_outbox_digest', ['engagement_id', 'created_at', 'kind']),
]


def upgrade() -> None:

    for table, name, columns in _NEW:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    for table, old, _old_columns, new, new_columns in _REBUILT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(old)
            batch_op.create_index(new, new_columns, unique=False)


def downgrade() -> None:

    for table, old, old_columns, new, _new_columns in reversed(_REBUILT):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(new)
            batch_op.create_index(old, old_columns, unique=False)
    for table, name, _columns in reversed(_NEW):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
