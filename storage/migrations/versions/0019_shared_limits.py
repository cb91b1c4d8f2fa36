"""state shared by every process: rate-limit hits and chat events already received

- `rate_limit_hits`: one row per counted submission per limit key (a keyed hash of the
  client address or browser session, never the value), so that MELD_WORKERS processes
  and replicas on one database share the submit doors' sliding windows
  (intake.http.ratelimit).
- `received_events`: the PRIMARY KEY (door, event) is the claim that makes a chat event
  retried onto another process be handled once (intake.services.received).

Both start empty: what the processes kept in memory before is not carried over.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rate_limit_hits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limit_hits')),
    )
    op.create_index(op.f('ix_rate_limit_hits_at'), 'rate_limit_hits', ['at'])
    op.create_index('ix_rate_limit_hits_key_at', 'rate_limit_hits', ['key', 'at'])
    op.create_table(
        'received_events',
        sa.Column('door', sa.String(length=16), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('received_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('door', 'event', name=op.f('pk_received_events')),
    )
    op.create_index(op.f('ix_received_events_received_at'), 'received_events',
                    ['received_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_received_events_received_at'), table_name='received_events')
    op.drop_table('received_events')
    op.drop_index('ix_rate_limit_hits_key_at', table_name='rate_limit_hits')
    op.drop_index(op.f('ix_rate_limit_hits_at'), table_name='rate_limit_hits')
    op.drop_table('rate_limit_hits')
