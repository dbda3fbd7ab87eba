"""Devices: the tile_key index also orders by id, so that pages can follow it.

OGC API pages of devices are read in spatial order, range of tile_key after range, and stop
when full. Paging needs a unique order: (tile_key, id), which this index now serves directly
(two devices may share a 4 cm pixel). Vector tiles read it as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDED = ["kind", "mercator_x", "mercator_y", "deleted_at", "review_status", "created_by"]


def replace_index(columns: list[str]) -> None:
    op.drop_index("devices_tile_key_idx", table_name="devices")
    op.create_index("devices_tile_key_idx", "devices", columns, postgresql_include=INCLUDED)


def upgrade() -> None:
    replace_index(["tile_key", "id"])


def downgrade() -> None:
    replace_index(["tile_key"])
