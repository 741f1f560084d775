"""Examples of the allocation-round Structs, one story: 东华门街道 opens a round over three pitches of the 东华门社区
服务中心 for the third quarter of 2026, with a lottery result as beacon; 王秀英 (a verified key group) applies,
the office draws, she holds pitch A-02 and later gives it up to the first on the waiting list.

The results example is a real draw (`venues.draw.draw` on fixed inputs), so `flexreg verify-draw` accepts it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from venues import draw
from venues.api.allocations import AllocationOut, PitchStandingOut, ReleasedOut
from venues.api.rounds import (
    ApplyToRound,
    BeaconIn,
    BeaconOut,
    ChoiceResultOut,
    DrawRound,
    MyResultOut,
    OpenRound,
    RoundApplicationOut,
    RoundOut,
    RoundSummaryOut,
    results_out,
)

_BEIJING = dt.timezone(dt.timedelta(hours=8))
_DONGHUAMEN = "110101001000"  # 东华门街道, 东城区, 北京市
_ROUND_ID = uuid.UUID("5d2c8e41-7a9b-4c36-b1f0-3e8d6a2c9f57")
_VENUE_ID = uuid.UUID("9a4e1c7b-2f58-4d03-8b6e-c1d7f2a5e940")
_VENDOR_ID = uuid.UUID("6f1d3c2a-8b4e-4f7a-9c51-2e0b7d9a4c13")  # 王秀英, as in the registry's examples
_APPLICATION_ID = uuid.UUID("c3f7a9d2-4e16-4b8c-a05d-7e2b9c1f6a38")
_ALLOCATION_ID = uuid.UUID("1e6b4d8f-9c23-4a75-b0e1-5f3a7c2d8e96")
_PITCHES = [
    uuid.UUID("2b7f9e14-6c3a-4d58-91e0-a4c8d2f6b713"),
    uuid.UUID("7c1e5a93-0d4b-4f26-8a97-e3b6c9d1f540"),
    uuid.UUID("e4a2c6f8-1b9d-4e37-a5c0-8d2f7b3e9c61"),
]
_SEED = bytes.fromhex("3c9a5e17d2b84f60a1c7e93b5d2f8046c1a9e7b3d5f20846a3c9e1b7d5f20468")
_BEACON = "中国福利彩票福彩3D 2026年第244期开奖号码: 3 8 1"
_REFS = [
    "8f3a1c6e9b2d4f7081a5c3e9d7b2f460",  # 王秀英
    "1d7b4e9a2c6f8035b9e1a7c4d2f6e803",
    "c5e9a3d71f2b8460e7c1a9d3b5f2e748",
    "4a8e2c6f0b9d3e7159a1c7e3b5d9f206",
]
_CHOICES = [[1, 0], [1, 2, 0], [0], [1]]
_TIERS = [1, 2, 2, 2]
_CLOSE = dt.datetime(2026, 6, 20, 18, 0, tzinfo=_BEIJING)


def _result() -> draw.DrawResult:
    return draw.draw(
        round_id=str(_ROUND_ID),
        seed=_SEED,
        beacon_value=_BEACON,
        pitch_ids=[str(pitch) for pitch in _PITCHES],
        applications=[
            draw.Application(applicant_ref=ref, tier=tier, choices=tuple(str(_PITCHES[i]) for i in choices))
            for ref, tier, choices in zip(_REFS, _TIERS, _CHOICES, strict=True)
        ],
    )


def _pitch(label: str, pitch_id: uuid.UUID) -> PitchStandingOut:
    return PitchStandingOut(
        pitch_id=pitch_id,
        label=label,
        venue_id=_VENUE_ID,
        venue_name="东华门社区服务中心",
        status="open",
        status_reason=None,
        status_from=None,
        status_until=None,
        venue_status="open",
        venue_status_reason=None,
        venue_status_from=None,
        venue_status_until=None,
    )


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each allocation-round request and response Struct."""
    result = _result()
    beacon = BeaconOut(
        description="福彩3D 2026年第244期开奖号码", available_after=dt.datetime(2026, 6, 20, 21, 30, tzinfo=_BEIJING)
    )
    opened = dt.datetime(2026, 6, 1, 9, 30, tzinfo=_BEIJING)
    drawn = dt.datetime(2026, 6, 21, 10, 0, tzinfo=_BEIJING)
    mine = next(entry for entry in result.order if entry.applicant_ref == _REFS[0])
    position = result.order.index(mine) + 1
    got = next(assignment for assignment in result.assignments if assignment.applicant_ref == _REFS[0])
    allocation = AllocationOut(
        id=_ALLOCATION_ID,
        round_id=_ROUND_ID,
        vendor_id=_VENDOR_ID,
        pitch=_pitch("A-02", uuid.UUID(got.pitch_id)),
        term_start=dt.date(2026, 7, 1),
        term_end=dt.date(2026, 9, 30),
        choice_rank=got.choice_rank,
        source="draw",
        status="held",
        created_at=drawn,
        released_at=None,
        replaces_id=None,
    )
    return [
        OpenRound(
            name="东华门社区2026年第三季度便民摊位",
            pitch_ids=_PITCHES,
            term_start=dt.date(2026, 7, 1),
            term_end=dt.date(2026, 9, 30),
            applications_close_at=_CLOSE,
            priority_tiers=[["employment_difficulty", "laid_off_unemployed", "migrant_worker", "college_graduate"]],
            beacon=BeaconIn(description=beacon.description, available_after=beacon.available_after),
        ),
        RoundOut(
            id=_ROUND_ID,
            name="东华门社区2026年第三季度便民摊位",
            jurisdiction_code=_DONGHUAMEN,
            status="drawn",
            term_start=dt.date(2026, 7, 1),
            term_end=dt.date(2026, 9, 30),
            applications_close_at=_CLOSE,
            priority_tiers=[["employment_difficulty", "laid_off_unemployed", "migrant_worker", "college_graduate"]],
            seed_commitment=result.seed_commitment,
            beacon=beacon,
            beacon_value=_BEACON,
            pitch_ids=_PITCHES,
            pitch_count=3,
            application_count=4,
            applications_digest=result.applications_digest,
            drawn_at=drawn,
            created_at=opened,
        ),
        RoundSummaryOut(
            id=_ROUND_ID,
            name="东华门社区2026年第三季度便民摊位",
            jurisdiction_code=_DONGHUAMEN,
            status="open",
            term_start=dt.date(2026, 7, 1),
            term_end=dt.date(2026, 9, 30),
            applications_close_at=_CLOSE,
            seed_commitment=result.seed_commitment,
            beacon=beacon,
            pitch_count=3,
            application_count=4,
            drawn_at=None,
            created_at=opened,
        ),
        ApplyToRound(choices=[_PITCHES[1], _PITCHES[0]], activity_code="shoe_repair"),
        RoundApplicationOut(
            id=_APPLICATION_ID,
            round_id=_ROUND_ID,
            applicant_ref=_REFS[0],
            choices=[_PITCHES[1], _PITCHES[0]],
            activity_code="shoe_repair",
            submitted_at=dt.datetime(2026, 6, 3, 8, 12, 40, tzinfo=_BEIJING),
        ),
        DrawRound(beacon_value=_BEACON),
        results_out(result),
        MyResultOut(
            round_id=_ROUND_ID,
            round_status="drawn",
            application_id=_APPLICATION_ID,
            applicant_ref=_REFS[0],
            activity_code="shoe_repair",
            submitted_at=dt.datetime(2026, 6, 3, 8, 12, 40, tzinfo=_BEIJING),
            status="allocated",
            tier=mine.tier,
            position=position,
            lottery_key=mine.lottery_key,
            waiting_position=None,
            choices=[
                ChoiceResultOut(pitch_id=_PITCHES[1], choice_rank=1, outcome="assigned", taken_by_position=None),
                ChoiceResultOut(pitch_id=_PITCHES[0], choice_rank=2, outcome="not_needed", taken_by_position=None),
            ],
            allocation_id=_ALLOCATION_ID,
            allocation=allocation,
        ),
        allocation,
        ReleasedOut(
            allocation=msgspec.structs.replace(
                allocation, status="released", released_at=dt.datetime(2026, 7, 10, 9, 0, tzinfo=_BEIJING)
            ),
            passed_to_applicant_ref=result.waiting_list[0] if result.waiting_list else None,
        ),
    ]
