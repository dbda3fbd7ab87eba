"""Devices: public devices counted per grid cell, kept by the writes themselves.

A vector tile groups the devices of its tile_key range into 8 x 8 cells. At zoom 10 the tile
holding Paris reads 300,000 index entries to do so (p95 88 ms, against 10 ms at zoom 14).
`device_tile_cells` holds, for the cells of zooms 11 and 16 (tiles whose side is 1/32 and
1/1024 of a zoom-6 tile), the number of public devices of each kind and the sums of their
pixels: a tile whose cells are of zoom 16 or less adds up at most 4^6 rows per cell.

Statement triggers on devices add and subtract what each INSERT, UPDATE or DELETE changed
(through transition tables: a bulk load costs one grouping, not a row per device), in the
same transaction, so the counts are exact the moment a change commits. Public is what
service/visibility.py says an anonymous viewer sees: approved and not deleted.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The zooms of the cells kept (service/geo/tiles.py, CELL_LEVELS).
LEVELS = (11, 16)
PUBLIC = "review_status = 'approved' AND deleted_at IS NULL"


def cell_rows(source: str, sign: str) -> str:
    """(zoom, cell, kind, devices, sum_x, sum_y) of the public devices of SOURCE, signed."""
    levels = ", ".join(f"({level})" for level in LEVELS)
    return f"""
        SELECT levels.zoom, d.tile_key >> (2 * (30 - levels.zoom)) AS cell, d.kind,
               {sign}1 AS devices, {sign}d.mercator_x::bigint AS x, {sign}d.mercator_y::bigint AS y
        FROM {source} AS d CROSS JOIN (VALUES {levels}) AS levels (zoom)
        WHERE d.{PUBLIC.replace(" AND ", " AND d.")}
    """


def upgrade() -> None:
    op.create_table(
        "device_tile_cells",
        sa.Column("zoom", sa.SmallInteger(), nullable=False),
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("sum_x", sa.BigInteger(), nullable=False),
        sa.Column("sum_y", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("zoom", "cell", "kind", name="device_tile_cells_pkey"),
    )
    op.create_index(
        "device_tile_cells_empty_idx",
        "device_tile_cells",
        ["zoom"],
        postgresql_where=sa.text("devices = 0"),
    )
    added, removed = cell_rows("new_rows", ""), cell_rows("old_rows", "-")
    # The changes are grouped, then applied in key order (concurrent writers lock the rows
    # they share in the same order); cells left empty go (a statement of their own: the rows
    # an INSERT ... ON CONFLICT updates are not visible to the rest of its statement).
    op.execute(f"""
        CREATE FUNCTION device_tile_cells_count() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            changes text := CASE TG_OP
                WHEN 'INSERT' THEN $q${added}$q$
                WHEN 'DELETE' THEN $q${removed}$q$
                ELSE $q${added} UNION ALL {removed}$q$
            END;
        BEGIN
            EXECUTE format($q$
                WITH deltas AS (
                    SELECT zoom, cell, kind, sum(devices) AS devices, sum(x) AS sum_x,
                           sum(y) AS sum_y
                    FROM (%s) AS changes
                    GROUP BY zoom, cell, kind
                    HAVING sum(devices) <> 0 OR sum(x) <> 0 OR sum(y) <> 0
                )
                INSERT INTO device_tile_cells AS c
                SELECT * FROM deltas ORDER BY zoom, cell, kind
                ON CONFLICT (zoom, cell, kind) DO UPDATE
                SET devices = c.devices + excluded.devices,
                    sum_x = c.sum_x + excluded.sum_x,
                    sum_y = c.sum_y + excluded.sum_y
            $q$, changes);
            -- Found through device_tile_cells_empty_idx: no scan of the table.
            DELETE FROM device_tile_cells WHERE devices = 0;
            RETURN NULL;
        END $$
    """)
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(f"""
            CREATE TRIGGER device_tile_cells_{event.lower()} AFTER {event} ON devices
            REFERENCING {tables}
            FOR EACH STATEMENT EXECUTE FUNCTION device_tile_cells_count()
        """)
    op.execute("""
        CREATE FUNCTION device_tile_cells_clear() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- DELETE, not TRUNCATE: a TRUNCATE of both tables would be refused.
            DELETE FROM device_tile_cells;
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER device_tile_cells_truncate AFTER TRUNCATE ON devices
        FOR EACH STATEMENT EXECUTE FUNCTION device_tile_cells_clear()
    """)
    op.execute(f"""
        INSERT INTO device_tile_cells
        SELECT zoom, cell, kind, sum(devices), sum(x), sum(y)
        FROM ({cell_rows("devices", "")}) AS public_devices
        GROUP BY zoom, cell, kind
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER device_tile_cells_truncate ON devices")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER device_tile_cells_{event} ON devices")
    op.execute("DROP FUNCTION device_tile_cells_clear()")
    op.execute("DROP FUNCTION device_tile_cells_count()")
    op.drop_table("device_tile_cells")
