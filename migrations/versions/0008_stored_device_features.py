"""Devices: each row keeps its public GeoJSON Feature as text, written by a trigger.

Building a Feature (row_to_json of 22 properties, the geometry as GeoJSON) is most of what a
page of 1000 devices costs PostgreSQL. A BEFORE INSERT OR UPDATE trigger now writes it once per
change into `feature_head`: the Feature up to its last property, left open so that readers add
the photos (whose URLs depend on where the API is served) and close it. The trigger runs with
the time zone set to UTC and the shortest exact float output, so that timestamps and numbers
read the same whoever writes.

The property list is this migration's own copy of PUBLIC_PROPERTIES (service/geo/devices.py);
a test checks that the stored text equals what the Python builder produces.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROPERTIES = (
    "kind", "camera_type", "mount", "direction", "angle", "height", "zone", "surveillance",
    "operator", "operator_type", "status", "observed_at", "accuracy_m", "notes", "source",
    "tags", "review_status", "review_reason", "verification", "last_confirmed_at",
    "created_at", "updated_at",
)  # fmt: skip
COLUMNS = ", ".join(f"NEW.{name} AS {name}" for name in PROPERTIES)
FUNCTION = f"""
CREATE FUNCTION devices_write_feature() RETURNS trigger
    LANGUAGE plpgsql SET timezone = 'UTC' SET extra_float_digits = 1 AS $$
BEGIN
    NEW.feature_head := concat(
        '{{"type":"Feature","id":"', NEW.id, '","geometry":', ST_AsGeoJSON(NEW.geom, 7),
        ',"properties":', left((SELECT row_to_json(p) FROM (SELECT {COLUMNS}) p)::text, -1)
    );
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.add_column("devices", sa.Column("feature_head", sa.Text(), nullable=True))
    op.execute(FUNCTION)
    # Fires after devices_stamp_change (triggers of a kind run in name order).
    op.execute("""
        CREATE TRIGGER devices_write_feature BEFORE INSERT OR UPDATE ON devices
        FOR EACH ROW EXECUTE FUNCTION devices_write_feature()
    """)
    # Fill the existing rows without making them look changed to syncing clients.
    op.execute("ALTER TABLE devices DISABLE TRIGGER devices_stamp_change")
    op.execute("UPDATE devices SET feature_head = NULL")
    op.execute("ALTER TABLE devices ENABLE TRIGGER devices_stamp_change")
    # Checked after the trigger: a row written with it disabled is refused, not served broken.
    # (Later migrations may disable it only for updates that leave the public columns alone.)
    op.alter_column("devices", "feature_head", nullable=False)


def downgrade() -> None:
    op.execute("DROP TRIGGER devices_write_feature ON devices")
    op.execute("DROP FUNCTION devices_write_feature()")
    op.drop_column("devices", "feature_head")
