"""The demo city's permits: a reviewer account for every department of the catalogue, and an application in
every state, made as vendors and departments make them through the API: the exemption decision and the one-stop
submission, a road occupancy handed to the permit flow, decisions with If-Match, a supplement notice and its
answer, a withdrawal. So their history rows, decision numbers and the permit's signed token are real.

- in review: 李秀英's cooked snacks on the night market; health asked for her health certificate, she answered,
  and market regulation and health have it in their queues;
- needs supplement: 赵建国's books and magazines there; press and publication asked where the stock comes from;
- rejected: 赵建国's bubble tea there; market regulation refused it in a numbered decision with its reasons;
- withdrawn: 李秀英's street barbering in the courtyard, taken back;
- approved: 王小明's stall on the carriageway market next weekend; the road authority and the traffic police
  approved it with conditions, so the occupancy is approved and its permit issued, with its QR code.

Idempotent as the rest of the demo: each application is looked up by its applicant and activity (the road one
by its applicant's occupancy of the carriageway zone) and made, all its steps in one transaction, only when
missing; found, it is left as it stands (a visitor may have decided it since) and listed as it is now.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Concatenate, Final, Literal, ParamSpec
from zoneinfo import ZoneInfo

from litestar.datastructures import State
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import Principal
from core.conditional import Precondition
from core.crypto import FieldCipher
from core.db import transaction
from core.errors import DomainError
from core.geojson import Point, Polygon
from core.settings import Settings
from flexreg.demo_evidence import upload_sample_png
from permits import decisions, issuance, submission
from permits.calendars import CalendarSource
from permits.decisions import DecisionInput, MissingItem
from permits.issued_models import Permit
from permits.models import Application, Task
from permits.permit_issue import Issuer
from permits.road_flow import RoadPermitFlow
from registry import accounts
from registry.accounts import principal_for
from registry.catalogue import load_catalogue
from registry.models import Vendor
from venues import road
from venues.designated import close_index
from venues.models import RoadOccupancy, Venue
from venues.road_rules import Period

logger = logging.getLogger(__name__)

Site = Literal["night_market", "courtyard"]
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class DepartmentAccount:
    username: str
    password: str
    department: str
    name: str


def department_accounts() -> list[DepartmentAccount]:
    """One reviewer per department of the catalogue, in its order: `dept.<code>` / `<code>-pass`."""
    return [
        DepartmentAccount(f"dept.{code}", f"{code.replace('_', '-')}-pass", code, f"{item.name_zh} {item.name_en}")
        for code, item in load_catalogue().departments.items()
    ]


async def open_department_accounts(session: AsyncSession) -> None:
    known = load_catalogue().department_codes
    for account in department_accounts():
        if await accounts.find_account(session, account.username) is None:
            await accounts.open_account(
                session,
                username=account.username,
                password=account.password,
                role="department",
                department_code=account.department,
                known_departments=known,
            )


def department_lines() -> list[str]:
    """The department accounts as `flexreg demo` and `flexreg serve --demo` list them."""
    lines = ["Department accounts (username / password / department; GET /api/v1/tasks is each one's queue):"]
    lines += [f"  {a.username:26} {a.password:26} {a.name}" for a in department_accounts()]
    return lines


async def demo_principal(session: AsyncSession, username: str) -> Principal:
    """The principal of a demo account, as its bearer token would make it."""
    account = await accounts.find_account(session, username)
    if account is None:
        raise RuntimeError(f"the demo account {username} must exist before what it does")
    vendor_id = await session.scalar(select(Vendor.id).where(Vendor.account_id == account.id))
    return principal_for(account, vendor_id)


# --- applications -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Sites:
    """Where the demo's applications are made, drawn by flexreg.demo on its places."""

    night_market: Point
    courtyard: Point
    carriageway_id: uuid.UUID
    carriageway_stall: Polygon


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """An application a demo vendor submits, and the state the demo's steps leave it in."""

    vendor: str
    activity: str
    site: Site
    hours: tuple[dt.time, dt.time]
    days_ahead: tuple[int, ...]
    aim: Literal["in_review", "needs_supplement", "rejected", "withdrawn"]


EVENING: Final = (dt.time(18, 30), dt.time(21, 30))
SUBMITTED: Final = [
    Scenario(
        vendor="demo_vendor_li",
        activity="cooked_snacks",
        site="night_market",
        hours=EVENING,
        days_ahead=(7, 8, 9),
        aim="in_review",
    ),
    Scenario(
        vendor="demo_vendor_zhao",
        activity="books_magazines",
        site="night_market",
        hours=EVENING,
        days_ahead=(7, 14),
        aim="needs_supplement",
    ),
    Scenario(
        vendor="demo_vendor_zhao",
        activity="bubble_tea",
        site="night_market",
        hours=EVENING,
        days_ahead=(10, 11),
        aim="rejected",
    ),
    Scenario(
        vendor="demo_vendor_li",
        activity="street_barber",
        site="courtyard",
        hours=(dt.time(9, 0), dt.time(12, 0)),
        days_ahead=(12, 19),
        aim="withdrawn",
    ),
]
HEALTH_CERTIFICATE: Final = MissingItem(
    item="从业人员健康证明",
    reason="现场制售熟食，从业人员须取得健康证明后方可上岗（食品安全法 第四十五条）",
)
HEALTH_ANSWER: Final = "健康证明已办理，原件可到窗口核验。"
HEALTH_CERTIFICATE_IMAGE: Final = "flexreg demo: health certificate of demo_vendor_li (not a real certificate)"
STOCK_SOURCE: Final = MissingItem(
    item="出版物进货渠道证明",
    reason="零售出版物须说明进货来源（供货单位及进货凭证），以核查所售为合法出版物",
)
REJECTION: Final = (
    "不予登记，理由如下：\n"
    "1. 申请经营的现制饮品（奶茶）不在本区食品摊贩经营品种目录内，须在固定场所取得食品经营许可证后经营；\n"
    "2. 申请地点为人行道夜市，无给排水条件，不能满足现制饮品的加工卫生要求。"
)
# demo_vendor's stall on the carriageway market (Saturday and Sunday 09:00-17:00) on the first weekend at
# least two days ahead: the road authority's and the traffic police's approvals issue its permit.
ROAD_VENDOR = "demo_vendor"
ROAD_ACTIVITY = "phone_film"
ROAD_HOURS: Final = (dt.time(9, 0), dt.time(17, 0))
ROAD_CONDITIONS: Final = {
    "urban_management": ["不得超出批准的占道范围", "收摊后恢复路面整洁"],
    "traffic_police": ["摊位外侧设置反光锥桶", "保持消防车通道畅通"],
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoApplication:
    id: uuid.UUID
    status: str
    vendor: str
    activity_code: str
    departments: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoPermit:
    number: str
    application_id: uuid.UUID
    verification_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoPermits:
    applications: list[DemoApplication]
    permit: DemoPermit | None


class _Desk:
    """What a step needs, as the app holds it: the settings (and clock), the calendars, the permit issuer, and
    the state the designated-place index lives in."""

    def __init__(self, settings: Settings, state: State) -> None:
        self.settings = settings
        self.state = state
        self.calendars = CalendarSource()
        self.issuer = Issuer(FieldCipher(settings.data.data_key), settings.http.public_url, settings.timezone)

    async def decide(self, session: AsyncSession, department: str, task_id: uuid.UUID, data: DecisionInput) -> None:
        version = await session.scalar(select(Task.version).where(Task.id == task_id))
        await decisions.decide_task(
            session,
            await demo_principal(session, f"dept.{department}"),
            task_id,
            data,
            precondition=Precondition(f'"{version}"'),
            calendar=await self.calendars.current(session),
            issuer=self.issuer,
            now=self.settings.now(),
            today=self.settings.today(),
        )


def _periods(today: dt.date, days: Sequence[int], hours: tuple[dt.time, dt.time], zone: ZoneInfo) -> list[Period]:
    return [
        (dt.datetime.combine(day, hours[0], tzinfo=zone), dt.datetime.combine(day, hours[1], tzinfo=zone))
        for day in (today + dt.timedelta(days=n) for n in days)
    ]


async def _task_of(session: AsyncSession, application_id: uuid.UUID, department: str) -> uuid.UUID:
    """The department's task on an application just opened with one; its licence before a filing (only a
    licence can be refused)."""
    return (
        await session.execute(
            select(Task.id)
            .where(Task.application_id == application_id, Task.department == department)
            .order_by(Task.kind.desc(), Task.permit_type)  # licence > filing
            .limit(1)
        )
    ).scalar_one()


async def _submitted(session: AsyncSession, vendor_id: uuid.UUID | None, activity: str) -> Application | None:
    return await session.scalar(
        select(Application)
        .where(
            Application.vendor_id == vendor_id,
            Application.activity_code == activity,
            Application.road_occupancy_id.is_(None),
        )
        .order_by(Application.created_at, Application.id)
        .limit(1)
    )


async def _submit(session: AsyncSession, desk: _Desk, scenario: Scenario, sites: Sites) -> None:
    settings = desk.settings
    vendor = await demo_principal(session, scenario.vendor)
    if await _submitted(session, vendor.vendor_id, scenario.activity) is not None:
        return
    where = sites.night_market if scenario.site == "night_market" else sites.courtyard
    record = await submission.submit_application(
        session,
        vendor,
        submission.SubmitInput(
            activity_code=scenario.activity,
            location=where,
            coordinate_system="wgs84",
            periods=_periods(settings.today(), scenario.days_ahead, scenario.hours, ZoneInfo(settings.timezone)),
            venue_id=None,
            document_ids=(),
        ),
        state=desk.state,
        calendar=await desk.calendars.current(session),
        issuer=desk.issuer,
        now=settings.now(),
        today=settings.today(),
    )
    if scenario.aim == "in_review":
        ask = DecisionInput(decision="request_supplement", note="请补正以下材料", missing=(HEALTH_CERTIFICATE,))
        await desk.decide(session, "health", await _task_of(session, record.id, "health"), ask)
        # The answer brings a picture of the certificate: the reviewing departments preview it on the task page.
        certificate = await upload_sample_png(
            session, vendor, text=HEALTH_CERTIFICATE_IMAGE, max_bytes=settings.http.max_document_bytes
        )
        await decisions.answer_supplement(
            session,
            vendor,
            record.id,
            document_ids=(certificate,),
            note=HEALTH_ANSWER,
            calendar=await desk.calendars.current(session),
            now=settings.now(),
            today=settings.today(),
        )
    elif scenario.aim == "needs_supplement":
        ask = DecisionInput(decision="request_supplement", note="请补正以下材料", missing=(STOCK_SOURCE,))
        await desk.decide(session, "press_publication", await _task_of(session, record.id, "press_publication"), ask)
    elif scenario.aim == "rejected":
        task_id = await _task_of(session, record.id, "market_regulation")
        await desk.decide(session, "market_regulation", task_id, DecisionInput(decision="reject", note=REJECTION))
    else:
        await decisions.withdraw_application(session, vendor, record.id, now=settings.now())


def _weekend(today: dt.date) -> tuple[int, int]:
    """Days ahead of the first Saturday at least two days off, and of the Sunday after it."""
    saturday = 2 + (5 - (today + dt.timedelta(days=2)).weekday()) % 7
    return saturday, saturday + 1


async def _road_application(session: AsyncSession, sites: Sites, vendor_id: uuid.UUID | None) -> Application | None:
    return await session.scalar(
        select(Application)
        .join(RoadOccupancy, RoadOccupancy.application_id == Application.id)
        .where(RoadOccupancy.zone_id == sites.carriageway_id, RoadOccupancy.vendor_id == vendor_id)
        .order_by(Application.created_at, Application.id)
        .limit(1)
    )


async def _occupy(session: AsyncSession, desk: _Desk, sites: Sites) -> None:
    settings = desk.settings
    vendor = await demo_principal(session, ROAD_VENDOR)
    zone = await session.get(Venue, sites.carriageway_id)
    # A zone staff have closed since takes no request: nothing to show then.
    if await _road_application(session, sites, vendor.vendor_id) is not None or zone is None or zone.status != "open":
        return
    city = ZoneInfo(settings.timezone)
    occupancy = await road.request_road_occupancy(
        session,
        vendor,
        zone_id=zone.id,
        footprint=sites.carriageway_stall,
        periods=_periods(settings.today(), _weekend(settings.today()), ROAD_HOURS, city),
        activity_code=ROAD_ACTIVITY,
        permit_flow=RoadPermitFlow(settings, calendars=desk.calendars),
        now=settings.now(),
        city=city,
    )
    if occupancy.application_id is None:
        raise RuntimeError("a carriageway occupancy goes to the permit flow")
    for department, conditions in ROAD_CONDITIONS.items():
        task_id = await _task_of(session, occupancy.application_id, department)
        approval = DecisionInput(decision="approve", note="经审查，同意临时占用。", conditions=conditions)
        await desk.decide(session, department, task_id, approval)


async def build_permits(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, sites: Sites
) -> DemoPermits:
    """Make whatever demo application is missing, each in its own transaction; what they are now."""
    state = State({"settings": settings})
    desk = _Desk(settings, state)
    try:
        for scenario in SUBMITTED:
            await _attempt(sessionmaker, f"{scenario.vendor}'s {scenario.activity}", _submit, desk, scenario, sites)
        await _attempt(sessionmaker, f"{ROAD_VENDOR}'s road occupancy", _occupy, desk, sites)
    finally:
        await close_index(state)
    async with sessionmaker() as session:
        return await _listed(session, settings, sites)


async def _attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
    what: str,
    step: Callable[Concatenate[AsyncSession, P], Awaitable[None]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> None:
    """Run one scenario in its own transaction; a refusal (the city changed since: a place designated, a zone
    full) leaves that application out with a warning, never half made."""
    try:
        async with transaction(sessionmaker) as session:
            await step(session, *args, **kwargs)
    except DomainError as refused:
        logger.warning("demo application left out (%s): %s", what, refused)


async def _listed(session: AsyncSession, settings: Settings, sites: Sites) -> DemoPermits:
    found: list[tuple[str, Application | None]] = []
    for scenario in SUBMITTED:
        vendor = await demo_principal(session, scenario.vendor)
        found.append((scenario.vendor, await _submitted(session, vendor.vendor_id, scenario.activity)))
    road_vendor = await demo_principal(session, ROAD_VENDOR)
    road_application = await _road_application(session, sites, road_vendor.vendor_id)
    found.append((ROAD_VENDOR, road_application))
    listed = []
    for username, application in found:
        if application is None:
            continue
        departments = await session.scalars(
            select(Task.department).where(Task.application_id == application.id).order_by(Task.department)
        )
        listed.append(
            DemoApplication(
                id=application.id,
                status=application.status,
                vendor=username,
                activity_code=application.activity_code,
                departments=tuple(dict.fromkeys(departments)),
            )
        )
    permit = None
    if road_application is not None and road_application.permit_number is not None:
        issued = await session.get(Permit, road_application.permit_number)
        if issued is not None:
            link = issuance.verification_url(settings.http.public_url, issued.number, issued.token)
            permit = DemoPermit(number=issued.number, application_id=road_application.id, verification_url=link)
    return DemoPermits(applications=listed, permit=permit)


def permit_lines(permits: DemoPermits, url: str = "") -> list[str]:
    """The demo applications and permit as the ready block lists them, with links to try."""
    lines = ["Demo applications (application id / status / applicant / activity / departments):"]
    for a in permits.applications:
        lines.append(f"  {a.id}  {a.status:16} {a.vendor:16} {a.activity_code:16} {', '.join(a.departments)}")
    lines.append(f"  As a department (e.g. dept.market_regulation): {url}/api/v1/tasks")
    if permits.permit is not None:
        number = permits.permit.number
        lines += [
            f"Demo permit {number} (application {permits.permit.application_id}):",
            f"  Permit:  {url}/api/v1/permits/{number}",
            f"  QR code: {url}/api/v1/permits/{number}/qr.png",
            f"  Verify:  {permits.permit.verification_url}",
        ]
    return lines
