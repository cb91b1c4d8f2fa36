"""measures as tracked actions

- `measures`: what was decided, its owner, due date and status (planned, in_progress,
  done, dropped), and when the owner was reminded in chat.
- `measure_reports`: the reports a measure belongs to (one or more).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'measures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('owner', sa.String(length=200), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('reminded_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint('length(description) <= 20000',
                           name=op.f('ck_measures_measure_description_length')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_measures')),
    )
    op.create_index('ix_measures_status_due_on', 'measures', ['status', 'due_on'],
                    unique=False)
    op.create_table(
        'measure_reports',
        sa.Column('measure_id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['measure_id'], ['measures.id'],
                                name=op.f('fk_measure_reports_measure_id_measures'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'],
                                name=op.f('fk_measure_reports_report_id_reports'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('measure_id', 'report_id', name=op.f('pk_measure_reports')),
    )
    op.create_index(op.f('ix_measure_reports_report_id'), 'measure_reports', ['report_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_measure_reports_report_id'), table_name='measure_reports')
    op.drop_table('measure_reports')
    op.drop_index('ix_measures_status_due_on', table_name='measures')
    op.drop_table('measures')
