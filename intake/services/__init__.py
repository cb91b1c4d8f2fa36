"""The use cases: every door calls these, one transaction per operation.

Each operation checks the actor's role, applies the domain rules, writes an audit event
and any notice (an outbox row) in the same transaction as the change. One module per
actor's job: `submitting` (a reporter sends a report), `reading` (reports and lists),
`triage` (the group's assessment and statuses), `dialog` (group <-> reporter), `support`
(+1), `access` (API tokens, signed report links), `audit` (reading the audit log);
`views` holds the data shapes, `context` the Context, `common` what they share.

Doors use the package (`from intake import services`; `services.submit_report(...)`);
the names below are its whole surface. Use cases never import a door.
"""

from intake.services.access import (
    REPORT_LINK_HOURS,
    authenticate_token,
    create_token,
    open_report_link,
    report_link,
    revoke_token,
)
from intake.services.analysis import (
    AnalysisCauseView,
    AnalysisEventView,
    AnalysisSummary,
    AnalysisView,
    analyses_of_report,
    get_analysis,
    list_analyses,
    open_analysis,
    set_analysis_status,
    update_analysis,
)
from intake.services.analysis_parts import (
    add_analysis_measure,
    add_analysis_report,
    add_cause,
    add_event,
    remove_cause,
    remove_event,
)
from intake.services.board import (
    LOGIN_LINK_MINUTES,
    create_login_link,
    login_link_valid,
    redeem_login_link,
    refuse_sign_in,
    revoke_sessions,
    session_actor,
    sign_in_with_entra,
    sign_out,
)
from intake.services.clusters import CLUSTER_ALERT_EVENT, ClusterAlertView, check_clusters
from intake.services.common import (
    ANONYMOUS_WEB,
    GROUP_CHANNEL,
    MAX_SHORT_TEXT,
    REFERENCE_RE,
    check_free_text,
    check_subcategory,
    deny,
    status_token_for,
)
from intake.services.context import Context, build_context
from intake.services.dialog import reply, reporter_answer, request_info
from intake.services.filing import (
    FormDefaults,
    change_category,
    change_category_to,
    defaults_of,
    form_defaults,
)
from intake.services.mail_intake import MailOutcome, take_mail
from intake.services.measures import (
    MEASURE_DUE_EVENT,
    MeasureStatus,
    MeasureView,
    create_measure,
    list_measures,
    measure_counts,
    send_measure_reminders,
    update_measure,
)
from intake.services.meetings import Agenda, add_meeting, agenda, meetings
from intake.services.newsletter import (
    approve_newsletter,
    draft_newsletter,
    edit_newsletter,
    newsletter,
    newsletter_statuses,
    public_newsletter,
)
from intake.services.newsletter import public_url as newsletter_url
from intake.services.newsletter_publish import (
    PublishResult,
    newsletter_channels,
    publish_newsletter,
)
from intake.services.notices import EmailNotices, email_notices, stop_email_notices
from intake.services.promises import PromiseRun, send_due_promise_notices
from intake.services.public import (
    MAX_TYPED,
    Suggestion,
    followed_report,
    me_too,
    set_public_title,
    suggestions,
)
from intake.services.rating import (
    MAX_RATING_COMMENT,
    RATING_ANSWERS,
    RatingView,
    rate_answer,
    rating_for,
    rating_link,
)
from intake.services.reading import (
    EXPORT_COLUMNS,
    MAX_LIST_CURSOR,
    MAX_ROW_ID,
    count_reports,
    delivered_notices,
    export_rows,
    find_by_status_token,
    get_report,
    last_group_activity,
    last_group_messages,
    list_my_reports,
    list_reports,
)
from intake.services.received import first_delivery
from intake.services.search import search_reports
from intake.services.similarity import SimilarReport, card_match, similar_reports
from intake.services.submitting import receipt_for, submit_report, validate_draft
from intake.services.suggesting import (
    category_model,
    refresh_category_model,
    suggest_category,
)
from intake.services.support import plus_one
from intake.services.timeline import TimelineEntry, report_timeline
from intake.services.triage import (
    add_note,
    assess,
    assign,
    close,
    mark_duplicate,
    move_status,
    redirect,
    reopen,
)
from intake.services.views import (
    FORM_CONFIRM,
    FORM_NO_IDS,
    MessageView,
    Page,
    Receipt,
    ReportDraft,
    ReportFilter,
    ReportView,
)

__all__ = [
    "ANONYMOUS_WEB",
    "CLUSTER_ALERT_EVENT",
    "EXPORT_COLUMNS",
    "FORM_CONFIRM",
    "FORM_NO_IDS",
    "GROUP_CHANNEL",
    "LOGIN_LINK_MINUTES",
    "MAX_LIST_CURSOR",
    "MAX_RATING_COMMENT",
    "MAX_ROW_ID",
    "MAX_SHORT_TEXT",
    "MAX_TYPED",
    "MEASURE_DUE_EVENT",
    "RATING_ANSWERS",
    "REFERENCE_RE",
    "REPORT_LINK_HOURS",
    "Agenda",
    "AnalysisCauseView",
    "AnalysisEventView",
    "AnalysisSummary",
    "AnalysisView",
    "ClusterAlertView",
    "Context",
    "EmailNotices",
    "FormDefaults",
    "MailOutcome",
    "MeasureStatus",
    "MeasureView",
    "MessageView",
    "Page",
    "PromiseRun",
    "PublishResult",
    "RatingView",
    "Receipt",
    "ReportDraft",
    "ReportFilter",
    "ReportView",
    "SimilarReport",
    "Suggestion",
    "TimelineEntry",
    "add_analysis_measure",
    "add_analysis_report",
    "add_cause",
    "add_event",
    "add_meeting",
    "add_note",
    "agenda",
    "analyses_of_report",
    "approve_newsletter",
    "assess",
    "assign",
    "authenticate_token",
    "build_context",
    "card_match",
    "category_model",
    "change_category",
    "change_category_to",
    "check_clusters",
    "check_free_text",
    "check_subcategory",
    "close",
    "count_reports",
    "create_login_link",
    "create_measure",
    "create_token",
    "defaults_of",
    "delivered_notices",
    "deny",
    "draft_newsletter",
    "edit_newsletter",
    "email_notices",
    "export_rows",
    "find_by_status_token",
    "first_delivery",
    "followed_report",
    "form_defaults",
    "get_analysis",
    "get_report",
    "last_group_activity",
    "last_group_messages",
    "list_analyses",
    "list_measures",
    "list_my_reports",
    "list_reports",
    "login_link_valid",
    "mark_duplicate",
    "me_too",
    "measure_counts",
    "meetings",
    "move_status",
    "newsletter",
    "newsletter_channels",
    "newsletter_statuses",
    "newsletter_url",
    "open_analysis",
    "open_report_link",
    "plus_one",
    "public_newsletter",
    "publish_newsletter",
    "rate_answer",
    "rating_for",
    "rating_link",
    "receipt_for",
    "redeem_login_link",
    "redirect",
    "refresh_category_model",
    "refuse_sign_in",
    "remove_cause",
    "remove_event",
    "reopen",
    "reply",
    "report_link",
    "report_timeline",
    "reporter_answer",
    "request_info",
    "revoke_sessions",
    "revoke_token",
    "search_reports",
    "send_due_promise_notices",
    "send_measure_reminders",
    "session_actor",
    "set_analysis_status",
    "set_public_title",
    "sign_in_with_entra",
    "sign_out",
    "similar_reports",
    "status_token_for",
    "stop_email_notices",
    "submit_report",
    "suggest_category",
    "suggestions",
    "take_mail",
    "update_analysis",
    "update_measure",
    "validate_draft",
]
