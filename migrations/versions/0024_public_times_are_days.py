"""Devices: the times others can read are days (UTC), not instants.

A contributor pins a camera standing in front of it, and that camera films them. A public
`created_at` to the microsecond told its operator which second of footage to look at; the
stored Feature now gives every time property (observed_at, last_confirmed_at, created_at,
updated_at) as the start of its UTC day, through `public_day()`, which the statements of
service/geo/devices/features.py use too. The exact times stay in the columns, for the rules
that need them (rate limits, vote intervals, statistics replays) and nobody else.

The OGC API's temporal index is rebuilt on the day, which is what its filters now compare, and
every stored Feature is written again without making devices look changed to syncing clients.
The devices' `last_confirmed_at` is cut to its day in the same pass: the column holds the day
from now on.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0016's property list, and the times among them.
PROPERTIES = (
    "kind", "camera_type", "mount", "direction", "angle", "height", "zone", "surveillance",
    "operator", "operator_type", "status", "observed_at", "accuracy_m", "notes", "source",
    "tags", "review_status", "review_reason", "verification", "last_confirmed_at",
    "created_at", "updated_at", "osm_id",
)  # fmt: skip
TIMES = ("observed_at", "last_confirmed_at", "created_at", "updated_at")
PUBLIC_DAY = """
CREATE FUNCTION public_day(instant timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT date_trunc('day', instant AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' $$
"""


def write_feature_function(day) -> str:
    columns = ", ".join(
        f"{day(f'NEW.{name}') if name in TIMES else f'NEW.{name}'} AS {name}" for name in PROPERTIES
    )
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


def rewrite_features(day, *more: str) -> None:
    """Every stored Feature written again (with the MORE assignments); no other trigger fires
    (nothing they keep changes)."""
    op.execute(write_feature_function(day))
    op.execute("ALTER TABLE devices DISABLE TRIGGER USER")
    op.execute("ALTER TABLE devices ENABLE TRIGGER devices_write_feature")
    op.execute(f"UPDATE devices SET {', '.join(('feature_head = NULL', *more))}")
    op.execute("ALTER TABLE devices ENABLE TRIGGER USER")


def time_index(expression: str) -> None:
    op.drop_index("devices_time_idx", table_name="devices")
    op.create_index("devices_time_idx", "devices", [sa.literal_column(expression)])


def upgrade() -> None:
    op.execute(PUBLIC_DAY)
    # last_confirmed_at holds the day from now on (service/community.py): a vote on the same
    # day as the last one then leaves the device as it was.
    rewrite_features(
        lambda column: f"public_day({column})",
        "last_confirmed_at = public_day(last_confirmed_at)",
    )
    time_index("public_day(coalesce(observed_at, updated_at))")


def downgrade() -> None:
    time_index("coalesce(observed_at, updated_at)")
    rewrite_features(lambda column: column)
    op.execute("DROP FUNCTION public_day(timestamptz)")
