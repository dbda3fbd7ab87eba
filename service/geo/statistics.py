"""Density statistics per district, computed in PostGIS and returned as ready JSON, CSV or GeoJSON.

Border rule: a device counts in the district whose interior holds it; a device exactly on a
border shared by several selected districts counts once, in the one with the smallest code.
"""

from dataclasses import dataclass, field
from datetime import datetime

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
from sqlalchemy.dialects.postgresql import INTERVAL, JSON, JSONB, aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from .. import vocabulary as vocab
from ..models import Dataset, Device, DeviceRevision, District
from .devices import DeviceFilter, sql_string
from .districts import district_clauses, geography, simplified_geojson

# A device is on the map now when its status says it is there.
PRESENT_STATUSES = ("active", "unknown")
RANK_METRICS = ("per_km2", "per_10k_inhabitants", "count")
# Kinds whose field of view is modelled (a microphone or a sensor has no view cone).
SEEING_KINDS = ("camera", "alpr", "facial_recognition")


def appeared_at() -> ColumnElement:
    """When a device came onto the map: its first observation, else when it was pinned.

    With an edit history, this and removed_at() become lookups into it; nothing else changes.
    """
    return func.coalesce(Device.observed_at, Device.created_at)


def removed_at() -> ColumnElement:
    """When a device left the map: for a device marked removed, the last revision that set its
    status to removed; without such a revision (devices loaded in bulk), its last change, the
    latest moment the removal can have been recorded. Otherwise never."""
    marked_removed = (
        select(func.max(DeviceRevision.created_at))
        .where(
            DeviceRevision.device_id == Device.id,
            DeviceRevision.changes[("status", 1)].astext == "removed",
        )
        .scalar_subquery()
    )
    return case((Device.status == "removed", func.coalesce(marked_removed, Device.updated_at)))


@dataclass
class StatisticsFilter:
    """Which devices count; `at` replays the map as it stood on that date."""

    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    operator_types: list[str] = field(default_factory=list)
    verifications: list[str] = field(default_factory=list)
    at: datetime | None = None
    bboxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def device_filter(self) -> DeviceFilter:
        return DeviceFilter(
            bboxes=self.bboxes,
            kinds=self.kinds,
            statuses=self.statuses,
            operator_types=self.operator_types,
            verifications=self.verifications,
        )

    def clauses(self) -> list[ColumnElement]:
        clauses = self.device_filter().clauses()
        if self.at is None:
            if not self.statuses:
                clauses.append(Device.status.in_(PRESENT_STATUSES))
        else:
            clauses += [
                appeared_at() <= self.at,
                or_(removed_at().is_(None), removed_at() > self.at),
                Device.status != "planned",
            ]
        return clauses

    def history_clauses(self) -> list[ColumnElement]:
        """The same choice for a timeline, where every date is replayed: no status default."""
        return [
            *self.device_filter().clauses(),
            Device.status != "planned",
        ]


@dataclass
class DistrictSelection:
    levels: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def clauses(self, table=District) -> list[ColumnElement]:
        return district_clauses(self.levels, self.parents, self.codes, table=table)


@dataclass(frozen=True)
class ViewModel:
    """The view cone of a camera: radius per camera type, field of view when unknown."""

    radius_by_type: dict
    default_radius_m: float
    default_fov: float

    @property
    def max_radius_m(self) -> float:
        return max([self.default_radius_m, *self.radius_by_type.values()])

    def radius(self) -> ColumnElement:
        whens = [(Device.camera_type == t, float(r)) for t, r in self.radius_by_type.items()]
        return (
            case(*whens, else_=float(self.default_radius_m))
            if whens
            else literal(float(self.default_radius_m))
        )

    def fov(self) -> ColumnElement:
        """Degrees seen around each direction; NULL (a full disc) for domes."""
        return case(
            (Device.camera_type == "dome", null()),
            else_=func.coalesce(Device.angle, float(self.default_fov)),
        )

    def cone(self) -> ColumnElement:
        return func.view_cone(Device.geom, Device.direction, self.fov(), self.radius())


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


def select_hits(selection: DistrictSelection, flt: StatisticsFilter):
    """One row per (district, device) under the border rule.

    Reads the districts table itself (not a CTE) so that PostgreSQL may split the work between
    parallel workers.
    """
    district, other = aliased(District), aliased(District)
    on_shared_border_of_smaller_code = exists(
        select(literal(1)).where(
            *selection.clauses(other),
            other.code < district.code,
            func.ST_Intersects(other.geom, Device.geom),
        )
    )
    return (
        select(district.code, Device.kind, Device.status, Device.verification)
        .select_from(district)
        .join(Device, func.ST_Intersects(district.geom, Device.geom))
        .where(
            *selection.clauses(district),
            *flt.clauses(),
            or_(func.ST_Contains(district.geom, Device.geom), ~on_shared_border_of_smaller_code),
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


def district_object(rows) -> ColumnElement:
    """One district's JSON object; the CSV columns carry the same names."""
    head = [sql_string("code"), rows.c.code, sql_string("name"), rows.c.name]
    head += [sql_string("level"), rows.c.level, sql_string("parent_code"), rows.c.parent_code]
    head += [sql_string("population_year"), rows.c.population_year]
    tail = [sql_string("rank"), rows.c.rank, *counts_objects(rows, sum_them=False)]
    tail += watched_pairs(rows.c.watched_km2, rows.c.area_km2)
    return figures_object(head, rows.c.count, rows.c.area_km2, rows.c.population, tail)


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


def attribution_array(sel, devices_credit: dict) -> ColumnElement:
    """Whom to credit: the district datasets, the population sources, the device data."""
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
    devices = select(
        func.json_build_object(
            *[p for key, value in devices_credit.items() for p in (sql_string(key), literal(value))]
        ),
        literal(3),
        literal(""),
    )
    items = union_all(datasets, populations, devices).subquery("items")
    return select(
        func.json_agg(aggregate_order_by(items.c.item, items.c.part, items.c.sort))
    ).scalar_subquery()


def select_density_json(query: DensityQuery, devices_credit: dict) -> Select:
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
                attribution_array(sel, devices_credit),
            ),
            Text,
        )
    )


def select_density_geojson(query: DensityQuery, devices_credit: dict, tolerance_m: float):
    """A FeatureCollection of district polygons with the figures as properties (choropleths)."""
    sel, rows = district_figures(query)
    feature = func.concat(
        sql_string('{"type":"Feature","id":'),
        cast(func.to_json(rows.c.code), Text),
        sql_string(',"geometry":'),
        simplified_geojson(rows.c.geom, tolerance_m),
        sql_string(',"properties":'),
        cast(district_object(rows), Text),
        sql_string("}"),
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
            cast(attribution_array(sel, devices_credit), Text),
            sql_string("}"),
        )
    )


def csv_columns() -> list[tuple[str, tuple[str, ...], bool]]:
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
    return columns


def csv_cell(obj, path: tuple[str, ...], is_text: bool) -> ColumnElement:
    """One CSV field: text quoted (RFC 4180), numbers as JSON wrote them, NULL as empty."""
    value = obj.op("#>>")(sql_string("{" + ",".join(path) + "}"))
    if is_text:
        value = func.concat(
            sql_string('"'), func.replace(value, sql_string('"'), sql_string('""')), sql_string('"')
        )
        value = case(
            (obj.op("#>>")(sql_string("{" + ",".join(path) + "}")).is_(None), None), else_=value
        )
    return func.coalesce(value, sql_string(""))


def select_density_csv(query: DensityQuery) -> Select:
    """CSV (RFC 4180, CRLF lines), one row per district in code order, header first."""
    _sel, rows = district_figures(query)
    # Built once per district (binary JSON), then read field by field.
    objects = (
        select(rows.c.code, cast(district_object(rows), JSONB).label("obj"))
        .cte("objects")
        .prefix_with("MATERIALIZED")
    )
    columns = csv_columns()
    cells = [csv_cell(objects.c.obj, path, t) for _n, path, t in columns]
    line = func.concat_ws(sql_string(","), *cells)
    header = ",".join(name for name, _p, _t in columns)
    body = select(
        func.coalesce(
            func.string_agg(
                func.concat(line, sql_string("\r\n")),
                aggregate_order_by(sql_string(""), objects.c.code),
            ),
            sql_string(""),
        )
    ).scalar_subquery()
    return select(func.concat(literal(header + "\r\n"), body))


TIMELINE_INTERVALS = ("day", "week", "month", "year")


def select_timeline(code: str, interval: str, flt: StatisticsFilter, devices_credit: dict):
    """Per period since the first device: devices added, removed, and on the map at its end."""
    assert interval in TIMELINE_INTERVALS  # bound into the statement as a constant
    devices = (
        select(appeared_at().label("appeared"), removed_at().label("removed"))
        .select_from(District)
        .join(Device, func.ST_Intersects(District.geom, Device.geom))
        .where(District.code == code, *flt.history_clauses())
        .cte("lifespans")
    )
    unit = sql_string(interval)
    events = union_all(
        select(
            func.date_trunc(unit, devices.c.appeared).label("period"),
            literal(1).label("added"),
            literal(0).label("removed"),
        ),
        select(func.date_trunc(unit, devices.c.removed), literal(0), literal(1)).where(
            devices.c.removed.is_not(None)
        ),
    ).cte("events")
    per_period = (
        select(
            events.c.period,
            func.sum(events.c.added).label("added"),
            func.sum(events.c.removed).label("removed"),
        )
        .group_by(events.c.period)
        .cte("per_period")
    )
    first = select(func.min(per_period.c.period)).scalar_subquery()
    series = (
        func.generate_series(
            first, func.date_trunc(unit, func.now()), cast(sql_string(f"1 {interval}"), INTERVAL)
        )
        .table_valued("start")
        .render_derived(name="series")
    )
    added = func.coalesce(per_period.c.added, 0)
    removed = func.coalesce(per_period.c.removed, 0)
    rows = (
        select(
            series.c.start,
            added.label("added"),
            removed.label("removed"),
            func.sum(added - removed).over(order_by=series.c.start).label("count"),
        )
        .select_from(series.outerjoin(per_period, per_period.c.period == series.c.start))
        .subquery("rows")
    )
    period = func.json_build_object(
        sql_string("start"),
        rows.c.start,
        sql_string("added"),
        rows.c.added,
        sql_string("removed"),
        rows.c.removed,
        sql_string("count"),
        rows.c.count,
    )
    periods = select(
        func.coalesce(
            func.json_agg(aggregate_order_by(period, rows.c.start)), cast(sql_string("[]"), JSON())
        )
    ).scalar_subquery()
    selection = DistrictSelection(codes=[code])
    sel = select(District.dataset, District.population_source).where(District.code == code).cte()
    return select(
        cast(
            func.json_build_object(
                sql_string("district"),
                District.code,
                sql_string("name"),
                District.name,
                sql_string("level"),
                District.level,
                sql_string("interval"),
                unit,
                sql_string("periods"),
                periods,
                sql_string("attribution"),
                attribution_array(sel, devices_credit),
            ),
            Text,
        )
    ).where(*selection.clauses())


def select_attribution(selection: DistrictSelection, devices_credit: dict) -> Select:
    sel = select(District.dataset, District.population_source).where(*selection.clauses()).cte()
    return select(attribution_array(sel, devices_credit))


def select_selection_exists(selection: DistrictSelection) -> Select:
    return select(exists(select(District.code).where(*selection.clauses())))


def select_known_codes(codes: list[str]) -> Select:
    return select(District.code).where(District.code.in_(codes))


def statement_timeout(milliseconds: int):
    """Bound the statements of the current transaction (SET LOCAL ends with it)."""
    return select(func.set_config("statement_timeout", str(int(milliseconds)), True))
