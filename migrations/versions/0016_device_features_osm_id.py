"""Devices: the stored public Feature also gives `osm_id`, the OpenStreetMap node a device was
imported from (null for the others), so that clients can credit and link OSM's data.

The trigger of migration 0008 is replaced with one whose property list ends with osm_id (its
own copy of PUBLIC_PROPERTIES, service/geo/devices/features.py), and every stored Feature is
written again, without making devices look changed to syncing clients.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 17:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROPERTIES_0008 = (
    "kind", "camera_type", "mount", "direction", "angle", "height", "zone", "surveillance",
    "operator", "operator_type", "status", "observed_at", "accuracy_m", "notes", "source",
    "tags", "review_status", "review_reason", "verification", "last_confirmed_at",
    "created_at", "updated_at",
)  # fmt: skip
PROPERTIES = (*PROPERTIES_0008, "osm_id")


def write_feature_function(properties) -> str:
    columns = ", ".join(f"NEW.{name} AS {name}" for name in properties)
    return f"""
CREATE OR REPLACE FUNCTION devices_write_feature() RETURNS trigger
    LANGUAGE plpgsql SET timezone = 'UTC' SET extra_float_digits = 1 AS $$
BEGIN
    NEW.feature_head := concat(
        '{{"type":"Feature","id":"', NEW.id, '","geometry":', ST_AsGeoJSON(NEW.geom, 7),
        ',"properties":', left((SELECT row_to_json(p) FROM (SELECT {columns}) p)::text, -1)
    );
    RETURN NEW;
END $$
"""


def rewrite_features(properties) -> None:
    op.execute(write_feature_function(properties))
    op.execute("ALTER TABLE devices DISABLE TRIGGER devices_stamp_change")
    op.execute("UPDATE devices SET feature_head = NULL")
    op.execute("ALTER TABLE devices ENABLE TRIGGER devices_stamp_change")


def upgrade() -> None:
    rewrite_features(PROPERTIES)


def downgrade() -> None:
    rewrite_features(PROPERTIES_0008)
