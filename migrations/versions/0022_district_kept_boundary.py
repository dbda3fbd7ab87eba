"""Districts: each boundary kept as GeoJSON at the default simplification (10 m).

Every GeoJSON answer about districts (the statistics as GeoJSON, /api/v1/districts) simplified
each boundary (ST_SimplifyPreserveTopology) and wrote it as GeoJSON on every request: for every
commune, half a second of the 1.3 s the statistics' GeoJSON took, to rewrite boundaries that
change only when districts are imported. `boundary_geojson` keeps that text, computed by
PostgreSQL from `geom` whenever a district is written (a stored generated column: an import,
a repair or any later writer cannot leave it behind). Other tolerances are still computed.

The expression is service/geo/districts.py's for DEFAULT_TOLERANCE_M (geojson_geometry of the
simplified MultiPolygon, the tolerance in degrees as METRES_PER_DEGREE gives it): a test checks
that the kept text equals what the application computes.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# float8 division, as Python's tolerance_degrees(10.0): the same double, not a numeric's rounding.
BOUNDARY_GEOJSON = (
    "ST_AsGeoJSON(ST_ForcePolygonCCW(ST_Multi("
    "ST_SimplifyPreserveTopology(geom, 10::float8 / 111320::float8))), 7)"
)


def upgrade() -> None:
    op.execute(
        f"ALTER TABLE districts ADD COLUMN boundary_geojson text "
        f"GENERATED ALWAYS AS ({BOUNDARY_GEOJSON}) STORED"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE districts DROP COLUMN boundary_geojson")
