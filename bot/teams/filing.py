"""Teams: where a report is filed. The report form's remembered place and parties, and the
receipt's "Endre kategorien".

- `new_form`: a new report form (`cards.blank_report_form`) with the place and parties of
  the reporter's last report chosen (`form_defaults`, `with_defaults`), the place with a
  note that it was remembered.
- `category_part`: on a receipt whose category the reporter did not choose (Meld suggested
  it or left it to the group), the line saying so, a ChoiceSet of categories and the
  button "Endre kategorien" (Action.Execute, verb `CHANGE_CATEGORY_VERB`), for
  `cards.notice_card` (bot.teams.notifier); for a report left uncategorized with a
  suggestion, first the button "Velg <forslag>" (the same verb, the choice in its data).
- `change_category`: that button's invoke: one service call; the answer is a message (the
  card stays).

`door` is bot.teams.door.TeamsDoor, which imports this module (so this one names it only
in words).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from microsoft_teams.cards import CardElement, ChoiceSetInput, ExecuteAction, TextBlock
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.chat.defaults import last_form_defaults
from bot.teams import cards, rating
from intake import services
from intake.delivery.outbox import Notification
from intake.domain.model import Actor, DomainError, Role
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.texts import domain_error_text, error_text
from intake.texts_filing import (
    CHANGE_CATEGORY,
    CHOOSE_SUGGESTION,
    LET_GROUP_CHOOSE,
    PLACE_HINT_REMEMBERED,
    category_line,
    change_choices,
    changed_line,
    offered_choice,
)

log = logging.getLogger("meld.teams")

DB_DOWN = (OperationalError, PoolTimeout)
# the receipt's "Endre kategorien" (a category Meld suggested or left to the group)
CHANGE_CATEGORY_VERB = "meld_change_category"
LET_GROUP_VALUE = "uncategorized"  # the receipt's "La Forbedringsgruppen velge"


# ---------------------------------------------------------------- the form's defaults


async def form_defaults(door: Any, aad: str) -> services.FormDefaults | None:
    """The place and parties of the reporter's last report for a new form (Teams waits
    a few seconds for an invoke's answer)."""
    return await last_form_defaults(door, f"teams:{aad.lower()}", log)


async def new_form(door: Any, aad: str, *, text: str = "", link: str | None = None,
                   dialog: bool = False) -> dict[str, Any]:
    """A new form (cached), with its own key, an optional prefilled text and link, and the
    place and parties of the reporter's last report chosen."""
    tr = door.tr
    card = cards.blank_report_form(tr, door.ctx.taxonomy, today=door.ctx.today(),
                                   key=cards.new_key(), text=text, link=link, dialog=dialog)
    return with_defaults(card, tr, await form_defaults(door, aad))


def with_defaults(card: dict[str, Any], tr: Translator,
                  defaults: services.FormDefaults | None) -> dict[str, Any]:
    """A new form with `defaults` (the place and parties of the reporter's last report)
    chosen where still on the lists, the place with a note that it was remembered."""
    proposed = {"place": defaults.place, "reporter_party": defaults.reporter_party,
                "concerned_party": defaults.concerned_party} if defaults else {}
    body: list[dict[str, Any]] = []
    for element in card["body"]:
        body.append(element)
        input_id = element.get("id")
        if proposed.get(input_id) and any(c["value"] == proposed[input_id]
                                          for c in element.get("choices", ())):
            element["value"] = proposed[input_id]
            if input_id == "place":
                body.append(_remembered_note(tr.locale, str(tr.tz)))
    card["body"] = body
    return card


@lru_cache(maxsize=4)
def _remembered_json(locale: str, timezone: str) -> str:
    tr = Translator(locale, timezone)
    block = TextBlock(text=tr(PLACE_HINT_REMEMBERED), is_subtle=True, wrap=True,
                      spacing="None", size="Small")
    return json.dumps(block.model_dump(by_alias=True, exclude_none=True, mode="json"))


def _remembered_note(locale: str, timezone: str) -> dict[str, Any]:
    """The note under a place filled in from the reporter's last report."""
    return dict(json.loads(_remembered_json(locale, timezone)))


# ---------------------------------------------------------------- the receipt's category


def category_part(tr: Translator, taxonomy: Taxonomy | None, note: Notification,
                  ) -> tuple[list[CardElement], list[ExecuteAction]] | None:
    """A receipt's elements and actions for `cards.notice_card` when Meld suggested its
    category or left it to the group: the line saying so, a choice of category (Meld's
    suggestions first, "let the group choose", then every other category) and "Endre
    kategorien", after "Velg <forslag>" for one left uncategorized with a suggestion.
    None for any other notice, or without a taxonomy or a reference."""
    reference = note.reference
    if taxonomy is None or note.event != "receipt" or not reference:
        return None
    line = category_line(taxonomy, note.payload, tr)
    if line is None:
        return None
    alternatives = note.payload.get("alternatives")
    suggested, every = change_choices(
        taxonomy, [a for a in alternatives if isinstance(a, str)]
        if isinstance(alternatives, list) else [], tr)
    shown = {value for value, _ in suggested}
    choices = [*suggested, (LET_GROUP_VALUE, tr(LET_GROUP_CHOOSE)),
               *((v, label) for v, label in every if v not in shown)]
    body: list[CardElement] = [
        cards.plain(line, separator=True),
        ChoiceSetInput(id="category", label=tr(CHANGE_CATEGORY), style="compact",
                       is_required=True, error_message=tr("This field is required."),
                       placeholder=tr("Choose…"), choices=cards._choices(choices))]
    actions = [ExecuteAction(title=tr(CHANGE_CATEGORY), verb=CHANGE_CATEGORY_VERB,
                             data={"meld": "change_category", "reference": reference})]
    offered = offered_choice(taxonomy, note.payload, tr)
    if offered is not None:  # left uncategorized: Meld's suggestion in one click
        actions.insert(0, ExecuteAction(
            title=tr(CHOOSE_SUGGESTION, category=offered[1]), verb=CHANGE_CATEGORY_VERB,
            style="positive", associated_inputs="none",  # the choice is in the data
            data={"meld": "change_category", "reference": reference,
                  "category": offered[0]}))
    return body, actions


async def change_category(door: Any, aad: str, data: dict[str, Any]) -> dict[str, Any]:
    """The receipt's "Endre kategorien": the reporter files their own report under the
    chosen category (or leaves it to the group); the answer is a message, the card
    stays."""
    tr = door.tr
    reference = cards._str(data.get("reference"), 40) or ""
    choice = cards._str(data.get("category"), 200)
    if choice is None:  # nothing chosen (the card asks for a choice first)
        return rating.invoke_message(tr("This field is required."))
    actor = Actor(identity=f"teams:{aad.lower()}", role=Role.REPORTER)
    try:
        receipt = await door.call(services.change_category_to, actor=actor,
                                  reference=reference, choice=choice)
    except DomainError as err:
        return rating.invoke_message(domain_error_text(err, tr))
    except DB_DOWN:
        log.warning("teams category change: database unavailable")
        return rating.invoke_message(error_text("database_unavailable", tr))
    log.info("teams category changed by the reporter: %s", receipt.reference)
    return rating.invoke_message(changed_line(door.ctx.taxonomy, receipt.reference,
                                              receipt.category, receipt.subcategory, tr))
