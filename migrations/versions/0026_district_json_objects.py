"""Statistics: each district's JSON object for the default filter, kept beside its CSV line.

Every commune as JSON took 5 times its cached answer, as GeoJSON 4 times, where the CSV of the
map now, read from the lines kept at write time (migration 0020), took 2 times: the JSON and
GeoJSON answers summed the counts of every district into one column per vocabulary value, then
wrote 35,357 objects of 30 members from them, on every request. Beside each district's kept line
(`district_csv_lines`), `district_json_objects` now holds, for the same filter (the map now) and
the same devices (those its interior holds):

- its JSON object in two parts around the rank, which depends on the selection: `json_head`
  (`{`, its fields and figures) and `json_tail` (the counts by vocabulary value as nested
  objects, the watched area and share, null, and `}`); `flat_tail`, the counts as members of
  their own, as the GeoJSON's properties write them;
- `value_counts`, its counts by vocabulary value in 0020's COUNTED order, which the answers' totals
  add up.

The function that writes a line writes its object too, so objects are kept exactly as lines
are: marked stale by writers (migration 0021), rewritten by `refresh_district_csv_lines()`,
computed by the reader meanwhile and for the districts a device on their border counts in; an
object goes with its line (a foreign key). A table of their own (five times the lines' bytes)
keeps the CSV's reads of the lines as narrow as they were.

The members are this migration's own copy of service/geo/statistics/density.py's
(district_object): a test checks that the JSON and GeoJSON read from the kept parts equal those
the application computes.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 06:00:00
"""

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def earlier(filename: str) -> ModuleType:
    """The module of an earlier migration, whose statements this one extends and restores."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CSV_LINES = earlier("0020_district_csv_lines.py")
COUNT = CSV_LINES.COUNT
ratio = CSV_LINES.ratio
# (column prefix, JSON object name, values), the vocabularies in their answers' order.
GROUPS = [(column, f"counts_by_{column}", values) for column, values in CSV_LINES.COUNTED]


def text_value(value: str) -> str:
    """A string member's value as to_json writes it; null when NULL."""
    return f"coalesce(CAST(to_json({value}) AS text), 'null')"


def number_value(value: str) -> str:
    """A number member's value by its own output function; null when NULL."""
    return f"coalesce(CAST({value} AS text), 'null')"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def members(pairs: list[tuple[str, str]]) -> str:
    """concat() arguments writing PAIRS (name, value expression) as JSON members, commas
    between them."""
    parts = []
    for index, (name, value) in enumerate(pairs):
        parts += [sql_literal(("," if index else "") + json.dumps(name) + ":"), value]
    return ", ".join(parts)


HEAD = [
    *((name, text_value(f"d.{name}")) for name in ("code", "name", "level", "parent_code")),
    ("population_year", number_value("d.population_year")),
    ("area_km2", number_value("round(CAST(d.area_km2 AS numeric), 4)")),
    ("population", number_value("d.population")),
    ("count", number_value(COUNT)),
    ("per_km2", number_value(ratio(COUNT, "d.area_km2", "1.0", 4))),
    ("per_10k_inhabitants", number_value(ratio(COUNT, "d.population", "10000", 4))),
    (
        "inhabitants_per_device",
        number_value(f"CASE WHEN {COUNT} > 0 THEN {ratio('d.population', COUNT, '1.0', 2)} END"),
    ),
]
VALUE_COUNTS = [
    f"coalesce(c.{column}_{value}, 0)" for column, _name, values in GROUPS for value in values
]


def nested_counts() -> str:
    """The JSON tail: one object per vocabulary, the watched area and share (not computed)."""
    objects = []
    for column, name, values in GROUPS:
        inner = members([(v, f"coalesce(c.{column}_{v}, 0)") for v in values])
        objects.append((name, f"concat('{{', {inner}, '}}')"))
    objects += [("watched_area_km2", "'null'"), ("watched_share", "'null'")]
    return f"concat({members(objects)}, '}}')"


def flat_counts() -> str:
    """The GeoJSON properties' tail: one member per vocabulary value (`kind_camera`)."""
    pairs = [
        (f"{column}_{value}", f"coalesce(c.{column}_{value}, 0)")
        for column, _name, values in GROUPS
        for value in values
    ]
    return f"concat({members(pairs)}, '}}')"


# The counts of the districts written, by vocabulary value, for the default filter.
COUNTS_OF_CODES = f"""
    FROM districts d
    LEFT JOIN (
        SELECT district_code, sum(CAST(n AS integer)) AS count, {CSV_LINES.SUMS}
        FROM district_device_counts
        WHERE district_code = ANY (codes) AND status IN ({CSV_LINES.PRESENT_STATUSES})
        GROUP BY district_code
    ) c ON c.district_code = d.code
    WHERE d.code = ANY (codes)
    ORDER BY d.code
"""

WRITE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION write_district_csv_lines(codes text[]) RETURNS void LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- Writers of a district take turns: the next statement then reads the counts the
    -- previous writer committed.
    PERFORM 1 FROM district_csv_lines WHERE code = ANY (codes) ORDER BY code FOR UPDATE;
    INSERT INTO district_csv_lines AS l
        (code, level, parent_code, area_km2, population, count, before_rank, after_rank)
    SELECT d.code, d.level, d.parent_code, d.area_km2, d.population, {COUNT},
           concat_ws(',', {", ".join(CSV_LINES.BEFORE_RANK)}),
           concat_ws(',', {", ".join(CSV_LINES.AFTER_RANK)})
    {COUNTS_OF_CODES}
    ON CONFLICT (code) DO UPDATE
    SET level = excluded.level, parent_code = excluded.parent_code,
        area_km2 = excluded.area_km2, population = excluded.population,
        count = excluded.count, before_rank = excluded.before_rank,
        after_rank = excluded.after_rank;
    INSERT INTO district_json_objects AS o (code, value_counts, json_head, json_tail, flat_tail)
    SELECT d.code,
           ARRAY[{", ".join(VALUE_COUNTS)}],
           concat('{{', {members(HEAD)}),
           {nested_counts()},
           {flat_counts()}
    {COUNTS_OF_CODES}
    ON CONFLICT (code) DO UPDATE
    SET value_counts = excluded.value_counts, json_head = excluded.json_head,
        json_tail = excluded.json_tail, flat_tail = excluded.flat_tail;
END $$
"""
TABLE = """
    CREATE TABLE district_json_objects (
        code varchar(32) PRIMARY KEY REFERENCES district_csv_lines (code) ON DELETE CASCADE,
        value_counts integer[] NOT NULL,
        json_head text NOT NULL,
        json_tail text NOT NULL,
        flat_tail text NOT NULL
    )
"""


def upgrade() -> None:
    op.execute(TABLE)
    op.execute(WRITE_FUNCTION)
    # Every line written anew with its object. Marks left by writers stay: the next refresh
    # rewrites those from a later snapshot.
    op.execute("DELETE FROM district_csv_lines WHERE code NOT IN (SELECT code FROM districts)")
    op.execute("SELECT write_district_csv_lines(array_agg(code)) FROM districts")


def downgrade() -> None:
    op.execute("DROP TABLE district_json_objects")
    # 0020's function, the first of its FUNCTIONS.
    write_function = CSV_LINES.FUNCTIONS.split("\n-- Note the districts")[0]
    op.execute(write_function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
