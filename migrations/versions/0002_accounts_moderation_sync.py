"""Accounts, tokens, revisions, confirmations, idempotent writes, and the sync cursor.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 21:44:01.875144
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotent_requests",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_index(
        op.f("ix_idempotent_requests_created_at"),
        "idempotent_requests",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=16), server_default="contributor", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("role IN ('contributor', 'moderator', 'admin')", name="role_allowed"),
        sa.CheckConstraint("length(username) BETWEEN 3 AND 32", name="username_length"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("users_username_lower_key", "users", [sa.text("lower(username)")], unique=True)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "confirmations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("photo_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "verdict IN ('still_there', 'not_found', 'wrong_details')", name="verdict_allowed"
        ),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "confirmations_device_idx", "confirmations", ["device_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_confirmations_user_id"), "confirmations", ["user_id"], unique=False)
    op.create_table(
        "device_revisions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "device_revisions_device_idx", "device_revisions", ["device_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_device_revisions_author_id"), "device_revisions", ["author_id"], unique=False
    )
    op.add_column("devices", sa.Column("review_reason", sa.Text(), nullable=True))
    op.add_column(
        "devices",
        sa.Column("verification", sa.String(length=16), server_default="reported", nullable=False),
    )
    op.add_column(
        "devices", sa.Column("last_confirmed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("devices", sa.Column("merged_into", sa.UUID(), nullable=True))
    op.add_column(
        "devices", sa.Column("change_txid", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_index("devices_change_idx", "devices", ["change_txid", "id"], unique=False)
    op.create_index("devices_created_by_idx", "devices", ["created_by"], unique=False)
    op.create_foreign_key(
        "devices_created_by_fkey", "devices", "users", ["created_by"], ["id"], ondelete="SET NULL"
    )
    op.create_check_constraint(
        "verification_allowed",
        "devices",
        "verification IN ('reported', 'confirmed', 'disputed', 'removed')",
    )
    # Every write stamps the row with its transaction id: the sync cursor pages by it.
    op.execute("""
        CREATE FUNCTION devices_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.change_txid := pg_current_xact_id()::text::bigint;
            RETURN NEW;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER devices_stamp_change BEFORE INSERT OR UPDATE ON devices
        FOR EACH ROW EXECUTE FUNCTION devices_stamp_change()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER devices_stamp_change ON devices")
    op.execute("DROP FUNCTION devices_stamp_change()")
    op.drop_constraint("verification_allowed", "devices", type_="check")
    op.drop_constraint("devices_created_by_fkey", "devices", type_="foreignkey")
    op.drop_index("devices_created_by_idx", table_name="devices")
    op.drop_index("devices_change_idx", table_name="devices")
    op.drop_column("devices", "change_txid")
    op.drop_column("devices", "merged_into")
    op.drop_column("devices", "last_confirmed_at")
    op.drop_column("devices", "verification")
    op.drop_column("devices", "review_reason")
    op.drop_index(op.f("ix_device_revisions_author_id"), table_name="device_revisions")
    op.drop_index("device_revisions_device_idx", table_name="device_revisions")
    op.drop_table("device_revisions")
    op.drop_index(op.f("ix_confirmations_user_id"), table_name="confirmations")
    op.drop_index("confirmations_device_idx", table_name="confirmations")
    op.drop_table("confirmations")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("users_username_lower_key", table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_idempotent_requests_created_at"), table_name="idempotent_requests")
    op.drop_table("idempotent_requests")
