"""Slack modals, cards and the App Home, built with slack_sdk.models (validated on to_dict)."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.notifier import escape_mrkdwn as escape
from intake import services
from intake.domain.model import FieldError, Kind, Party, Severity
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.texts import (
    KIND_LABELS,
    PARTY_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    field_error_text,
    label,
    similar_reasons_text,
)
from intake.texts_filing import CATEGORY_HINT, PLACE_HINT_REMEMBERED
from intake.texts_good import GOOD_CARD_NOTE, SEVERITY_HINT, is_good

REPORT_CALLBACK = "meld_report"
ANSWER_CALLBACK = "meld_answer"
ASSESS_CALLBACK = "triage_assess"
CLOSE_CALLBACK = "triage_close"
REPLY_CALLBACK = "triage_reply"
DUPLICATE_ACTION = "triage_duplicate"  # the card's "Marker som duplikat av ..."
FORM_ACTION = "value"  # every input's action id: the report form's dispatched changes
ME_TOO_ACTION = "meld_me_too"  # a suggestion's "Dette har skjedd meg også"

NO_IDS = services.FORM_NO_IDS
CONFIRM = services.FORM_CONFIRM
# service field -> the modal block that shows its error
FIELD_BLOCKS = {
    "kind": "kind", "category": "category", "subcategory": "category",
    "description": "description", "occurred_on": "occurred_on", "place": "place",
    "place_text": "description", "reporter_party": "reporter_party",
    "concerned_party": "concerned_party", "severity": "severity",
    "no_patient_identifiers": NO_IDS, "text": "text", "learning_point": "learning_point",
    "measure": "measure", "assessed_severity": "assessed_severity",
    "agreement_reference": "agreement_reference", "source_link": "description",
}
MAX_LABEL = 75  # Slack's limit for option texts


def _opt(value: str, text: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=text[:MAX_LABEL]))


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text)


def _category_groups(tr: Translator, taxonomy: Taxonomy) -> list[OptionGroup]:
    groups = []
    for cat in taxonomy.active_categories():
        options = [_opt(cat.id, cat.label(tr.locale))]
        options += [_opt(f"{cat.id}/{sub.id}", f"{cat.label(tr.locale)}: {sub.label(tr.locale)}")
                    for sub in cat.subcategories if sub.active]
        groups.append(OptionGroup(label=_plain(cat.label(tr.locale)[:MAX_LABEL]),
                                  options=options))
    return groups


def _place_groups(tr: Translator, taxonomy: Taxonomy) -> list[OptionGroup]:
    hospital = [_opt(p.id, p.label(tr.locale)) for p in taxonomy.active_places()
                if p.kind == "hospital"]
    municipal = [_opt(p.id, p.label(tr.locale)) for p in taxonomy.active_places()
                 if p.kind != "hospital"]
    return [OptionGroup(label=_plain("St. Olavs hospital"), options=hospital),
            OptionGroup(label=_plain(tr("Municipalities")), options=municipal)]


def _find(groups: list[OptionGroup], value: str | None) -> Option | None:
    for group in groups:
        for option in group.options:
            if option.value == value:
                return option
    return None


def _warning_section(tr: Translator, warnings: list[FieldError]) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(
        text=":warning: " + "\n".join(escape(field_error_text(w, tr)) for w in warnings)))


def _confirm_block(tr: Translator) -> InputBlock:
    """The box a reporter ticks to send despite warnings (phone, e-mail, name-like text)."""
    confirm = _opt("yes", tr("I have checked the warnings above: the text identifies "
                             "no patient"))
    return InputBlock(block_id=CONFIRM, label=_plain(tr("Warnings")),
                      element=CheckboxesElement(action_id="value", options=[confirm]))


def report_modal(
    tr: Translator,
    taxonomy: Taxonomy,
    *,
    today: date,
    text: str = "",
    link: str | None = None,
    values: dict[str, Any] | None = None,
    warnings: list[FieldError] | None = None,
) -> View:
    """The report form: the same fields and rules as the web form. Only the text and the
    no-identifiers box are required; the date is today unless changed."""
    v = values or {}
    kinds = [_opt(k.value, tr(KIND_LABELS[k])) for k in Kind]
    severities = [_opt(s.value, tr(SEVERITY_LABELS[s])) for s in Severity]
    parties = [_opt(p.value, tr(PARTY_LABELS[p])) for p in Party]
    categories = _category_groups(tr, taxonomy)
    places = _place_groups(tr, taxonomy)
    cat_value = v.get("category")
    if cat_value and v.get("subcategory"):
        cat_value = f"{cat_value}/{v['subcategory']}"
    blocks: list[Block] = []
    if warnings:
        blocks.append(_warning_section(tr, warnings))
    blocks += [
        InputBlock(block_id="kind", label=_plain(tr("What do you want to report?")),
                   element=RadioButtonsElement(
                       action_id="value", options=kinds,
                       initial_option=next((o for o in kinds
                                            if o.value == v.get("kind", "deviation")), None))),
        # category, place and text are dispatched as they change: the form's suggestions.
        # Optional: left empty, uncategorized with Meld's suggestion (taken in the receipt)
        InputBlock(block_id="category", label=_plain(tr("Category")), dispatch_action=True,
                   optional=True, hint=_plain(tr(CATEGORY_HINT)),
                   element=StaticSelectElement(
                       action_id="value", placeholder=_plain(tr("Choose…")),
                       option_groups=categories, initial_option=_find(categories, cat_value))),
        InputBlock(block_id="description", label=_plain(tr("What happened?")),
                   dispatch_action=True,
                   hint=_plain(tr("Describe the matter, not the patient: no names, national "
                                  "identity numbers, dates of birth or other details that can "
                                  "identify anyone.")),
                   element=PlainTextInputElement(
                       action_id="value", multiline=True, max_length=3000,
                       dispatch_action_config={"trigger_actions_on": ["on_character_entered"]},
                       initial_value=(v.get("description") or text)[:3000] or None)),
        InputBlock(block_id="occurred_on", label=_plain(tr("When did it happen?")),
                   element=DatePickerElement(
                       action_id="value",
                       initial_date=str(v.get("occurred_on") or today.isoformat()))),
        InputBlock(block_id="place", label=_plain(tr("Where? (hospital unit or municipality)")),
                   optional=True, dispatch_action=True,
                   element=StaticSelectElement(
                       action_id="value", placeholder=_plain(tr("Choose…")),
                       option_groups=places, initial_option=_find(places, v.get("place")))),
        InputBlock(block_id="reporter_party", label=_plain(tr("I work at")), optional=True,
                   element=StaticSelectElement(
                       action_id="value", placeholder=_plain(tr("Choose…")), options=parties,
                       initial_option=next((o for o in parties
                                            if o.value == v.get("reporter_party")), None))),
        InputBlock(block_id="concerned_party", label=_plain(tr("The matter concerns")),
                   optional=True,
                   element=StaticSelectElement(
                       action_id="value", placeholder=_plain(tr("Choose…")), options=parties,
                       initial_option=next((o for o in parties
                                            if o.value == v.get("concerned_party")), None))),
        # optional in the form: the service asks it of every kind but good collaboration
        InputBlock(block_id="severity", label=_plain(tr("How serious was it for the patient?")),
                   optional=True, hint=_plain(tr(SEVERITY_HINT)),
                   element=StaticSelectElement(
                       action_id="value", placeholder=_plain(tr("Choose…")), options=severities,
                       initial_option=next((o for o in severities
                                            if o.value == v.get("severity")), None))),
    ]
    no_ids = _opt("yes", tr("The text contains no information that identifies a patient"))
    blocks.append(InputBlock(
        block_id=NO_IDS, label=_plain(tr("Patient privacy")),
        element=CheckboxesElement(action_id="value", options=[no_ids],
                                  initial_options=[no_ids] if v.get(NO_IDS) else None)))
    if warnings:
        blocks.append(_confirm_block(tr))
    metadata = json.dumps({"link": link} if link else {})
    return View(type="modal", callback_id=REPORT_CALLBACK, title=_plain(tr("New report")),
                submit=_plain(tr("Send")), close=_plain(tr("Cancel")), blocks=blocks,
                private_metadata=metadata)


@lru_cache(maxsize=16)
def _blank_report_modal(locale: str, tz: str, taxonomy: Taxonomy, today: date) -> dict[str, Any]:
    """The empty form, built and validated once per language, list and day (never changed)."""
    return report_modal(Translator(locale, tz), taxonomy, today=today).to_dict()


def new_report_modal(tr: Translator, taxonomy: Taxonomy, *, today: date, text: str = "",
                     link: str | None = None,
                     defaults: services.FormDefaults | None = None) -> dict[str, Any]:
    """The report form for /meld and the shortcuts, as a dict for views.open: the cached
    blank form (building and validating it costs ~9 ms) with the prefill patched in, the
    text, the link, and `defaults` (the place and parties of the last report) as initial
    options, the place with a hint. It shares the blank's unchanged blocks (copying them
    cost a tenth of a /meld): it is for sending, not for changing in place."""
    blank = _blank_report_modal(tr.locale, str(tr.tz), taxonomy, today)
    proposed = {"place": defaults.place, "reporter_party": defaults.reporter_party,
                "concerned_party": defaults.concerned_party} if defaults else {}
    blocks = []
    for block in blank["blocks"]:
        block_id = block.get("block_id")
        if block_id == "description" and text:
            block = {**block, "element": {**block["element"], "initial_value": text[:3000]}}
        elif proposed.get(block_id):
            option = _find_dict(block["element"], proposed[block_id])
            if option is not None:  # a value still on the list (form_defaults checks too)
                block = {**block, "element": {**block["element"], "initial_option": option}}
                if block_id == "place":
                    block["hint"] = _plain(tr(PLACE_HINT_REMEMBERED)).to_dict()
        blocks.append(block)
    view = {**blank, "blocks": blocks}
    if link:
        view["private_metadata"] = json.dumps({"link": link[:500]})
    return view


def _find_dict(element: dict[str, Any], value: str) -> dict[str, Any] | None:
    """The option with this value in a select's JSON (options or option groups)."""
    groups = element.get("option_groups") or [{"options": element.get("options") or []}]
    return next((dict(o) for g in groups for o in g["options"] if o["value"] == value), None)


def _value(state: dict[str, Any], block: str) -> str | None:
    """A block's answer as text; None when empty or when the block holds checkboxes."""
    element = state.get(block, {}).get("value", {})
    kind = element.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = element.get("selected_option")
        return option["value"] if option else None
    if kind == "checkboxes":
        return None
    if kind == "datepicker":
        return element.get("selected_date")
    return element.get("value")


def _checked(state: dict[str, Any], block: str) -> bool:
    """Whether a checkbox block has a ticked option (False for any other element)."""
    element = state.get(block, {}).get("value", {})
    return element.get("type") == "checkboxes" and bool(element.get("selected_options"))


def read_report_state(view: dict[str, Any]) -> dict[str, Any]:
    """The submitted modal as plain values (the same names the web form uses)."""
    state = view.get("state", {}).get("values", {})
    category = _value(state, "category") or ""
    cat, _, sub = category.partition("/")
    meta = json.loads(view.get("private_metadata") or "{}")
    return {
        "kind": _value(state, "kind"),
        "category": cat or None,
        "subcategory": sub or None,
        "description": _value(state, "description") or "",
        "occurred_on": _value(state, "occurred_on"),
        "place": _value(state, "place"),
        "reporter_party": _value(state, "reporter_party"),
        "concerned_party": _value(state, "concerned_party"),
        "severity": _value(state, "severity"),
        NO_IDS: _checked(state, NO_IDS),
        CONFIRM: _checked(state, CONFIRM),
        "source_link": meta.get("link"),
    }


def modal_errors(errors: list[FieldError], tr: Translator) -> dict[str, str]:
    """response_action=errors: one sentence per block, next to the field."""
    out: dict[str, str] = {}
    for err in errors:
        block = FIELD_BLOCKS.get(err.field, "description")
        out.setdefault(block, field_error_text(err, tr))
    return out


def text_modal(tr: Translator, *, callback_id: str, title: str, label_text: str,
               reference: str, initial: str = "",
               warnings: list[FieldError] | None = None) -> View:
    """A one-field form (the reporter's answer, the group's reply); warnings add a confirm."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{reference}*"))]
    if warnings:
        blocks.append(_warning_section(tr, warnings))
    blocks.append(InputBlock(block_id="text", label=_plain(label_text),
                             element=PlainTextInputElement(action_id="value", multiline=True,
                                                           max_length=3000,
                                                           initial_value=initial or None)))
    if warnings:
        blocks.append(_confirm_block(tr))
    return View(
        type="modal", callback_id=callback_id, title=_plain(title[:24]),
        submit=_plain(tr("Send")), close=_plain(tr("Cancel")),
        private_metadata=json.dumps({"reference": reference, "title": title,
                                     "label": label_text}),
        blocks=blocks,
    )


def close_modal(tr: Translator, reference: str) -> View:
    return View(
        type="modal", callback_id=CLOSE_CALLBACK, title=_plain(tr("Close report")),
        submit=_plain(tr("Close")), close=_plain(tr("Cancel")),
        private_metadata=json.dumps({"reference": reference}),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"*{reference}*")),
            InputBlock(block_id="learning_point", label=_plain(tr("What we learned")),
                       element=PlainTextInputElement(action_id="value", multiline=True,
                                                     max_length=3000)),
            InputBlock(block_id="measure", label=_plain(tr("Measure")),
                       element=PlainTextInputElement(action_id="value", multiline=True,
                                                     max_length=3000)),
        ],
    )


def assess_modal(tr: Translator, taxonomy: Taxonomy, report: services.ReportView) -> View:
    severities = [_opt(s.value, tr(SEVERITY_LABELS[s])) for s in Severity]
    categories = _category_groups(tr, taxonomy)
    current = report.category + (f"/{report.subcategory}" if report.subcategory else "")
    return View(
        type="modal", callback_id=ASSESS_CALLBACK, title=_plain(tr("Assess report")),
        submit=_plain(tr("Save")), close=_plain(tr("Cancel")),
        private_metadata=json.dumps({"reference": report.reference}),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"*{report.reference}*")),
            InputBlock(block_id="category", label=_plain(tr("Category")),
                       element=StaticSelectElement(action_id="value", option_groups=categories,
                                                   initial_option=_find(categories, current))),
            InputBlock(block_id="assessed_severity",
                       label=_plain(tr("Severity (the group's assessment)")),
                       element=StaticSelectElement(
                           action_id="value", options=severities,
                           initial_option=next((o for o in severities
                                                if o.value == (report.assessed_severity
                                                               or report.reported_severity)),
                                               None))),
            InputBlock(block_id="agreement_reference", optional=True,
                       label=_plain(tr("Breached guideline in the agreement (if any)")),
                       element=PlainTextInputElement(
                           action_id="value", max_length=200,
                           initial_value=report.agreement_reference or None)),
        ],
    )


def read_values(view: dict[str, Any], *blocks: str) -> dict[str, str | None]:
    state = view.get("state", {}).get("values", {})
    return {block: _value(state, block) for block in blocks}


def read_checked(view: dict[str, Any], block: str) -> bool:
    return _checked(view.get("state", {}).get("values", {}), block)


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(view.get("private_metadata") or "{}")
    return data if isinstance(data, dict) else {}


def metadata_reference(view: dict[str, Any]) -> str:
    return str(metadata(view).get("reference", ""))


def report_detail_modal(tr: Translator, taxonomy: Taxonomy,
                        report: services.ReportView) -> View:
    """The whole report for the group, free text included: only ever in a modal."""
    category = taxonomy.category_label(report.category, tr.locale)
    if report.subcategory:
        sub = taxonomy.subcategory_label(report.category, report.subcategory, tr.locale)
        category += f" / {sub}"
    facts = "\n".join([
        f"*{tr('Status')}:* {label(STATUS_LABELS, report.status, tr)}",
        f"*{tr('Kind')}:* {label(KIND_LABELS, report.kind, tr)}",
        f"*{tr('Category')}:* {escape(category)}",
        f"*{tr('Severity (reported)')}:* {label(SEVERITY_LABELS, report.reported_severity, tr)}",
        f"*{tr('When')}:* {tr.date(report.occurred_on)}",
        f"*{tr('Where')}:* {escape(taxonomy.place_label(report.place, tr.locale) or '-')}",
        f"*{tr('Reporter')}:* {escape(report.reporter_id or '-')}",
    ])
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=facts)),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(
            text=escape(report.description or tr("(The text has been erased under the "
                                                 "retention rules.)"))[:3000])),
    ]
    for msg in report.messages[-20:]:
        who = {"group": tr("Forbedringsgruppen"), "reporter": tr("Reporter"),
               "internal": tr("Internal note")}.get(msg.direction, msg.direction)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"*{who}* · {tr.datetime(msg.created_at)}")]))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=escape(msg.body or "")[:3000])))
    return View(type="modal", title=_plain(report.reference[:24]), close=_plain(tr("Close")),
                blocks=blocks[:100])


def triage_card(tr: Translator, taxonomy: Taxonomy, payload: dict[str, Any],
                similar: services.SimilarReport | None = None) -> list[Block]:
    """A new report in the triage channel: coded fields and buttons, never the text.

    With `similar` (the open report it most probably is about again) a line names that
    report by reference, status and why, with a button marking the new one its duplicate:
    nothing of the other report's text either."""
    reference = payload["reference"]
    good = is_good(payload.get("kind"))  # no harm asked: its severity is not shown
    line = " · ".join(filter(None, [
        label(KIND_LABELS, payload.get("kind"), tr),
        taxonomy.category_label(payload.get("category"), tr.locale),
        None if good else label(SEVERITY_LABELS, payload.get("severity"), tr),
        taxonomy.place_label(payload.get("place"), tr.locale),
    ]))
    head = f"*{reference}*" + (" :rotating_light:" if payload.get("serious") else "")
    if good:
        head += f" :raised_hands: _{escape(tr(GOOD_CARD_NOTE))}_"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"{head}\n{escape(line)}"))]
    if similar is not None:
        blocks.append(_similar_section(tr, reference, similar))
    return [
        *blocks,
        ActionsBlock(block_id=f"card:{reference}", elements=[
            ButtonElement(action_id="triage_show", text=_plain(tr("Show")), value=reference),
            ButtonElement(action_id="triage_assess", text=_plain(tr("Assess")),
                          value=reference),
            ButtonElement(action_id="triage_reply", text=_plain(tr("Reply")), value=reference),
        ]),
    ]


def _similar_section(tr: Translator, reference: str,
                     similar: services.SimilarReport) -> SectionBlock:
    """"Ligner på MELD-2026-0042 (åpen)", why, its status, and the one-click duplicate."""
    other = similar.view.reference
    named = (tr("Similar to {reference} (open)", reference=other) if similar.active
             else tr("Similar to {reference} ({status})", reference=other,
                     status=label(STATUS_LABELS, similar.view.status, tr)))
    why = " · ".join(filter(None, [
        similar_reasons_text(similar.reasons, tr),
        f"{tr('Status')}: {label(STATUS_LABELS, similar.view.status, tr)}"]))
    return SectionBlock(
        block_id=f"similar:{reference}",
        text=MarkdownTextObject(text=f":link: {escape(named)}\n_{escape(why)}_"),
        accessory=ButtonElement(
            action_id=DUPLICATE_ACTION, value=duplicate_value(reference, other),
            text=_plain(tr("Mark as duplicate of {reference}", reference=other)[:MAX_LABEL])))


def duplicate_value(reference: str, duplicate_of: str) -> str:
    """The duplicate button's value: the new report and the one it duplicates."""
    return f"{reference}|{duplicate_of}"


def read_duplicate_value(value: str) -> tuple[str, str]:
    """(reference, duplicate_of) from the button's value; empty parts when it is not ours
    (the service then answers "not found")."""
    reference, _, duplicate_of = value.partition("|")
    return reference[:40], duplicate_of[:40]


def home_view(tr: Translator, taxonomy: Taxonomy,
              reports: tuple[services.ReportView, ...],
              last_replies: dict[str, str]) -> View:
    blocks: list[Block] = [
        HeaderBlock(text=_plain(tr("My reports"))),
        ActionsBlock(elements=[ButtonElement(action_id="meld_new", style="primary",
                                             text=_plain(tr("New report")))]),
        DividerBlock(),
    ]
    if not reports:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=tr("You have not sent any reports yet."))))
    for r in reports[:30]:
        text = (f"*{r.reference}* · {escape(taxonomy.category_label(r.category, tr.locale))}\n"
                f"{label(STATUS_LABELS, r.status, tr)}")
        if r.reference in last_replies:
            text += "\n> " + escape(last_replies[r.reference])[:300]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    return View(type="home", blocks=blocks[:100])
