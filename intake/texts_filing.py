"""The words of a report sent with its text alone, shared by every door: what the receipt
says of a category Meld suggested or left to the group (and the suggestion it offers to
take), the chat forms' hints for the fields that may be left empty, and the labels of
Meld's suggestions.
"""

from __future__ import annotations

from typing import Any

from intake.domain.model import UNCATEGORIZED, CategorySource
from intake.domain.taxonomy import Taxonomy
from intake.i18n import N_, Translator

SUGGESTED_LINE = N_("Category: {category}. Meld suggested it from your text; change it if "
                    "it is wrong.")
NONE_LINE = N_("Category: not chosen. Forbedringsgruppen will choose it, or you may choose "
               "it yourself.")
NONE_SUGGESTED_LINE = N_("Category: {uncategorized}; Forbedringsgruppen will choose it. "
                         "Meld suggests {category}: choose it if it fits.")
CHOOSE_SUGGESTION = N_("Choose {category}")
CHANGED_LINE = N_("The category of {reference} is now: {category}.")
LEFT_TO_GROUP_LINE = N_("Forbedringsgruppen will choose the category of {reference}.")
CHANGE_CATEGORY = N_("Change the category")
LET_GROUP_CHOOSE = N_("Let Forbedringsgruppen choose")
SUGGESTIONS_GROUP = N_("Meld's suggestions")
ALL_CATEGORIES_GROUP = N_("All categories")
# the chat forms' hints under the fields that may be left empty
CATEGORY_HINT = N_("Optional. Left empty, Meld suggests one from your text, and you can "
                   "change it in the receipt.")
PLACE_HINT_REMEMBERED = N_("Filled in from your last report; change it if it is another "
                           "place.")


def category_name(taxonomy: Taxonomy, category: str | None, subcategory: str | None,
                  tr: Translator, sep: str = " › ") -> str:
    """"Epikrise › Mangler": a category and its subcategory, as labelled in the locale."""
    name = taxonomy.category_label(category or UNCATEGORIZED, tr.locale)
    if subcategory:
        name += sep + taxonomy.subcategory_label(category or "", subcategory, tr.locale)
    return name


# what the group's views add to the category of a report the reporter did not file
GROUP_NOTES = {
    CategorySource.SUGGESTED: N_("suggested by Meld from the text; not assessed yet"),
    CategorySource.NONE: N_("not chosen"),
}
GROUP_SUGGESTION = N_("Meld suggests: {category}")


def group_category_text(taxonomy: Taxonomy, view: Any, tr: Translator) -> str:
    """The category as the group reads it on a report's page: the name, who chose it when
    the reporter did not, and Meld's suggestion for one left to the group (`view`: a
    services.ReportView of the group)."""
    text = category_name(taxonomy, view.category, view.subcategory, tr)
    note = GROUP_NOTES.get(view.category_source)
    if note:
        text += f" ({tr(note)})"
    if view.category_source == CategorySource.NONE and view.suggested_category:
        text += ". " + tr(GROUP_SUGGESTION, category=category_name(
            taxonomy, view.suggested_category, view.suggested_subcategory, tr))
    return text


def category_line(taxonomy: Taxonomy, payload: dict[str, Any], tr: Translator) -> str | None:
    """The receipt's line on a category the reporter did not choose (a receipt's outbox
    payload or a Receipt's fields: category, subcategory, category_source, and for one
    left uncategorized Meld's suggestion, named); None when the reporter chose it."""
    source = payload.get("category_source")
    if source == CategorySource.SUGGESTED:
        return tr(SUGGESTED_LINE, category=category_name(
            taxonomy, payload.get("category"), payload.get("subcategory"), tr))
    if source == CategorySource.NONE:
        offered = offered_choice(taxonomy, payload, tr)
        if offered is not None:
            return tr(NONE_SUGGESTED_LINE, category=offered[1], uncategorized=category_name(
                taxonomy, UNCATEGORIZED, None, tr))
        return tr(NONE_LINE)
    return None


def receipt_fields(receipt: Any) -> dict[str, Any]:
    """What category_line and offered_choice read, from a services.Receipt."""
    return {name: getattr(receipt, name) for name in (
        "category", "subcategory", "category_source", "suggested_category",
        "suggested_subcategory")}


def offered_choice(taxonomy: Taxonomy, payload: dict[str, Any],
                   tr: Translator) -> tuple[str, str] | None:
    """Meld's suggestion that a receipt of a report left uncategorized offers to take in
    one click (payload: suggested_category, suggested_subcategory, category_source), as
    (the doors' choice "category[/subcategory]", its label); None when there is none, or
    when it is no longer a category a reporter may choose."""
    if payload.get("category_source") != CategorySource.NONE:
        return None
    found = taxonomy.category(str(payload.get("suggested_category") or ""))
    if found is None or not found.active or found.system:
        return None
    sub = found.subcategory(str(payload.get("suggested_subcategory") or ""))
    if sub is None or not sub.active:
        return found.id, category_name(taxonomy, found.id, None, tr)
    return f"{found.id}/{sub.id}", category_name(taxonomy, found.id, sub.id, tr)


def changed_line(taxonomy: Taxonomy, reference: str, category: str,
                 subcategory: str | None, tr: Translator) -> str:
    """What a chat door answers when the reporter changed the category."""
    if category == UNCATEGORIZED:
        return tr(LEFT_TO_GROUP_LINE, reference=reference)
    return tr(CHANGED_LINE, reference=reference,
              category=category_name(taxonomy, category, subcategory, tr))


def change_choices(taxonomy: Taxonomy, alternatives: list[str] | tuple[str, ...],
                   tr: Translator) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The choices of a receipt's "change the category": Meld's suggestions first, then
    every category and subcategory a reporter may choose, as ("category[/sub]", label);
    "" is "let the group choose"."""
    suggested = [(c.id, c.label(tr.locale)) for cid in alternatives
                 if (c := taxonomy.category(cid)) is not None and c.active and not c.system]
    every: list[tuple[str, str]] = []
    for c in taxonomy.active_categories():
        every.append((c.id, c.label(tr.locale)))
        every += [(f"{c.id}/{s.id}", f"{c.label(tr.locale)} › {s.label(tr.locale)}")
                  for s in c.subcategories if s.active]
    return suggested, every
