"""Where a forwarded report goes and what the reporter should do there: per redirect target
a name, a short guidance text (bokmål and English) and a link, from the data file
`intake/domain/data/redirects.toml`.

A site lays its own `redirects.toml` (in MELD_TAXONOMY_DIR, beside categories.toml and
places.toml) over the shipped one field by field, so it can set just the intranet links of
its internal systems. Both files are checked at load: a target Meld does not know, a field
it does not know, a missing text or a link that is not an http(s) address is refused with
the file and the entry named.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from intake.domain.model import RedirectTarget

FILE_NAME = "redirects.toml"
TEXT_FIELDS = ("nb", "en", "guidance_nb", "guidance_en")
FIELDS = frozenset({*TEXT_FIELDS, "link", "formal_guidance"})
MAX_GUIDANCE = 1000  # characters of one guidance text: a notice, not a manual
# an absolute http(s) address with nothing a chat link syntax could break out of
LINK_RE = re.compile(r"^https?://[^\s<>|\"'`\\]+$")


class RedirectsError(ValueError):
    """redirects.toml is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class RedirectGuide:
    """One target: its name, what the reporter should do there, and where."""

    target: RedirectTarget
    nb: str
    en: str
    guidance_nb: str
    guidance_en: str
    link: str | None
    formal_guidance: bool

    def label(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.nb

    def guidance(self, locale: str) -> str:
        return self.guidance_en if locale.startswith("en") else self.guidance_nb


@dataclass(frozen=True, slots=True)
class Redirects:
    guides: tuple[RedirectGuide, ...]

    def guide(self, target: str) -> RedirectGuide | None:
        return next((g for g in self.guides if g.target.value == target), None)

    def formal_links(self, locale: str) -> list[tuple[str, str]]:
        """(name, link) of the targets given with the formal-reporting guidance."""
        return [(g.label(locale), g.link) for g in self.guides
                if g.formal_guidance and g.link]


def _shipped() -> dict[str, Any]:
    text = resources.files("intake.domain").joinpath("data", FILE_NAME).read_text(
        encoding="utf-8")
    return tomllib.loads(text)


def _check_keys(source: str, data: dict[str, Any]) -> None:
    known = {t.value for t in RedirectTarget}
    for key, entry in data.items():
        if key not in known:
            raise RedirectsError(f"{source}: unknown target [{key}]; the targets are "
                                 f"{', '.join(sorted(known))}")
        if not isinstance(entry, dict):
            raise RedirectsError(f"{source}: {key} must be a table ([{key}])")
        unknown = sorted(set(entry) - FIELDS)
        if unknown:
            raise RedirectsError(f"{source}: [{key}] has unknown field(s) {', '.join(unknown)}; "
                                 f"the fields are {', '.join(sorted(FIELDS))}")


def _guide(source: str, target: RedirectTarget, entry: dict[str, Any]) -> RedirectGuide:
    texts: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            raise RedirectsError(f"{source}: [{target.value}] needs a text in {name}")
        value = " ".join(value.split())  # one paragraph, whatever the file's line breaks
        if len(value) > MAX_GUIDANCE:
            raise RedirectsError(f"{source}: [{target.value}] {name} is longer than "
                                 f"{MAX_GUIDANCE} characters")
        texts[name] = value
    link = entry.get("link", "")
    if not isinstance(link, str) or (link and not LINK_RE.match(link)):
        raise RedirectsError(f"{source}: [{target.value}] link {link!r} must be an https:// "
                             "address (or \"\" for none)")
    formal = entry.get("formal_guidance", False)
    if not isinstance(formal, bool):
        raise RedirectsError(f"{source}: [{target.value}] formal_guidance must be true or false")
    return RedirectGuide(target=target, link=link or None, formal_guidance=formal, **texts)


def load_redirects(directory: Path | None = None) -> Redirects:
    """The shipped redirects.toml, with directory/redirects.toml laid over it if present."""
    source = f"intake/domain/data/{FILE_NAME}"
    data = _shipped()
    _check_keys(source, data)
    if directory is not None and (directory / FILE_NAME).is_file():
        path = directory / FILE_NAME
        source = f"{path} (over the shipped {FILE_NAME})"
        try:
            site = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RedirectsError(f"{path}: not valid TOML: {exc}") from None
        _check_keys(str(path), site)
        data = {key: {**data.get(key, {}), **site.get(key, {})} for key in {*data, *site}}
    guides = []
    for target in RedirectTarget:
        if target.value not in data:
            raise RedirectsError(f"{source}: no [{target.value}] table")
        guides.append(_guide(source, target, data[target.value]))
    return Redirects(guides=tuple(guides))


@lru_cache(maxsize=1)
def shipped_redirects() -> Redirects:
    """The shipped file alone (for a Taxonomy built without one)."""
    return load_redirects(None)
