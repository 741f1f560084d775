"""The verifier names the first altered row (T-L2) and catches a cut tail and a rewritten chain (T-L5)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.chain_anchors import UnreadableAnchors, load_anchors, load_public_keys
from core.hash_chain import chain_hash
from permits import anchors
from permits.history import entry_row
from permits.history_models import HistoryEntry
from permits.history_verify import verify_history
from tests.clock import START
from tests.permits.history_builders import LocalSigner, append_rows, tamper


async def test_an_intact_chain_verifies(session: AsyncSession) -> None:
    entries = await append_rows(session, 7)
    verdict = await verify_history(session, batch=3)  # batch edges inside the chain
    assert verdict.intact
    assert verdict.rows == 7
    assert verdict.head_seq == 7
    assert verdict.head_hash == entries[-1].row_hash.hex()
    assert verdict.summary().startswith("the history verifies: 7 rows, head seq 7 ")


async def test_an_empty_history_verifies(session: AsyncSession) -> None:
    verdict = await verify_history(session)
    assert verdict.intact
    assert verdict.rows == 0
    assert verdict.head_seq is None


@pytest.mark.parametrize("batch", [2, 1000])
@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE permits_history SET payload = payload || '{\"step\": 99}' WHERE seq = :k", "altered"),
        ("UPDATE permits_history SET event = 'task_rejected' WHERE seq = :k", "altered"),
        ("UPDATE permits_history SET at = at + interval '1 microsecond' WHERE seq = :k", "altered"),
        ("UPDATE permits_history SET actor_role = 'admin' WHERE seq = :k", "altered"),
        ("UPDATE permits_history SET row_hash = sha256(row_hash) WHERE seq = :k", "altered"),
        ("UPDATE permits_history SET prev_hash = sha256(prev_hash) WHERE seq = :k", "broken_link"),
        ("DELETE FROM permits_history WHERE seq = :k", "missing"),
        # Swap rows k and k+1 (their places in the chain): k now holds what linked to k.
        (
            "UPDATE permits_history SET seq = seq + 1000000 WHERE seq IN (CAST(:k AS bigint), CAST(:k AS bigint) + 1);"
            "UPDATE permits_history SET seq = CASE WHEN seq = CAST(:k AS bigint) + 1000000 THEN CAST(:k AS bigint) + 1 "
            "ELSE CAST(:k AS bigint) END WHERE seq > 1000000",
            "broken_link",
        ),
    ],
)
async def test_the_first_altered_row_is_named(session: AsyncSession, sql: str, problem: str, batch: int) -> None:
    await append_rows(session, 9)
    k = 4
    for statement in sql.split(";"):
        await tamper(session, statement, k=k)
    verdict = await verify_history(session, batch=batch)
    assert verdict.finding is not None
    assert (verdict.finding.seq, verdict.finding.problem) == (k, problem)
    assert f"row {k}" in verdict.summary()
    assert verdict.rows == k - 1


async def test_a_later_edit_does_not_hide_an_earlier_one(session: AsyncSession) -> None:
    await append_rows(session, 9)
    await tamper(session, "DELETE FROM permits_history WHERE seq = 7")
    await tamper(session, "UPDATE permits_history SET payload = '{}' WHERE seq = 3")
    verdict = await verify_history(session)
    assert verdict.finding is not None
    assert verdict.finding.seq == 3


async def _anchor(session: AsyncSession, signer: LocalSigner, day: int) -> anchors.Anchor:
    published = await anchors.publish_anchor(session, signer, now=START.replace(day=day), timezone="Asia/Shanghai")
    assert published is not None
    return published


async def test_a_cut_tail_is_caught_by_the_anchor(session: AsyncSession) -> None:
    """T-L5: rows 6..8 deleted after the head (row 8) was anchored; without the anchor the rest looks whole."""
    signer = LocalSigner()
    await append_rows(session, 8)
    outside = [await _anchor(session, signer, 15)]
    await tamper(session, "DELETE FROM permits_history WHERE seq >= 6")
    await tamper(session, "DELETE FROM permits_history_anchor", table="permits_history_anchor")
    assert (await verify_history(session)).intact  # the known limit: a chain cut at its end still chains
    verdict = await verify_history(session, anchors=outside)
    assert verdict.finding is not None
    assert (verdict.finding.seq, verdict.finding.problem) == (6, "truncated")
    assert "ends at row 5" in verdict.finding.detail
    assert "names row 8" in verdict.finding.detail


async def test_a_recomputed_chain_disagrees_with_its_anchor(session: AsyncSession) -> None:
    """A superuser edits row 5 and recomputes every hash from there: the chain holds, the anchors do not."""
    signer = LocalSigner()
    await append_rows(session, 3)
    early = await _anchor(session, signer, 14)
    await append_rows(session, 5)
    late = await _anchor(session, signer, 15)
    await tamper(session, "UPDATE permits_history SET payload = '{\"step\": 99}' WHERE seq = 5")
    # Recompute rows 5..8 as the attacker would, with the service's own encoding.
    for seq in range(5, 9):
        previous = await session.get(HistoryEntry, seq - 1, populate_existing=True)
        current = await session.get(HistoryEntry, seq, populate_existing=True)
        assert previous is not None
        assert current is not None
        new_hash = chain_hash(previous.row_hash, entry_row(current))
        await tamper(
            session,
            "UPDATE permits_history SET prev_hash = :prev, row_hash = :hash WHERE seq = :seq",
            prev=previous.row_hash,
            hash=new_hash,
            seq=seq,
        )
    assert (await verify_history(session)).intact  # consistent again: only an anchor catches it
    verdict = await verify_history(session, anchors=[early, late])
    assert verdict.finding is not None
    assert (verdict.finding.seq, verdict.finding.problem) == (4, "anchor_mismatch")
    assert "after row 3" in verdict.finding.detail
    assert "at or before row 8" in verdict.finding.detail


async def test_anchor_signatures_are_checked_when_keys_are_given(session: AsyncSession) -> None:
    signer, stranger = LocalSigner(), LocalSigner()
    await append_rows(session, 2)
    anchor = await _anchor(session, signer, 15)
    keys = {signer.kid: signer.public_key}
    assert (await verify_history(session, anchors=[anchor], public_keys=keys)).intact
    forged = msgspec.structs.replace(anchor, signature=anchors.b64url(stranger.sign(b"something else")))
    verdict = await verify_history(session, anchors=[forged], public_keys=keys)
    assert verdict.finding is not None
    assert verdict.finding.problem == "bad_signature"
    unknown = msgspec.structs.replace(anchor, kid="retired")
    verdict = await verify_history(session, anchors=[unknown], public_keys=keys)
    assert verdict.finding is not None
    assert "unknown key" in verdict.finding.detail


def test_anchor_files_are_what_the_api_returns(tmp_path: Path) -> None:
    anchor = anchors.Anchor(
        day=dt.date(2026, 6, 15),
        seq=3,
        row_hash="ab" * 32,
        signature="c2ln",
        kid="k1",
        created_at=START,
    )
    page = tmp_path / "page.json"
    page.write_bytes(msgspec.json.encode({"items": [anchor], "next_cursor": None}))
    listed = tmp_path / "list.json"
    listed.write_bytes(msgspec.json.encode([anchor, anchor]))
    assert load_anchors(page) == [anchor]
    assert load_anchors(listed) == [anchor, anchor]
    broken = tmp_path / "broken.json"
    broken.write_text('{"items": [{"day": "yesterday"}]}')
    for path in (broken, tmp_path / "absent.json"):
        with pytest.raises(UnreadableAnchors):
            load_anchors(path)


def test_keys_files_are_jwks(tmp_path: Path) -> None:
    signer = LocalSigner(kid="k1")
    raw = signer.public_key.public_bytes_raw()
    jwks = tmp_path / "jwks.json"
    x = anchors.b64url(raw)
    jwks.write_text(
        f'{{"keys": [{{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "{x}"}}, {{"kty": "EC", "kid": "k2"}}]}}'
    )
    keys = load_public_keys(jwks)
    assert list(keys) == ["k1"]
    assert keys["k1"].public_bytes_raw() == raw
    jwks.write_text('{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "too-short"}]}')
    with pytest.raises(UnreadableAnchors):
        load_public_keys(jwks)
