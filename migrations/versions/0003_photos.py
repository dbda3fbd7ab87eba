"""Photos: clean renditions of device photos, stored by content address.

Revision ID: 0003
Revises: 0005
Create Date: 2026-11-28 21:41:13.097891
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENDITIONS = ("full", "large", "thumbnail")


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=True),
        sa.Column("uploaded_by", sa.UUID(), nullable=True),
        sa.Column("full_sha256", sa.String(length=64), nullable=False),
        sa.Column("large_sha256", sa.String(length=64), nullable=False),
        sa.Column("thumbnail_sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("width > 0 AND height > 0", name="photo_size_positive"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("photos_device_idx", "photos", ["device_id", "created_at", "id"])
    for name in RENDITIONS:
        op.create_index(f"photos_{name}_sha256_idx", "photos", [f"{name}_sha256"])


def downgrade() -> None:
    for name in RENDITIONS:
        op.drop_index(f"photos_{name}_sha256_idx", table_name="photos")
    op.drop_index("photos_device_idx", table_name="photos")
    op.drop_table("photos")
