"""The words of incident analyses (hendelsesanalyse): statuses, the guide's steps, the
cause categories and the refusals that are the analyses' own. Shared by the board and the
exported report; everything else comes from `intake.texts`."""

from __future__ import annotations

from typing import Any

from intake.domain.analysis import AnalysisStatus, CauseCategory, GuideStep
from intake.domain.model import DomainError, FieldError, ValidationFailed
from intake.i18n import N_, Translator
from intake.texts import error_text, label

ANALYSIS_STATUS_LABELS = {
    AnalysisStatus.OPENED: N_("Opened"),
    AnalysisStatus.IN_PROGRESS: N_("Analysis in progress"),
    AnalysisStatus.COMPLETED: N_("Report written"),
    AnalysisStatus.FOLLOWED_UP: N_("Followed up"),
    AnalysisStatus.CLOSED: N_("Closed"),
}

# what the button that moves an analysis to a status says
ANALYSIS_MOVE_LABELS = {
    AnalysisStatus.IN_PROGRESS: N_("Start the analysis (or reopen it)"),
    AnalysisStatus.COMPLETED: N_("Mark the report as written"),
    AnalysisStatus.FOLLOWED_UP: N_("Mark as followed up"),
    AnalysisStatus.CLOSED: N_("Close the analysis"),
}

CAUSE_LABELS = {
    CauseCategory.PATIENT: N_("Patient factors"),
    CauseCategory.INDIVIDUAL: N_("Individual factors (health personnel)"),
    CauseCategory.TASK_TECHNOLOGY: N_("Task and technology"),
    CauseCategory.TEAM_COMMUNICATION: N_("Team and communication"),
    CauseCategory.WORK_ENVIRONMENT: N_("Work environment"),
    CauseCategory.ORGANISATION: N_("Organisation and management"),
    CauseCategory.FRAMEWORK: N_("Framework conditions"),
}

STEP_LABELS = {
    GuideStep.MANDATE: N_("1. Mandate and team"),
    GuideStep.TIMELINE: N_("2. Information gathering: the timeline"),
    GuideStep.COMPARISON: N_("3. What happened and what should have happened"),
    GuideStep.CAUSES: N_("4. Causes"),
    GuideStep.MEASURES: N_("5. Measures"),
    GuideStep.REPORT: N_("6. Report"),
    GuideStep.FOLLOW_UP: N_("7. Follow-up"),
}

# the fields' names, put before their problems (a form may have several fields)
FIELD_LABELS = {
    "references": N_("The reports it is about"),
    "title": N_("Title"),
    "mandate": N_("Mandate"),
    "team": N_("Team (roles and functions)"),
    "what_happened": N_("What happened"),
    "what_should_have_happened": N_("What should have happened"),
    "follow_up": N_("Follow-up"),
    "causes": N_("Causes"),
    "happened_on": N_("Date"),
    "happened_time": N_("Time (optional)"),
    "event_description": N_("What happened"),
    "cause_category": N_("Category"),
    "cause_description": N_("The cause"),
    "measure_description": N_("What is to be done"),
    "owner": N_("Owner"),
    "due_on": N_("Due date"),
}

ANALYSIS_ERRORS = {
    "analysis_not_found": N_("No such analysis."),
    "analysis_part_not_found": N_("It is no longer there: reload the page."),
    "analysis_locked": N_(
        "The analysis has the status \u201c{status_label}\u201d: reopen it to change this."),
    "analysis_invalid_transition": N_(
        "An analysis with status \u201c{current_label}\u201d cannot be moved to "
        "\u201c{target_label}\u201d."),
    "too_many": N_("Too many: at most {max}."),
    "invalid_time": N_("Write the time as HH:MM, or leave it empty."),
    "unknown_field": N_("Unknown field."),
}


def status_label(status: str | None, tr: Translator) -> str:
    return label(ANALYSIS_STATUS_LABELS, status, tr)


def cause_label(category: str | None, tr: Translator) -> str:
    return label(CAUSE_LABELS, category, tr)


def _text(code: str, tr: Translator, params: dict[str, Any]) -> str:
    msgid = ANALYSIS_ERRORS.get(code)
    if msgid is None:
        return error_text(code, tr, **params)
    values = dict(params)
    for key in ("status", "current", "target"):
        if key in values:
            values[f"{key}_label"] = status_label(values[key], tr)
    try:
        return tr(msgid, **values)
    except (KeyError, IndexError):
        return tr(msgid)


def analysis_field_error(err: FieldError, tr: Translator) -> str:
    """A field's problem, after the field's name ("Mandat: Dette feltet må fylles ut.")."""
    text = _text(err.code, tr, err.params)
    name = FIELD_LABELS.get(err.field)
    return f"{tr(name)}: {text}" if name else text


def analysis_error_text(err: DomainError, tr: Translator) -> str:
    if isinstance(err, ValidationFailed):
        return "; ".join(analysis_field_error(e, tr) for e in err.errors)
    return _text(err.code, tr, err.params)
