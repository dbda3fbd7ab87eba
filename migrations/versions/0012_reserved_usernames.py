"""Accounts: pseudonyms of deleted accounts stay reserved for a while.

Someone who takes over a deleted contributor's pseudonym could pass for them to those who knew
it. Only a keyed hash (HMAC-SHA256 with SECRET_KEY) of the lowercased name is kept, never the
name, and only until `reserved_until`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reserved_usernames",
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name_hash"),
    )


def downgrade() -> None:
    op.drop_table("reserved_usernames")
