"""Settings of the learning that travels (cluster alerts, the newsletter): a part of
`intake.settings.Settings`, which inherits these fields (same MELD_ prefix, same rules)."""

from __future__ import annotations

from pydantic_settings import BaseSettings


class LearningSettings(BaseSettings):
    """MELD_CLUSTER_* and MELD_NEWSLETTER_*; only ever used through Settings."""
