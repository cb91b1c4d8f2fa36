"""The tertial newsletter of learning points and its publications (migration 0018)."""

from __future__ import annotations
