"""Sessions: sign-ins with rotating refresh tokens, account events, and the per-client sign-in delay.

Every access token names its sign-in (registry_auth_session); refresh tokens are kept as SHA-256 only; an
account's tokens without a sign-in end at `tokens_valid_after`. registry_login_delay keys the progressive
sign-in delay per username and client address (registry.throttle); registry_login_failure stays as the gentle
per-username cap.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("registry_account", sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "registry_auth_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('api', 'console')", name=op.f("ck_registry_auth_session_kind_known")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["registry_account.id"], name=op.f("fk_registry_auth_session_account_id_registry_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_auth_session")),
    )
    op.create_index(op.f("ix_registry_auth_session_account_id"), "registry_auth_session", ["account_id"])
    op.create_table(
        "registry_refresh_token",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["registry_auth_session.id"],
            name=op.f("fk_registry_refresh_token_session_id_registry_auth_session"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_registry_refresh_token")),
    )
    op.create_index(op.f("ix_registry_refresh_token_session_id"), "registry_refresh_token", ["session_id"])
    op.create_table(
        "registry_account_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("actor_account_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "event IN ('deactivated', 'reactivated', 'password_changed')",
            name=op.f("ck_registry_account_event_event_known"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["registry_account.id"], name=op.f("fk_registry_account_event_account_id_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["actor_account_id"],
            ["registry_account.id"],
            name=op.f("fk_registry_account_event_actor_account_id_registry_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_account_event")),
    )
    op.create_index(op.f("ix_registry_account_event_account_id"), "registry_account_event", ["account_id"])
    op.create_table(
        "registry_login_delay",
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username_key", "client_key", name=op.f("pk_registry_login_delay")),
    )


def downgrade() -> None:
    op.drop_table("registry_login_delay")
    op.drop_index(op.f("ix_registry_account_event_account_id"), table_name="registry_account_event")
    op.drop_table("registry_account_event")
    op.drop_index(op.f("ix_registry_refresh_token_session_id"), table_name="registry_refresh_token")
    op.drop_table("registry_refresh_token")
    op.drop_index(op.f("ix_registry_auth_session_account_id"), table_name="registry_auth_session")
    op.drop_table("registry_auth_session")
    op.drop_column("registry_account", "tokens_valid_after")
