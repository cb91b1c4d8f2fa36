"""Cluster alerts: daily report counts kept by triggers, and the alerts raised (migration 0016)."""

from __future__ import annotations
