"""Settings of the learning that travels (cluster alerts, the newsletter): a part of
`intake.settings.Settings`, which inherits these fields (same MELD_ prefix, same rules)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class LearningSettings(BaseSettings):
    """MELD_CLUSTER_* and MELD_NEWSLETTER_*; only ever used through Settings."""

    # cluster alerts (intake.services.clusters): many reports of one place and subcategory,
    # or of one category and direction, in a rolling window tell the group once
    cluster_min_reports: int = Field(
        3, ge=2, le=1000, description="A cluster alert needs at least this many deviations "
        "and inputs of one place and subcategory (or one category and direction) in the "
        "window",
    )
    cluster_window_days: int = Field(
        30, ge=1, le=366, description="The rolling window of a cluster alert, in days: the "
        "days up to and including today (MELD_TIMEZONE). A cluster alerts again only once a "
        "whole window has passed since its last alert",
    )
    cluster_require_rise: bool = Field(
        True, description="A cluster alert also needs more reports than in the same window "
        "one year earlier (false: the threshold alone)",
    )
    cluster_check_seconds: float = Field(
        600.0, gt=0, le=86400, description="How often `meld serve` looks for cluster alerts",
    )
    run_cluster_alerts: bool = Field(
        True, description="Look for cluster alerts from `meld serve` (else run "
        "`meld clusters check` from cron)",
    )

    # suggestions (intake.services.suggesting): a report sent without a category
    suggest_min_score: float | None = Field(
        None, ge=0, le=1, description="Unset (the default): a report sent without a "
        "category is filed under \"Ikke kategorisert\" for the group to set, with Meld's "
        "suggestion from its text kept and offered in the receipt. Set (0-1): such a report "
        "is filed under the suggestion when its probability is at least this (a group that "
        "wants auto-filing); 1 never files (a probability may round to exactly 1)",
    )
    suggest_refresh_hour: int = Field(
        3, ge=0, le=23, description="The hour (MELD_TIMEZONE) at which `meld serve` trains "
        "the suggestions anew from the group's assessed reports, every night",
    )
    run_suggest_refresh: bool = Field(
        True, description="Train the suggestions nightly from `meld serve` (else run "
        "`meld suggest train` from cron)",
    )

    # newsletter (the tertial newsletter of learning points: docs/newsletter.md)
    newsletter_slack_channel: str | None = Field(
        None, description="Slack channel id the published newsletter's summary and link are "
        "posted to (unset: MELD_SLACK_TRIAGE_CHANNEL; off: not to Slack)",
    )
    newsletter_teams_conversation: str | None = Field(
        None, description="Teams conversation id (19:...@thread.tacv2) the published "
        "newsletter's summary and link are posted to (unset: MELD_TEAMS_TRIAGE_CONVERSATION; "
        "off: not to Teams)",
    )
    newsletter_mail_to: str = Field(
        "", description="Comma-separated addresses (a distribution list) the published "
        "newsletter is mailed to, one mail each (unset: no mail; needs MELD_MAIL_TRANSPORT)",
    )
