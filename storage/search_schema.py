"""The full-text search objects that live outside the models (migration 0014).

On PostgreSQL a generated tsvector column with its GIN index and a pg_trgm index; on
SQLite an FTS5 table (and its shadow tables) and the triggers that fill it. `alembic
check` leaves these alone (storage.migrations.env). A later migration that has SQLite
rebuild `reports` (batch mode) must create the triggers of 0014 again.
"""

SEARCH_TABLE_PREFIX = "reports_fts"
SEARCH_COLUMNS = frozenset({"search_vector"})
SEARCH_INDEXES = frozenset({"ix_reports_search", "ix_reports_description_trgm"})
