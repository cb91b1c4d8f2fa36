"""Door-neutral text views of a report, the same in every door that shows plain text: the
whole report as the group reads it (`/triage vis` in Slack and Teams, `meld reports show`),
one line of a list, a status line, a suggestion's line. Doors with richer forms (Block
Kit, Adaptive Cards) build their own layout from the same `ReportView`."""

from __future__ import annotations

from intake import services
from intake.domain.taxonomy import Taxonomy
from intake.i18n import Translator
from intake.texts import (
    KIND_LABELS,
    OVERDUE_MARK,
    PARTY_LABELS,
    REDIRECT_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    UNREAD_MARK,
    WITHHELD_MARK,
    label,
)
from intake.texts_filing import category_name


def status_line(view: services.ReportView, tr: Translator) -> str:
    return tr("Status: {status}", status=label(STATUS_LABELS, view.status, tr))


def category_label(ctx: services.Context, view: services.ReportView, tr: Translator) -> str:
    return category_name(ctx.taxonomy, view.category, view.subcategory, tr, sep=" / ")


def list_line(ctx: services.Context, view: services.ReportView, tr: Translator) -> str:
    """One report in the queue: reference, status, kind, category, reported date, and the
    marks of an unread answer from the reporter and of a feedback date passed."""
    parts = [
        view.reference,
        label(STATUS_LABELS, view.status, tr),
        label(KIND_LABELS, view.kind, tr),
        ctx.taxonomy.category_label(view.category, tr.locale),
        tr.date(tr.local_date(view.reported_at), "short"),
    ]
    if view.unread_from_reporter:
        parts.append("✉ " + tr(UNREAD_MARK))
    if view.feedback_overdue:
        parts.append("⏰ " + tr(OVERDUE_MARK))
    if view.withheld:
        parts.append("⚠ " + tr(WITHHELD_MARK))
    return " · ".join(parts)


def report_text(ctx: services.Context, view: services.ReportView, tr: Translator,
                *, for_group: bool = True) -> str:
    """A report as the group reads it: the facts, the description and the dialog.
    A reporter's view (for_group=False) leaves out what the service hid from it."""
    erased = tr("(The text has been erased under the retention rules.)")
    place = ", ".join(p for p in (ctx.taxonomy.place_label(view.place, tr.locale),
                                  view.place_text or "") if p)
    facts = [
        (tr("Status"), label(STATUS_LABELS, view.status, tr)),
        (tr("Kind"), label(KIND_LABELS, view.kind, tr)),
        (tr("Category"), category_label(ctx, view, tr)),
        (tr("Severity reported"), label(SEVERITY_LABELS, view.reported_severity, tr)),
    ]
    if for_group:
        facts.append((tr("Severity assessed"), label(SEVERITY_LABELS, view.assessed_severity, tr)
                      or tr("not yet assessed")))
    facts += [
        (tr("Where"), place or "-"),
        (tr("When"), tr.date(view.occurred_on)),
        (tr("Reported"), tr.datetime(view.reported_at)),
    ]
    if for_group:
        facts += [
            (tr("Reporter"), view.reporter_id or "-"),
            *([(tr("Notices by e-mail to"), view.notify_email)] if view.notify_email else []),
            *([(tr("Text of the mail"), tr(WITHHELD_MARK))] if view.withheld else []),
            (tr("Assigned to"), view.assignee or tr("nobody")),
        ]
    if view.reporter_party or view.concerned_party:
        facts.append((tr("Direction"), " → ".join((
            label(PARTY_LABELS, view.reporter_party, tr) or "?",
            label(PARTY_LABELS, view.concerned_party, tr) or "?",
        ))))
    if view.agreement_reference or view.guideline_breached:
        facts.append((tr("Guideline breached"), view.agreement_reference or tr("yes")))
    if view.redirect_target:
        forwarded = label(REDIRECT_LABELS, view.redirect_target, tr)
        if view.redirect_reference:
            forwarded += f" ({view.redirect_reference})"
        facts.append((tr("Forwarded to"), forwarded))
    if view.duplicate_of:
        facts.append((tr("Duplicate of"), view.duplicate_of))
    if view.learning_point:
        facts.append((tr("What we learned"), view.learning_point))
    if view.measure:
        facts.append((tr("Measure"), view.measure))
    if view.plus_ones:
        facts.append(("+1", str(view.plus_ones)))

    lines = [view.reference]
    lines += [f"{name}: {value}" for name, value in facts]
    lines += ["", view.description or erased, "", tr("Conversation with Forbedringsgruppen") + ":"]
    if not view.messages:
        lines.append(tr("No messages yet."))
    for msg in view.messages:
        who = tr("Reporter") if msg.direction == "reporter" else tr("Forbedringsgruppen")
        if msg.direction == "internal":
            who += " (" + tr("internal note") + ")"
        if msg.author_id and msg.direction != "reporter":
            who += f", {msg.author_id}"
        lines.append(f"[{tr.datetime(msg.created_at, 'short')}] {who}: {msg.body or erased}")
    return "\n".join(lines)


def suggestion_line(tr: Translator, taxonomy: Taxonomy, s: services.Suggestion) -> str:
    """A suggestion's coded fields: kind · category · place · status · "N andre også"."""
    parts = [label(KIND_LABELS, s.kind, tr), taxonomy.category_label(s.category, tr.locale),
             taxonomy.place_label(s.place, tr.locale), label(STATUS_LABELS, s.status, tr)]
    if s.plus_ones:
        parts.append(tr("{count} others too", count=s.plus_ones))
    return " · ".join(p for p in parts if p)
