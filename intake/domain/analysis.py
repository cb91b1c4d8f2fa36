"""An incident analysis (hendelsesanalyse) after Helsedirektoratet's guide IS-0583: its
steps, its statuses and the one transition table, and the fixed list of cause categories
(the contributory-factor groups the Norwegian guidance builds on).

The words shown for these live in `intake.texts_analysis`; here are the codes only.
"""

from __future__ import annotations

from enum import StrEnum


class AnalysisStatus(StrEnum):
    OPENED = "opened"            # the group decided to analyse; mandate and team next
    IN_PROGRESS = "in_progress"  # information gathered, causes and measures worked out
    COMPLETED = "completed"      # the report is written (the export is the report)
    FOLLOWED_UP = "followed_up"  # the measures' effect has been followed up
    CLOSED = "closed"            # nothing more to do


# The one transition table. Every move not listed is refused. Back to IN_PROGRESS from a
# later status is "reopen": the analysis is worked on again and its report rewritten.
ANALYSIS_TRANSITIONS: dict[AnalysisStatus, frozenset[AnalysisStatus]] = {
    AnalysisStatus.OPENED: frozenset({AnalysisStatus.IN_PROGRESS}),
    AnalysisStatus.IN_PROGRESS: frozenset({AnalysisStatus.COMPLETED}),
    AnalysisStatus.COMPLETED: frozenset({AnalysisStatus.FOLLOWED_UP, AnalysisStatus.CLOSED,
                                         AnalysisStatus.IN_PROGRESS}),
    AnalysisStatus.FOLLOWED_UP: frozenset({AnalysisStatus.CLOSED, AnalysisStatus.IN_PROGRESS}),
    AnalysisStatus.CLOSED: frozenset({AnalysisStatus.IN_PROGRESS}),
}

# where the analysis's content (steps 1-5) may still change; after that, reopen first
ANALYSIS_EDITABLE = frozenset({AnalysisStatus.OPENED, AnalysisStatus.IN_PROGRESS})
# where the follow-up (step 7) may be written
FOLLOW_UP_EDITABLE = frozenset({AnalysisStatus.OPENED, AnalysisStatus.IN_PROGRESS,
                                AnalysisStatus.COMPLETED, AnalysisStatus.FOLLOWED_UP})


def analysis_move_allowed(current: str, target: str) -> bool:
    try:
        return AnalysisStatus(target) in ANALYSIS_TRANSITIONS[AnalysisStatus(current)]
    except ValueError:
        return False


class CauseCategory(StrEnum):
    """Contributory factors, grouped as the Norwegian hendelsesanalyse guidance does."""

    PATIENT = "patient"                  # pasientfaktorer
    INDIVIDUAL = "individual"            # individuelle faktorer hos helsepersonell
    TASK_TECHNOLOGY = "task_technology"  # oppgave og teknologi
    TEAM_COMMUNICATION = "team_communication"  # team og kommunikasjon
    WORK_ENVIRONMENT = "work_environment"      # arbeidsmiljø
    ORGANISATION = "organisation"              # organisasjon og ledelse
    FRAMEWORK = "framework"                    # rammebetingelser


class GuideStep(StrEnum):
    """The guide's steps, the sections of an analysis in this order."""

    MANDATE = "mandate"        # 1 mandate and team
    TIMELINE = "timeline"      # 2 information gathering: the timeline of events
    COMPARISON = "comparison"  # 3 what happened vs what should have happened
    CAUSES = "causes"          # 4 causes
    MEASURES = "measures"      # 5 measures
    REPORT = "report"          # 6 the report
    FOLLOW_UP = "follow_up"    # 7 follow-up


# the text sections and the step each belongs to
SECTION_FIELDS: dict[str, GuideStep] = {
    "title": GuideStep.MANDATE,
    "mandate": GuideStep.MANDATE,
    "team": GuideStep.MANDATE,
    "what_happened": GuideStep.COMPARISON,
    "what_should_have_happened": GuideStep.COMPARISON,
    "follow_up": GuideStep.FOLLOW_UP,
}

# what must be written before the report can be (IN_PROGRESS -> COMPLETED)
REQUIRED_FOR_REPORT = ("mandate", "what_happened", "what_should_have_happened")
