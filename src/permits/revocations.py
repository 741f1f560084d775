"""Suspending, revoking and reinstating permits on a cited legal ground, and the signed revocation list.

A department changes its own components of a permit (another department's permit is a 404, before If-Match is
looked at); an admin any. Each change is a row of its own (who, when, ground, reason) and is shown on the
component; the permit takes its worst component's status. Grounds are a fixed list, each with its citation and
the statuses it can justify:

- 撤销 (annulment), 行政许可法 Art. 69: the licence was granted unlawfully, or obtained by deceit or bribery;
- 撤回 (withdrawal), 行政许可法 Art. 8: the law or circumstances changed and the public interest requires it;
  the holder's loss must be compensated, so the compensation arranged is required;
- 注销 (deregistration), 行政许可法 Art. 70: the licence lapsed (expired, holder gone, annulled, withdrawn);
- road authority, 城市道路管理条例 Art. 38: the road authority shrinks, shortens or stops a temporary road
  occupation for the city's needs (road-occupancy components only);
- penalty, 行政处罚法 Art. 9(3): 暂扣 (suspension) or 吊销 (revocation) of a licence as an administrative penalty.

Reinstating a suspended component takes a reason and no ground. Revoked is final.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Final, Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.conditional import Precondition
from core.crypto import FieldCipher
from core.errors import InvalidInput
from permits import signing
from permits.errors import PermitNotFound, PermitStatusConflict
from permits.history import Actor, append_history
from permits.issuance import component_status, get_permit
from permits.issued_models import STATUS_SEVERITY, Permit, PermitComponent, PermitStatusChange, StoredStatus

__all__ = [
    "GROUNDS",
    "REVOCATIONS_TYP",
    "TRANSITIONS",
    "Ground",
    "GroundCode",
    "RevokedEntry",
    "change_permit_status",
    "revocation_list",
]

GroundCode = Literal["annulment", "withdrawal", "deregistration", "road_authority", "penalty"]
REVOCATIONS_TYP: Final = "permit-revocations+jwt"
ROAD_OCCUPANCY: Final = "road_occupancy"


class Ground(msgspec.Struct, frozen=True, kw_only=True):
    """A legal ground for changing a permit's status, with its citation."""

    code: GroundCode
    name_zh: str
    citation: str
    statuses: tuple[StoredStatus, ...]
    needs_compensation: bool = False
    permit_types: tuple[str, ...] | None = None  # None: any permit type


GROUNDS: Final[dict[str, Ground]] = {
    ground.code: ground
    for ground in (
        Ground(
            code="annulment", name_zh="撤销", citation="《中华人民共和国行政许可法》第六十九条", statuses=("revoked",)
        ),
        Ground(
            code="withdrawal",
            name_zh="撤回",
            citation="《中华人民共和国行政许可法》第八条（依法给予补偿）",
            statuses=("revoked",),
            needs_compensation=True,
        ),
        Ground(
            code="deregistration",
            name_zh="注销",
            citation="《中华人民共和国行政许可法》第七十条",
            statuses=("revoked",),
        ),
        Ground(
            code="road_authority",
            name_zh="收回临时占用城市道路",
            citation="《城市道路管理条例》第三十八条",
            statuses=("suspended", "revoked"),
            permit_types=(ROAD_OCCUPANCY,),
        ),
        Ground(
            code="penalty",
            name_zh="暂扣或者吊销许可证件",
            citation="《中华人民共和国行政处罚法》第九条第三项",
            statuses=("suspended", "revoked"),
        ),
    )
}

# Where a component's status (as it stands today) may go.
TRANSITIONS: Final[dict[str, tuple[StoredStatus, ...]]] = {
    "valid": ("suspended", "revoked"),
    "suspended": ("valid", "revoked"),
    "expired": ("revoked",),  # 注销 of a lapsed licence (Art. 70)
    "revoked": (),
}


def _targets(
    principal: Principal, components: Sequence[PermitComponent], department: str | None
) -> list[PermitComponent]:
    """The components the caller changes: a department's own (a stranger's permit is not found), or an admin's
    choice of department (all components when none is named)."""
    require_role(principal, "department", "admin")
    if principal.role == "department":
        if department is not None and department != principal.department_code:
            raise PermitNotFound("No permit has that number")
        department = principal.department_code
    chosen = [component for component in components if department is None or component.department == department]
    if not chosen:
        if principal.role == "department":
            raise PermitNotFound("No permit has that number")
        raise InvalidInput.for_field("department", "the permit has no component of that department")
    return chosen


def _check_ground(
    status: StoredStatus, ground: str | None, compensation: str | None, components: Sequence[PermitComponent]
) -> Ground | None:
    if status == "valid":
        if ground is not None:
            raise InvalidInput.for_field("ground", "reinstating takes no ground; give the reason")
        if compensation is not None:
            raise InvalidInput.for_field("compensation", "only a withdrawal (撤回) records compensation")
        return None
    if ground is None:
        raise InvalidInput.for_field("ground", f"a change to {status} needs its legal ground")
    found = GROUNDS[ground]
    if status not in found.statuses:
        raise InvalidInput.for_field(
            "ground", f"{ground} ({found.citation}) justifies {' or '.join(found.statuses)}, not {status}"
        )
    if found.permit_types is not None and any(c.permit_type not in found.permit_types for c in components):
        raise InvalidInput.for_field("ground", f"{ground} applies to {', '.join(found.permit_types)} only")
    if found.needs_compensation and compensation is None:
        raise InvalidInput.for_field("compensation", f"a withdrawal must record the compensation ({found.citation})")
    if not found.needs_compensation and compensation is not None:
        raise InvalidInput.for_field("compensation", "only a withdrawal (撤回) records compensation")
    return found


async def change_permit_status(
    session: AsyncSession,
    principal: Principal,
    number: str,
    *,
    status: StoredStatus,
    ground: str | None,
    reason: str,
    compensation: str | None,
    department: str | None,
    precondition: Precondition,
    now: dt.datetime,
    today: dt.date,
) -> tuple[Permit, list[PermitComponent]]:
    """Suspend, revoke or reinstate the caller's components of a permit (If-Match on the permit's version)."""
    # Locked before the version is compared: of two officers sending the same ETag, the second sees the first's
    # change and gets 412, rather than both passing the comparison.
    permit, components = await get_permit(session, number, for_update=True)
    targets = _targets(principal, components, department)
    precondition.check(permit.version, what="permit")
    _check_ground(status, ground, compensation, targets)
    currents = [component_status(component, today, permit=permit) for component in targets]
    for component, current in zip(targets, currents, strict=True):
        allowed = TRANSITIONS[current]
        if status not in allowed:
            raise PermitStatusConflict(
                f"The {component.department} component is {current}; it can become "
                + (", ".join(allowed) if allowed else "nothing else"),
                current_status=current,
                allowed_transitions=list(allowed),
            )
    for component, current in zip(targets, currents, strict=True):
        session.add(
            PermitStatusChange(
                permit_number=permit.number,
                task_id=component.task_id,
                department=component.department,
                from_status=current,
                to_status=status,
                ground=ground,
                reason=reason,
                compensation=compensation,
                decided_by=principal.account_id,
                decided_at=now,
            )
        )
        component.status = status
        component.ground = ground
        component.reason = reason
        component.compensation = compensation
        component.status_changed_at = now
    worst = max((component.status for component in components), key=STATUS_SEVERITY.__getitem__)
    if worst != permit.status:
        permit.status = worst
        permit.status_changed_at = now
    permit.version += 1
    await session.flush()
    await _record(session, permit, status, ground, [c.department for c in targets], Actor.of(principal), now)
    return permit, components


async def deregister_on_surrender(
    session: AsyncSession, number: str, *, holder_account_id: uuid.UUID, reason: str, now: dt.datetime, today: dt.date
) -> None:
    """The holder gave up what the permit allows (a road occupancy withdrawn after approval): every component
    still standing is deregistered (注销, 行政许可法 Art. 70), so a scanner no longer finds it valid."""
    permit, components = await get_permit(session, number, for_update=True)
    changed = []
    for component in components:
        current = component_status(component, today, permit=permit)
        if current == "revoked":
            continue
        session.add(
            PermitStatusChange(
                permit_number=permit.number,
                task_id=component.task_id,
                department=component.department,
                from_status=current,
                to_status="revoked",
                ground="deregistration",
                reason=reason,
                compensation=None,
                decided_by=holder_account_id,
                decided_at=now,
            )
        )
        component.status, component.ground, component.reason = "revoked", "deregistration", reason
        component.compensation, component.status_changed_at = None, now
        changed.append(component.department)
    if not changed:
        return
    permit.status, permit.status_changed_at = "revoked", now
    permit.version += 1
    await session.flush()
    actor = Actor(role="vendor", account_id=holder_account_id)
    await _record(session, permit, "revoked", "deregistration", changed, actor, now)


async def _record(
    session: AsyncSession,
    permit: Permit,
    status: str,
    ground: str | None,
    departments: Sequence[str],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """The permit's change in the application's hash-chained history (its reason stays on the component)."""
    event = {"suspended": "permit_suspended", "revoked": "permit_revoked", "valid": "permit_reinstated"}[status]
    await append_history(
        session,
        event=event,
        actor=actor,
        at=now,
        application_id=permit.application_id,
        permit_number=permit.number,
        payload={"ground": ground, "departments": sorted(departments), "version": permit.version},
    )


class RevokedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A permit that is not valid although its dates say it could be: suspended or revoked, since when, why."""

    number: str
    status: StoredStatus
    since: dt.datetime
    ground: GroundCode | None


async def revocation_list(
    session: AsyncSession, cipher: FieldCipher, *, now: dt.datetime, today: dt.date, issuer: str
) -> tuple[str, list[RevokedEntry]]:
    """Every suspended or revoked permit not yet past its validity, signed: a scanner that last fetched this at
    `iat` can say "valid as of iat". Expired permits are left out: their tokens fail on `exp` anyway."""
    rows = await session.execute(
        select(Permit.number, Permit.status, Permit.status_changed_at, PermitComponent.status, PermitComponent.ground)
        .join(PermitComponent, PermitComponent.permit_number == Permit.number)
        .where(Permit.status != "valid", Permit.valid_to >= today, PermitComponent.status == Permit.status)
        .order_by(Permit.number, PermitComponent.status_changed_at.desc())
    )
    entries: dict[str, RevokedEntry] = {}
    for number, status, since, _, ground in rows:
        entries.setdefault(number, RevokedEntry(number=number, status=status, since=since or now, ground=ground))  # type: ignore[arg-type]  # CHECK status_known; grounds from GROUNDS
    listed = list(entries.values())
    claims: dict[str, Any] = {
        "iss": issuer,
        "iat": int(now.timestamp()),
        "revoked": [msgspec.to_builtins(entry) for entry in listed],
    }
    token = await signing.sign_claims(session, cipher, claims, typ=REVOCATIONS_TYP)
    return token, listed
