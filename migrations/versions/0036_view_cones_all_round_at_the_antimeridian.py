"""View cones all round within reach of the antimeridian: cut there, as directed ones are.

A camera seeing all round (a dome, no direction) has a circle for its cone; within reach of the
antimeridian that circle, put back within -180..180, crossed itself, and the watched share of
every district around it was a 500 (a GEOS TopologyException in the union of the cones). It is
now drawn in longitudes 0 to 360, where it is whole, and cut there into its parts on either
side, as 0035 does for directed cones. Other cones are as before.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 16:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0036"
down_revision: str | Sequence[str] | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The cone of 0035, with CIRCLE standing for a cone seeing all round.
VIEW_CONE = """
CREATE OR REPLACE FUNCTION view_cone(
    p geometry, directions smallint[], fov double precision, radius_m double precision
) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN directions IS NULL OR cardinality(directions) = 0 OR fov IS NULL OR fov >= 360
        THEN CIRCLE
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


BUFFER = "ST_Buffer(p::geography, radius_m, 'quad_segs=8')::geometry"
CIRCLE = (
    f"CASE WHEN NOT ({NEAR_POLE}) AND {NEAR_ANTIMERIDIAN} "
    f"THEN ST_WrapX(ST_ShiftLongitude({BUFFER}), 180, -360) ELSE {BUFFER} END"
)


def view_cone(circle: str) -> str:
    return VIEW_CONE.replace("CIRCLE", circle).replace("SECTOR", SECTOR).replace("CONE", CONE)


def upgrade() -> None:
    op.execute(view_cone(CIRCLE))


def downgrade() -> None:
    op.execute(view_cone(BUFFER))
