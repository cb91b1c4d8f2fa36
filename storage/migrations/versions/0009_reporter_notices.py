"""every reporter hears back: a notice address, notices sent once, "was the answer useful?"

- `reports.notify_email`: the address a reporter gave for notices by e-mail (optional,
  personal data: erased by retention with the reporter's identity, never logged).
- `report_notices`: notices that go out once per report and kind (the reminder before the
  feedback promise passes, the overdue notice, the formal-reporting guidance after the
  group's assessment). The primary key is the claim: a replica that inserts the row sends
  the notice in the same transaction; another replica's insert fails and it sends nothing.
- `feedback_ratings`: the reporter's answer to "Var svaret nyttig?" (ja / delvis / nei and
  an optional comment), one per report, changeable for a while after the closing.

Columns are added with plain ADD COLUMN (no batch rebuild on SQLite, which would drop the
count triggers on `reports`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('reports', sa.Column('notify_email', sa.String(length=254), nullable=True))
    op.create_table(
        'report_notices',
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('notice', sa.String(length=40), nullable=False),
        sa.Column('at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'],
                                name=op.f('fk_report_notices_report_id_reports'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('report_id', 'notice', name=op.f('pk_report_notices')),
    )
    op.create_table(
        'feedback_ratings',
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('answer', sa.String(length=10), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('answered_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('changed_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("answer IN ('yes', 'partly', 'no')",
                           name=op.f('ck_feedback_ratings_answer')),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'],
                                name=op.f('fk_feedback_ratings_report_id_reports'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('report_id', name=op.f('pk_feedback_ratings')),
    )


def downgrade() -> None:
    op.drop_table('feedback_ratings')
    op.drop_table('report_notices')
    # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the triggers on reports
    op.drop_column('reports', 'notify_email')
