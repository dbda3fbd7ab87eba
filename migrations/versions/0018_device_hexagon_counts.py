"""Statistics: which hexagon of the grid holds each device, and counts per hexagon.

The hexagon grid (GET /api/v1/stats/grid) placed every device of the box in its hexagon on each
request: Paris's 250 m grid joined 270,000 devices with ST_HexagonGrid, one grid per device. It
also placed some devices wrongly: ST_HexagonGrid lists the hexagons whose bounding box meets a
point, and the lowest of them is not always the one holding it.

`hexagon_cell(x, y, side)` is now the one rule that places a point in the grid of flat-topped
hexagons of ST_Hexagon(side, i, j) (in a metric projection): the hexagon whose centre is
nearest, which is the one holding it; on an edge, the lower column, then the lower row. Pure
arithmetic, inlined by PostgreSQL. `utm_srid(lon, lat)` gives the projection a grid uses: the
WGS84 UTM zone of a point (the grid's, of its box's centre).

`device_hexagon_counts` holds, for the hexagons of the sides in SIDES_M, in the UTM zone of each
device, how many public devices (approved, not deleted) each holds, per value of each
statistics filter (kind, status, operator type, verification), like district_device_counts.
Statement triggers on devices add and subtract what each INSERT, UPDATE or DELETE changed
(through transition tables: a bulk load costs one grouping), in the same transaction, so the
counts are exact the moment a change commits. `grid_hexagons` keeps the polygon (WGS84) and
its GeoJSON of every hexagon that ever held a device, written by the same triggers: pure
geometry, which a grid answer would otherwise project and write anew for each hexagon.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hexagon sides (metres) whose counts are kept: the grid's default (service/geo/grid.py).
SIDES_M = (250,)
FILTERS = "kind, status, operator_type, verification"
KEY = f"side_m, srid, i, j, {FILTERS}"
PUBLIC = "d.review_status = 'approved' AND d.deleted_at IS NULL"


def hexagon_cell_expression() -> str:
    """(i, j) of the hexagon holding (x, y): of the two columns whose hexagons span x, the
    centre nearest the point (odd columns are shifted up by half a row, as ST_Hexagon's)."""
    row = "(sqrt(3.0) * side)"
    lower = "floor(x / (1.5 * side))::integer"
    upper = f"({lower} + 1)"

    def row_and_distance(column: str) -> tuple[str, str]:
        shift = f"(({column}) & 1) * {row} / 2"
        j = f"ceil((y - {shift}) / {row} - 0.5)::integer"
        distance = f"(x - 1.5 * side * ({column}))^2 + (y - {row} * ({j}) - {shift})^2"
        return j, distance

    lower_j, lower_distance = row_and_distance(lower)
    upper_j, upper_distance = row_and_distance(upper)
    return (
        f"CASE WHEN {lower_distance} <= {upper_distance} "
        f"THEN ARRAY[{lower}, {lower_j}] ELSE ARRAY[{upper}, {upper_j}] END"
    )


# Neither function is STRICT: PostgreSQL would inline a strict one only where it can prove the
# expression NULL for a NULL argument, which it cannot for a CASE.
FUNCTIONS = f"""
CREATE FUNCTION hexagon_cell(x double precision, y double precision, side double precision)
RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT {hexagon_cell_expression()} $$;

CREATE FUNCTION utm_srid(lon double precision, lat double precision)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN lat >= 0 THEN 32600 ELSE 32700 END
             + least(60, greatest(1, floor((lon + 180) / 6)::integer + 1)) $$;
"""


# The polygons of the hexagons of CELLS (side_m, srid, i, j) not kept yet (only those are
# projected), and their GeoJSON as service/geo/sql.py's geojson_geometry() writes it (7
# decimals, right-hand rule); in key order, as the counts. Kept once written: a polygon never
# changes (the table grows with the area ever mapped, a hexagon's row a few hundred bytes).
NEW_HEXAGONS = """
    INSERT INTO grid_hexagons (side_m, srid, i, j, geom, geometry_json)
    SELECT side_m, srid, i, j, polygon, ST_AsGeoJSON(ST_ForcePolygonCCW(polygon), 7)
    FROM (
        SELECT DISTINCT side_m, srid, i, j FROM {cells} AS written
        WHERE NOT EXISTS (
            SELECT FROM grid_hexagons h
            WHERE (h.side_m, h.srid, h.i, h.j) = (written.side_m, written.srid, written.i, written.j)
        )
    ) AS cells
    CROSS JOIN LATERAL ST_Transform(ST_SetSRID(ST_Hexagon(side_m, i, j), srid), 4326) AS polygon
    ORDER BY side_m, srid, i, j
    ON CONFLICT DO NOTHING
"""


def hexagon_rows(source: str, n: str) -> str:
    """(KEY, n) of the public devices of SOURCE, one row per kept side, each counting N (an
    expression of a row d of SOURCE: 1, -1).

    The projected coordinates are materialized first: PostgreSQL inlines hexagon_cell's
    expression only when its arguments are plain columns, and calls it as a function (planning
    its body once per statement) otherwise.
    """
    sides = ", ".join(f"({side})" for side in SIDES_M)
    return f"""
        WITH points AS MATERIALIZED (
            SELECT sides.side_m, z.srid, ST_X(z.point) AS x, ST_Y(z.point) AS y,
                   {", ".join(f"d.{f}" for f in FILTERS.split(", "))}, {n} AS n
            FROM {source} AS d
            CROSS JOIN (VALUES {sides}) AS sides (side_m)
            CROSS JOIN LATERAL (
                SELECT utm_srid(ST_X(d.geom), ST_Y(d.geom)) AS srid,
                       ST_Transform(d.geom, utm_srid(ST_X(d.geom), ST_Y(d.geom))) AS point
            ) AS z
            WHERE {PUBLIC}
        )
        SELECT side_m, srid, cell[1] AS i, cell[2] AS j, {FILTERS}, n
        FROM (SELECT points.*, hexagon_cell(x, y, side_m) AS cell FROM points) AS placed
    """


ADDED, REMOVED = hexagon_rows("new_rows", "1"), hexagon_rows("old_rows", "-1")
# Add signed changes (a relation with the KEY columns and n), grouped, in key order (concurrent
# writers lock the rows they share in the same order); the hexagons written come back, with
# their counts.
ADD_COUNTS = f"""
    INSERT INTO device_hexagon_counts AS c ({KEY}, n)
    SELECT {KEY}, sum(n) FROM ({{changes}}) AS changes
    GROUP BY {KEY} HAVING sum(n) <> 0 ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET n = c.n + excluded.n
    RETURNING side_m, srid, i, j, n
"""


def apply_changes(changes: str) -> str:
    """Add the signed CHANGES and keep the polygons of new hexagons."""
    return f"""
        WITH changed AS ({ADD_COUNTS.format(changes=changes)})
        {NEW_HEXAGONS.format(cells="changed")}
    """


# Static statements, not EXECUTE: PL/pgSQL keeps their plans for the session, where
# planning hexagon_cell's expression anew would cost each write a millisecond or two.
# Emptied hexagons go in a statement of their own, found through the partial index.
COUNT_FUNCTION = f"""
    CREATE FUNCTION device_hexagon_counts_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {apply_changes(ADDED)};
        ELSIF TG_OP = 'DELETE' THEN
            {apply_changes(REMOVED)};
        ELSE
            {apply_changes(f"({ADDED}) UNION ALL ({REMOVED})")};
        END IF;
        DELETE FROM device_hexagon_counts WHERE n = 0;
        RETURN NULL;
    END $$
"""


def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.execute(f"""
        CREATE TABLE device_hexagon_counts (
            side_m smallint NOT NULL,
            srid integer NOT NULL,
            i integer NOT NULL,
            j integer NOT NULL,
            kind varchar(32) NOT NULL,
            status varchar(16) NOT NULL,
            operator_type varchar(16) NOT NULL,
            verification varchar(16) NOT NULL,
            n bigint NOT NULL,
            PRIMARY KEY ({KEY})
        );
        CREATE INDEX device_hexagon_counts_empty_idx ON device_hexagon_counts (side_m)
            WHERE n = 0;
        CREATE TABLE grid_hexagons (
            side_m smallint NOT NULL,
            srid integer NOT NULL,
            i integer NOT NULL,
            j integer NOT NULL,
            geom geometry(Polygon, 4326) NOT NULL,
            geometry_json text NOT NULL,
            PRIMARY KEY (side_m, srid, i, j)
        );
    """)
    op.execute(COUNT_FUNCTION)
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(f"""
            CREATE TRIGGER device_hexagon_counts_{event.lower()} AFTER {event} ON devices
            REFERENCING {tables}
            FOR EACH STATEMENT EXECUTE FUNCTION device_hexagon_counts_count()
        """)
    op.execute("""
        CREATE FUNCTION device_hexagon_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM device_hexagon_counts;
            RETURN NULL;
        END $$;
        CREATE TRIGGER device_hexagon_counts_truncate AFTER TRUNCATE ON devices
        FOR EACH STATEMENT EXECUTE FUNCTION device_hexagon_counts_clear();
    """)
    op.execute(f"""
        INSERT INTO device_hexagon_counts ({KEY}, n)
        SELECT {KEY}, sum(n) FROM ({hexagon_rows("devices", "1")}) AS public_devices
        GROUP BY {KEY}
    """)
    op.execute(NEW_HEXAGONS.format(cells="device_hexagon_counts"))


def downgrade() -> None:
    op.execute("DROP TRIGGER device_hexagon_counts_truncate ON devices")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER device_hexagon_counts_{event} ON devices")
    op.execute("DROP FUNCTION device_hexagon_counts_clear()")
    op.execute("DROP FUNCTION device_hexagon_counts_count()")
    op.execute("DROP TABLE grid_hexagons")
    op.execute("DROP TABLE device_hexagon_counts")
    op.execute("DROP FUNCTION utm_srid(double precision, double precision)")
    op.execute("DROP FUNCTION hexagon_cell(double precision, double precision, double precision)")
