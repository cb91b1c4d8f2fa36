"""Full-text search over reports, one interface over both databases.

PostgreSQL: the generated `search_vector` (Norwegian configuration) and pg_trgm's word
similarity for misspelled words; SQLite: the FTS5 table `reports_fts` (migration 0014),
asked for the Norwegian stems of the words (intake.domain.textmatch) as prefixes, so
"epikrise" finds "epikrisen" and "epikrisesending".

`text_clause` narrows a select over reports (the board's search box, the API's ?q=);
`search_reports` is the ranked search (`/triage søk`, `meld reports search`);
`candidates` feeds `similar` with the best-ranked reports sharing any of a text's words.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, literal, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.orm import Session

from intake.domain import textmatch
from intake.domain.model import Actor, FieldError, ValidationFailed
from intake.services.common import record_audit, require_reader, summary_view, transaction
from intake.services.context import Context
from intake.services.promises import is_overdue
from intake.services.views import ReportView
from storage import models as m

MAX_QUERY = 200
# `similar` looks for any of a report's words: its longest (most telling) ones only, since
# every common word more ranks a large part of the table (bench.similar)
ANY_TERMS = 8
# PostgreSQL: a misspelled word still finds the text when this much of it matches a word
# there (pg_trgm's word_similarity; its own default is 0.6, which misses one swapped pair
# of letters in a ten-letter word: "henvsining" is 0.4 of "henvisningen"). Only words
# this long are looked for so loosely; shorter ones must be spelt right.
WORD_SIMILARITY = 0.4
FUZZY_WORD = 6


def _sqlite_match(terms: list[str], *, any_term: bool) -> str:
    """An FTS5 query: every (or any) stem as a prefix, quoted (stems are letters/digits)."""
    return (" OR " if any_term else " AND ").join(f'"{term}"*' for term in terms)


def _pg_query(words: list[str], *, any_term: bool) -> str:
    """A to_tsquery text: the words as written (PostgreSQL stems them), as prefixes."""
    return (" | " if any_term else " & ").join(f"{word}:*" for word in words)


def _pg_words(query: str, limit: int = 16, *, longest_first: bool = False) -> list[str]:
    """The distinct folded words (the index holds the folded text; PostgreSQL stems);
    the longest (most telling) first when only some of them are looked for."""
    seen: dict[str, None] = {}
    for word in textmatch.words(query):
        seen.setdefault(word, None)
    found = list(seen)
    if longest_first:
        found.sort(key=lambda w: (-len(w), w))
    return found[:limit]


def _fuzzy_clauses(words: list[str]) -> list[ColumnElement[bool]]:
    """Every word as a perhaps misspelled word of the text; none when a word is too short
    to be looked for loosely (then the exact words must do)."""
    if any(len(word) < FUZZY_WORD for word in words):
        return []
    return [literal(word).op("<%")(m.Report.description) for word in words]


def prepare(session: Session, ctx: Context) -> None:
    """PostgreSQL: how alike a misspelled word must be (pg_trgm's `<%`), for this
    transaction; run before a statement that uses text_clause or fuzzy_ids."""
    if ctx.db.dialect == "postgresql":
        session.execute(text(f"SET LOCAL pg_trgm.word_similarity_threshold = "
                             f"{WORD_SIMILARITY}"))


_SEARCH_VECTOR = literal_column("reports.search_vector")


def text_clause(ctx: Context, query: str) -> ColumnElement[bool]:
    """Reports whose reference contains the query, or whose title and text hold all of its
    words (stems, as prefixes; PostgreSQL also takes a misspelled word). A query of no
    words at all ("50%") is looked for as written, wildcards literal."""
    lowered = query.lower()
    escaped = lowered.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    by_reference = func.lower(m.Report.reference).like(pattern, escape="\\")
    terms = textmatch.query_terms(query)
    if not terms:
        return or_(by_reference, func.lower(m.Report.description).like(pattern, escape="\\"))
    if ctx.db.dialect == "postgresql":
        words = _pg_words(query)
        if not words:
            return by_reference
        matched = _SEARCH_VECTOR.op("@@")(
            func.to_tsquery(literal("norwegian").cast(REGCONFIG),
                            _pg_query(words, any_term=False)))
        # each word found as a (perhaps misspelled) word of the text
        fuzzy = _fuzzy_clauses(words)
        return or_(by_reference, matched, *([and_(*fuzzy)] if fuzzy else []))
    fts = select(literal_column("rowid")).select_from(text("reports_fts")).where(
        text("reports_fts MATCH :fts_query").bindparams(
            fts_query=_sqlite_match(terms, any_term=False)))
    return or_(by_reference, m.Report.id.in_(fts))


def check_query(query: str | None) -> str:
    """A search text as given, checked: words to look for, of reasonable length."""
    errors = []
    clean = (query or "").strip()
    if not clean:
        errors.append(FieldError("q", "required"))
    elif len(clean) > MAX_QUERY:
        errors.append(FieldError("q", "too_long", params={"max": MAX_QUERY}))
    elif "\x00" in clean or any(ord(c) < 32 for c in clean):
        errors.append(FieldError("q", "control_characters"))
    if errors:
        raise ValidationFailed(errors)
    return clean


def match_text(dialect: str, query: str, *, any_term: bool) -> str:
    """The full-text query for the words of `query` ("" for none): all of them, or any of
    the ANY_TERMS most telling; an FTS5 MATCH on SQLite, a to_tsquery text on PostgreSQL."""
    most = ANY_TERMS if any_term else 16
    if dialect == "postgresql":
        words = _pg_words(query, limit=most, longest_first=any_term)
        return _pg_query(words, any_term=any_term) if words else ""
    terms = textmatch.query_terms(query, limit=most)
    return _sqlite_match(terms, any_term=any_term) if terms else ""


def ranked_ids(session: Session, ctx: Context, query: str, *, any_term: bool,
               limit: int) -> list[int]:
    """Ids of the reports matching the words of `query`, best first (bm25 / ts_rank)."""
    match = match_text(ctx.db.dialect, query, any_term=any_term)
    if not match:
        return []
    if ctx.db.dialect == "postgresql":
        # the query in FROM: computed once per statement. Inside ts_rank, a generic plan
        # (psycopg prepares a statement run often) computes it again for every row
        # (bench.similar: 1.6 s instead of 0.2 s at 100,000 reports)
        rows = session.execute(
            text("SELECT r.id FROM reports r, to_tsquery('norwegian'::regconfig, :q) AS q "
                 "WHERE r.search_vector @@ q "
                 "ORDER BY ts_rank(r.search_vector, q) DESC, r.id DESC LIMIT :n"),
            {"q": match, "n": limit})
        return [row[0] for row in rows]
    rows = session.execute(
        text("SELECT rowid FROM reports_fts WHERE reports_fts MATCH :q "
             "ORDER BY bm25(reports_fts), rowid DESC LIMIT :n"),
        {"q": match, "n": limit})
    return [row[0] for row in rows]


def fuzzy_ids(session: Session, ctx: Context, query: str, limit: int) -> list[int]:
    """PostgreSQL: reports holding each word of `query` at least nearly (misspellings),
    best first; SQLite has no trigram index, so nothing (its stems still match)."""
    if ctx.db.dialect != "postgresql":
        return []
    words = _pg_words(query, limit=6)
    fuzzy = _fuzzy_clauses(words)
    if not fuzzy:
        return []
    prepare(session, ctx)
    score = sum((func.word_similarity(word, m.Report.description) for word in words),
                start=literal(0.0))
    stmt = (select(m.Report.id).where(*fuzzy)
            .order_by(score.desc(), m.Report.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def search_reports(*, ctx: Context, actor: Actor, query: str,
                   limit: int = 20) -> tuple[ReportView, ...]:
    """The group's search: reports by reference, title and text, best match first."""
    require_reader(actor)
    clean = check_query(query)
    limit = max(1, min(limit, 100))
    with ctx.db.reading() as session:
        ids = _search_ids(session, ctx, clean, limit)
        rows = {r.id: r for r in session.scalars(select(m.Report).where(m.Report.id.in_(ids)))}
        today = ctx.today()
        views = tuple(summary_view(rows[i], overdue=is_overdue(ctx, rows[i], today))
                      for i in ids if i in rows)
    with transaction(ctx) as session:
        record_audit(session, actor, "search", None, count=len(views))
    return views


def _search_ids(session: Session, ctx: Context, query: str, limit: int) -> list[int]:
    # references are stored upper case: the unique index answers
    by_reference = list(session.scalars(
        select(m.Report.id).where(m.Report.reference == query.strip().upper())))
    ranked = ranked_ids(session, ctx, query, any_term=False, limit=limit)
    if not ranked:  # no word as written: perhaps misspelt (PostgreSQL)
        ranked = fuzzy_ids(session, ctx, query, limit)
    if not ranked and not textmatch.query_terms(query):
        ranked = list(session.scalars(
            select(m.Report.id).where(text_clause(ctx, query))
            .order_by(m.Report.id.desc()).limit(limit)))
    out: dict[int, None] = {}
    for report_id in (*by_reference, *ranked):
        out.setdefault(report_id, None)
    return list(out)[:limit]

