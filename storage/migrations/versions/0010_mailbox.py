"""the collaboration mailbox: every mail taken once, the Graph sync's state, withheld text

- `inbound_mails`: one row per mail Meld has taken from the mailbox (by the backlog import
  or the Graph sync), whatever became of it (a report, a reporter's message, auto-mail
  left alone, refused). `message_key` is the sha256 of the normalised Message-ID (or, for
  a mail without one, of sender, date, subject and body): its unique key is what makes
  the import safe to run twice. No address and no text is kept here.
- `mailbox_sync`: per mailbox folder, the Graph delta link, when it last synced and the
  lease of the replica that is syncing it now.
- `reports.withheld`: why Meld did not store a mail's text ("national_id"); the group
  reads it in the mailbox.

Columns are added with plain ADD COLUMN (no batch rebuild on SQLite, which would drop the
count triggers on `reports`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('reports', sa.Column('withheld', sa.String(length=40), nullable=True))
    op.create_table(
        'inbound_mails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_key', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('received_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('taken_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'],
                                name=op.f('fk_inbound_mails_report_id_reports'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_mails')),
        sa.UniqueConstraint('message_key', name=op.f('uq_inbound_mails_message_key')),
    )
    op.create_index(op.f('ix_inbound_mails_report_id'), 'inbound_mails', ['report_id'],
                    unique=False)
    op.create_table(
        'mailbox_sync',
        sa.Column('folder', sa.String(length=200), nullable=False),
        sa.Column('delta_link', sa.Text(), nullable=True),
        sa.Column('synced_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('lease_until', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('folder', name=op.f('pk_mailbox_sync')),
    )


def downgrade() -> None:
    op.drop_table('mailbox_sync')
    op.drop_index(op.f('ix_inbound_mails_report_id'), table_name='inbound_mails')
    op.drop_table('inbound_mails')
    # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the triggers on reports
    op.drop_column('reports', 'withheld')
