"""the group's board: one-time sign-in links and server-side sessions

- `board_login_links`: a link printed by `meld login-link`, stored as a hash, usable once
  before `expires_at`.
- `board_sessions`: a signed-in browser; the cookie's value is stored as a hash, the
  session ends when revoked (sign-out, `meld login-link --revoke`) or idle too long.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'board_login_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_board_login_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_board_login_links_token_hash')),
    )
    op.create_table(
        'board_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('identity', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_board_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_board_sessions_token_hash')),
    )
    op.create_index(op.f('ix_board_sessions_identity'), 'board_sessions', ['identity'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_board_sessions_identity'), table_name='board_sessions')
    op.drop_table('board_sessions')
    op.drop_table('board_login_links')
