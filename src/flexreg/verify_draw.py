"""Recompute a `flexreg-draw-v1` draw from its public results alone and list every mismatch.

Written from docs/draw.md, independently of `venues.draw` (which this module must never import), so that a
mistake in one is caught by the other. Standard library only. `verify` does no I/O; `load` is the reader the
`flexreg verify-draw` command uses for a file or an http(s) URL.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

ALGORITHM = "flexreg-draw-v1"
MAX_CHOICES = 5
_HEX = re.compile(r"\A(?:[0-9a-f]{2})+\Z")
_DIGEST = re.compile(r"\A[0-9a-f]{64}\Z")
FETCH_TIMEOUT_SECONDS = 30
MAX_RESULTS_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Mismatch:
    """One way the published results differ from the recomputation: `what` names the field."""

    what: str
    detail: str

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}"


@dataclass(frozen=True)
class Verdict:
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.mismatches


class UnreadableResults(Exception):
    """The file or URL cannot be read, or is not a JSON object."""


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _text(value: str) -> bytes:
    return _lp(value.encode("utf-8"))


def _key(round_id: str, seed: bytes, beacon: str | None, ref: str) -> str:
    message = _text(ALGORITHM) + _text("lottery_key") + _text(round_id) + _lp(seed)
    message += b"\x00" if beacon is None else b"\x01" + _text(beacon)
    message += _text(ref)
    return hashlib.sha256(message).hexdigest()


def _digest(round_id: str, entries: list[tuple[str, int, list[str]]]) -> str:
    message = bytearray(_text(ALGORITHM) + _text("applications") + _text(round_id))
    message += struct.pack(">I", len(entries))
    for ref, tier, choices in sorted(entries, key=lambda entry: entry[0].encode("utf-8")):
        message += _text(ref) + struct.pack(">II", tier, len(choices))
        for choice in choices:
            message += _text(choice)
    return hashlib.sha256(bytes(message)).hexdigest()


def _is_str_list(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _entries(results: dict[str, Any], problems: list[Mismatch]) -> list[tuple[str, int, str, list[str]]] | None:
    """The `order` entries as (ref, tier, key, choices), or None (with problems noted) when malformed."""
    order = results.get("order")
    if not isinstance(order, list):
        problems.append(Mismatch("order", "missing or not a list"))
        return None
    entries = []
    for index, item in enumerate(order):
        if not isinstance(item, dict):
            problems.append(Mismatch(f"order[{index}]", "not an object"))
            return None
        ref, tier, key, choices = (item.get(name) for name in ("applicant_ref", "tier", "lottery_key", "choices"))
        if not isinstance(ref, str) or not ref:
            problems.append(Mismatch(f"order[{index}].applicant_ref", "missing or not a non-empty string"))
            return None
        if isinstance(tier, bool) or not isinstance(tier, int) or not 1 <= tier < 2**32:
            problems.append(Mismatch(f"order[{index}].tier", "not an integer from 1"))
            return None
        if not isinstance(key, str):
            problems.append(Mismatch(f"order[{index}].lottery_key", "missing or not a string"))
            return None
        if not _is_str_list(choices):
            problems.append(Mismatch(f"order[{index}].choices", "missing or not a list of pitch ids"))
            return None
        entries.append((ref, tier, key, list(choices)))
    return entries


def verify(results: dict[str, Any]) -> Verdict:
    """Recompute commitment, keys, digest, order, assignments and waiting list; list each difference."""
    problems: list[Mismatch] = []
    if results.get("algorithm") != ALGORITHM:
        problems.append(Mismatch("algorithm", f"expected {ALGORITHM!r}, got {results.get('algorithm')!r}"))
        return Verdict(problems)
    round_id, seed_hex, commitment = results.get("round_id"), results.get("seed"), results.get("seed_commitment")
    beacon = results.get("beacon_value")
    if not isinstance(round_id, str):
        problems.append(Mismatch("round_id", "missing or not a string"))
    if not isinstance(seed_hex, str) or not _HEX.match(seed_hex):
        problems.append(Mismatch("seed", "missing or not lowercase hex of whole bytes"))
    if not isinstance(commitment, str) or not _DIGEST.match(commitment):
        problems.append(Mismatch("seed_commitment", "missing or not 64 lowercase hex digits"))
    if beacon is not None and not isinstance(beacon, str):
        problems.append(Mismatch("beacon_value", "not a string"))
    pitch_ids = results.get("pitch_ids")
    if not _is_str_list(pitch_ids):
        problems.append(Mismatch("pitch_ids", "missing or not a list of strings"))
    entries = _entries(results, problems)
    if (
        problems
        or entries is None
        or not isinstance(round_id, str)
        or not isinstance(seed_hex, str)
        or not _is_str_list(pitch_ids)
    ):
        return Verdict(problems)

    seed = bytes.fromhex(seed_hex)
    if hashlib.sha256(seed).hexdigest() != commitment:
        problems.append(Mismatch("seed_commitment", "is not the SHA-256 of the seed"))

    # The application list as published, checked for the rules every draw obeys.
    if len(set(pitch_ids)) != len(pitch_ids):
        problems.append(Mismatch("pitch_ids", "a pitch appears twice"))
    known = set(pitch_ids)
    seen: set[str] = set()
    for ref, _, _, choices in entries:
        if ref in seen:
            problems.append(Mismatch(f"order[{ref}]", "the applicant_ref appears twice"))
        seen.add(ref)
        if not 1 <= len(choices) <= MAX_CHOICES or len(set(choices)) != len(choices):
            problems.append(Mismatch(f"choices[{ref}]", f"not 1 to {MAX_CHOICES} distinct pitches"))
        if not known.issuperset(choices):
            problems.append(Mismatch(f"choices[{ref}]", "names a pitch outside pitch_ids"))

    digest = _digest(round_id, [(ref, tier, choices) for ref, tier, _, choices in entries])
    if results.get("applications_digest") != digest:
        problems.append(Mismatch("applications_digest", f"recomputed {digest}"))

    recomputed = []
    for ref, tier, published_key, choices in entries:
        key = _key(round_id, seed, beacon, ref)
        if key != published_key:
            problems.append(Mismatch(f"lottery_key[{ref}]", f"recomputed {key}, published {published_key}"))
        recomputed.append((tier, bytes.fromhex(key), ref.encode("utf-8"), ref, choices))
    recomputed.sort(key=lambda item: item[:3])
    expected_refs = [item[3] for item in recomputed]
    published_refs = [ref for ref, _, _, _ in entries]
    if expected_refs != published_refs:
        first = next(i for i, pair in enumerate(zip(expected_refs, published_refs, strict=True)) if pair[0] != pair[1])
        problems.append(
            Mismatch("order", f"position {first + 1}: expected {expected_refs[first]}, got {published_refs[first]}")
        )

    taken: set[str] = set()
    expected_assignments: list[dict[str, Any]] = []
    expected_waiting: list[str] = []
    for _, _, _, ref, choices in recomputed:
        rank = next((i for i, pitch in enumerate(choices) if pitch not in taken), None)
        if rank is None:
            expected_waiting.append(ref)
        else:
            taken.add(choices[rank])
            expected_assignments.append({"applicant_ref": ref, "pitch_id": choices[rank], "choice_rank": rank + 1})
    published_assignments = results.get("assignments")
    if published_assignments != expected_assignments:
        problems.append(Mismatch("assignments", _first_difference(expected_assignments, published_assignments)))
    published_waiting = results.get("waiting_list")
    if published_waiting != expected_waiting:
        problems.append(Mismatch("waiting_list", _first_difference(expected_waiting, published_waiting)))
    return Verdict(problems)


def _first_difference(expected: list[Any], published: Any) -> str:
    if not isinstance(published, list):
        return "missing or not a list"
    for index, (want, got) in enumerate(zip(expected, published, strict=False)):
        if want != got:
            return f"entry {index + 1}: expected {json.dumps(want)}, got {json.dumps(got)}"
    return f"expected {len(expected)} entries, got {len(published)}"


def load(source: str) -> dict[str, Any]:
    """The results JSON at an http(s) URL or in a file; UnreadableResults when it cannot be had."""
    try:
        if source.startswith(("http://", "https://")):
            request = urllib.request.Request(source, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
                raw = response.read(MAX_RESULTS_BYTES + 1)
        else:
            with Path(source).open("rb") as handle:
                raw = handle.read(MAX_RESULTS_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise UnreadableResults(f"cannot read {source}: {exc}") from None
    if len(raw) > MAX_RESULTS_BYTES:
        raise UnreadableResults(f"{source} is larger than {MAX_RESULTS_BYTES} bytes")
    try:
        results = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnreadableResults(f"{source} is not JSON: {exc}") from None
    if not isinstance(results, dict):
        raise UnreadableResults(f"{source} is not a JSON object")
    return results
