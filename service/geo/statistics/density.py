"""The figures of districts under the border rule, as JSON or GeoJSON, with their credits.

Border rule: a device counts in the district whose interior holds it; a device exactly on a
border shared by several selected districts counts once, in the one with the smallest code.
"""

from dataclasses import dataclass

from sqlalchemy import (
    Float,
    Numeric,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ... import vocabulary as vocab
from ...models import Dataset, Device, District
from ..districts import geography, simplified_geojson
from ..sql import feature_text, sql_string
from ..view_cones import SEEING_KINDS, ViewModel
from .selection import DistrictSelection, StatisticsFilter

RANK_METRICS = ("per_km2", "per_10k_inhabitants", "count")


def rounded(value, digits: int) -> ColumnElement:
    return func.round(cast(value, Numeric), digits)


def ratio(numerator, denominator, scale: float = 1.0, digits: int = 4) -> ColumnElement:
    """numerator * scale / denominator, NULL when either is missing or the denominator is 0."""
    return case(
        (
            and_(denominator > 0, numerator.is_not(None)),
            rounded(cast(numerator, Float) * scale / denominator, digits),
        )
    )


def vocabulary_counts(column, values, prefix: str, groups) -> list:
    return [
        func.coalesce(func.sum(groups.c.n).filter(groups.c[column] == v), 0).label(f"{prefix}{v}")
        for v in values
    ]


COUNT_GROUPS = (
    ("counts_by_kind", "kind", vocab.KIND_NAMES, "kind_"),
    ("counts_by_status", "status", vocab.STATUSES, "status_"),
    ("counts_by_verification", "verification", vocab.VERIFICATION_LEVELS, "verification_"),
)


def counts_objects(source, sum_them: bool) -> list:
    """`counts_by_kind` etc. as JSON objects with every vocabulary value, from count columns."""
    pairs = []
    for name, _column, values, prefix in COUNT_GROUPS:
        members = []
        for value in values:
            col = source.c[f"{prefix}{value}"]
            members += [sql_string(value), func.coalesce(func.sum(col) if sum_them else col, 0)]
        pairs += [sql_string(name), func.json_build_object(*members)]
    return pairs


def figures_object(head: list, count, area_km2, population, tail: list) -> ColumnElement:
    """The public figures, in this order: the names are a contract, keep them stable."""
    return func.json_build_object(
        *head,
        sql_string("area_km2"),
        rounded(area_km2, 4),
        sql_string("population"),
        population,
        sql_string("count"),
        count,
        sql_string("per_km2"),
        ratio(count, area_km2),
        sql_string("per_10k_inhabitants"),
        ratio(count, population, 10_000),
        sql_string("inhabitants_per_device"),
        case((count > 0, ratio(population, count, digits=2))),
        *tail,
    )


def counted_in(district, selected_clauses) -> ColumnElement:
    """The border rule, for the device at hand and DISTRICT (whose geometry meets it).

    SELECTED_CLAUSES(table) picks the other districts the device could count in instead.
    """
    other = aliased(District)
    on_shared_border_of_smaller_code = exists(
        select(literal(1))
        .where(
            *selected_clauses(other),
            other.code < district.code,
            func.ST_Intersects(other.geom, Device.geom),
        )
        .correlate_except(other)
    )
    return or_(func.ST_Contains(district.geom, Device.geom), ~on_shared_border_of_smaller_code)


def select_hits(selection: DistrictSelection, flt: StatisticsFilter):
    """One row per (district, device) under the border rule.

    Reads the districts table itself (not a CTE) so that PostgreSQL may split the work between
    parallel workers.
    """
    district = aliased(District)
    return (
        select(district.code, Device.kind, Device.status, Device.verification)
        .select_from(district)
        .join(Device, func.ST_Intersects(district.geom, Device.geom))
        .where(
            *selection.clauses(district),
            *flt.clauses(),
            counted_in(district, selection.clauses),
        )
        .subquery("hits")
    )


def select_watched(sel, flt: StatisticsFilter, model: ViewModel):
    """Per district, the area (km²) under at least one camera's view cone."""
    reach_degrees = model.max_radius_m / 111_320 * 2.5  # generous up to 66° of latitude
    cones = (
        select(sel.c.code, func.ST_Union(model.cone()).label("cones"))
        .select_from(
            sel.join(Device, Device.geom.op("&&")(func.ST_Expand(sel.c.geom, reach_degrees)))
        )
        .where(*flt.clauses(), Device.kind.in_(SEEING_KINDS))
        .group_by(sel.c.code)
        .subquery("cones")
    )
    return (
        select(
            sel.c.code,
            (func.ST_Area(geography(func.ST_Intersection(sel.c.geom, cones.c.cones))) / 1e6).label(
                "watched_km2"
            ),
        )
        .select_from(sel.join(cones, cones.c.code == sel.c.code))
        .cte("watched")
        .prefix_with("MATERIALIZED")
    )


@dataclass
class DensityQuery:
    selection: DistrictSelection
    filter: StatisticsFilter
    rank_by: str = "per_km2"
    view_model: ViewModel | None = None  # set to compute watched_area_km2 / watched_share
    report_outside: bool = True


def district_figures(query: DensityQuery):
    """CTEs: the selected districts, and one row per district with its figures.

    The CTEs are MATERIALIZED: PostgreSQL would otherwise inline one used once and re-run the
    device aggregation for every district of a nested loop.
    """
    sel = (
        select(
            District.code,
            District.name,
            District.level,
            District.parent_code,
            District.population,
            District.population_year,
            District.area_km2,
            District.dataset,
            District.population_source,
            District.geom,
        )
        .where(*query.selection.clauses())
        .cte("sel")
        .prefix_with("MATERIALIZED")
    )
    hits = select_hits(query.selection, query.filter)
    # Group first on the few combinations, then spread them into one column per value.
    groups = (
        select(
            hits.c.code,
            hits.c.kind,
            hits.c.status,
            hits.c.verification,
            func.count().label("n"),
        )
        .group_by(hits.c.code, hits.c.kind, hits.c.status, hits.c.verification)
        .subquery("groups")
    )
    counts = (
        select(
            groups.c.code,
            func.sum(groups.c.n).label("count"),
            *[
                c
                for _name, column, values, prefix in COUNT_GROUPS
                for c in vocabulary_counts(column, values, prefix, groups)
            ],
        )
        .group_by(groups.c.code)
        .cte("counts")
        .prefix_with("MATERIALIZED")
    )
    count = func.coalesce(counts.c.count, 0)
    metric = {
        "per_km2": cast(count, Float) / sel.c.area_km2,
        "count": count,
        "per_10k_inhabitants": case((sel.c.population > 0, cast(count, Float) / sel.c.population)),
    }[query.rank_by]
    columns = [
        sel.c.code,
        sel.c.name,
        sel.c.level,
        sel.c.parent_code,
        sel.c.population,
        sel.c.population_year,
        sel.c.area_km2,
        sel.c.geom,
        count.label("count"),
        func.rank().over(order_by=metric.desc().nulls_last()).label("rank"),
        *[
            func.coalesce(counts.c[f"{prefix}{v}"], 0).label(f"{prefix}{v}")
            for _n, _c, values, prefix in COUNT_GROUPS
            for v in values
        ],
    ]
    source = sel.outerjoin(counts, counts.c.code == sel.c.code)
    if query.view_model is not None:
        watched = select_watched(sel, query.filter, query.view_model)
        source = source.outerjoin(watched, watched.c.code == sel.c.code)
        columns.append(func.coalesce(watched.c.watched_km2, 0.0).label("watched_km2"))
    else:
        columns.append(cast(null(), Float).label("watched_km2"))
    rows = select(*columns).select_from(source).cte("figures").prefix_with("MATERIALIZED")
    return sel, rows


def watched_pairs(watched_km2, area_km2) -> list:
    return [
        sql_string("watched_area_km2"),
        rounded(watched_km2, 6),
        sql_string("watched_share"),
        ratio(watched_km2, area_km2, digits=6),
    ]


def district_figures_object(district, counts, before_counts=(), after_counts=()) -> ColumnElement:
    """One district's JSON object: DISTRICT's fields, then the figures of COUNTS's columns.

    DISTRICT has the districts' columns, COUNTS a `count` column and one per vocabulary value
    (COUNT_GROUPS). The CSV columns carry the same names.
    """
    head = [sql_string("code"), district.code, sql_string("name"), district.name]
    head += [sql_string("level"), district.level, sql_string("parent_code"), district.parent_code]
    head += [sql_string("population_year"), district.population_year]
    tail = [*before_counts, *counts_objects(counts, sum_them=False), *after_counts]
    count = func.coalesce(counts.c.count, 0)
    return figures_object(head, count, district.area_km2, district.population, tail)


def district_object(rows) -> ColumnElement:
    """A district's object in a statistic: its figures, its rank, the share under cameras."""
    return district_figures_object(
        rows.c,
        rows,
        before_counts=[sql_string("rank"), rows.c.rank],
        after_counts=watched_pairs(rows.c.watched_km2, rows.c.area_km2),
    )


def district_level_figures_json(district=District) -> ColumnElement:
    """A district's figures among the districts of its level, as JSON (a correlated subquery).

    The OGC API's districts collection gives these: the figures, names and border rule of
    /api/v1/stats/districts?level=<its level>, for the devices on the map now.
    """
    counted = (
        select(
            func.count().label("count"),
            *[
                func.count().filter(column == value).label(f"{prefix}{value}")
                for _name, column_name, values, prefix in COUNT_GROUPS
                for column in (getattr(Device, column_name),)
                for value in values
            ],
        )
        .where(
            *StatisticsFilter().clauses(),
            func.ST_Intersects(district.geom, Device.geom),
            counted_in(district, lambda other: [other.level == district.level]),
        )
        .correlate(district)
        .subquery("counted")
    )
    return (
        select(district_figures_object(district, counted))
        .select_from(counted)
        .correlate(district)
        .scalar_subquery()
    )


def totals_object(query: DensityQuery, sel, rows) -> ColumnElement:
    """The figures for the whole selection, with the devices placed in none of its districts.

    `outside_count` counts the devices in the selection's bounding box that fall in no selected
    district (NULL for a list of codes, whose bounding box means nothing).
    """
    inside = func.coalesce(func.sum(rows.c.count), 0)
    outside = null()
    if query.report_outside:
        extent = select(
            func.ST_SetSRID(func.ST_Envelope(func.ST_Collect(sel.c.geom)), 4326)
        ).scalar_subquery()
        in_extent = (
            select(func.count())
            .select_from(Device)
            .where(*query.filter.clauses(), Device.geom.op("&&")(extent))
            .scalar_subquery()
        )
        outside = in_extent - inside
    area = func.sum(rows.c.area_km2)
    tail = counts_objects(rows, sum_them=True) + watched_pairs(func.sum(rows.c.watched_km2), area)
    tail += [sql_string("districts"), func.count()]
    tail += [
        sql_string("districts_without_population"),
        func.count() - func.count(rows.c.population),
    ]
    tail += [sql_string("outside_count"), outside]
    figures = figures_object([], inside, area, func.sum(rows.c.population), tail)
    return select(figures).select_from(rows).scalar_subquery()


def attribution_array(sel, devices_credits: list[dict]) -> ColumnElement:
    """Whom to credit: the district datasets, the population sources, the device data (its
    contributors, and OpenStreetMap's when devices came from it)."""
    datasets = select(
        func.json_build_object(
            sql_string("name"),
            Dataset.name,
            sql_string("attribution"),
            Dataset.attribution,
            sql_string("licence"),
            Dataset.licence,
            sql_string("source_url"),
            Dataset.source_url,
        ).label("item"),
        literal(1).label("part"),
        Dataset.name.label("sort"),
    ).where(Dataset.name.in_(select(sel.c.dataset)))
    sources = (
        select(sel.c.population_source.label("source"))
        .where(sel.c.population_source.is_not(None))
        .distinct()
        .subquery("sources")
    )
    populations = select(
        func.json_build_object(
            sql_string("name"),
            sql_string("population"),
            sql_string("attribution"),
            sources.c.source,
            sql_string("licence"),
            null(),
            sql_string("source_url"),
            null(),
        ),
        literal(2),
        sources.c.source,
    )
    devices = [
        select(
            func.json_build_object(
                *[p for key, value in credit.items() for p in (sql_string(key), literal(value))]
            ),
            literal(3),
            literal(f"{index:03d}"),
        )
        for index, credit in enumerate(devices_credits)
    ]
    items = union_all(datasets, populations, *devices).subquery("items")
    return select(
        func.json_agg(aggregate_order_by(items.c.item, items.c.part, items.c.sort))
    ).scalar_subquery()


def select_density_json(query: DensityQuery, devices_credits: list[dict]) -> Select:
    """`{"districts": [...], "totals": {...}, "attribution": [...]}` as one text value."""
    sel, rows = district_figures(query)
    districts = select(
        func.coalesce(
            func.json_agg(aggregate_order_by(district_object(rows), rows.c.code)),
            cast(sql_string("[]"), JSON()),
        )
    ).scalar_subquery()
    return select(
        cast(
            func.json_build_object(
                sql_string("districts"),
                districts,
                sql_string("totals"),
                totals_object(query, sel, rows),
                sql_string("attribution"),
                attribution_array(sel, devices_credits),
            ),
            Text,
        )
    )


def select_density_geojson(query: DensityQuery, devices_credits: list[dict], tolerance_m: float):
    """A FeatureCollection of district polygons with the figures as properties (choropleths)."""
    sel, rows = district_figures(query)
    feature = feature_text(
        func.to_json(rows.c.code),
        simplified_geojson(rows.c.geom, tolerance_m),
        district_object(rows),
    )
    features = select(
        func.coalesce(
            func.string_agg(feature, aggregate_order_by(sql_string(","), rows.c.code)),
            sql_string(""),
        )
    ).scalar_subquery()
    return select(
        func.concat(
            sql_string('{"type":"FeatureCollection","features":['),
            features,
            sql_string('],"totals":'),
            cast(totals_object(query, sel, rows), Text),
            sql_string(',"attribution":'),
            cast(attribution_array(sel, devices_credits), Text),
            sql_string("}"),
        )
    )


def select_attribution(selection: DistrictSelection, devices_credits: list[dict]) -> Select:
    sel = select(District.dataset, District.population_source).where(*selection.clauses()).cte()
    return select(attribution_array(sel, devices_credits))


def select_selection_exists(selection: DistrictSelection) -> Select:
    return select(exists(select(District.code).where(*selection.clauses())))


def select_known_codes(codes: list[str]) -> Select:
    return select(District.code).where(District.code.in_(codes))
