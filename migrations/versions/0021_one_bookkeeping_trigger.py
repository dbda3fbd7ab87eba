"""Statistics: one bookkeeping trigger per kind of device write; CSV lines rewritten by readers.

Every INSERT, UPDATE or DELETE on devices fired four statement triggers (district counts,
tile cells, hexagon counts, the data version); the counts they wrote fired a fifth, on
district_device_counts, noting the districts whose CSV lines a deferred trigger rewrote when the
transaction committed. Fifteen statements or so, the commit-time rewrite the costliest, cost
device writes 10 to 15 % of their throughput.

Now one function per event keeps all of it, composed of the same statements (taken from
migrations 0013, 0018 and 0019, so what is counted cannot drift), run as the data-modifying
parts of one statement where their order allows:

- INSERT: the new memberships, the counts from them, the marks of their districts' CSV lines,
  the tile cells, the hexagon counts and polygons, the data version: one statement.
- DELETE: the same, with the memberships dropped; then the emptied cells and hexagons go.
- UPDATE: when no position, counted column or publicness changed (notes, confirmations,
  directions), only the data version; otherwise the statement above, then the moved devices'
  new memberships, then the emptied cells and hexagons.

Every part of one statement sees the rows as they were before it, which is what each needs
(the counts read the memberships a device had). The per-row declared-match trigger stays: it
does work only where declared sites lie near.

A writer no longer rewrites CSV lines: it marks its districts in `district_csv_lines_stale`
(a plain insert, no key, no lock). A reader of the CSV computes the marked districts' lines
from the counts, as it does those a border device counts in, so every answer stays exact; before
reading, `refresh_district_csv_lines()` (on the primary) rewrites them and drops the marks it
saw. District imports and TRUNCATE mark lines the same way. The downgrade refreshes the lines
and restores the separate triggers and the commit-time rewrite.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 23:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def earlier(filename: str) -> ModuleType:
    """The module of an earlier migration, whose statements this one composes and restores."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MEMBERSHIPS = earlier("0013_district_memberships.py")
TILE_CELLS = earlier("0019_tile_cells_kept_plans.py")
HEXAGONS = earlier("0018_device_hexagon_counts.py")
CSV_LINES = earlier("0020_district_csv_lines.py")

TRANSITIONS = MEMBERSHIPS.TRANSITIONS
DEVICE_EVENTS = ("INSERT", "UPDATE", "DELETE")
# The triggers this migration replaces: (name, event, function).
SEPARATE_TRIGGERS = (
    *(
        (name, event, function)
        for table, name, event, function in MEMBERSHIPS.TRIGGERS
        if table == "devices" and event in DEVICE_EVENTS
    ),
    *(
        (f"device_tile_cells_{event.lower()}", event, "device_tile_cells_count")
        for event in DEVICE_EVENTS
    ),
    *(
        (f"device_hexagon_counts_{event.lower()}", event, "device_hexagon_counts_count")
        for event in DEVICE_EVENTS
    ),
)
COUNTS_CSV_TRIGGERS = tuple(
    (name, event) for table, name, event in CSV_LINES.TRIGGERS if table == "district_device_counts"
)


def inserted_memberships(bulk: bool) -> str:
    """The memberships of the inserted devices, as a data-modifying part returning them. Above
    BULK_ROWS rows, districts drive the join over the devices' GiST index (each polygon
    prepared once) instead of one probe per device."""
    pairs = (
        "districts z JOIN devices r ON ST_Intersects(z.geom, r.geom) "
        "WHERE r.id IN (SELECT id FROM new_rows)"
        if bulk
        else "new_rows r JOIN districts z ON ST_Intersects(z.geom, r.geom)"
    )
    return f"""members AS (
        INSERT INTO device_districts (district_code, device_id, interior)
        SELECT z.code, r.id, ST_Contains(z.geom, r.geom) FROM {pairs}
        RETURNING district_code, device_id, interior
    )"""


INSERTED_COUNTS = f"""
    SELECT m.district_code, {", ".join(f"r.{f}" for f in MEMBERSHIPS.FILTERS.split(", "))}, 1 AS n
    FROM new_rows r JOIN members m ON m.device_id = r.id AND m.interior
    WHERE {MEMBERSHIPS.PUBLIC.format(t="r")}
"""


# The districts whose kept CSV line may be behind their counts: a row per district and writing
# transaction, inserted with its counts (no key, no lock: writers never wait on one another
# here). A reader computes these districts' lines from the counts, so what it serves is exact;
# refresh_district_csv_lines() rewrites them and drops the marks it saw.
STALE = "CREATE TABLE district_csv_lines_stale (code varchar(32) NOT NULL)"


def mark_stale(codes: str) -> str:
    """The statement marking the districts of CODES (a query of codes)."""
    return f"INSERT INTO district_csv_lines_stale (code) {codes}"


COUNTED_DISTRICTS = "SELECT DISTINCT district_code FROM {source}"
# One refresh at a time (a later one, with a newer snapshot, could otherwise be overwritten by
# an earlier one); a busy refresh makes the caller skip it, not wait. The marks deleted are
# those committed before the refresh began (a transaction committing later keeps its own), and
# the lines are written from a later snapshot: a line is only dropped with its mark once it
# counts what the mark stood for. A removed district's line goes here too.
REFRESH = """
CREATE FUNCTION refresh_district_csv_lines() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    codes text[];
BEGIN
    IF NOT pg_try_advisory_xact_lock('district_csv_lines'::regclass::oid::bigint) THEN
        RETURN 0;
    END IF;
    WITH seen AS (DELETE FROM district_csv_lines_stale RETURNING code)
    SELECT array_agg(DISTINCT code) INTO codes FROM seen;
    IF codes IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM district_csv_lines l WHERE l.code = ANY (codes)
    AND NOT EXISTS (SELECT 1 FROM districts d WHERE d.code = l.code);
    PERFORM write_district_csv_lines(codes);
    RETURN cardinality(codes);
END $$
"""


def keep_statistics(first: list[str], counts: str, cells: str, hexagons: str) -> str:
    """One statement: the FIRST parts, then the signed COUNTS added to the district counts
    (their districts' CSV lines marked stale), CELLS to the tile cells, HEXAGONS to the
    hexagon counts (new hexagons' polygons kept), and one more data version; whether a cell or
    a hexagon was emptied goes INTO emptied.

    Its last part reads the counts, the cells and the hexagons written, in that order and each
    to its end, so that every writer locks the rows it shares with another in that order (each
    part writing in key order): a part read partly (an EXISTS that stops at the first emptied
    cell) would be finished after the others, and two writers could then lock the same rows in
    opposite orders, and deadlock."""
    parts = [
        *first,
        f"counted AS ({MEMBERSHIPS.ADD_COUNTS.format(deltas=counts)} RETURNING district_code)",
        f"marked AS ({mark_stale(COUNTED_DISTRICTS.format(source='counted'))})",
        f"cells AS ({TILE_CELLS.ADD_CHANGES.format(changes=cells)} RETURNING devices)",
        f"hexagons AS ({HEXAGONS.ADD_COUNTS.format(changes=hexagons)})",
        f"new_hexagons AS ({HEXAGONS.NEW_HEXAGONS.format(cells='hexagons')})",
        "version AS (INSERT INTO statistics_changes DEFAULT VALUES)",
    ]
    return (
        f"WITH {', '.join(parts)} SELECT bool_or(zero) INTO emptied FROM ("
        "SELECT false AS zero FROM counted UNION ALL SELECT devices = 0 FROM cells "
        "UNION ALL SELECT n = 0 FROM hexagons) AS written"
    )


# Cells and hexagons that a removal emptied, found through their partial indexes.
FORGET_EMPTIED = """
    IF emptied THEN
        WITH cells AS (DELETE FROM device_tile_cells WHERE devices = 0)
        DELETE FROM device_hexagon_counts WHERE n = 0;
    END IF
"""
# The updated devices whose position, counted columns or publicness changed, and those of them
# that moved: found once, then picked out of the transition tables by id.
CHANGED_IDS = f"""
    SELECT array_agg(id), coalesce(array_agg(id) FILTER (WHERE moved), '{{}}')
    INTO changed_ids, moved_ids FROM ({MEMBERSHIPS.CHANGED}) AS c
"""
# What an UPDATE changes: minus what the changed rows counted, by the memberships they had;
# plus what they count now, by the same memberships or, for a moved device, by the districts
# holding it now.
UPDATED_COUNTS = f"""
    {MEMBERSHIPS.contributions("(SELECT * FROM old_rows WHERE id = ANY (changed_ids))", -1)}
    UNION ALL
    {
    MEMBERSHIPS.contributions(
        "(SELECT * FROM new_rows WHERE id = ANY (changed_ids) AND NOT id = ANY (moved_ids))", 1
    )
}
    UNION ALL
    SELECT z.code, {", ".join(f"n.{f}" for f in MEMBERSHIPS.FILTERS.split(", "))}, 1
    FROM new_rows n JOIN districts z ON ST_Contains(z.geom, n.geom)
    WHERE n.id = ANY (moved_ids) AND {MEMBERSHIPS.PUBLIC.format(t="n")}
"""
# An UPDATE's rows, the new counting 1 and the old -1, in one relation: what is placed in the
# tile cells and hexagons is then worked out once, not once for each side.
SIGNED_ROWS = "(SELECT *, 1 AS sign FROM new_rows UNION ALL SELECT *, -1 AS sign FROM old_rows)"
PLACE_MOVED = """
    INSERT INTO device_districts (district_code, device_id, interior)
    SELECT z.code, n.id, ST_Contains(z.geom, n.geom)
    FROM new_rows n JOIN districts z ON ST_Intersects(z.geom, n.geom)
    WHERE n.id = ANY (moved_ids)
"""

# The ids are parameters of the statements: their one generic plan is kept for the session
# (custom plans would be made anew for each write).
KEEP_STATISTICS = f"""
CREATE FUNCTION devices_keep_statistics() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    changed_ids uuid[];
    moved_ids uuid[];
    emptied boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF (SELECT count(*) FROM new_rows) > {MEMBERSHIPS.BULK_ROWS} THEN
            {
    keep_statistics(
        [inserted_memberships(bulk=True)],
        INSERTED_COUNTS,
        TILE_CELLS.CHANGES["INSERT"],
        HEXAGONS.ADDED,
    )
};
        ELSE
            {
    keep_statistics(
        [inserted_memberships(bulk=False)],
        INSERTED_COUNTS,
        TILE_CELLS.CHANGES["INSERT"],
        HEXAGONS.ADDED,
    )
};
        END IF;
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        {
    keep_statistics(
        ["dropped AS (DELETE FROM device_districts WHERE device_id IN (SELECT id FROM old_rows))"],
        MEMBERSHIPS.contributions("old_rows", -1),
        TILE_CELLS.CHANGES["DELETE"],
        HEXAGONS.REMOVED,
    )
};
        {FORGET_EMPTIED};
        RETURN NULL;
    END IF;
    {CHANGED_IDS};
    IF changed_ids IS NULL THEN
        INSERT INTO statistics_changes DEFAULT VALUES;
        RETURN NULL;
    END IF;
    {
    keep_statistics(
        ["dropped AS (DELETE FROM device_districts WHERE device_id = ANY (moved_ids))"],
        UPDATED_COUNTS,
        TILE_CELLS.cell_rows(SIGNED_ROWS, "d.sign * "),
        HEXAGONS.hexagon_rows(SIGNED_ROWS, "d.sign"),
    )
};
    IF cardinality(moved_ids) > 0 THEN
        {PLACE_MOVED};
    END IF;
    {FORGET_EMPTIED};
    RETURN NULL;
END $$
"""


# Devices emptied (TRUNCATE): their counts go, every district they counted in is marked (the
# trigger on the counts that rewrote lines is gone). Districts emptied: nothing to count in.
FORGET_ALL = f"""
CREATE OR REPLACE FUNCTION statistics_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM device_districts;
    WITH gone AS (DELETE FROM district_device_counts RETURNING district_code)
    {mark_stale(COUNTED_DISTRICTS.format(source="gone"))};
    RETURN NULL;
END $$
"""

# Districts written or removed (an import): marked, as counts are. The function their triggers
# run (0020's district_csv_lines_rewrite) is renamed for what it now does.
MARK_DISTRICTS = f"""
CREATE OR REPLACE FUNCTION district_csv_lines_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {mark_stale("SELECT code FROM new_rows")};
    ELSIF TG_OP = 'UPDATE' THEN
        {mark_stale("SELECT code FROM new_rows UNION SELECT code FROM old_rows")};
    ELSE
        {mark_stale("SELECT code FROM old_rows")};
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    for name, _event, _function in SEPARATE_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON devices")
    for function in sorted({function for _name, _event, function in SEPARATE_TRIGGERS}):
        op.execute(f"DROP FUNCTION {function}()")
    for name, _event in COUNTS_CSV_TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON district_device_counts")
    op.execute("DROP TRIGGER devices_record_statistics_change ON devices")
    op.execute(
        "CREATE TRIGGER devices_record_statistics_change AFTER TRUNCATE ON devices "
        "FOR EACH STATEMENT EXECUTE FUNCTION record_statistics_change()"
    )
    op.execute("DROP TRIGGER district_csv_lines_at_commit ON district_csv_lines_pending")
    op.execute("DROP TABLE district_csv_lines_pending")
    op.execute("DROP FUNCTION district_csv_lines_write_pending()")
    op.execute(STALE)
    op.execute(REFRESH)
    op.execute(FORGET_ALL)
    op.execute("ALTER FUNCTION district_csv_lines_rewrite() RENAME TO district_csv_lines_mark")
    op.execute(MARK_DISTRICTS)
    op.execute(KEEP_STATISTICS)
    for event in DEVICE_EVENTS:
        op.execute(
            f"CREATE TRIGGER devices_keep_statistics_{event.lower()} AFTER {event} ON devices "
            f"{TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION devices_keep_statistics()"
        )


def downgrade() -> None:
    for event in DEVICE_EVENTS:
        op.execute(f"DROP TRIGGER devices_keep_statistics_{event.lower()} ON devices")
    op.execute("DROP FUNCTION devices_keep_statistics()")
    # 0020 keeps every line current: with device writes shut out (the triggers dropped above
    # lock devices until this commits) and the transactions that marked lines finished (the
    # lock on the marks waits for them), every line is written anew.
    op.execute("LOCK TABLE district_csv_lines_stale IN EXCLUSIVE MODE")
    op.execute("DELETE FROM district_csv_lines WHERE code NOT IN (SELECT code FROM districts)")
    op.execute("SELECT write_district_csv_lines(array_agg(code)) FROM districts")
    op.execute("DROP FUNCTION refresh_district_csv_lines()")
    op.execute("DROP TABLE district_csv_lines_stale")
    op.execute(CSV_LINES.PENDING)
    op.execute("ALTER FUNCTION district_csv_lines_mark() RENAME TO district_csv_lines_rewrite")
    # The earlier functions, as their migrations wrote them (statistics_forget_all and
    # district_csv_lines_rewrite included); the others they define are written unchanged.
    for functions in (MEMBERSHIPS.FUNCTIONS, CSV_LINES.FUNCTIONS):
        op.execute(functions.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(CSV_LINES.AT_COMMIT)
    op.execute(HEXAGONS.COUNT_FUNCTION)
    TILE_CELLS.upgrade()
    for name, event, function in SEPARATE_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON devices {TRANSITIONS[event]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    for name, event in COUNTS_CSV_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON district_device_counts "
            f"{CSV_LINES.TRANSITIONS[event]} "
            "FOR EACH STATEMENT EXECUTE FUNCTION district_csv_lines_rewrite()"
        )
    op.execute("DROP TRIGGER devices_record_statistics_change ON devices")
    op.execute(MEMBERSHIPS.VERSION_TRIGGER.format(table="devices"))
