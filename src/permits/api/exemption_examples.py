"""Examples of the exemption checks' Structs, in one story: 王秀英 asks whether she may sell vegetables at the
Donghuamen morning market on Tuesday 16 June 2026, 06:30–08:30. The decision is made by the rules themselves
(permits.exemption_logic over the packaged data), so the example is what the service would answer."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from core.geojson import Point
from permits.api.exemption import CheckExemption, ExemptionCheckOut
from permits.exemption import ReferenceAnswer, ReferencePlace, check_input
from permits.exemption_logic import decide
from permits.exemption_rules import load_exemption_rules
from permits.exemption_types import ExemptionFacts, PeriodFacts, decision_digest
from registry.catalogue import load_catalogue
from venues import geo
from venues.api.road import OccupancyPeriod
from venues.designated import DesignatedPlace, Designation

_CITY = dt.timezone(dt.timedelta(hours=8))
_VENDOR_ID = uuid.UUID("6f1d3c2a-8b4e-4f7a-9c51-2e0b7d9a4c13")
_CHECK_ID = uuid.UUID("9b2e4c61-7d35-4a8f-b0e2-5c1f3a9d7e48")
_MARKET_ID = uuid.UUID("3f6b1c2e-8d4a-4c1e-9b7a-2e5d8f0a1c34")
_DESIGNATION = Designation(
    authority="北京市东城区人民政府", document_number="东政发〔2026〕12号", designated_on=dt.date(2026, 3, 1)
)
_START = dt.datetime(2026, 6, 16, 6, 30, tzinfo=_CITY)
_END = dt.datetime(2026, 6, 16, 8, 30, tzinfo=_CITY)
_LOCATION = Point(coordinates=[116.4097, 39.9301])
_REFERENCE = "EX-7KQ2M9XW4HRT"


def _decision_out() -> ExemptionCheckOut:
    rules, catalogue = load_exemption_rules(), load_catalogue()
    place = DesignatedPlace(
        venue_id=_MARKET_ID,
        venue_revision=3,
        name="东华门早市",
        jurisdiction_code="110101001000",
        designation=_DESIGNATION,
        allowed_categories=["agricultural_products", "daily_necessities"],
        opens_at=dt.datetime(2026, 6, 16, 6, 0, tzinfo=_CITY),
        closes_at=dt.datetime(2026, 6, 16, 9, 0, tzinfo=_CITY),
    )
    facts = ExemptionFacts(
        located=True,
        jurisdiction_code="110101001000",
        periods=(PeriodFacts(start=_START, end=_END, matched=place),),
        days=(_START.date(),),
    )
    # The first version is in force from 2026-01-01: the example's day.
    decision = decide(catalogue.activity("vegetables_fruit"), facts, rules, catalogue, [rules.versions[0]])
    _, digest = check_input(
        activity_code="vegetables_fruit",
        point=geo.to_shape(_LOCATION, field="location"),
        periods=[(_START, _END)],
        vendor_id=_VENDOR_ID,
        jurisdiction_code=None,
    )
    return ExemptionCheckOut(
        id=_CHECK_ID,
        outcome=decision.outcome,
        reasons=decision.reasons,
        required_permits=decision.required_permits,
        matched_place=decision.matched_place,
        rule_version=decision.rule_version,
        rule_versions=decision.rule_versions,
        venue_revisions=decision.venue_revisions,
        activity_code=decision.activity_code,
        jurisdiction_code=decision.jurisdiction_code,
        vendor_id=_VENDOR_ID,
        reference=_REFERENCE,
        input_digest=digest,
        decision_digest=decision_digest(decision),
        created_at=dt.datetime(2026, 6, 15, 21, 4, 12, tzinfo=_CITY),
    )


def examples() -> list[msgspec.Struct]:
    decided = _decision_out()
    return [
        CheckExemption(
            activity_code="vegetables_fruit",
            location=_LOCATION,
            periods=[OccupancyPeriod(start=_START, end=_END)],
            vendor_id=_VENDOR_ID,
        ),
        decided,
        ReferenceAnswer(
            reference=_REFERENCE,
            status="valid",
            lapsed_because=[],
            holder_masked="王**",
            activity_code="vegetables_fruit",
            activity_name_zh="蔬菜水果",
            places=[
                ReferencePlace(
                    venue_id=_MARKET_ID,
                    name="东华门早市",
                    designation_authority=_DESIGNATION.authority,
                    designation_document_number=_DESIGNATION.document_number,
                    designated_on=_DESIGNATION.designated_on,
                )
            ],
            hours=[{"start": _START.isoformat(), "end": _END.isoformat()}],
            rule_version=decided.rule_version,
            decided_at=decided.created_at,
            checked_at=dt.datetime(2026, 6, 16, 7, 12, 40, tzinfo=_CITY),
        ),
    ]
