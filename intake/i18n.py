"""The one message catalogue (gettext via Babel): bokmål by default, English available.

Source strings (msgids) are English; `intake/locale/nb/LC_MESSAGES/messages.po` holds the
bokmål texts and is compiled in memory at first use, so no build step is needed.
"""

from __future__ import annotations

import gettext as _gettext
import io
from datetime import date, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SUPPORTED_LOCALES = ("nb", "en")
DEFAULT_LOCALE = "nb"


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it here."""
    return msgid


def normalize_locale(value: str | None) -> str:
    """Map 'nb_NO', 'no', 'en-GB', ... to a supported locale; default bokmål."""
    if not value:
        return DEFAULT_LOCALE
    lang = value.replace("-", "_").split("_")[0].lower()
    if lang in ("nb", "no", "nn"):
        return "nb"
    return "en" if lang == "en" else DEFAULT_LOCALE


def from_accept_language(header: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The supported locale the client prefers most (q-values respected), else default."""
    if not header:
        return normalize_locale(default)
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        lang, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        lang = lang.strip().replace("-", "_").split("_")[0].lower()
        if quality > 0 and lang in ("nb", "no", "nn", "en"):
            ranked.append((-quality, position, lang))
    if not ranked:
        return normalize_locale(default)
    return normalize_locale(min(ranked)[2])


@cache
def _catalog(locale: str) -> _gettext.NullTranslations:
    if locale == "en":
        return _gettext.NullTranslations()
    po = resources.files("intake").joinpath("locale", locale, "LC_MESSAGES", "messages.po")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


@cache
def _babel_locale(name: str) -> Locale:
    """Parsed once: Babel parses a locale given by name again on every call."""
    return Locale.parse(name)


@lru_cache(maxsize=1024)
def _format_date(value: date, fmt: str, locale: str) -> str:
    """Babel's date for a locale, remembered: a receipt names the same few dates all day
    (today's promise, the day it happened), and Babel's formatting is a share of a submit."""
    return format_date(value, format=fmt, locale=_babel_locale(locale))


class Translator:
    """Texts, dates and times for one locale; times are shown in the configured zone."""

    def __init__(self, locale: str | None = None, timezone: str = "Europe/Oslo") -> None:
        self.locale = normalize_locale(locale)
        self.tz = ZoneInfo(timezone)
        self._t = _catalog(self.locale)

    def __call__(self, msgid: str, **params: Any) -> str:
        text = self._t.gettext(msgid)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        return self._t.ngettext(singular, plural, n).format(n=n, **params)

    @property
    def babel_locale(self) -> Locale:
        return _babel_locale(self._babel_name)

    @property
    def _babel_name(self) -> str:
        return "nb_NO" if self.locale == "nb" else "en_GB"

    def date(self, value: date, fmt: str = "long") -> str:
        return _format_date(value, fmt, self._babel_name)

    def datetime(self, value: datetime, fmt: str = "medium") -> str:
        return format_datetime(value, format=fmt, tzinfo=self.tz, locale=self.babel_locale)

    def local_date(self, value: datetime) -> date:
        return value.astimezone(self.tz).date()
