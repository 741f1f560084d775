"""The allocation draw, `flexreg-draw-v1`: a tiered lottery then serial dictatorship, specified in docs/draw.md.

Pure: no I/O, no clock, no randomness of its own. The seed comes in as bytes (the service draws it from the
OS and publishes only its commitment until the draw); everything a result contains can be recomputed from
the result alone by `flexreg verify-draw`, which re-implements docs/draw.md without importing this module.

Byte encodings (docs/draw.md §2): `field(b)` is the 4-byte big-endian length of `b` then `b`; strings are
their UTF-8 bytes; integers are 4-byte big-endian unsigned.
"""

from __future__ import annotations

import hashlib

import msgspec

ALGORITHM = "flexreg-draw-v1"
MAX_CHOICES = 5
_U32_MAX = 2**32 - 1


class Application(msgspec.Struct, frozen=True, kw_only=True):
    """One frozen application: a pseudonymous ref, its priority tier (1 = served first), ranked pitch ids."""

    applicant_ref: str
    tier: int
    choices: tuple[str, ...]


class OrderEntry(msgspec.Struct, frozen=True, kw_only=True):
    applicant_ref: str
    tier: int
    lottery_key: str
    choices: tuple[str, ...]


class Assignment(msgspec.Struct, frozen=True, kw_only=True):
    applicant_ref: str
    pitch_id: str
    choice_rank: int


class DrawResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The public results: everything needed to recompute the draw, nothing that names a person or a group."""

    algorithm: str
    round_id: str
    seed: str
    seed_commitment: str
    pitch_ids: tuple[str, ...]
    applications_digest: str
    order: tuple[OrderEntry, ...]
    assignments: tuple[Assignment, ...]
    waiting_list: tuple[str, ...]
    beacon_value: str | None = None


def _field(data: bytes) -> bytes:
    if len(data) > _U32_MAX:
        raise ValueError("a field is longer than 2**32 - 1 bytes")
    return len(data).to_bytes(4, "big") + data


def _u32(value: int) -> bytes:
    if not 0 <= value <= _U32_MAX:
        raise ValueError("an integer is outside 0..2**32 - 1")
    return value.to_bytes(4, "big")


def commitment(seed: bytes) -> str:
    """`seed_commitment`: the lowercase hex SHA-256 of the seed's bytes."""
    return hashlib.sha256(seed).hexdigest()


def _key_prefix(round_id: str, seed: bytes, beacon_value: str | None) -> bytes:
    beacon = b"\x00" if beacon_value is None else b"\x01" + _field(beacon_value.encode())
    return _field(ALGORITHM.encode()) + _field(b"lottery_key") + _field(round_id.encode()) + _field(seed) + beacon


def lottery_key_preimage(round_id: str, seed: bytes, beacon_value: str | None, applicant_ref: str) -> bytes:
    """The exact bytes whose SHA-256 is the applicant's lottery key (docs/draw.md §3)."""
    return _key_prefix(round_id, seed, beacon_value) + _field(applicant_ref.encode())


def lottery_key(round_id: str, seed: bytes, beacon_value: str | None, applicant_ref: str) -> str:
    """The applicant's lottery key, lowercase hex: lower is served earlier within a tier."""
    return hashlib.sha256(lottery_key_preimage(round_id, seed, beacon_value, applicant_ref)).hexdigest()


def applications_preimage(round_id: str, applications: list[Application] | tuple[Application, ...]) -> bytes:
    """The canonical encoding of the frozen application list (docs/draw.md §4), sorted by applicant_ref bytes."""
    parts = [_field(ALGORITHM.encode()), _field(b"applications"), _field(round_id.encode()), _u32(len(applications))]
    for application in sorted(applications, key=lambda a: a.applicant_ref.encode()):
        parts.append(_field(application.applicant_ref.encode()))
        parts.append(_u32(application.tier))
        parts.append(_u32(len(application.choices)))
        parts.extend(_field(choice.encode()) for choice in application.choices)
    return b"".join(parts)


def applications_digest(round_id: str, applications: list[Application] | tuple[Application, ...]) -> str:
    """`applications_digest`: lowercase hex SHA-256 of `applications_preimage`, published at the close."""
    return hashlib.sha256(applications_preimage(round_id, applications)).hexdigest()


def _check(pitch_ids: tuple[str, ...], applications: list[Application] | tuple[Application, ...]) -> None:
    pitches = set(pitch_ids)
    if len(pitches) != len(pitch_ids):
        raise ValueError("pitch_ids repeat a pitch")
    refs: set[str] = set()
    for application in applications:
        if not application.applicant_ref:
            raise ValueError("an applicant_ref is empty")
        if application.applicant_ref in refs:
            raise ValueError("an applicant_ref appears twice")
        refs.add(application.applicant_ref)
        if not 1 <= application.tier <= _U32_MAX:
            raise ValueError("a tier is not a positive integer")
        if not 1 <= len(application.choices) <= MAX_CHOICES:
            raise ValueError(f"an application has no choices or more than {MAX_CHOICES}")
        if len(set(application.choices)) != len(application.choices):
            raise ValueError("an application repeats a choice")
        if not pitches.issuperset(application.choices):
            raise ValueError("an application chooses a pitch outside the round")


def draw(
    *,
    round_id: str,
    seed: bytes,
    beacon_value: str | None,
    pitch_ids: list[str] | tuple[str, ...],
    applications: list[Application] | tuple[Application, ...],
) -> DrawResult:
    """Run the draw: order by (tier, lottery key, applicant_ref), then each takes their best free choice."""
    if not seed:
        raise ValueError("the seed is empty")
    pitches = tuple(pitch_ids)
    _check(pitches, applications)
    prefix = hashlib.sha256(_key_prefix(round_id, seed, beacon_value))
    keyed: list[tuple[int, bytes, bytes, Application]] = []
    for application in applications:
        ref = application.applicant_ref.encode()
        hasher = prefix.copy()
        hasher.update(_field(ref))
        keyed.append((application.tier, hasher.digest(), ref, application))
    keyed.sort(key=lambda item: item[:3])

    free = set(pitches)
    order: list[OrderEntry] = []
    assignments: list[Assignment] = []
    waiting: list[str] = []
    for tier, key, _, application in keyed:
        ref_text = application.applicant_ref
        order.append(OrderEntry(applicant_ref=ref_text, tier=tier, lottery_key=key.hex(), choices=application.choices))
        for rank, pitch in enumerate(application.choices, start=1):
            if pitch in free:
                free.discard(pitch)
                assignments.append(Assignment(applicant_ref=ref_text, pitch_id=pitch, choice_rank=rank))
                break
        else:
            waiting.append(ref_text)
    return DrawResult(
        algorithm=ALGORITHM,
        round_id=round_id,
        seed=seed.hex(),
        seed_commitment=commitment(seed),
        beacon_value=beacon_value,
        pitch_ids=pitches,
        applications_digest=applications_digest(round_id, applications),
        order=tuple(order),
        assignments=tuple(assignments),
        waiting_list=tuple(waiting),
    )
