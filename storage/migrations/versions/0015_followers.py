"""a doctor's own +1 (when and where), and the doctors who follow a report

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('plus_ones') as batch:
        batch.add_column(sa.Column('occurred_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('place_id', sa.String(length=64), nullable=True))
    op.create_table(
        'report_followers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.String(length=200), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'],
                                name=op.f('fk_report_followers_report_id_reports'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_followers')),
        sa.UniqueConstraint('report_id', 'actor_id',
                            name=op.f('uq_report_followers_report_id')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_report_followers_token_hash')),
    )


def downgrade() -> None:
    op.drop_table('report_followers')
    with op.batch_alter_table('plus_ones') as batch:
        batch.drop_column('place_id')
        batch.drop_column('occurred_on')
