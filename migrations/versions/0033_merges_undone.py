"""What a merge moved, so that a wrong merge can be undone.

A merge moves the duplicate's votes and photos onto the device kept (photos of a pin nobody
else saw wait for review there). The duplicate's merge revision now records the ids of the
votes and photos it moved and of the photos it held for review, an approval with a photo that
it confirmed the device, and a revert the revision it restored (`undoing`: what giving a device
back its own state needs), and each revision of a
merge or of its undoing names the other device (`other_device_id`, indexed for the devices
erased). Merges made before this migration recorded neither: they cannot be undone.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0033"
down_revision: str | Sequence[str] | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "device_revisions",
        sa.Column(
            "other_device_id",
            UUID(as_uuid=True),
            sa.ForeignKey("devices.id", ondelete="SET NULL"),
        ),
    )
    op.add_column("device_revisions", sa.Column("undoing", JSONB))
    # An erased device sets the column to NULL where it names it: found by this index, not by
    # a read of every revision.
    op.execute(
        "CREATE INDEX device_revisions_other_device_idx ON device_revisions (other_device_id) "
        "WHERE other_device_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("device_revisions_other_device_idx", table_name="device_revisions")
    op.drop_column("device_revisions", "undoing")
    op.drop_column("device_revisions", "other_device_id")
