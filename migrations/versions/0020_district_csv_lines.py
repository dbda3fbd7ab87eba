"""Statistics: each district's CSV line for the default filter, kept at write time.

The CSV of every commune (35,357 lines of 28 cells) cost ten times the cached answer to write
from the counts on each request: summing them into one column per vocabulary value, then
turning numbers and names into quoted cells, line after line. `district_csv_lines` keeps, per
district, its line for the default filter (the map now: every kind, operator type and
verification, status active or unknown), counting the devices its interior holds, split where
the rank goes (the rank depends on the selection: the reader splices it in), with what the
reader selects and ranks by (level, parent, area, population, count).

Triggers keep it exact: a change of `district_device_counts` (which the bookkeeping of
migration 0013 writes in the transaction of every device write), or of a district (name,
population, area...), notes the districts it touched in `district_csv_lines_pending`; when the
transaction commits, a deferred trigger rewrites their lines. It first locks them all at once,
in code order, then reads the counts: writers of one district take turns for that last step
only, the later one seeing what the earlier committed, and since every writer locks lines only
there and in the same order, no two can deadlock on them (locked as each statement wrote its
counts, they did: two moves in opposite directions between two districts, or an import writing
in several statements against any writer).

A district some device on its border counts in (the border rule depends on the selection) is
computed by the reader instead, as are the other filters.

The cells are this migration's own copy of service/geo/statistics/csv.py's: a test checks that
the CSV read from the lines equals the one the Python builder writes.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabularies in their CSV column order (service/vocabulary.py).
COUNTED = (
    ("kind", ("camera", "alpr", "facial_recognition", "microphone", "gunshot_detector", "sensor")),
    ("status", ("active", "planned", "removed", "unknown")),
    ("verification", ("reported", "confirmed", "disputed", "removed")),
)
# The default filter's statuses: the devices on the map now.
PRESENT_STATUSES = "'active', 'unknown'"
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = "^[=+@\t\r-]"


def text_cell(value: str) -> str:
    """Quoted (RFC 4180), a leading apostrophe before a formula's first character, NULL empty."""
    guarded = f"CASE WHEN {value} ~ '{FORMULA_START}' THEN concat('''', {value}) ELSE {value} END"
    return f"""CASE WHEN {value} IS NULL THEN '' ELSE concat('"', replace({guarded}, '"', '""'), '"') END"""


def number_cell(value: str) -> str:
    return f"coalesce(CAST({value} AS text), '')"


def ratio(numerator: str, denominator: str, scale: str, digits: int) -> str:
    return (
        f"CASE WHEN {denominator} > 0 AND {numerator} IS NOT NULL "
        f"THEN round(CAST(CAST({numerator} AS float8) * {scale} / {denominator} AS numeric), "
        f"{digits}) END"
    )


COUNT = "coalesce(c.count, 0)"
BEFORE_RANK = [
    *(text_cell(f"d.{name}") for name in ("code", "name", "level", "parent_code")),
    number_cell("d.population"),
    number_cell("d.population_year"),
    number_cell("round(CAST(d.area_km2 AS numeric), 4)"),
    number_cell(COUNT),
    number_cell(ratio(COUNT, "d.area_km2", "1.0", 4)),
    number_cell(ratio(COUNT, "d.population", "10000", 4)),
    number_cell(f"CASE WHEN {COUNT} > 0 THEN {ratio('d.population', COUNT, '1.0', 2)} END"),
]
# The counts by vocabulary value, then the watched area and share (empty: not computed).
AFTER_RANK = [
    *(f"coalesce(c.{column}_{value}, 0)" for column, values in COUNTED for value in values),
    "''",
    "''",
]
SUMS = ", ".join(
    f"sum(CAST(n AS integer)) FILTER (WHERE {column} = '{value}') AS {column}_{value}"
    for column, values in COUNTED
    for value in values
)

FUNCTIONS = f"""
-- The codes are a device write's one or two districts: planned once per session (a plan for the
-- given codes, as PostgreSQL would make by default, cost more than the work).
CREATE FUNCTION write_district_csv_lines(codes text[]) RETURNS void LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- Writers of a district take turns: the next statement then reads the counts the
    -- previous writer committed.
    PERFORM 1 FROM district_csv_lines WHERE code = ANY (codes) ORDER BY code FOR UPDATE;
    INSERT INTO district_csv_lines AS l
        (code, level, parent_code, area_km2, population, count, before_rank, after_rank)
    SELECT d.code, d.level, d.parent_code, d.area_km2, d.population, {COUNT},
           concat_ws(',', {", ".join(BEFORE_RANK)}),
           concat_ws(',', {", ".join(AFTER_RANK)})
    FROM districts d
    LEFT JOIN (
        SELECT district_code, sum(CAST(n AS integer)) AS count, {SUMS}
        FROM district_device_counts
        WHERE district_code = ANY (codes) AND status IN ({PRESENT_STATUSES})
        GROUP BY district_code
    ) c ON c.district_code = d.code
    WHERE d.code = ANY (codes)
    ORDER BY d.code
    ON CONFLICT (code) DO UPDATE
    SET level = excluded.level, parent_code = excluded.parent_code,
        area_km2 = excluded.area_km2, population = excluded.population,
        count = excluded.count, before_rank = excluded.before_rank,
        after_rank = excluded.after_rank;
END $$;

-- Note the districts a statement wrote: counts (a device write), or districts (an import, rare
-- and in bulk, which may also remove some: their lines go at once).
CREATE FUNCTION district_csv_lines_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    codes text[];
BEGIN
    IF TG_TABLE_NAME = 'district_device_counts' AND TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT district_code) INTO codes FROM old_rows;
    ELSIF TG_TABLE_NAME = 'district_device_counts' THEN
        SELECT array_agg(DISTINCT district_code) INTO codes FROM new_rows;
    ELSE
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(code) INTO codes FROM new_rows;
        ELSIF TG_OP = 'UPDATE' THEN
            SELECT array_agg(code) INTO codes
            FROM (SELECT code FROM new_rows UNION SELECT code FROM old_rows) written;
        ELSE
            SELECT array_agg(code) INTO codes FROM old_rows;
        END IF;
        DELETE FROM district_csv_lines l WHERE l.code = ANY (codes)
        AND NOT EXISTS (SELECT 1 FROM districts d WHERE d.code = l.code);
    END IF;
    IF codes IS NOT NULL THEN
        INSERT INTO district_csv_lines_pending (code) SELECT unnest(codes);
    END IF;
    RETURN NULL;
END $$;

-- At commit (the first of the transaction's deferred events does all the work): the lines of
-- every district the transaction wrote, locked in code order by write_district_csv_lines.
CREATE FUNCTION district_csv_lines_write_pending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    codes text[];
BEGIN
    WITH mine AS (
        DELETE FROM district_csv_lines_pending WHERE transaction_id = pg_current_xact_id()
        RETURNING code
    )
    SELECT array_agg(DISTINCT code) INTO codes FROM mine;
    IF codes IS NOT NULL THEN
        PERFORM write_district_csv_lines(codes);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION district_csv_lines_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM district_csv_lines;
    RETURN NULL;
END $$;
"""

# Rows live only inside their transaction: deleted by the commit-time trigger, or rolled back
# with it.
PENDING = """
    CREATE TABLE district_csv_lines_pending (
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        code varchar(32) NOT NULL
    );
    CREATE INDEX district_csv_lines_pending_transaction_idx
        ON district_csv_lines_pending (transaction_id)
"""
AT_COMMIT = """
    CREATE CONSTRAINT TRIGGER district_csv_lines_at_commit
    AFTER INSERT ON district_csv_lines_pending DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION district_csv_lines_write_pending()
"""

# (table, trigger, event): statement triggers rewriting the lines of the districts written.
TRIGGERS = (
    ("district_device_counts", "district_counts_write_csv_lines_inserted", "INSERT"),
    ("district_device_counts", "district_counts_write_csv_lines_updated", "UPDATE"),
    ("district_device_counts", "district_counts_write_csv_lines_deleted", "DELETE"),
    ("districts", "districts_write_csv_lines_inserted", "INSERT"),
    ("districts", "districts_write_csv_lines_updated", "UPDATE"),
    ("districts", "districts_write_csv_lines_deleted", "DELETE"),
)
TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.execute("""
        CREATE TABLE district_csv_lines (
            code varchar(32) PRIMARY KEY,
            level varchar(32) NOT NULL,
            parent_code varchar(32),
            area_km2 float8 NOT NULL,
            population bigint,
            count bigint NOT NULL,
            before_rank text NOT NULL,
            after_rank text NOT NULL
        )
    """)
    # Selections by level and parent, as districts_level_parent_idx serves them on districts.
    op.execute(
        "CREATE INDEX district_csv_lines_level_parent_idx ON district_csv_lines (level, parent_code)"
    )
    op.execute(PENDING)
    op.execute(FUNCTIONS)
    op.execute(AT_COMMIT)
    for table, trigger, event in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} {TRANSITIONS[event]} "
            "FOR EACH STATEMENT EXECUTE FUNCTION district_csv_lines_rewrite()"
        )
    op.execute(
        "CREATE TRIGGER districts_forget_csv_lines AFTER TRUNCATE ON districts "
        "FOR EACH STATEMENT EXECUTE FUNCTION district_csv_lines_forget_all()"
    )
    op.execute("SELECT write_district_csv_lines(array_agg(code)) FROM districts")


def downgrade() -> None:
    op.execute("DROP TRIGGER district_csv_lines_at_commit ON district_csv_lines_pending")
    op.execute("DROP TRIGGER districts_forget_csv_lines ON districts")
    for table, trigger, _event in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "district_csv_lines_write_pending()",
        "district_csv_lines_forget_all()",
        "district_csv_lines_rewrite()",
        "write_district_csv_lines(text[])",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP TABLE district_csv_lines_pending")
    op.execute("DROP TABLE district_csv_lines")
