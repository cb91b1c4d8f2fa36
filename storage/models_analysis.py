"""Incident analyses after the IS-0583 guide (migration 0017).

An analysis belongs to one or more reports; its timeline of events and its causes are its
own rows; its measures are the board's `measures` (linked here), so they show on the
board, remind their owner and count in the tertial report like every other measure.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class Analysis(Base):
    """One incident analysis (hendelsesanalyse): the guide's steps as one record."""

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("year", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # HA-2026-001
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    # opened, in_progress, completed, followed_up, closed (intake.domain.analysis)
    status: Mapped[str] = mapped_column(String(20), default="opened")
    mandate: Mapped[str | None] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(Text)  # roles and functions
    what_happened: Mapped[str | None] = mapped_column(Text)
    what_should_have_happened: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()  # the report last written
    closed_at: Mapped[datetime | None] = mapped_column()


class AnalysisReport(Base):
    """Which reports an analysis is about (one or more)."""

    __tablename__ = "analysis_reports"
    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True, index=True)


class AnalysisEvent(Base):
    """One event on the analysis's timeline: when (a date, perhaps a time) and what."""

    __tablename__ = "analysis_events"
    __table_args__ = (
        CheckConstraint("length(description) <= 20000", name="event_description_length"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    happened_on: Mapped[date] = mapped_column(Date)
    happened_time: Mapped[time | None] = mapped_column(Time)
    description: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalysisCause(Base):
    """One cause, in a category of the fixed list (intake.domain.analysis.CauseCategory)."""

    __tablename__ = "analysis_causes"
    __table_args__ = (
        CheckConstraint("length(description) <= 20000", name="cause_description_length"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalysisMeasure(Base):
    """Which of the board's measures came from an analysis."""

    __tablename__ = "analysis_measures"
    analysis_id: Mapped[int] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True)
    measure_id: Mapped[int] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True, index=True)
