"""Find every translatable string in the code and templates (tests and translators use it)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

ROOT = Path(__file__).parent
METHOD_MAP = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "N_": None, "tr": None, "gettext": None}


def extract_msgids(root: Path = ROOT) -> set[str]:
    """All msgids used under intake/: _("..."), N_("..."), tr("...") and {{ _("...") }}."""
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(root), METHOD_MAP, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
    ):
        if isinstance(message, tuple):
            found.update(m for m in message if m)
        elif message:
            found.add(message)
    return found
