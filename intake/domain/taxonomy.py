"""Loads the editable category and place lists (TOML data files shipped in intake/domain/data)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from intake.domain.redirects import (
    Redirects,
    RedirectsError,
    load_redirects,
    shipped_redirects,
)

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class TaxonomyError(ValueError):
    """A data file is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    nb: str
    en: str
    active: bool = True
    # telling words and synonyms, as reporters write them (categories.toml `words`): what
    # Meld's suggestions from a report's text start from (intake.domain.suggesting)
    words: tuple[str, ...] = ()

    def label(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.nb


@dataclass(frozen=True, slots=True)
class Category(Item):
    subcategories: tuple[Item, ...] = ()
    # Meld's own category (`system = true`, e.g. "uncategorized" for mail to the shared
    # mailbox): a valid stored category with its row in the reports, never offered to
    # reporters; the group moves a report out of it when assessing
    system: bool = False

    def subcategory(self, sub_id: str) -> Item | None:
        return next((s for s in self.subcategories if s.id == sub_id), None)


@dataclass(frozen=True, slots=True)
class Place(Item):
    kind: str = "municipality"


@dataclass(frozen=True, slots=True)
class Taxonomy:
    categories: tuple[Category, ...]
    places: tuple[Place, ...]
    # where a forwarded report goes and what the reporter is told (redirects.toml)
    redirects: Redirects = field(default_factory=shipped_redirects)

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def place(self, place_id: str) -> Place | None:
        return next((p for p in self.places if p.id == place_id), None)

    def active_categories(self) -> list[Category]:
        """What reporters may choose: active, and not one of Meld's own (`system`)."""
        return [c for c in self.categories if c.active and not c.system]

    def active_places(self) -> list[Place]:
        return [p for p in self.places if p.active]

    def category_label(self, category_id: str | None, locale: str) -> str:
        """Label for a stored id; ids no longer in the file fall back to the id itself."""
        if category_id is None:
            return ""
        found = self.category(category_id)
        return found.label(locale) if found else category_id

    def subcategory_label(self, category_id: str, sub_id: str | None, locale: str) -> str:
        if sub_id is None:
            return ""
        cat = self.category(category_id)
        sub = cat.subcategory(sub_id) if cat else None
        return sub.label(locale) if sub else sub_id

    def place_label(self, place_id: str | None, locale: str) -> str:
        if place_id is None:
            return ""
        found = self.place(place_id)
        return found.label(locale) if found else place_id


def _read(directory: Path | None, name: str) -> tuple[str, dict[str, Any]]:
    if directory is not None and (directory / name).is_file():
        path = directory / name
        return str(path), tomllib.loads(path.read_text(encoding="utf-8"))
    text = resources.files("intake.domain").joinpath("data", name).read_text(encoding="utf-8")
    return f"intake/domain/data/{name}", tomllib.loads(text)


def _item_fields(source: str, raw: dict[str, Any], seen: set[str]) -> dict[str, Any]:
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not item_id or not set(item_id) <= _ID_CHARS:
        raise TaxonomyError(f"{source}: id {item_id!r} must be lower-case letters, digits or _")
    if item_id in seen:
        raise TaxonomyError(f"{source}: id {item_id!r} appears twice")
    seen.add(item_id)
    nb = raw.get("nb")
    if not isinstance(nb, str) or not nb.strip():
        raise TaxonomyError(f"{source}: {item_id!r} needs a Norwegian label (nb)")
    en = raw.get("en") or nb
    active = raw.get("active", True)
    if not isinstance(active, bool):
        raise TaxonomyError(f"{source}: {item_id!r} active must be true or false")
    return {"id": item_id, "nb": nb.strip(), "en": str(en).strip(), "active": active,
            "words": _words(source, item_id, raw.get("words", []))}


def _words(source: str, item_id: str, raw: Any) -> tuple[str, ...]:
    """An item's `words`: a list of non-empty strings (kept trimmed, in order, once)."""
    if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
        raise TaxonomyError(f"{source}: {item_id!r} words must be a list of non-empty texts")
    return tuple(dict.fromkeys(w.strip() for w in raw))


def load_taxonomy(directory: Path | None = None) -> Taxonomy:
    """Read categories.toml and places.toml from directory, else the shipped defaults;
    redirects.toml from directory is laid over the shipped one (intake.domain.redirects)."""
    source, data = _read(directory, "categories.toml")
    categories: list[Category] = []
    seen: set[str] = set()
    for raw in data.get("category", []):
        fields = _item_fields(source, raw, seen)
        sub_seen: set[str] = set()
        subs = tuple(
            Item(**_item_fields(f"{source} ({fields['id']})", s, sub_seen))
            for s in raw.get("subcategories", [])
        )
        system = raw.get("system", False)
        if not isinstance(system, bool):
            raise TaxonomyError(f"{source}: {fields['id']!r} system must be true or false")
        categories.append(Category(**fields, subcategories=subs, system=system))
    if not categories:
        raise TaxonomyError(f"{source}: no [[category]] entries")

    source, data = _read(directory, "places.toml")
    places: list[Place] = []
    seen = set()
    for raw in data.get("place", []):
        fields = _item_fields(source, raw, seen)
        kind = raw.get("kind", "municipality")
        if kind not in ("hospital", "municipality", "other"):
            raise TaxonomyError(f"{source}: {fields['id']!r} kind must be hospital or municipality")
        places.append(Place(**fields, kind=kind))
    try:
        redirects = load_redirects(directory)
    except RedirectsError as exc:  # one kind of error for a broken data file
        raise TaxonomyError(str(exc)) from None
    return Taxonomy(categories=tuple(categories), places=tuple(places), redirects=redirects)
