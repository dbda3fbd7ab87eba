"""Settings every node serving the database must share, checked when a node starts.

The first is a fingerprint of SECRET_KEY (an HMAC made with it, never the key): idempotency
fingerprints, reserved pseudonyms and rate-limit keys are keyed with it, so a node with another
key would answer another node's retries, names and clients differently.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "set_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("shared_settings")
