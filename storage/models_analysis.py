"""Incident analyses after the IS-0583 guide (migration 0017)."""

from __future__ import annotations
