"""View cones within reach of a pole: each sector made valid before their union.

A sector projected over a pole wraps round in longitude and crosses itself; the union of two
such sectors failed in GEOS (a TopologyException), so that one camera pinned there broke every
listing of view cones holding it. Only cones within their radius of a pole take the extra step.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 13:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035"
down_revision: str | Sequence[str] | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The cone of 0005, with NEAR_POLE_SECTOR standing for what each sector becomes in the union.
VIEW_CONE = """
CREATE OR REPLACE FUNCTION view_cone(
    p geometry, directions smallint[], fov double precision, radius_m double precision
) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN directions IS NULL OR cardinality(directions) = 0 OR fov IS NULL OR fov >= 360
        THEN ST_Buffer(p::geography, radius_m, 'quad_segs=8')::geometry
    ELSE (
        SELECT ST_Union(NEAR_POLE_SECTOR)
        FROM unnest(directions) AS d,
        LATERAL (SELECT ST_MakePolygon(ST_MakeLine(
            ARRAY[p]
            || ARRAY(
                SELECT ST_Project(
                    p::geography, radius_m,
                    radians(d - fov / 2 + i * fov / ceil(fov / 10))
                )::geometry
                FROM generate_series(0, ceil(fov / 10)::int) AS i
                ORDER BY i
            )
            || ARRAY[p]
        )) AS sector) AS sectors
    )
END
$$;
"""
# 110 km: less than any degree of latitude, so that no cone reaching a pole is missed.
MADE_VALID = (
    "CASE WHEN (90 - abs(ST_Y(p))) * 110000 < radius_m THEN ST_MakeValid(sector) ELSE sector END"
)


def upgrade() -> None:
    op.execute(VIEW_CONE.replace("NEAR_POLE_SECTOR", MADE_VALID))


def downgrade() -> None:
    op.execute(VIEW_CONE.replace("NEAR_POLE_SECTOR", "sector"))
