"""One pending key-group claim per vendor and group; no certificate numbers in claim details.

Before the partial unique index can exist, repeated pending claims (same vendor, same group) are folded
into the oldest one: their evidence is attached to it and the repeats, never decided, are removed. Claim
details lose `employment_certificate_no` (in practice the holder's ID number; the evidence carries it).
Neither data change is undone by the downgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPEATS = """
SELECT id, first_value(id) OVER (PARTITION BY vendor_id, key_group ORDER BY submitted_at, id) AS kept
FROM registry_key_group_claim
WHERE status = 'pending'
"""


def upgrade() -> None:
    op.execute(
        f"""
        INSERT INTO registry_key_group_claim_evidence (claim_id, document_id)
        SELECT repeats.kept, evidence.document_id
        FROM ({_REPEATS}) AS repeats
        JOIN registry_key_group_claim_evidence AS evidence ON evidence.claim_id = repeats.id
        WHERE repeats.id <> repeats.kept
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        f"""
        DELETE FROM registry_key_group_claim_evidence
        WHERE claim_id IN (SELECT id FROM ({_REPEATS}) AS repeats WHERE id <> kept)
        """
    )
    op.execute(
        f"""
        DELETE FROM registry_key_group_claim
        WHERE id IN (SELECT id FROM ({_REPEATS}) AS repeats WHERE id <> kept)
        """
    )
    op.execute(
        "UPDATE registry_key_group_claim SET details = details - 'employment_certificate_no' "
        "WHERE details ? 'employment_certificate_no'"
    )
    op.create_index(
        "uq_registry_key_group_claim_pending",
        "registry_key_group_claim",
        ["vendor_id", "key_group"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_registry_key_group_claim_pending",
        table_name="registry_key_group_claim",
        postgresql_where=sa.text("status = 'pending'"),
    )
