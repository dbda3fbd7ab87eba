"""View cones within reach of a pole or of the antimeridian: sectors whose union holds.

A sector projected over a pole, or across the antimeridian, has longitudes that jump round the
world, so it crosses itself; the union of two such sectors failed in GEOS (a
TopologyException), and one camera pinned there broke every listing of view cones holding it.
Within reach of a pole each sector is made valid before the union; within reach of the
antimeridian the sectors are united in longitudes 0 to 360, where they are whole, and the cone
is then cut there into its parts on either side (RFC 7946, 3.1.9). Other cones are as before.

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

# The cone of 0005, with SECTOR standing for what each sector becomes in the union, and CONE
# for what the union becomes.
VIEW_CONE = """
CREATE OR REPLACE FUNCTION view_cone(
    p geometry, directions smallint[], fov double precision, radius_m double precision
) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN directions IS NULL OR cardinality(directions) = 0 OR fov IS NULL OR fov >= 360
        THEN ST_Buffer(p::geography, radius_m, 'quad_segs=8')::geometry
    ELSE (
        SELECT CONE FROM (
            SELECT ST_Union(SECTOR) AS united
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
        ) AS cone
    )
END
$$;
"""
# 110 km: less than any degree of latitude (and of longitude on the equator), so that no cone
# reaching a pole or the antimeridian is missed.
NEAR_POLE = "(90 - abs(ST_Y(p))) * 110000 < radius_m"
NEAR_ANTIMERIDIAN = "(180 - abs(ST_X(p))) * 110000 * cos(radians(ST_Y(p))) < radius_m"
SECTOR = (
    f"CASE WHEN {NEAR_POLE} THEN ST_MakeValid(sector) "
    f"WHEN {NEAR_ANTIMERIDIAN} THEN ST_ShiftLongitude(sector) ELSE sector END"
)
CONE = (
    f"CASE WHEN NOT ({NEAR_POLE}) AND {NEAR_ANTIMERIDIAN} "
    "THEN ST_WrapX(united, 180, -360) ELSE united END"
)


def upgrade() -> None:
    op.execute(VIEW_CONE.replace("SECTOR", SECTOR).replace("CONE", CONE))


def downgrade() -> None:
    op.execute(VIEW_CONE.replace("SECTOR", "sector").replace("CONE", "united"))
