"""Settings come from MELD_* variables; .env.example documents every one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from intake.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = {line.split("=", 1)[0].lstrip("# ").strip()
              for line in text.splitlines() if "=" in line and "MELD_" in line.split("=")[0]}
    expected = {f"MELD_{name.upper()}" for name in Settings.model_fields}
    assert expected <= listed, expected - listed


def test_settings_read_meld_variables_and_refuse_bad_values(monkeypatch) -> None:
    monkeypatch.setenv("MELD_FEEDBACK_DAYS", "5")
    monkeypatch.setenv("MELD_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = Settings()
    assert (s.feedback_days, s.is_sqlite) == (5, False)
    assert Settings(feedback_days=3).feedback_days == 3  # explicit values win
    monkeypatch.setenv("MELD_FEEDBACK_DAYS", "0")
    with pytest.raises(ValidationError, match="feedback_days"):
        Settings()
