"""Statistics: which districts hold each device, and counts per district, kept at write time.

Statistics joined every device with every selected polygon on each request (Paris's
arrondissements 1 s, every commune 3 s), so they were cached and could lag the map. Now the
transaction that writes a device or a district also writes:

- `device_districts`: one row per (district, device) whose geometries meet, with `interior`
  true when the district's interior holds the device (false: the device lies on its border);
- `district_device_counts`: per district and per value of each statistics filter (kind, status,
  operator type, verification), how many public devices (approved, not deleted) its interior
  holds.

A statistic then sums a small table, and looks at the few border memberships to apply the
border rule (docs/statistics.md). Statement triggers with transition tables do the work in
sets, so a bulk load costs one join, not one per row; a district import recomputes the
memberships and counts of the districts it wrote.

The statistics cache stays, but serves only exact bodies: its data version was a sequence,
moved when a writer's statement ran, before the writer committed, so a body computed in between
was stored under the new version without the new data. Now each writing statement appends a row
to `statistics_changes` in its own transaction: the version is how many such rows are visible
and the largest id, a pair that moves exactly when a change commits (committed rows only add up;
`fold_statistics_changes()` moves rows into one counter row atomically, keeping the pair).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The statistics' filter columns, in the counts table's key order.
FILTERS = "kind, status, operator_type, verification"
KEY = f"district_code, {FILTERS}"
# A device counts in public statistics when it is approved and not deleted (service/visibility).
PUBLIC = "{t}.review_status = 'approved' AND {t}.deleted_at IS NULL"
# Add signed counts (a relation with the KEY columns and n) to the counts table, in key order
# so that concurrent writers lock rows in the same order.
ADD_COUNTS = f"""
    INSERT INTO district_device_counts AS c ({KEY}, n)
    SELECT {KEY}, sum(n) FROM ({{deltas}}) deltas
    GROUP BY {KEY} HAVING sum(n) <> 0 ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE SET n = c.n + excluded.n
"""
# Memberships of the devices of a relation; above this many rows, districts drive the join
# over the devices' GiST index (each polygon prepared once) instead of one probe per device.
BULK_ROWS = 5000


def memberships_of(rows: str) -> str:
    """INSERT the memberships of the devices in ROWS (a relation with id and geom)."""
    return f"""
    IF (SELECT count(*) FROM {rows}) > {BULK_ROWS} THEN
        INSERT INTO device_districts (district_code, device_id, interior)
        SELECT z.code, v.id, ST_Contains(z.geom, v.geom)
        FROM districts z JOIN devices v ON ST_Intersects(z.geom, v.geom)
        WHERE v.id IN (SELECT id FROM {rows});
    ELSE
        INSERT INTO device_districts (district_code, device_id, interior)
        SELECT z.code, r.id, ST_Contains(z.geom, r.geom)
        FROM {rows} r JOIN districts z ON ST_Intersects(z.geom, r.geom);
    END IF;
    """


# The updated devices whose position, counted columns or publicness changed, and whether they
# moved.
CHANGED = f"""
    SELECT n.id, o.geom::bytea <> n.geom::bytea AS moved
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.geom::bytea, o.kind, o.status, o.operator_type, o.verification, {PUBLIC.format(t="o")})
          IS DISTINCT FROM
          (n.geom::bytea, n.kind, n.status, n.operator_type, n.verification, {PUBLIC.format(t="n")})
"""


def contributions(rows: str, sign: int) -> str:
    """Signed counts of the public devices of ROWS (id and the filter columns) in the districts
    whose interior holds them, by the memberships stored now."""
    return f"""
        SELECT m.district_code, {", ".join(f"r.{f}" for f in FILTERS.split(", "))}, {sign} AS n
        FROM {rows} r JOIN device_districts m ON m.device_id = r.id AND m.interior
        WHERE {PUBLIC.format(t="r")}
    """


FUNCTIONS = f"""
CREATE FUNCTION devices_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {memberships_of("new_rows")}
    {ADD_COUNTS.format(deltas=contributions("new_rows", 1))};
    RETURN NULL;
END $$;

CREATE FUNCTION devices_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {ADD_COUNTS.format(deltas=contributions("old_rows", -1))};
    DELETE FROM device_districts WHERE device_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;

-- Only rows whose position or counted columns changed matter (most updates touch neither).
CREATE FUNCTION devices_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS ({CHANGED}) THEN
        RETURN NULL;
    END IF;
    -- One statement, its keys locked in order (two one-statement writers cannot deadlock):
    -- minus what the old rows counted, by the memberships they had; plus what the new rows
    -- count, by the same memberships or, for a moved device, by the districts holding it now.
    {
    ADD_COUNTS.format(
        deltas=f'''
        {contributions(f"(SELECT o.* FROM ({CHANGED}) c JOIN old_rows o ON o.id = c.id)", -1)}
        UNION ALL
        {contributions(f"(SELECT n.* FROM ({CHANGED}) c JOIN new_rows n ON n.id = c.id AND NOT c.moved)", 1)}
        UNION ALL
        SELECT z.code, {", ".join(f"n.{f}" for f in FILTERS.split(", "))}, 1
        FROM ({CHANGED}) c JOIN new_rows n ON n.id = c.id AND c.moved
        JOIN districts z ON ST_Contains(z.geom, n.geom)
        WHERE {PUBLIC.format(t="n")}'''
    )
};
    DELETE FROM device_districts
    WHERE device_id IN (SELECT id FROM ({CHANGED}) c WHERE c.moved);
    INSERT INTO device_districts (district_code, device_id, interior)
    SELECT z.code, n.id, ST_Contains(z.geom, n.geom)
    FROM ({CHANGED}) c JOIN new_rows n ON n.id = c.id
    JOIN districts z ON ST_Intersects(z.geom, n.geom)
    WHERE c.moved;
    RETURN NULL;
END $$;

-- Devices emptied: nothing to count. Districts emptied: nothing to count in. (DELETE, not
-- TRUNCATE: the statement that fired this may be truncating these tables too.)
CREATE FUNCTION statistics_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM device_districts;
    DELETE FROM district_device_counts;
    RETURN NULL;
END $$;

-- Districts written (an import) or removed: their memberships and counts are recomputed from
-- the devices, with each district's polygon prepared once for the devices it holds.
CREATE FUNCTION districts_recount() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    codes text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(code) INTO codes FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(code) INTO codes FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT code) INTO codes FROM (
            SELECT o.code FROM old_rows o LEFT JOIN new_rows n ON n.code = o.code
            WHERE n.code IS NULL OR o.geom::bytea <> n.geom::bytea
            UNION ALL
            SELECT n.code FROM new_rows n LEFT JOIN old_rows o ON o.code = n.code
            WHERE o.code IS NULL
        ) moved;
    END IF;
    IF codes IS NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM device_districts WHERE district_code = ANY (codes);
    DELETE FROM district_device_counts WHERE district_code = ANY (codes);
    INSERT INTO device_districts (district_code, device_id, interior)
    SELECT z.code, v.id, ST_Contains(z.geom, v.geom)
    FROM districts z JOIN devices v ON ST_Intersects(z.geom, v.geom)
    WHERE z.code = ANY (codes);
    INSERT INTO district_device_counts ({KEY}, n)
    SELECT m.district_code, {", ".join(f"v.{f}" for f in FILTERS.split(", "))}, count(*)
    FROM device_districts m JOIN devices v ON v.id = m.device_id
    WHERE m.district_code = ANY (codes) AND m.interior AND {PUBLIC.format(t="v")}
    GROUP BY m.district_code, {FILTERS};
    RETURN NULL;
END $$;
"""

# (table, trigger, event, function): statement triggers, with the transition tables their
# event has (old_rows: the rows before; new_rows: after).
TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
    "TRUNCATE": "",
}
TRIGGERS = (
    ("devices", "devices_count_inserted", "INSERT", "devices_count_inserted"),
    ("devices", "devices_count_updated", "UPDATE", "devices_count_updated"),
    ("devices", "devices_count_deleted", "DELETE", "devices_count_deleted"),
    ("devices", "devices_forget_counts", "TRUNCATE", "statistics_forget_all"),
    ("districts", "districts_recount_inserted", "INSERT", "districts_recount"),
    ("districts", "districts_recount_updated", "UPDATE", "districts_recount"),
    ("districts", "districts_recount_deleted", "DELETE", "districts_recount"),
    ("districts", "districts_forget_counts", "TRUNCATE", "statistics_forget_all"),
)
FUNCTION_NAMES = sorted({function for _t, _n, _e, function in TRIGGERS})

TABLES = f"""
CREATE TABLE device_districts (
    district_code varchar(32) NOT NULL,
    device_id uuid NOT NULL,
    interior boolean NOT NULL,
    PRIMARY KEY (district_code, device_id)
);
CREATE INDEX device_districts_device_idx ON device_districts (device_id);
-- The few devices on a border, which the border rule looks at one by one.
CREATE INDEX device_districts_border_idx ON device_districts (district_code, device_id)
    WHERE NOT interior;
CREATE TABLE district_device_counts (
    district_code varchar(32) NOT NULL,
    kind varchar(32) NOT NULL,
    status varchar(16) NOT NULL,
    operator_type varchar(16) NOT NULL,
    verification varchar(16) NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY ({KEY})
);
"""

BACKFILL = f"""
INSERT INTO device_districts (district_code, device_id, interior)
SELECT z.code, v.id, ST_Contains(z.geom, v.geom)
FROM districts z JOIN devices v ON ST_Intersects(z.geom, v.geom);
INSERT INTO district_device_counts ({KEY}, n)
SELECT m.district_code, {", ".join(f"v.{f}" for f in FILTERS.split(", "))}, count(*)
FROM device_districts m JOIN devices v ON v.id = m.device_id
WHERE m.interior AND {PUBLIC.format(t="v")}
GROUP BY m.district_code, {FILTERS};
"""


DATA_VERSION = """
DROP TRIGGER devices_bump_statistics_data_version ON devices;
DROP TRIGGER districts_bump_statistics_data_version ON districts;
DROP FUNCTION bump_statistics_data_version();
DROP SEQUENCE statistics_data_version;
DELETE FROM statistics_cache;
ALTER TABLE statistics_cache ALTER COLUMN data_version TYPE text;
CREATE TABLE statistics_changes (id bigserial PRIMARY KEY);
CREATE TABLE statistics_changes_folded (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    n bigint NOT NULL,
    max_id bigint NOT NULL
);
CREATE FUNCTION record_statistics_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO statistics_changes DEFAULT VALUES;
    RETURN NULL;
END $$;
-- How many changes this snapshot sees, and the largest id: equal pairs, equal data.
CREATE FUNCTION statistics_data_version() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT (coalesce((SELECT n FROM statistics_changes_folded), 0) + count(*)) || '.'
           || greatest((SELECT max_id FROM statistics_changes_folded), max(id), 0)
    FROM statistics_changes
$$;
CREATE FUNCTION fold_statistics_changes() RETURNS void LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM statistics_changes RETURNING id)
    INSERT INTO statistics_changes_folded AS f (one, n, max_id)
    SELECT true, count(*), coalesce(max(id), 0) FROM gone
    ON CONFLICT (one) DO UPDATE SET n = f.n + excluded.n, max_id = greatest(f.max_id, excluded.max_id)
$$;
"""
VERSION_TRIGGER = """
CREATE TRIGGER {table}_record_statistics_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION record_statistics_change()
"""
OLD_DATA_VERSION = """
DROP TRIGGER devices_record_statistics_change ON devices;
DROP TRIGGER districts_record_statistics_change ON districts;
DROP FUNCTION record_statistics_change();
DROP FUNCTION statistics_data_version();
DROP FUNCTION fold_statistics_changes();
DROP TABLE statistics_changes;
DROP TABLE statistics_changes_folded;
DELETE FROM statistics_cache;
ALTER TABLE statistics_cache ALTER COLUMN data_version TYPE bigint USING 0;
CREATE SEQUENCE statistics_data_version;
CREATE FUNCTION bump_statistics_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('statistics_data_version');
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(FUNCTIONS)
    op.execute(BACKFILL)
    for table, trigger, event, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} {TRANSITIONS[event]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute(DATA_VERSION)
    for table in ("devices", "districts"):
        op.execute(VERSION_TRIGGER.format(table=table))


def downgrade() -> None:
    op.execute(OLD_DATA_VERSION)
    for table in ("devices", "districts"):
        op.execute(
            f"CREATE TRIGGER {table}_bump_statistics_data_version "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_statistics_data_version()"
        )
    for table, trigger, _event, _function in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in FUNCTION_NAMES:
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP TABLE district_device_counts")
    op.execute("DROP TABLE device_districts")
