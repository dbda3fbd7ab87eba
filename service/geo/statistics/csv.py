"""District figures as CSV (RFC 4180), written by PostgreSQL."""

from sqlalchemy import Select, Text, case, cast, func, literal, select, true, union, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ...models import DistrictCsvLine, district_csv_lines_stale
from ..declared.figures import FIGURES as DECLARED_FIGURES
from ..sql import sql_string
from .density import (
    COUNT_GROUPS,
    DensityQuery,
    district_figures,
    district_values,
    rank_metric,
    select_codes_counting_border_devices,
)
from .selection import StatisticsFilter


def csv_columns(declared: bool = False) -> list[tuple[str, tuple[str, ...], bool]]:
    """(column name, JSON path, is text) for every CSV column, named as the JSON fields."""
    plain = [
        ("code", True),
        ("name", True),
        ("level", True),
        ("parent_code", True),
        ("population", False),
        ("population_year", False),
        ("area_km2", False),
        ("count", False),
        ("per_km2", False),
        ("per_10k_inhabitants", False),
        ("inhabitants_per_device", False),
        ("rank", False),
    ]
    columns = [(name, (name,), is_text) for name, is_text in plain]
    for group, _column, values, _prefix in COUNT_GROUPS:
        columns += [(f"{group}.{v}", (group, v), False) for v in values]
    columns += [(name, (name,), False) for name in ("watched_area_km2", "watched_share")]
    if declared:
        columns += [(name, (name,), False) for name in DECLARED_FIGURES]
    return columns


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection).
FORMULA_START = "^[=+@\t\r-]"


def csv_cell(value: ColumnElement, is_text: bool) -> ColumnElement:
    """One CSV field: text quoted (RFC 4180), numbers as JSON writes them, NULL as empty.

    Text that a spreadsheet would read as a formula (a district's name from an imported file
    may be anything) gets a leading apostrophe, which spreadsheets show as text.
    """
    found = cast(value, Text)
    if not is_text:
        return func.coalesce(found, sql_string(""))
    text = case(
        (found.op("~")(sql_string(FORMULA_START)), func.concat(sql_string("'"), found)),
        else_=found,
    )
    quoted = func.concat(
        sql_string('"'), func.replace(text, sql_string('"'), sql_string('""')), sql_string('"')
    )
    return case((found.is_(None), sql_string("")), else_=quoted)


def line_parts(values: dict, columns) -> tuple[ColumnElement, ColumnElement]:
    """The cells of a line before its rank and after it, each joined by commas."""
    cells = [csv_cell(values[path], is_text) for _name, path, is_text in columns]
    rank = next(i for i, (name, _p, _t) in enumerate(columns) if name == "rank")
    joined = [func.concat_ws(sql_string(","), *part) for part in (cells[:rank], cells[rank + 1 :])]
    return joined[0], joined[1]


def computed_lines(query: DensityQuery, only: Select | None = None):
    """Rows (code, count, area_km2, population, before_rank, after_rank, rank) computed now
    from the counts or the devices, for the selected districts or ONLY those codes."""
    _sel, rows = district_figures(query, only)
    before, after = line_parts(district_values(rows), csv_columns(query.declared))
    count = func.coalesce(rows.c.count, 0)
    return select(
        rows.c.code,
        count.label("count"),
        rows.c.area_km2,
        rows.c.population,
        before.label("before_rank"),
        after.label("after_rank"),
        rows.c.rank,
    )


def answered_by_kept_lines(query: DensityQuery) -> bool:
    """Whether the lines kept at write time (migration 0020) answer QUERY: the default filter,
    and no figure they leave out (watched areas, declared figures)."""
    return (
        query.filter == StatisticsFilter()
        and query.view_model is None
        and not query.declared
        and not query.from_scratch
    )


def select_ranked(lines, metric: ColumnElement) -> Select:
    """LINES with their rank() OVER (ORDER BY METRIC DESC NULLS LAST), without sorting the rows
    (each carries a long line): one plus how many metrics are larger, found by binary search
    (width_bucket) among the metrics sorted once."""
    metrics = (
        select(func.array_agg(aggregate_order_by(metric, metric)).filter(metric.is_not(None)))
        .select_from(lines)
        .subquery("metrics")
    )
    ascending = metrics.c[0]
    larger = func.coalesce(func.cardinality(ascending), 0) - func.coalesce(
        func.width_bucket(metric, ascending), 0
    )
    return select(lines, (larger + 1).label("rank")).select_from(lines.join(metrics, true()))


def kept_lines(query: DensityQuery):
    """The rows of computed_lines() from the lines kept for the default filter, except for the
    districts a device on their border counts in (the border rule depends on the selection) and
    those whose line a write marked stale: these are computed now, from the counts."""
    computed_now = union(
        select_codes_counting_border_devices(query.selection, query.filter),
        select(district_csv_lines_stale.c.code),
    )
    computed_now = select(computed_now.cte("computed_now").prefix_with("MATERIALIZED"))
    line = DistrictCsvLine
    kept = select(
        line.code,
        line.count,
        line.area_km2,
        line.population,
        line.before_rank,
        line.after_rank,
    ).where(*query.selection.clauses(line), line.code.not_in(computed_now))
    computed = computed_lines(query, only=computed_now).subquery("computed")
    # Read twice (the metrics, then the lines): cheaper than keeping 4 MB of lines in between.
    lines = union_all(kept, select(*[c for c in computed.c if c.name != "rank"]))
    lines = lines.cte("lines").prefix_with("NOT MATERIALIZED")
    metric = rank_metric(query.rank_by, lines.c.count, lines.c.area_km2, lines.c.population)
    return select_ranked(lines, metric)


def refresh_kept_lines() -> Select:
    """Rewrite the kept lines marked stale and unmark them (migration 0021): the number of
    districts rewritten, 0 when none were marked or another refresh is under way."""
    return select(func.refresh_district_csv_lines())


def select_density_csv(query: DensityQuery) -> Select:
    """CSV (RFC 4180, CRLF lines), one row per district in code order, header first.

    Each cell is written from the same expressions as the JSON's fields (district_values), or
    read from the lines kept at write time for the default filter; the rank is spliced in.
    """
    build = kept_lines if answered_by_kept_lines(query) else computed_lines
    lines = build(query).subquery("ranked_lines")
    header = ",".join(name for name, _p, _t in csv_columns(query.declared))
    line = func.concat(
        lines.c.before_rank,
        sql_string(","),
        lines.c.rank,
        sql_string(","),
        lines.c.after_rank,
        sql_string("\r\n"),
    )
    body = select(
        func.coalesce(
            func.string_agg(line, aggregate_order_by(sql_string(""), lines.c.code)),
            sql_string(""),
        )
    ).scalar_subquery()
    return select(func.concat(literal(header + "\r\n"), body))
