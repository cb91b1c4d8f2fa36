"""Find every translatable string in the code and templates (tests and translators use it)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

ROOT = Path(__file__).parent
# the doors' own words (buttons, modal titles) belong to the same catalogue
SOURCES = (ROOT, ROOT.parent / "bot")
METHOD_MAP = [("**.py", "python"), ("http/web/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "N_": None, "tr": None, "gettext": None}


def extract_msgids(roots: tuple[Path, ...] = SOURCES) -> set[str]:
    """All msgids in intake/ and bot/: _("..."), N_("..."), tr("...") and {{ _("...") }}."""
    found: set[str] = set()
    for root in roots:
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(root), METHOD_MAP, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
        ):
            if isinstance(message, tuple):
                found.update(m for m in message if m)
            elif message:
                found.add(message)
    return found
