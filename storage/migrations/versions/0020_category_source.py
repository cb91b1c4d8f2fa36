"""who chose a report's category, and Meld's suggestion kept apart

Only the text and the no-identifiers confirmation are required now; a report may come
without a category. Then Meld either files it under its suggestion from the text (which
the reporter sees in the receipt and may change) or under "uncategorized" for the group.

- `category_source`: "reporter", "suggested", "none" or "group" (assessed);
- `reported_category_id`, `reported_subcategory_id`: the reporter's own choice (NULL when
  they gave none), never changed by the group's assessment;
- `suggested_category_id`, `suggested_subcategory_id`: Meld's suggestion at submit time.

Existing reports: what they hold now is taken as the reporter's choice ("none" for the
uncategorized ones: mail to the mailbox); the group's earlier assessments were not kept
apart, so they cannot be told from the reporter's choice.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs (no table rebuild on SQLite: the reports' triggers stay)
    op.add_column('reports', sa.Column('category_source', sa.String(length=10),
                                       nullable=False, server_default='reporter'))
    for name in ('reported_category_id', 'reported_subcategory_id',
                 'suggested_category_id', 'suggested_subcategory_id'):
        op.add_column('reports', sa.Column(name, sa.String(length=64), nullable=True))
    op.execute("UPDATE reports SET category_source = 'none' "
               "WHERE category_id = 'uncategorized'")
    op.execute("UPDATE reports SET reported_category_id = category_id, "
               "reported_subcategory_id = subcategory_id "
               "WHERE category_id <> 'uncategorized'")


def downgrade() -> None:
    for name in ('suggested_subcategory_id', 'suggested_category_id',
                 'reported_subcategory_id', 'reported_category_id', 'category_source'):
        op.drop_column('reports', name)
