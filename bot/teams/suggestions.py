"""The Teams report form's suggestions and "Dette har skjedd meg også" (intake.services.public).

Adaptive Cards 1.5 cannot act when a choice changes, so the form has a second button,
"Finn lignende saker" (`cards.SUGGEST_VERB`): the answer is the same form with every value
kept, and below it up to three open reports of the chosen category (and place) with a
public title, ranked by the text so far, each with a button "Dette har skjedd meg også"
(`ME_TOO_VERB`). That records a +1 with the form's date and place (never its text), makes
the reporter follow the report, and answers with a thank-you card. In chat the buttons are
Action.Execute (the answer replaces the card); in the message action's dialog
Action.Submit (the answer is the dialog's next step).

Only the suggestion's title and coded fields are shown: never another reporter's words,
identity, or the group's notes. Nothing here logs text; codes only.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from microsoft_teams.cards import (
    ActionSet,
    AdaptiveCard,
    CardElement,
    Container,
    ExecuteAction,
    RichTextBlock,
    SubmitAction,
    TextBlock,
    TextRun,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.teams import cards
from intake import services
from intake.domain.model import Actor, DomainError, Role
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.presenting import suggestion_line
from intake.texts import domain_error_text, error_text

log = logging.getLogger("meld.teams")

ME_TOO_VERB = "meld_me_too"
# the Action.Execute verbs (chat) this module answers, and the dialog's "meld" values
KINDS = {cards.SUGGEST_VERB: "suggest", ME_TOO_VERB: "me_too"}
VERBS, DIALOG = tuple(KINDS), tuple(KINDS.values())  # tuples: `in` takes any JSON value
DB_DOWN = (OperationalError, PoolTimeout)


def suggestion_elements(tr: Translator, taxonomy: Taxonomy,
                        found: tuple[services.Suggestion, ...], *, key: str,
                        link: str | None, dialog: bool,
                        notice: str | None = None) -> list[CardElement]:
    """"Er dette meldt allerede?" and each suggestion with its button ("Ingen lignende
    saker." when there is none), and a notice (why the last press did not count)."""
    body: list[CardElement] = []
    if notice:  # may name what was sent: a TextRun is never read as Markdown
        body.append(RichTextBlock(separator=True, inlines=[
            TextRun(text=notice, color="Attention")]))
    if not found:
        body.append(TextBlock(text=tr("No similar reports."), wrap=True, separator=True))
        return body
    body += [TextBlock(text=tr("Has this been reported already?"), weight="Bolder",
                       wrap=True, separator=True),
             TextBlock(text=tr("Others have reported something like this. If one of these is "
                               "what happened to you, press its button: it counts as one "
                               "more, and you can follow what comes of it. Your text is not "
                               "kept."), is_subtle=True, wrap=True, spacing="None")]
    for s in found:
        data: dict[str, Any] = {"meld": "me_too", "reference": s.reference, "key": key}
        if link:
            data["link"] = link[:500]
        title = tr("This happened to me too")
        button = (SubmitAction(title=title, data=data) if dialog
                  else ExecuteAction(title=title, verb=ME_TOO_VERB, data=data))
        body.append(Container(separator=True, items=[
            cards.plain(s.title, weight="Bolder"),
            TextBlock(text=suggestion_line(tr, taxonomy, s), is_subtle=True, wrap=True,
                      spacing="None"),
            ActionSet(actions=[button]),
        ]))
    return body


def thanks_card(tr: Translator, reference: str, count: int) -> dict[str, Any]:
    """After "Dette har skjedd meg også": it counts, and the reporter follows the report."""
    return cards.text_card("\n\n".join([
        tr("{reference} now counts {count} who saw the same.", reference=reference,
           count=count),
        tr("You will hear in the chat when its status changes, and what was learned when "
           "it is closed.")]), title=tr("Thank you: it counts"))


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def answer(door: Any, aad: str, kind: str, data: dict[str, Any], *,
                 dialog: bool) -> dict[str, Any]:
    """"Finn lignende saker" (`kind` "suggest") or "Dette har skjedd meg også" ("me_too")
    for bot.teams.door.TeamsDoor `door`: the card that answers it."""
    tr = door.tr
    values = cards.read_form(data)
    key = values["key"] or cards.new_key()
    notice = None
    if kind == "me_too":
        reference = data.get("reference")
        reference = reference.strip()[:40] if isinstance(reference, str) else ""
        actor = Actor(identity=f"teams:{aad.lower()}", role=Role.REPORTER)
        try:
            count, _token = await door.call(
                services.me_too, actor=actor, reference=reference,
                occurred_on=_date(values["occurred_on"]), place=values["place"])
        except DomainError as err:
            log.info("teams me too refused (%s)", err.code)
            notice = domain_error_text(err, tr)
        except DB_DOWN:
            log.warning("teams me too: database unavailable")
            notice = error_text("database_unavailable", tr)
        else:
            log.info("teams me too recorded on %s", reference)
            return thanks_card(tr, reference, count)
    try:
        found: tuple[services.Suggestion, ...] = await door.call(
            services.suggestions, category=values["category"], place=values["place"],
            text=values["description"])
    except DB_DOWN:
        log.warning("teams suggestions: database unavailable")
        found = ()
        notice = notice or error_text("database_unavailable", tr)
    card = cards.report_form(tr, door.ctx.taxonomy, today=door.ctx.today(), key=key,
                             dialog=dialog, values=values, link=values["link"])
    extra = suggestion_elements(tr, door.ctx.taxonomy, found, key=key, link=values["link"],
                                dialog=dialog, notice=notice)
    card["body"] += cards.dump(AdaptiveCard(body=extra))["body"]
    return card
