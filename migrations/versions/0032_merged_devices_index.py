"""An index of the devices merged into another, which every vote's verification reads.

The author of each pin merged into a device counts as one of its sources: the verification
recomputed at each vote looks for those pins. Without this index, that was a read of every
device; with it, of the few merged ones.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | Sequence[str] | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX devices_merged_into_idx ON devices (merged_into) "
        "WHERE merged_into IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX devices_merged_into_idx")
