"""Tables of the one-stop application: applications, their department tasks, supplement notices, clock pauses.

One application (一窗受理) fans out to one task per required permit, each routed to its department and decided
in parallel (行政许可法 Art. 26: 并联审批; departments never wait on each other). The application's status is
derived from its tasks' decisions in the same transaction that records each decision.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of
from permits.clocks import PauseKind
from registry.catalogue import PermitKind

ApplicationStatus = Literal["in_review", "needs_supplement", "approved", "rejected", "withdrawn"]
APPLICATION_STATUSES: Final[tuple[ApplicationStatus, ...]] = get_args(ApplicationStatus)
OPEN_APPLICATION_STATUSES: Final[tuple[ApplicationStatus, ...]] = ("in_review", "needs_supplement")

# A task waits (`in_review`), waits on the applicant (`needs_supplement`), is decided (`approved` or `rejected`),
# or is `closed` undecided because its application ended (another department refused it, or it was withdrawn).
TaskStatus = Literal["in_review", "needs_supplement", "approved", "rejected", "closed"]
TASK_STATUSES: Final[tuple[TaskStatus, ...]] = get_args(TaskStatus)
OPEN_TASK_STATUSES: Final[tuple[TaskStatus, ...]] = ("in_review", "needs_supplement")

# `review`: the department examines the materials; `commitment` (告知承诺制): approved at once on the applicant's
# signed commitment, with an inspection afterwards.
TaskMode = Literal["review", "commitment"]
TASK_MODES: Final[tuple[TaskMode, ...]] = get_args(TaskMode)

# A licence may be refused on the merits; a filing is recorded once its materials are complete (备案): the
# permit type's kind in the catalogue.
PERMIT_KINDS: Final[tuple[PermitKind, ...]] = get_args(PermitKind)

OverdueAction = Literal["escalated", "blocked", "deemed_consent"]
OVERDUE_ACTIONS: Final[tuple[OverdueAction, ...]] = get_args(OverdueAction)

DayUnit = Literal["working_day", "calendar_day"]
DAY_UNITS: Final[tuple[DayUnit, ...]] = get_args(DayUnit)

# 行政许可法 Art. 45: the only steps whose time is left out of the limit (each notified in writing).
PAUSE_REASONS: Final[tuple[PauseKind, ...]] = get_args(PauseKind)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Application(Base):
    """A vendor's one submission for everything an activity at a place and time needs."""

    __tablename__ = "permits_application"
    __table_args__ = (
        one_of("status", APPLICATION_STATUSES, name="status_known"),
        CheckConstraint("(status = 'withdrawn') = (withdrawn_at IS NOT NULL)", name="withdrawn_has_time"),
        CheckConstraint("(status IN ('approved', 'rejected')) = (decided_at IS NOT NULL)", name="decided_has_time"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_permits_application_vendor_created", "vendor_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"))
    activity_code: Mapped[str] = mapped_column(String(64))
    # GeoJSON Point (WGS84) or null for an online activity; periods as [{start, end}] in RFC 3339.
    location: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    periods: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    venue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venues_venue.id"))
    venue_revision: Mapped[int | None] = mapped_column(Integer)
    # The road-occupancy request this application decides (venues hands it over through PermitFlow).
    road_occupancy_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    # The exemption decision that named the permits required (its rule version and facts).
    exemption_check_id: Mapped[uuid.UUID | None] = mapped_column()
    rule_version: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # A verified key-group applicant's application takes the green channel's promised limits; reviewers see
    # only this flag, never the group (PIPL: the group is sensitive personal data).
    green_channel: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The city day the materials arrived; accepted_on is null while a completeness notice waits for its answer.
    received_on: Mapped[dt.date] = mapped_column(Date)
    completeness_due_on: Mapped[dt.date] = mapped_column(Date)
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    # A joint application as a whole: 45 working days from acceptance (+15), 行政许可法 Art. 42.
    joint_due_on: Mapped[dt.date | None] = mapped_column(Date)
    joint_due_provisional: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # When the sweep found the joint application as a whole past its 45 days and escalated it.
    joint_overdue_noted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    permit_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Where the application is handled: its clock rules, calendar region and timeout policy follow this code.
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("registry_jurisdiction.code"))
    # The lead department (牵头部门) that compiles the results: never deemed to consent (permits.sweep).
    lead_department: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = _now()
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApplicationDocument(Base):
    """A document the applicant handed in: with the submission (round 0) or answering notice `round`."""

    __tablename__ = "permits_application_document"

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("permits_application.id"), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_document.id"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer)


class Task(Base):
    """One required permit's review by its department, with its own clock."""

    __tablename__ = "permits_task"
    __table_args__ = (
        one_of("status", TASK_STATUSES, name="status_known"),
        one_of("mode", TASK_MODES, name="mode_known"),
        one_of("kind", PERMIT_KINDS, name="kind_known"),
        one_of("limit_unit", DAY_UNITS, name="limit_unit_known"),
        # Road occupation needs the road authority and the traffic police each (城市道路管理条例 Art. 31): one task
        # per department of a permit type.
        UniqueConstraint("application_id", "permit_type", "department"),
        CheckConstraint("(status IN ('approved', 'rejected')) = (decided_at IS NOT NULL)", name="decided_has_time"),
        CheckConstraint(
            "(status IN ('approved', 'rejected')) = (decision_number IS NOT NULL)", name="decided_numbered"
        ),
        CheckConstraint("kind = 'licence' OR status <> 'rejected'", name="filing_never_refused"),
        CheckConstraint("extension_days >= 0 AND paused_days >= 0 AND limit_days >= 0", name="days_not_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        one_of("overdue_action", OVERDUE_ACTIONS, name="overdue_action_known"),
        CheckConstraint("(overdue_action IS NULL) = (overdue_noted_at IS NULL)", name="overdue_noted_whole"),
        Index("ix_permits_task_queue", "department", "status", "due_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("permits_application.id"), index=True)
    department: Mapped[str] = mapped_column(String(40))
    permit_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # The limit that binds this task (the promised one when shorter than the statutory one), its unit and where
    # it comes from; the statutory due day is kept apart for the queue's "near the statutory limit" order.
    limit_days: Mapped[int] = mapped_column(Integer)
    limit_unit: Mapped[str] = mapped_column(String(14))
    limit_basis: Mapped[str] = mapped_column(Text)
    statutory_days: Mapped[int] = mapped_column(Integer)
    # Art. 42's extension: approved by the head of the agency, its reason sent to the applicant.
    extension_days: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_approved_by: Mapped[str | None] = mapped_column(Text)
    extension_approved_on: Mapped[dt.date | None] = mapped_column(Date)
    paused_days: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    due_on: Mapped[dt.date] = mapped_column(Date)
    statutory_due_on: Mapped[dt.date] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("registry_account.id"))
    # A numbered written decision (行政许可法 Art. 38): the number is public; the reasons go to the applicant.
    decision_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    # A decision after the due day says why, publicly (优化营商环境条例 Art. 36): the statistics show it.
    overdue_reason: Mapped[str | None] = mapped_column(Text)
    # What the deadline sweep did once the task ran past its limit: escalated, blocked, or deemed_consent (the
    # system's decision under a cited local instrument); null while in time.
    overdue_action: Mapped[str | None] = mapped_column(String(16))
    overdue_noted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    conditions: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_at: Mapped[dt.datetime] = _now()


class SupplementNotice(Base):
    """The one consolidated notice of what is missing (一次性告知, 行政许可法 Art. 32(4)) and its answer.

    Every department's request made before the applicant answers joins the open notice; after the answer a new
    notice may ask only about what the answer supplied.
    """

    __tablename__ = "permits_supplement_notice"
    __table_args__ = (
        UniqueConstraint("application_id", "round"),
        CheckConstraint("round >= 1", name="round_positive"),
        CheckConstraint(
            "(answered_at IS NULL) = (answer_note IS NULL AND answer_documents IS NULL AND answered_on IS NULL)",
            name="answer_whole",
        ),
        # One notice at a time waits for its answer.
        Index(
            "uq_permits_supplement_notice_open",
            "application_id",
            unique=True,
            postgresql_where=text("answered_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("permits_application.id"))
    round: Mapped[int] = mapped_column(Integer)
    # [{item, reason, department, task_id}] in the order the departments asked.
    items: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    # Sent inside the completeness stage (before acceptance): the answer day becomes the acceptance day.
    before_acceptance: Mapped[bool] = mapped_column(Boolean)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The city days of the request and of the answer: where a local rule lets a supplement after acceptance
    # stop the clock, these bound the days left out.
    opened_on: Mapped[dt.date] = mapped_column(Date)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    answer_note: Mapped[str | None] = mapped_column(Text)
    answer_documents: Mapped[list[str] | None] = mapped_column(JSONB)


class ClockPause(Base):
    """An Art. 45 step (hearing, testing, inspection, expert review): the clock stands still from its start (never
    before the applicant's written notice) to its last day inclusive."""

    __tablename__ = "permits_clock_pause"
    __table_args__ = (
        one_of("kind", PAUSE_REASONS, name="kind_known"),
        CheckConstraint("starts_on >= notified_on", name="starts_after_notice"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("permits_task.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The written notice to the applicant (Art. 45 requires it), as sent.
    notice: Mapped[str] = mapped_column(Text)
    notified_on: Mapped[dt.date] = mapped_column(Date)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    created_at: Mapped[dt.datetime] = _now()


class Commitment(Base):
    """The applicant's signed commitment (告知承诺制) a task was approved on: the text's version and SHA-256 as
    signed, who signed and when, and the inspection that must follow (优化营商环境条例 Art. 19, 40)."""

    __tablename__ = "permits_commitment"
    __table_args__ = (CheckConstraint("text_sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("permits_task.id"), primary_key=True)
    text_version: Mapped[str] = mapped_column(String(40))
    text_sha256: Mapped[str] = mapped_column(String(64))
    signed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    inspection_due_on: Mapped[dt.date] = mapped_column(Date)
    inspection_due_provisional: Mapped[bool] = mapped_column(Boolean)
