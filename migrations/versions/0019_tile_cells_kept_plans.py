"""Devices: the tile cells' trigger runs static statements, whose plans PL/pgSQL keeps.

Migration 0017's trigger chose its statement with EXECUTE, so PostgreSQL planned it anew on
every write to devices (about a third of a millisecond, the largest share of what the
bookkeeping triggers together cost a write). The same statements, written out once per kind of
change, are planned once per session. What they compute is unchanged.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 20:30:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def tile_cells_migration():
    """Migration 0017, whose rows of changes (cell_rows) this one writes out."""
    path = Path(__file__).with_name("0017_device_tile_cells.py")
    spec = importlib.util.spec_from_file_location("device_tile_cells_0017", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_changes(changes: str) -> str:
    """Add the signed CHANGES, grouped, in key order (concurrent writers lock the rows they
    share in the same order)."""
    return f"""
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


def upgrade() -> None:
    cell_rows = tile_cells_migration().cell_rows
    added, removed = cell_rows("new_rows", ""), cell_rows("old_rows", "-")
    op.execute(f"""
        CREATE OR REPLACE FUNCTION device_tile_cells_count() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {add_changes(added)};
            ELSIF TG_OP = 'DELETE' THEN
                {add_changes(removed)};
            ELSE
                {add_changes(f"{added} UNION ALL {removed}")};
            END IF;
            -- Found through device_tile_cells_empty_idx: no scan of the table.
            DELETE FROM device_tile_cells WHERE devices = 0;
            RETURN NULL;
        END $$
    """)


def downgrade() -> None:
    """Nothing to undo: the function computes what 0017's did, and 0017's downgrade drops it."""
