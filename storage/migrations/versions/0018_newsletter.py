"""the tertial newsletter of learning points and its publications

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'newsletters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tertial', sa.String(length=10), nullable=False),
        sa.Column('slug', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=True),
        sa.Column('introduction', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('choices', sa.JSON(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.Column('approved_by', sa.String(length=100), nullable=True),
        sa.Column('approved_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('published_by', sa.String(length=100), nullable=True),
        sa.Column('published_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('content', sa.JSON(), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'approved', 'published')",
                           name=op.f('ck_newsletters_status')),
        sa.CheckConstraint('length(introduction) <= 5000',
                           name=op.f('ck_newsletters_introduction_length')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletters')),
        sa.UniqueConstraint('slug', name=op.f('uq_newsletters_slug')),
        sa.UniqueConstraint('tertial', name=op.f('uq_newsletters_tertial')),
    )
    op.create_table(
        'newsletter_publications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('newsletter_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=300), nullable=False),
        sa.Column('claimed_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['newsletter_id'], ['newsletters.id'],
                                name=op.f('fk_newsletter_publications_newsletter_id_newsletters'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'],
                                name=op.f('fk_newsletter_publications_outbox_id_outbox'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletter_publications')),
        sa.UniqueConstraint('newsletter_id', 'channel',
                            name=op.f('uq_newsletter_publications_newsletter_id')),
    )


def downgrade() -> None:
    op.drop_table('newsletter_publications')
    op.drop_table('newsletters')
