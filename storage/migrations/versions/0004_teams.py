"""teams conversations: conversation references for proactive Teams messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('teams_conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('conversation_id', sa.String(length=300), nullable=True),
    sa.Column('user_id', sa.String(length=200), nullable=True),
    sa.Column('service_url', sa.String(length=500), nullable=False),
    sa.Column('tenant_id', sa.String(length=100), nullable=True),
    sa.Column('bot_id', sa.String(length=200), nullable=True),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams_conversations')),
    sa.UniqueConstraint('key', name=op.f('uq_teams_conversations_key'))
    )


def downgrade() -> None:
    op.drop_table('teams_conversations')
