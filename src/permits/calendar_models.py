"""Tables of the working-day calendar: State Council schedules loaded after the library's data, provincial
overrides, and the change counter each process checks before trusting its cached calendar.

The counter takes its values from a sequence, so a value is never reused, even by a transaction rolled back:
a process that cached the calendar under a value that then vanished reloads at its next look.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final, Literal, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Integer,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of

OverrideKind = Literal["rest", "work"]
OVERRIDE_KINDS: Final[tuple[OverrideKind, ...]] = get_args(OverrideKind)
CALENDAR_VERSION_SEQUENCE: Final = Sequence("permits_calendar_version_seq", metadata=Base.metadata)


class CalendarYear(Base):
    """One year's published schedule (国务院办公厅 notice): its rest days and its make-up working days."""

    __tablename__ = "permits_calendar_year"
    __table_args__ = (CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[dt.date]] = mapped_column(ARRAY(Date), nullable=False)
    makeup_workdays: Mapped[list[dt.date]] = mapped_column(ARRAY(Date), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CalendarOverride(Base):
    """A province's own rest or working day (民族节日 under 放假办法 Art. 4, a typhoon closure…)."""

    __tablename__ = "permits_calendar_override"
    __table_args__ = (
        UniqueConstraint("region", "day"),
        CheckConstraint("region ~ '^[1-8][0-9]$'", name="region_province"),
        CheckConstraint("length(btrim(reason)) > 0", name="reason_given"),
        one_of("kind", OVERRIDE_KINDS, name="kind_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    region: Mapped[str] = mapped_column(String(2), nullable=False)
    day: Mapped[dt.date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class CalendarVersion(Base):
    """One row: bumped (from the sequence) with every change to the two tables above."""

    __tablename__ = "permits_calendar_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
