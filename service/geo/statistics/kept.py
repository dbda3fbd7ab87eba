"""The figures of the map now read from what is kept per district at write time.

Each district's CSV line and JSON object for the default filter, with its counts (migrations
0020 and 0026, `district_csv_lines`), are written in two parts around the rank, which depends on
the selection. A reader takes them for the selected districts, computes now those a device on
their border counts in (the border rule depends on the selection) and those a write marked
stale, ranks them all, and splices each rank in.
"""

from collections.abc import Callable

from sqlalchemy import Select, func, select, true, union, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ...models import District, DistrictCsvLine, DistrictJsonObject, district_csv_lines_stale
from .density import (
    COUNT_GROUPS,
    DensityQuery,
    count_name,
    district_figures,
    rank_metric,
    select_codes_counting_border_devices,
)
from .selection import StatisticsFilter

# The names of the counts by vocabulary value, in the order of DistrictCsvLine.value_counts.
VALUE_COUNT_NAMES = [
    count_name(prefix, value) for _n, _c, values, prefix in COUNT_GROUPS for value in values
]


def answered_by_kept_lines(query: DensityQuery) -> bool:
    """Whether the lines kept at write time answer QUERY: the default filter, and no figure
    they leave out (watched areas, declared figures)."""
    return (
        query.filter == StatisticsFilter()
        and query.view_model is None
        and not query.declared
        and not query.from_scratch
    )


def select_ranked(lines, metric: ColumnElement) -> Select:
    """LINES with their rank() OVER (ORDER BY METRIC DESC NULLS LAST), without sorting the rows
    (each carries a long text): one plus how many metrics are larger, found by binary search
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


def kept_lines(
    query: DensityQuery,
    parts: tuple[str, str],
    compute: Callable[[object], tuple[ColumnElement, ColumnElement]],
    json_objects: bool = False,
) -> Select:
    """Rows (code, count, area_km2, population, the PARTS, with JSON_OBJECTS the counts by
    vocabulary value, rank) of the selected districts, from what is kept for them, or computed
    now from the counts for the districts a device on their border counts in and those a write
    marked stale.

    PARTS: the names of the kept texts before and after the rank, columns of the lines or, with
    JSON_OBJECTS, of the objects beside them (migration 0026); COMPUTE(district_figures' rows)
    computes both.
    """
    stale = district_csv_lines_stale.c.code
    selected = select(District.code).where(*query.selection.clauses())
    computed_now = union(
        select_codes_counting_border_devices(query.selection, query.filter),
        # Only the selection's: after a bulk load, most districts may be marked.
        select(stale).where(stale.in_(selected)),
    )
    computed_now = select(computed_now.cte("computed_now").prefix_with("MATERIALIZED"))
    line, objects = DistrictCsvLine.__table__, DistrictJsonObject.__table__
    kept_columns = [line.c.code, line.c.count, line.c.area_km2, line.c.population]
    source = line
    if json_objects:
        source = line.join(objects, objects.c.code == line.c.code)
        kept_columns += [objects.c[name] for name in parts]
        kept_columns += [
            objects.c.value_counts[index + 1].label(name)
            for index, name in enumerate(VALUE_COUNT_NAMES)
        ]
    else:
        kept_columns += [line.c[name] for name in parts]
    kept = (
        select(*kept_columns)
        .select_from(source)
        .where(*query.selection.clauses(line.c), line.c.code.not_in(computed_now))
    )
    _sel, rows = district_figures(query, only=computed_now)
    computed = select(
        rows.c.code,
        func.coalesce(rows.c.count, 0),
        rows.c.area_km2,
        rows.c.population,
        *[text.label(name) for name, text in zip(parts, compute(rows), strict=True)],
        *[rows.c[name] for name in (VALUE_COUNT_NAMES if json_objects else ())],
    )
    # Read twice (the metrics, then the lines): cheaper than keeping megabytes of text between.
    lines = union_all(kept, computed).cte("lines").prefix_with("NOT MATERIALIZED")
    metric = rank_metric(query.rank_by, lines.c.count, lines.c.area_km2, lines.c.population)
    return select_ranked(lines, metric)


def refresh_kept_lines() -> Select:
    """Rewrite the kept lines marked stale and unmark them (migration 0021): the number of
    districts rewritten, 0 when none were marked or another refresh is under way."""
    return select(func.refresh_district_csv_lines())
