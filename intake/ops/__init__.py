"""Operations: `backup` (SQLite online backup), `retention` (erasing free text and identity
after MELD_RETENTION_DAYS) and `demo` (synthetic reports for trying Meld and for benchmarks).

Called by the CLI; imports `intake.services`, `intake.domain` and `storage`, never a door.
"""
