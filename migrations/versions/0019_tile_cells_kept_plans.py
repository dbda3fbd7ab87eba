"""Devices: the tile cells' trigger runs static statements, whose plans PL/pgSQL keeps.

Migration 0017's trigger chose its statement with EXECUTE, so PostgreSQL planned it anew on
every write to devices (about a third of a millisecond, the largest share of what the
bookkeeping triggers together cost a write). The same statements, written out once per kind of
change, are planned once per session. What they compute is unchanged; the downgrade puts
0017's EXECUTE back.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 20:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in 0017: the zooms of the cells kept, and which devices are public.
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


ADDED, REMOVED = cell_rows("new_rows", ""), cell_rows("old_rows", "-")
CHANGES = {"INSERT": ADDED, "DELETE": REMOVED, "UPDATE": f"{ADDED} UNION ALL {REMOVED}"}
# Add the signed changes, grouped, in key order (concurrent writers lock the rows they share in
# the same order).
ADD_CHANGES = """
    INSERT INTO device_tile_cells AS c
    SELECT zoom, cell, kind, sum(devices), sum(x), sum(y)
    FROM ({changes}) AS changes
    GROUP BY zoom, cell, kind
    HAVING sum(devices) <> 0 OR sum(x) <> 0 OR sum(y) <> 0
    ORDER BY zoom, cell, kind
    ON CONFLICT (zoom, cell, kind) DO UPDATE
    SET devices = c.devices + excluded.devices,
        sum_x = c.sum_x + excluded.sum_x,
        sum_y = c.sum_y + excluded.sum_y
"""


def count_function(adding: str) -> str:
    """The trigger function: ADDING applies the changes, then cells left empty go (found
    through device_tile_cells_empty_idx)."""
    return f"""
        CREATE OR REPLACE FUNCTION device_tile_cells_count() RETURNS trigger
        LANGUAGE plpgsql AS $$
        {adding}
        DELETE FROM device_tile_cells WHERE devices = 0;
        RETURN NULL;
        END $$
    """


def upgrade() -> None:
    branches = " ELSIF ".join(
        f"TG_OP = '{event}' THEN {ADD_CHANGES.format(changes=changes)};"
        for event, changes in CHANGES.items()
    )
    op.execute(count_function(f"BEGIN IF {branches} END IF;"))


def downgrade() -> None:
    chosen = " ".join(f"WHEN '{event}' THEN $q${changes}$q$" for event, changes in CHANGES.items())
    op.execute(
        count_function(
            f"DECLARE changes text := CASE TG_OP {chosen} END; BEGIN "
            f"EXECUTE format($q${ADD_CHANGES.format(changes='%s')}$q$, changes);"
        )
    )
