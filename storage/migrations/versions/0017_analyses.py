"""incident analyses after the IS-0583 guide

- `analyses`: one analysis (reference HA-YYYY-NNN), its status and the guide's text
  sections (mandate, team, what happened, what should have happened, follow-up).
- `analysis_reports`: the reports it is about (one or more).
- `analysis_events`: its timeline (a date, perhaps a time, and what happened).
- `analysis_causes`: its causes, each in a category of the fixed list.
- `analysis_measures`: the board's measures that came from it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'analyses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=20), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('mandate', sa.Text(), nullable=True),
        sa.Column('team', sa.Text(), nullable=True),
        sa.Column('what_happened', sa.Text(), nullable=True),
        sa.Column('what_should_have_happened', sa.Text(), nullable=True),
        sa.Column('follow_up', sa.Text(), nullable=True),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status_changed_at', storage.models.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column('completed_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('closed_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analyses')),
        sa.UniqueConstraint('reference', name=op.f('uq_analyses_reference')),
        sa.UniqueConstraint('year', 'number', name=op.f('uq_analyses_year')),
    )
    op.create_table(
        'analysis_reports',
        sa.Column('analysis_id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['analysis_id'], ['analyses.id'],
                                name=op.f('fk_analysis_reports_analysis_id_analyses'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'],
                                name=op.f('fk_analysis_reports_report_id_reports'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('analysis_id', 'report_id', name=op.f('pk_analysis_reports')),
    )
    op.create_index(op.f('ix_analysis_reports_report_id'), 'analysis_reports', ['report_id'],
                    unique=False)
    op.create_table(
        'analysis_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('analysis_id', sa.Integer(), nullable=False),
        sa.Column('happened_on', sa.Date(), nullable=False),
        sa.Column('happened_time', sa.Time(), nullable=True),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('length(description) <= 20000',
                           name=op.f('ck_analysis_events_event_description_length')),
        sa.ForeignKeyConstraint(['analysis_id'], ['analyses.id'],
                                name=op.f('fk_analysis_events_analysis_id_analyses'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis_events')),
    )
    op.create_index(op.f('ix_analysis_events_analysis_id'), 'analysis_events',
                    ['analysis_id'], unique=False)
    op.create_table(
        'analysis_causes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('analysis_id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('length(description) <= 20000',
                           name=op.f('ck_analysis_causes_cause_description_length')),
        sa.ForeignKeyConstraint(['analysis_id'], ['analyses.id'],
                                name=op.f('fk_analysis_causes_analysis_id_analyses'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis_causes')),
    )
    op.create_index(op.f('ix_analysis_causes_analysis_id'), 'analysis_causes',
                    ['analysis_id'], unique=False)
    op.create_table(
        'analysis_measures',
        sa.Column('analysis_id', sa.Integer(), nullable=False),
        sa.Column('measure_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['analysis_id'], ['analyses.id'],
                                name=op.f('fk_analysis_measures_analysis_id_analyses'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['measure_id'], ['measures.id'],
                                name=op.f('fk_analysis_measures_measure_id_measures'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('analysis_id', 'measure_id',
                                name=op.f('pk_analysis_measures')),
    )
    op.create_index(op.f('ix_analysis_measures_measure_id'), 'analysis_measures',
                    ['measure_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_analysis_measures_measure_id'), table_name='analysis_measures')
    op.drop_table('analysis_measures')
    op.drop_index(op.f('ix_analysis_causes_analysis_id'), table_name='analysis_causes')
    op.drop_table('analysis_causes')
    op.drop_index(op.f('ix_analysis_events_analysis_id'), table_name='analysis_events')
    op.drop_table('analysis_events')
    op.drop_index(op.f('ix_analysis_reports_report_id'), table_name='analysis_reports')
    op.drop_table('analysis_reports')
    op.drop_table('analyses')
