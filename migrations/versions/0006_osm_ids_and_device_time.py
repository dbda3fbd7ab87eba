"""OpenStreetMap node id and version on devices; an index on the device time.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-28 21:44:51.023180
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("osm_id", sa.BigInteger(), nullable=True))
    op.add_column("devices", sa.Column("osm_version", sa.Integer(), nullable=True))
    op.create_unique_constraint("devices_osm_id_key", "devices", ["osm_id"])
    op.create_index(
        "devices_time_idx",
        "devices",
        [sa.literal_column("coalesce(observed_at, updated_at)")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("devices_time_idx", table_name="devices")
    op.drop_constraint("devices_osm_id_key", "devices", type_="unique")
    op.drop_column("devices", "osm_version")
    op.drop_column("devices", "osm_id")
