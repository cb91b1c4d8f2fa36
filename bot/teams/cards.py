"""Adaptive Cards for Teams, built with microsoft-teams-cards (pydantic models, version 1.5).

The models validate element shapes and types when built; `dump()` turns a card into the
JSON Teams expects. The report form is the same form as Slack's and the web's: same fields,
the privacy checkbox, warnings with a confirm box, errors next to the field and the typed
text kept. Its submit action carries the form's own key, so a retried submit stores one
report (Teams retries invokes and may give the retry a new activity id). The form's
remembered place and parties and the receipt's "Endre kategorien" are in bot.teams.filing;
the weekly digest's card in bot.teams.digest_card.
"""

from __future__ import annotations

import copy
import json
import secrets
from datetime import date
from functools import lru_cache
from typing import Any

from microsoft_teams.cards import (
    AdaptiveCard,
    CardElement,
    Choice,
    ChoiceSetInput,
    DateInput,
    ExecuteAction,
    Fact,
    FactSet,
    OpenUrlAction,
    RichTextBlock,
    SubmitAction,
    TextBlock,
    TextInput,
    TextRun,
    ToggleInput,
)

from intake import services
from intake.domain.model import FieldError, Kind, Party, Severity
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.texts import (
    KIND_LABELS,
    PARTY_LABELS,
    RATING_LABELS,
    SEVERITY_LABELS,
    field_error_text,
    label,
)
from intake.texts_filing import CATEGORY_HINT
from intake.texts_good import GOOD_CARD_NOTE, SEVERITY_HINT, is_good

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SUBMIT_VERB = "meld_submit"
RATE_VERB = "meld_rate"  # "Var svaret nyttig?" on the closing notice
OPEN_VERB = "meld_open"
SUGGEST_VERB = "meld_suggest"  # "Finn lignende saker": the form again, with suggestions
NO_IDS = services.FORM_NO_IDS
CONFIRM = services.FORM_CONFIRM
TEXT_MAX = 3000
KEY_MAX = 64
FORM_FIELDS = ("kind", "category", "description", "occurred_on", "place", "reporter_party",
               "concerned_party", "severity", NO_IDS)
# service field -> the input that shows its error
FIELD_INPUTS = {
    "kind": "kind", "category": "category", "subcategory": "category",
    "description": "description", "occurred_on": "occurred_on", "place": "place",
    "place_text": "description", "reporter_party": "reporter_party",
    "concerned_party": "concerned_party", "severity": "severity",
    "no_patient_identifiers": NO_IDS, "source_link": "description", "text": "text",
    "learning_point": "learning_point", "measure": "measure",
    "assessed_severity": "assessed_severity", "agreement_reference": "agreement_reference",
}


def dump(card: AdaptiveCard) -> dict[str, Any]:
    """The card as Teams' JSON (camelCase, no empty fields)."""
    return card.model_dump(by_alias=True, exclude_none=True, mode="json")


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD_TYPE, "content": card}


def message(card: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    """A message activity carrying one card."""
    activity: dict[str, Any] = {"type": "message", "attachments": [attachment(card)]}
    if text:
        activity["summary"] = text[:200]
    return activity


def text_message(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text, "textFormat": "plain"}


def new_key() -> str:
    return secrets.token_urlsafe(18)


def _error(text: str) -> TextBlock:
    return TextBlock(text=text, color="Attention", wrap=True, spacing="None", size="Small")


def _choices(pairs: list[tuple[str, str]]) -> list[Choice]:
    return [Choice(title=title, value=value) for value, title in pairs]


def _category_choices(tr: Translator, taxonomy: Taxonomy) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for cat in taxonomy.active_categories():
        name = cat.label(tr.locale)
        out.append((cat.id, name))
        out += [(f"{cat.id}/{sub.id}", f"{name}: {sub.label(tr.locale)}")
                for sub in cat.subcategories if sub.active]
    return out


def _place_choices(tr: Translator, taxonomy: Taxonomy) -> list[tuple[str, str]]:
    return [(p.id, p.label(tr.locale)) for p in taxonomy.active_places()]


def report_form(
    tr: Translator,
    taxonomy: Taxonomy,
    *,
    today: date,
    key: str,
    dialog: bool = False,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    warnings: list[FieldError] | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    """The report form. In chat its button is Action.Execute (the answer replaces the card);
    in a dialog (the message action) Action.Submit (the answer is the dialog's next step).
    Only the text and the no-identifiers toggle are required; the date is today."""
    v = values or {}
    errs = errors or {}
    cat_value = v.get("category")
    if cat_value and v.get("subcategory"):
        cat_value = f"{cat_value}/{v['subcategory']}"
    body: list[CardElement] = [TextBlock(text=tr("New report"), size="Large",
                                         weight="Bolder", wrap=True)]
    if warnings:
        body.append(TextBlock(text="⚠ " + "\n\n".join(field_error_text(w, tr)
                                                      for w in warnings),
                              color="Warning", wrap=True))

    def add(element: CardElement, field: str) -> None:
        body.append(element)
        if field in errs:
            body.append(_error(errs[field]))

    add(ChoiceSetInput(id="kind", label=tr("What do you want to report?"), style="expanded",
                       is_required=True, error_message=tr("This field is required."),
                       choices=_choices([(k.value, tr(KIND_LABELS[k])) for k in Kind]),
                       value=v.get("kind") or Kind.DEVIATION.value), "kind")
    # optional: left empty, uncategorized with Meld's suggestion (taken in the receipt)
    add(ChoiceSetInput(id="category", label=tr("Category"), style="compact",
                       placeholder=tr(CATEGORY_HINT),
                       choices=_choices(_category_choices(tr, taxonomy)),
                       value=cat_value), "category")
    add(TextInput(id="description", label=tr("What happened?"), is_multiline=True,
                  is_required=True, error_message=tr("This field is required."),
                  max_length=TEXT_MAX,
                  placeholder=tr("Describe the matter, not the patient: no names, national "
                                 "identity numbers, dates of birth or other details that can "
                                 "identify anyone."),
                  value=(v.get("description") or "")[:TEXT_MAX] or None), "description")
    add(DateInput(id="occurred_on", label=tr("When did it happen?"), is_required=True,
                  error_message=tr("This field is required."),
                  value=str(v.get("occurred_on") or today.isoformat())), "occurred_on")
    add(ChoiceSetInput(id="place", label=tr("Where? (hospital unit or municipality)"),
                       style="compact", placeholder=tr("Choose…"),
                       choices=_choices(_place_choices(tr, taxonomy)),
                       value=v.get("place")), "place")
    parties = [(p.value, tr(PARTY_LABELS[p])) for p in Party]
    add(ChoiceSetInput(id="reporter_party", label=tr("I work at"), style="compact",
                       placeholder=tr("Choose…"), choices=_choices(parties),
                       value=v.get("reporter_party")), "reporter_party")
    add(ChoiceSetInput(id="concerned_party", label=tr("The matter concerns"), style="compact",
                       placeholder=tr("Choose…"), choices=_choices(parties),
                       value=v.get("concerned_party")), "concerned_party")
    add(ChoiceSetInput(id="severity", label=tr("How serious was it for the patient?"),
                       style="compact", placeholder=tr(SEVERITY_HINT),
                       choices=_choices([(s.value, tr(SEVERITY_LABELS[s])) for s in Severity]),
                       value=v.get("severity")), "severity")
    add(ToggleInput(id=NO_IDS, label=tr("Patient privacy"),
                    title=tr("The text contains no information that identifies a patient"),
                    value="true" if v.get(NO_IDS) else "false", value_on="true",
                    value_off="false", wrap=True), NO_IDS)
    if warnings:
        body.append(ToggleInput(id=CONFIRM, label=tr("Warnings"), value="false",
                                title=tr("I have checked the warnings above: the text "
                                         "identifies no patient"),
                                value_on="true", value_off="false", wrap=True))
    data: dict[str, Any] = {"meld": "submit", "key": key}
    if link:
        data["link"] = link[:500]
    find = {**data, "meld": "suggest"}  # bot.teams.suggestions answers it
    actions = ([SubmitAction(title=tr("Send"), data=data),
                SubmitAction(title=tr("Find similar reports"), data=find)] if dialog
               else [ExecuteAction(title=tr("Send"), verb=SUBMIT_VERB, data=data),
                     ExecuteAction(title=tr("Find similar reports"), verb=SUGGEST_VERB,
                                   data=find)])
    return dump(AdaptiveCard(body=body, actions=actions))


@lru_cache(maxsize=16)
def _blank_form(locale: str, timezone: str, taxonomy: Taxonomy, today: date,
                dialog: bool) -> str:
    """The empty form as JSON: built and validated once per language, list and day."""
    return json.dumps(report_form(Translator(locale, timezone), taxonomy, today=today,
                                  key="", dialog=dialog))


def blank_report_form(tr: Translator, taxonomy: Taxonomy, *, today: date, key: str,
                      text: str = "", link: str | None = None,
                      dialog: bool = False) -> dict[str, Any]:
    """A new form (cached), with its own key and an optional prefilled text and link (the
    reporter's last place and parties: bot.teams.filing.new_form)."""
    card = json.loads(_blank_form(tr.locale, str(tr.tz), taxonomy, today, dialog))
    for element in card["body"]:
        if element.get("id") == "description" and text:
            element["value"] = text[:TEXT_MAX]
    for action in card["actions"]:  # Send and "Finn lignende saker"
        action["data"]["key"] = key
        if link:
            action["data"]["link"] = link[:500]
    return card


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _str(value: Any, limit: int = TEXT_MAX + 100) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    return value[:limit] or None


def read_form(data: dict[str, Any]) -> dict[str, Any]:
    """A submitted form (action data merged with the inputs) as plain values."""
    category = _str(data.get("category"), 200) or ""
    cat, _, sub = category.partition("/")
    key = _str(data.get("key"), KEY_MAX)
    return {
        "kind": _str(data.get("kind"), 40),
        "category": cat or None,
        "subcategory": sub or None,
        "description": (data.get("description") if isinstance(data.get("description"), str)
                        else "") or "",
        "occurred_on": _str(data.get("occurred_on"), 40),
        "place": _str(data.get("place"), 200),
        "reporter_party": _str(data.get("reporter_party"), 40),
        "concerned_party": _str(data.get("concerned_party"), 40),
        "severity": _str(data.get("severity"), 40),
        NO_IDS: _flag(data.get(NO_IDS)),
        CONFIRM: _flag(data.get(CONFIRM)),
        "link": _str(data.get("link"), 500),
        "key": key,
    }


def form_errors(errors: list[FieldError], tr: Translator) -> dict[str, str]:
    """One sentence per input, shown right below it."""
    out: dict[str, str] = {}
    for err in errors:
        out.setdefault(FIELD_INPUTS.get(err.field, "description"), field_error_text(err, tr))
    return out


# ---------------------------------------------------------------- answers and notices


def plain(text: str, *, subtle: bool = False, separator: bool | None = None,
          weight: str | None = None) -> RichTextBlock:
    """Text as it was written: a TextRun is not read as Markdown (a TextBlock is), so a
    reporter's or the group's words cannot become links or formatting."""
    run = TextRun(text=text, is_subtle=subtle or None, weight=weight)
    return RichTextBlock(inlines=[run], separator=separator)


def text_card(text: str, *, title: str | None = None) -> dict[str, Any]:
    body: list[CardElement] = []
    if title:
        body.append(TextBlock(text=title, weight="Bolder", wrap=True))
    body += [plain(part) for part in text.split("\n\n") if part]
    return dump(AdaptiveCard(body=body))


def welcome_card(tr: Translator) -> dict[str, Any]:
    return dump(AdaptiveCard(
        body=[TextBlock(text=tr("Welcome to Meld"), size="Large", weight="Bolder", wrap=True),
              TextBlock(text=tr("Report a collaboration deviation or an improvement "
                                "suggestion to Forbedringsgruppen. Write “meld” here, or "
                                "use “Meld som avvik” on any message."), wrap=True)],
        actions=[ExecuteAction(title=tr("New report"), verb=OPEN_VERB, data={"meld": "open"})],
    ))


def receipt_card(tr: Translator, lines: list[str]) -> dict[str, Any]:
    return dump(AdaptiveCard(body=[TextBlock(text=line, wrap=True) for line in lines]))


def _dialog_button(title: str, **data: Any) -> SubmitAction:
    """A button that opens a Teams dialog (task/fetch) carrying `data`."""
    return SubmitAction(title=title, data={"msteams": {"type": "task/fetch"}, **data})


def notice_card(tr: Translator, notice: str, message_text: str | None,
                reference: str | None, *, rating: bool = False,
                links: list[tuple[str, str]] | None = None,
                category: tuple[list[CardElement], list[ExecuteAction]] | None = None,
                ) -> dict[str, Any]:
    """A notice to a reporter: the words, the group's message as a quote, an Answer button,
    and a button for each link (`links`: where to report, from redirects.toml);
    with `rating` (the closing notice) "Var svaret nyttig?": an optional comment and the
    buttons ja / delvis / nei (Action.Execute, answered in the invoke's response); with
    `category` (a receipt whose category the reporter did not choose) its elements and
    action from bot.teams.filing.category_part: the line saying so, a choice of category
    and "Endre kategorien" (Action.Execute, answered likewise)."""
    body: list[CardElement] = [plain(part) for part in notice.split("\n\n") if part]
    if message_text:
        body.append(plain(message_text[:TEXT_MAX], subtle=True, separator=True))
    actions: list[Any] = [OpenUrlAction(title=name[:TEXT_MAX], url=url)
                          for name, url in links or ()]
    if reference and category is not None:
        body += category[0]
        actions += category[1]
    if reference and rating:
        body.append(TextInput(id="comment", label=tr("Comment (optional)"), is_multiline=True,
                              max_length=services.MAX_RATING_COMMENT, separator=True))
        actions += [ExecuteAction(title=tr(text), verb=RATE_VERB,
                                  data={"meld": "rate", "reference": reference, "answer": code})
                    for code, text in RATING_LABELS.items()]
    if reference:
        actions.append(_dialog_button(tr("Answer"), meld="answer", reference=reference))
    return dump(AdaptiveCard(body=body, actions=actions or None))


def triage_card(tr: Translator, taxonomy: Taxonomy, payload: dict[str, Any],
                extra: list[CardElement] | None = None) -> dict[str, Any]:
    """A new report in the group's channel: coded fields and buttons, never the text;
    `extra` elements after the facts (bot.teams.similar_card: "Ligner på ...")."""
    reference = str(payload["reference"])
    good = is_good(payload.get("kind"))  # no harm asked: its severity is not shown
    facts = [
        Fact(title=tr("Category"), value=taxonomy.category_label(payload.get("category"),
                                                                  tr.locale) or "-"),
        *([] if good else [Fact(title=tr("Severity"), value=label(
            SEVERITY_LABELS, payload.get("severity"), tr) or "-")]),
    ]
    place = taxonomy.place_label(payload.get("place"), tr.locale)
    if place:
        facts.append(Fact(title=tr("Place"), value=place))
    head = f"{reference} · {label(KIND_LABELS, payload.get('kind'), tr)}"
    body: list[CardElement] = [TextBlock(text=head, weight="Bolder", wrap=True,
                                         color="Attention" if payload.get("serious")
                                         else "Good" if good else "Default"),
                               *([plain(tr(GOOD_CARD_NOTE))] if good else []),
                               FactSet(facts=facts)]
    body += extra or []
    return dump(AdaptiveCard(body=body, actions=[
        _dialog_button(tr("Show"), meld="show", reference=reference),
        _dialog_button(tr("Assess"), meld="assess", reference=reference),
        _dialog_button(tr("Reply"), meld="reply", reference=reference),
    ]))


def open_dialog_card(text: str, button: str, dialog: str, reference: str) -> dict[str, Any]:
    """A command's answer that needs a form: the sentence and a button opening the dialog."""
    return dump(AdaptiveCard(body=[TextBlock(text=text, wrap=True)],
                             actions=[_dialog_button(button, meld=dialog,
                                                     reference=reference)]))


def text_dialog(tr: Translator, *, dialog: str, reference: str, label_text: str,
                initial: str = "", error: str | None = None,
                warnings: list[FieldError] | None = None) -> dict[str, Any]:
    """A one-field dialog (the reporter's answer, the group's reply); warnings add a confirm."""
    body: list[CardElement] = [TextBlock(text=reference, weight="Bolder")]
    if warnings:
        body.append(TextBlock(text="⚠ " + "\n\n".join(field_error_text(w, tr)
                                                      for w in warnings),
                              color="Warning", wrap=True))
    body.append(TextInput(id="text", label=label_text, is_multiline=True, is_required=True,
                          error_message=tr("This field is required."), max_length=TEXT_MAX,
                          value=initial[:TEXT_MAX] or None))
    if error:
        body.append(_error(error))
    if warnings:
        body.append(ToggleInput(id=CONFIRM, label=tr("Warnings"), value="false",
                                title=tr("I have checked the warnings above: the text "
                                         "identifies no patient"),
                                value_on="true", value_off="false", wrap=True))
    return dump(AdaptiveCard(body=body, actions=[
        SubmitAction(title=tr("Send"), data={"meld": dialog, "reference": reference})]))


def close_dialog(tr: Translator, reference: str, values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None) -> dict[str, Any]:
    v, errs = values or {}, errors or {}
    body: list[CardElement] = [TextBlock(text=reference, weight="Bolder")]
    for field, text in (("learning_point", tr("What we learned")), ("measure", tr("Measure"))):
        body.append(TextInput(id=field, label=text, is_multiline=True, is_required=True,
                              error_message=tr("This field is required."),
                              max_length=TEXT_MAX, value=v.get(field) or None))
        if field in errs:
            body.append(_error(errs[field]))
    return dump(AdaptiveCard(body=body, actions=[
        SubmitAction(title=tr("Close"), data={"meld": "close", "reference": reference})]))


def assess_dialog(tr: Translator, taxonomy: Taxonomy, report: services.ReportView,
                  errors: dict[str, str] | None = None) -> dict[str, Any]:
    errs = errors or {}
    cat = report.category + (f"/{report.subcategory}" if report.subcategory else "")
    body: list[CardElement] = [TextBlock(text=report.reference, weight="Bolder")]

    def add(element: CardElement, field: str) -> None:
        body.append(element)
        if field in errs:
            body.append(_error(errs[field]))

    add(ChoiceSetInput(id="category", label=tr("Category"), style="compact",
                       choices=_choices(_category_choices(tr, taxonomy)), value=cat),
        "category")
    add(ChoiceSetInput(id="assessed_severity", label=tr("Severity assessed"),
                       style="compact", placeholder=tr("Choose…"),
                       choices=_choices([(s.value, tr(SEVERITY_LABELS[s])) for s in Severity]),
                       value=report.assessed_severity), "assessed_severity")
    add(TextInput(id="agreement_reference", label=tr("Guideline breached"),
                  max_length=200, value=report.agreement_reference), "agreement_reference")
    return dump(AdaptiveCard(body=body, actions=[
        SubmitAction(title=tr("Save"), data={"meld": "assess", "reference": report.reference})]))


def with_key(card: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of a form card whose submit action carries `key`."""
    out = copy.deepcopy(card)
    for action in out["actions"]:
        action["data"]["key"] = key
    return out
