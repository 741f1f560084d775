"""Examples of the issued-permit Structs, in one story: 王秀英 sells cooked snacks at pitch A-07 of the
东华门早市 every morning, under a food-stall filing of Dongcheng's market regulation bureau; the tokens are real
Ed25519 JWS, signed by a throwaway key for the documentation."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from permits.api.keys import JwkOut, JwksOut, RevocationsOut
from permits.api.permits import ChangePermitStatus, ComponentOut, PermitOut
from permits.issuance import PermitHours, PermitPlace
from permits.revocations import RevokedEntry
from venues.schedule import Window

_CITY = dt.timezone(dt.timedelta(hours=8))
_NUMBER = "XK-2026-7KRNM02KESXYF4GC8"
_KID = "Kz2ahJfzZpdjqOBMUm_rON7KjjuD9l83wXrM7Ed7U30"
_BASE = "https://flexreg.dongcheng.gov.cn"
_PERMIT_JWS = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6Ikt6MmFoSmZ6WnBkanFPQk1VbV9yT043S2pqdUQ5bDgzd1hyTTdFZDdVMzAiLCJ0eXAiOiJw"
    "ZXJtaXQrand0In0.eyJpc3MiOiJodHRwczovL2ZsZXhyZWcuZG9uZ2NoZW5nLmdvdi5jbiIsInN1YiI6IlhLLTIwMjYtN0tSTk0w"
    "MktFU1hZRjRHQzgiLCJhdWQiOiJmbGV4cmVnLXBlcm1pdCIsImlhdCI6MTc4MTQ5MDYwMCwibmJmIjoxNzgxNTM5MjAwLCJleHAi"
    "OjE3OTg3MzI4MDAsImhvbGRlciI6Ilx1NzM4YioqIiwiaWRfbGFzdDQiOiIwMDJYIiwiYWN0aXZpdHkiOiJjb29rZWRfc25hY2tz"
    "IiwicGxhY2UiOnsibmFtZSI6Ilx1NGUxY1x1NTM0ZVx1OTVlOFx1NjVlOVx1NWUwMiBBLTA3IiwidmVudWVfaWQiOiIzZjZiMWMy"
    "ZS04ZDRhLTRjMWUtOWI3YS0yZTVkOGYwYTFjMzQiLCJwaXRjaCI6IkEtMDcifSwiaG91cnMiOnsic2NoZWR1bGUiOlt7ImRheXMi"
    "OlsxLDIsMyw0LDUsNiw3XSwic3RhcnQiOiIwNjowMCIsImVuZCI6IjA5OjAwIn1dfSwidmFsaWRfZnJvbSI6IjIwMjYtMDYtMTYi"
    "LCJ2YWxpZF90byI6IjIwMjYtMTItMzEiLCJkZXBhcnRtZW50cyI6WyJtYXJrZXRfcmVndWxhdGlvbiJdfQ.wdPwfkrPh_bpnQ-Fv"
    "6mgxrqUPGMWH77GS8KxgDgs6hAWStH3HBpZvM2PiCUYjMyhDGUGodDWiqPUC2FwuDB-DQ"
)
_REVOCATIONS = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6Ikt6MmFoSmZ6WnBkanFPQk1VbV9yT043S2pqdUQ5bDgzd1hyTTdFZDdVMzAiLCJ0eXAiOiJw"
    "ZXJtaXQtcmV2b2NhdGlvbnMrand0In0.eyJpc3MiOiJodHRwczovL2ZsZXhyZWcuZG9uZ2NoZW5nLmdvdi5jbiIsImlhdCI6MTc4"
    "MTQ5MDYwMCwicmV2b2tlZCI6W3sibnVtYmVyIjoiWEstMjAyNi04QkhOWkc5Vk0zRUM0RFRCOCIsInN0YXR1cyI6InN1c3BlbmRl"
    "ZCIsInNpbmNlIjoiMjAyNi0wNi0xNFQwMTowMDowMFoiLCJncm91bmQiOiJyb2FkX2F1dGhvcml0eSJ9XX0.Usy6nJRa24NfCiro"
    "KF4LWrPXWD-ExSE1z5YsFzbaRYqk_ycXBymTm1u5_Gy6QchWX0sxn7trEC1WYFtmuiBUAA"
)


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each issued-permit Struct (core.openapi_components)."""
    component = ComponentOut(
        department="market_regulation",
        permit_type="food_stall_filing",
        decision_number="东市监食摊备〔2026〕0412号",
        valid_from=dt.date(2026, 6, 16),
        valid_to=dt.date(2026, 12, 31),
        status="valid",
        ground=None,
        ground_citation=None,
        reason=None,
        compensation=None,
        status_changed_at=None,
    )
    return [
        component,
        PermitOut(
            number=_NUMBER,
            status="valid",
            holder_masked="王**",
            id_last4="002X",
            activity="cooked_snacks",
            activity_name="现场制作熟食小吃",
            place=PermitPlace(
                name="东华门早市 A-07", venue_id=uuid.UUID("3f6b1c2e-8d4a-4c1e-9b7a-2e5d8f0a1c34"), pitch_label="A-07"
            ),
            hours=PermitHours(schedule=[Window(days=[1, 2, 3, 4, 5, 6, 7], start="06:00", end="09:00")]),
            valid_from=dt.date(2026, 6, 16),
            valid_to=dt.date(2026, 12, 31),
            conditions=["经营时段结束后30分钟内清理摊位", "持健康证明上岗"],
            departments=["market_regulation"],
            components=[component],
            issued_at=dt.datetime(2026, 6, 15, 10, 30, tzinfo=_CITY),
            status_changed_at=None,
            kid=_KID,
            token=_PERMIT_JWS,
            verification_url=f"{_BASE}/verify/{_NUMBER}#{_PERMIT_JWS}",
            version=1,
        ),
        ChangePermitStatus(
            status="suspended",
            ground="penalty",
            reason="2026年7月3日检查发现超出许可摊位范围经营，\n责令改正期间暂扣。",
        ),
        JwksOut(
            keys=[
                JwkOut(
                    kty="OKP",
                    crv="Ed25519",
                    x="2MugqXcqFd7O39ykVtEINfgHE-BajN7tfi_bY28alNs",
                    kid=_KID,
                    use="sig",
                    alg="EdDSA",
                )
            ]
        ),
        RevocationsOut(
            token=_REVOCATIONS,
            issued_at=dt.datetime(2026, 6, 15, 10, 30, tzinfo=_CITY),
            revoked=[
                RevokedEntry(
                    number="XK-2026-8BHNZG9VM3EC4DTB8",
                    status="suspended",
                    since=dt.datetime(2026, 6, 14, 9, 0, tzinfo=_CITY),
                    ground="road_authority",
                )
            ],
        ),
    ]
