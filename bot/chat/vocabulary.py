"""The words of the triage command language: the command names (`Cmd`), the Norwegian (and
English) keywords and values users type for them, and each command's usage line and one
line of help. Data only: `bot.chat.parsing` splits and reads a command line with these.
"""

from __future__ import annotations

from enum import StrEnum

from intake.domain.model import Kind, RedirectTarget, Severity, Status
from intake.i18n import N_


class Cmd(StrEnum):
    """Canonical command names (the keywords users type are Norwegian)."""

    HELP = "help"
    UNKNOWN = "unknown"
    LIST = "list"
    SHOW = "show"
    ASSESS = "assess"
    ASSIGN = "assign"
    STATUS = "status"
    REPLY = "reply"
    REQUEST_INFO = "request_info"
    NOTE = "note"
    REDIRECT = "redirect"
    DUPLICATE = "duplicate"
    CLOSE = "close"
    REOPEN = "reopen"
    PLUS_ONE = "plus_one"
    REPORT = "report"
    SEARCH = "search"
    SIMILAR = "similar"
    TITLE = "title"


def word_key(word: str) -> str:
    """Lookup form of a word: case-folded, `_` and spaces as `-`."""
    return word.casefold().replace("_", "-").replace(" ", "-")


KEYWORDS: dict[str, Cmd] = {
    "hjelp": Cmd.HELP,
    "help": Cmd.HELP,
    "?": Cmd.HELP,
    "liste": Cmd.LIST,
    "vis": Cmd.SHOW,
    "vurder": Cmd.ASSESS,
    "tildel": Cmd.ASSIGN,
    "status": Cmd.STATUS,
    "svar": Cmd.REPLY,
    "trenger-info": Cmd.REQUEST_INFO,
    "notat": Cmd.NOTE,
    "videresend": Cmd.REDIRECT,
    "duplikat": Cmd.DUPLICATE,
    "lukk": Cmd.CLOSE,
    "gjenåpne": Cmd.REOPEN,
    "gjenapne": Cmd.REOPEN,
    "+1": Cmd.PLUS_ONE,
    "rapport": Cmd.REPORT,
    "søk": Cmd.SEARCH,
    "sok": Cmd.SEARCH,
    "search": Cmd.SEARCH,
    "lik": Cmd.SIMILAR,
    "similar": Cmd.SIMILAR,
    "tittel": Cmd.TITLE,
    "title": Cmd.TITLE,
}

STATUS_WORDS: dict[str, Status] = {
    **{word_key(s.value): s for s in Status},
    "mottatt": Status.RECEIVED,
    "vurdering": Status.TRIAGE,
    "under-vurdering": Status.TRIAGE,
    "trenger-info": Status.NEEDS_INFO,
    "trenger-mer-info": Status.NEEDS_INFO,
    "tiltak": Status.IN_PROGRESS,
    "pågår": Status.IN_PROGRESS,
    "pagar": Status.IN_PROGRESS,
    "tiltak-pågår": Status.IN_PROGRESS,
    "videresendt": Status.REDIRECTED,
    "avvist": Status.REJECTED,
    "duplikat": Status.DUPLICATE,
    "lukket": Status.CLOSED,
}

KIND_WORDS: dict[str, Kind] = {
    **{word_key(k.value): k for k in Kind},
    "avvik": Kind.DEVIATION,
    "forslag": Kind.SUGGESTION,
    "forbedringsforslag": Kind.SUGGESTION,
    "innspill": Kind.INPUT,
    "godt-samarbeid": Kind.GOOD_COLLABORATION,  # `liste godt-samarbeid`
    "ros": Kind.GOOD_COLLABORATION,
}

REDIRECT_WORDS: dict[str, RedirectTarget] = {
    **{word_key(t.value): t for t in RedirectTarget},
    "melde.no": RedirectTarget.MELDE_NO,
    "annet": RedirectTarget.OTHER,
}

SEVERITY_WORDS: dict[str, Severity] = {
    **{word_key(s.value): s for s in Severity},
    "ingen": Severity.NONE,
    "mindre": Severity.MINOR,
    "moderat": Severity.MODERATE,
    "betydelig": Severity.SIGNIFICANT,
    "alvorlig": Severity.SEVERE,
    "ukjent": Severity.UNKNOWN,
}

ASSESS_OPTIONS = {
    "alvorlighet": "severity",
    "severity": "severity",
    "kategori": "category",
    "category": "category",
    "underkategori": "subcategory",
    "subcategory": "subcategory",
    "retningslinje": "agreement",
    "avtale": "agreement",
    "guideline": "agreement",
    "brudd": "breached",
}
CLOSE_OPTIONS = {
    "læring": "learning",
    "laering": "learning",
    "læringspunkt": "learning",
    "learning": "learning",
    "tiltak": "measure",
    "measure": "measure",
}
YES_NO = {"ja": "true", "j": "true", "yes": "true", "true": "true",
          "nei": "false", "n": "false", "no": "false", "false": "false"}
UNASSIGN_WORDS = frozenset({"-", "ingen"})
# `liste ulest`: only reports with an unread message from the reporter
UNREAD_WORDS = frozenset({"ulest", "uleste", "unread"})

# Usage and one line of help per command, in the order the help shows them.
USAGE: dict[Cmd, tuple[str, str]] = {
    Cmd.LIST: (N_("liste [status] [kind] [category] [ulest]"),
               N_("the newest reports, optionally filtered; “ulest”: those with an unread "
                  "answer from the reporter")),
    Cmd.SHOW: (N_("vis REF"), N_("the whole report and its dialog (the reading is logged)")),
    Cmd.SEARCH: (N_("søk words …"),
                 N_("reports whose reference, title or text hold the words, best match "
                    "first")),
    Cmd.SIMILAR: (N_("lik REF"),
                  N_("reports like this one (possible duplicates), open ones first")),
    Cmd.ASSESS: (N_("vurder REF [alvorlighet=...] [kategori=...] [underkategori=...] "
                    "[retningslinje=\"...\"] [brudd=ja|nei]"),
                 N_("assess severity, category and breached guideline; without "
                    "arguments a form opens")),
    Cmd.ASSIGN: (N_("tildel REF @person"),
                 N_("give the report to someone in the group (“-” removes)")),
    Cmd.STATUS: (N_("status REF vurdering|tiltak|avvist [message to the reporter]"),
                 N_("move the report, optionally with words to the reporter")),
    Cmd.REPLY: (N_("svar REF text"), N_("answer the reporter")),
    Cmd.REQUEST_INFO: (N_("trenger-info REF question"),
                       N_("ask the reporter; the report waits for the answer")),
    Cmd.NOTE: (N_("notat REF text"), N_("internal note the reporter never sees")),
    Cmd.TITLE: (N_("tittel REF short summary"),
                N_("the public title other reporters may see when they are about to report "
                   "the same (“-” removes it: never suggested)")),
    Cmd.REDIRECT: (N_("videresend REF eqs|compilo|tqm|melde_no|annet [their reference] "
                      "[-- message to the reporter]"),
                   N_("forwarded to a formal system (their reference only, never the "
                      "content); the reporter is told what to do there. Their reference is "
                      "the first word if it has a digit or is quoted; write -- before the "
                      "message to be sure")),
    Cmd.DUPLICATE: (N_("duplikat REF OTHER-REF"),
                    N_("the report concerns the same matter as another one")),
    Cmd.CLOSE: (N_("lukk REF [læring=\"...\" tiltak=\"...\"]"),
                N_("close with learning point and measure; without them a form opens")),
    Cmd.REOPEN: (N_("gjenåpne REF"), N_("take a closed report back into assessment")),
    Cmd.PLUS_ONE: (N_("+1 REF"), N_("this has happened to me too")),
    Cmd.REPORT: (N_("rapport 2026-T1|2026"),
                 N_("a link to the tertial or annual report (counts below 3 shown as <3)")),
    Cmd.HELP: (N_("hjelp"), N_("this list")),
}
