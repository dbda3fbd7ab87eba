"""The figures of districts under the border rule, as JSON or GeoJSON, with their credits.

Border rule: a device counts in the district whose interior holds it; a device exactly on a
border shared by several selected districts of one level counts once, in the one with the
smallest code (districts of another level count it too, as the city around its arrondissements).
"""

from collections.abc import Callable
from dataclasses import dataclass

from geoalchemy2 import Geometry
from sqlalchemy import (
    Float,
    Integer,
    Numeric,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ... import vocabulary as vocab
from ...models import (
    Dataset,
    Device,
    DeviceDistrict,
    District,
    DistrictDeviceCount,
)
from ..declared.figures import (
    declared_columns,
    declared_pairs,
    has_declared_figures,
    select_declared_figures,
)
from ..districts import DISTRICT_HEAD, geography, population_credits
from ..sql import (
    METRES_PER_DEGREE,
    json_members_text,
    json_object_text,
    sql_string,
)
from ..view_cones import ViewModel
from .replay import all_kept, kept_hits_at
from .selection import DistrictSelection, StatisticsFilter, moved_device_ids

RANK_METRICS = ("per_km2", "per_10k_inhabitants", "count")


def rounded(value, digits: int) -> ColumnElement:
    return func.round(cast(value, Numeric), digits, type_=Numeric)


def ratio(numerator, denominator, scale: float = 1.0, digits: int = 4) -> ColumnElement:
    """numerator * scale / denominator, NULL when either is missing or the denominator is 0."""
    return case(
        (
            and_(denominator > 0, numerator.is_not(None)),
            rounded(cast(numerator, Float) * scale / denominator, digits),
        )
    )


def count_name(prefix: str, value: str) -> str:
    """The flat name of the count of one vocabulary value (`kind_camera`): a column of the
    figures, a field of the downloads, a property of the statistics GeoJSON."""
    return f"{prefix}{value}"


def vocabulary_counts(column, values, prefix: str, groups) -> list:
    return [
        func.coalesce(func.sum(groups.c.n).filter(groups.c[column] == v), 0).label(
            count_name(prefix, v)
        )
        for v in values
    ]


COUNT_GROUPS = (
    ("counts_by_kind", "kind", vocab.KIND_NAMES, "kind_"),
    ("counts_by_status", "status", vocab.STATUSES, "status_"),
    ("counts_by_verification", "verification", vocab.VERIFICATION_LEVELS, "verification_"),
)


def counts_objects(source, sum_them: bool) -> list[tuple[str, ColumnElement]]:
    """`counts_by_kind` etc. as JSON objects with every vocabulary value, from count columns."""
    members = []
    for name, _column, values, prefix in COUNT_GROUPS:
        counts = []
        for value in values:
            col = source.c[count_name(prefix, value)]
            counts.append((value, func.coalesce(func.sum(col) if sum_them else col, 0)))
        members.append((name, json_object_text(counts)))
    return members


def flat_counts(source) -> list[tuple[str, ColumnElement]]:
    """The counts as one integer member per vocabulary value (`kind_camera`), from count
    columns: GIS clients read a nested object as a text column."""
    return [
        (count_name(prefix, value), func.coalesce(source.c[count_name(prefix, value)], 0))
        for _name, _column, values, prefix in COUNT_GROUPS
        for value in values
    ]


def figure_values(count, area_km2, population) -> dict[str, ColumnElement]:
    """The figures by public name, in their order (JSON objects and CSV cells read them)."""
    return {
        "area_km2": rounded(area_km2, 4),
        "population": population,
        "count": count,
        "per_km2": ratio(count, area_km2),
        "per_10k_inhabitants": ratio(count, population, 10_000),
        "inhabitants_per_device": case((count > 0, ratio(population, count, digits=2))),
    }


def figures_object(head: list, count, area_km2, population, tail: list) -> ColumnElement:
    """The public figures, in this order: the names are a contract, keep them stable. HEAD and
    TAIL: members (name, value) before and after them."""
    figures = figure_values(count, area_km2, population).items()
    return json_object_text([*head, *figures, *tail])


def counted_in(district, selected_clauses, point=Device.geom) -> ColumnElement:
    """The border rule, for the device at POINT and DISTRICT (whose geometry meets it).

    SELECTED_CLAUSES(table) picks the other districts the device could count in instead: those
    of the same level, which share the ground (a district of another level, such as the city
    around its arrondissements, counts the device as well).
    """
    other = aliased(District)
    on_shared_border_of_smaller_code = exists(
        select(literal(1))
        .where(
            *selected_clauses(other),
            other.level == district.level,
            other.code < district.code,
            func.ST_Intersects(other.geom, point),
        )
        .correlate_except(other)
    )
    return or_(func.ST_Contains(district.geom, point), ~on_shared_border_of_smaller_code)


def ids_near(selection: DistrictSelection, reach_degrees: float = 0) -> Select:
    """The ids of the devices now within REACH_DEGREES of a selected district (spatial index)."""
    district = aliased(District)
    geometry = district.geom if not reach_degrees else func.ST_Expand(district.geom, reach_degrees)
    return (
        select(Device.id)
        .select_from(district)
        .join(Device, func.ST_Intersects(geometry, Device.geom))
        .where(*selection.clauses(district))
    )


def select_joined_hits(selection: DistrictSelection, flt: StatisticsFilter):
    """One row per (district, device) under the border rule, joining devices with polygons:
    for the filters the counts cannot answer (`at=`).

    Reads the districts table itself (not a CTE) so that PostgreSQL may split the work between
    parallel workers.
    """
    district = aliased(District)
    devices = flt.devices(near=ids_near(selection))
    return (
        select(
            district.code,
            devices.c.kind,
            devices.c.status,
            devices.c.verification,
            literal(1).label("n"),
        )
        .select_from(district)
        .join(devices, func.ST_Intersects(district.geom, devices.c.geom))
        .where(
            *selection.clauses(district),
            counted_in(district, selection.clauses, devices.c.geom),
        )
    )


def extent_of(geometries) -> ColumnElement:
    """The box around a column of geometries (an aggregate), as a WGS84 polygon."""
    return func.ST_SetSRID(cast(func.ST_Extent(geometries), Geometry), 4326)


def select_replayed_hits(selection: DistrictSelection, flt: StatisticsFilter):
    """The hits of select_joined_hits for `at=`, without joining points with polygons for the
    devices that never moved: they stood where they stand, so their memberships place them
    (border rule included); only the few that moved are placed by their position then."""
    in_selection = in_selection_of(selection, hashed=True)
    member = aliased(DeviceDistrict)
    devices = flt.devices(
        near=select(member.device_id).where(in_selection(member.district_code)),
        box=select(extent_of(District.geom)).where(*selection.clauses()).scalar_subquery(),
    )
    moved = moved_device_ids()
    membership = aliased(DeviceDistrict)
    in_a_smaller_one = held_by_a_smaller_one(membership, in_selection)

    def hit(source) -> list:
        return [source.c.kind, source.c.status, source.c.verification, literal(1).label("n")]

    unmoved = (
        select(membership.district_code.label("code"), *hit(devices))
        .select_from(devices)
        .join(membership, membership.device_id == devices.c.id)
        .where(
            in_selection(membership.district_code),
            devices.c.id.not_in(moved),
            or_(membership.interior, ~in_a_smaller_one),
        )
    )
    # Kept apart first: joined with the polygons, the test of having moved could come after
    # the polygon test of every replayed device (the planner cannot tell how many moved).
    moved_devices = (
        select(devices)
        .where(devices.c.id.in_(moved))
        .cte("moved_devices")
        .prefix_with("MATERIALIZED")
    )
    district = aliased(District)
    moved_hits = (
        select(district.code, *hit(moved_devices))
        .select_from(district)
        .join(moved_devices, func.ST_Intersects(district.geom, moved_devices.c.geom))
        .where(
            *selection.clauses(district),
            counted_in(district, selection.clauses, moved_devices.c.geom),
        )
    )
    return union_all(unmoved, moved_hits)


def hashed_in(column, subquery: Select) -> ColumnElement:
    """COLUMN IN (SUBQUERY), tested on each row against a hash of SUBQUERY's rows (a hashed
    SubPlan), never turned into a join: PostgreSQL turns only an IN standing alone into one,
    and folds the OR with false away only after that choice.

    For the memberships of replayed devices: as a join, the planner, which cannot tell how
    many devices a date replays, probed every device's memberships once per selected
    district (Paris 6 s), or, as an array, compared with every code (every commune: over 13
    minutes).
    """
    return or_(column.in_(subquery), literal_column("false"))


def held_by_a_smaller_one(membership, selected_codes: Callable) -> ColumnElement:
    """Whether another selected district (SELECTED_CODES(code column)) of the same level as
    MEMBERSHIP's, with a smaller code, also holds its device: the border rule by memberships
    (counted_in's, which lets districts of other levels count the device as well)."""
    other, theirs, mine = aliased(DeviceDistrict), aliased(District), aliased(District)
    return exists(
        select(literal(1))
        .select_from(other)
        .join(theirs, theirs.code == other.district_code)
        .join(mine, mine.code == membership.district_code)
        .where(
            other.device_id == membership.device_id,
            other.district_code < membership.district_code,
            selected_codes(other.district_code),
            theirs.level == mine.level,
        )
    )


def border_hits(membership, selected_codes: Callable, flt: StatisticsFilter):
    """One row per device on the border of MEMBERSHIP's district that counts there: no other
    selected district of its level (SELECTED_CODES(code column)) with a smaller code touches
    it."""
    in_a_smaller_one = held_by_a_smaller_one(membership, selected_codes)
    return (
        select(
            membership.district_code.label("code"),
            Device.kind,
            Device.status,
            Device.verification,
            literal(1).label("n"),
        )
        .select_from(membership)
        .join(Device, Device.id == membership.device_id)
        .where(~membership.interior, *flt.clauses(), ~in_a_smaller_one)
    )


def select_counted_hits(
    counted_codes: Callable, selected_codes: Callable, flt: StatisticsFilter, correlate=()
):
    """Rows (code, kind, status, verification, n) under the border rule, from the counts kept
    at write time (devices inside a district) and the memberships of devices on a border.

    COUNTED_CODES(code column) says whether a code is one of the districts to count in,
    SELECTED_CODES(code column) whether it is one of the districts a device on a border may
    count in instead. CORRELATE: outer tables they refer to.
    """
    counts = DistrictDeviceCount.__table__
    inside = select(
        counts.c.district_code.label("code"),
        counts.c.kind,
        counts.c.status,
        counts.c.verification,
        # Integers sum into bigint, where bigint sums into numeric (slower, and text as such).
        cast(counts.c.n, Integer).label("n"),
    ).where(counted_codes(counts.c.district_code), *flt.count_clauses(counts))
    membership = aliased(DeviceDistrict)
    on_border = border_hits(membership, selected_codes, flt).where(
        counted_codes(membership.district_code)
    )
    return union_all(inside.correlate(*correlate), on_border.correlate(*correlate))


def select_hits(
    selection: DistrictSelection,
    flt: StatisticsFilter,
    from_scratch: bool = False,
    only: Select | None = None,
):
    """Rows (code, kind, status, verification, n): N devices counted in the district CODE.

    FROM_SCRATCH: join devices with polygons even when the counts could answer (checks and
    benchmarks compare both ways). ONLY: the codes of the districts whose hits are read from
    the counts (the others may be left out); the border rule still looks at the whole selection.
    """
    if from_scratch:
        return select_joined_hits(selection, flt).subquery("hits")
    if flt.at is not None:
        return select_hits_at(selection, flt)
    if not flt.answered_by_counts():
        return select_joined_hits(selection, flt).subquery("hits")
    in_selection = in_selection_of(selection)
    counted = in_selection if only is None else (lambda code: code.in_(only))
    return select_counted_hits(counted, in_selection, flt).subquery("hits")


def select_hits_at(selection: DistrictSelection, flt: StatisticsFilter):
    """The hits of `at=`: added up from the kept timelines when every selected district's is
    kept (replay.py), otherwise replayed from every device of the selection."""
    replayed = select_replayed_hits(selection, flt).subquery("replayed_hits")
    if flt.bboxes:
        return replayed
    codes = select(District.code).where(*selection.clauses())
    kept = all_kept(codes)
    from_kept = kept_hits_at(codes, flt).subquery("kept_hits")
    return union_all(select(from_kept).where(kept), select(replayed).where(~kept)).subquery("hits")


def in_selection_of(selection: DistrictSelection, hashed: bool = False) -> Callable:
    """Whether a code column names one of the selected districts (for select_counted_hits).

    HASHED: tested row by row against a hash of their codes (hashed_in), for rows the planner
    cannot count; a plain IN lets it read the border memberships of each selected district by
    index instead, for the map now."""
    selected = select(District.code).where(*selection.clauses())
    if hashed:
        return lambda code: hashed_in(code, selected)
    return lambda code: code.in_(selected)


def select_codes_counting_border_devices(selection: DistrictSelection, flt: StatisticsFilter):
    """The codes of the selected districts in which a device on their border counts, under the
    border rule for this selection (few: a device rarely lies exactly on a border)."""
    in_selection = in_selection_of(selection)
    membership = aliased(DeviceDistrict)
    hits = border_hits(membership, in_selection, flt).where(in_selection(membership.district_code))
    return select(hits.subquery("border").c.code).distinct()


def select_watched(sel, selection: DistrictSelection, flt: StatisticsFilter, model: ViewModel):
    """Per district, the area (km²) under at least one camera's view cone: of the devices on
    the map now, or at `at` with the view they had then."""
    reach_degrees = model.max_radius_m / METRES_PER_DEGREE * 2.5  # generous up to 66° of latitude
    near = ids_near(selection, reach_degrees) if flt.at else None  # the map now: by index
    seeing = flt.devices(near, name="seeing_devices", view=True)
    cones = (
        select(sel.c.code, func.ST_Union(model.cone(seeing.c)).label("cones"))
        .select_from(
            sel.join(seeing, seeing.c.geom.op("&&")(func.ST_Expand(sel.c.geom, reach_degrees)))
        )
        .where(seeing.c.kind.in_(vocab.CAMERA_KINDS))
        .group_by(sel.c.code)
        # Once: a selection the planner expects one district of (a level and a parent) had it
        # union every district's cones again for each district of a nested loop.
        .cte("cones")
        .prefix_with("MATERIALIZED")
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
    report_outside: bool = False  # count the devices in the selection's box but in no district
    from_scratch: bool = False  # join devices with polygons instead of reading the counts
    declared: bool = False  # set to attach the declared figures (service/geo/declared/)

    def needs_geometry(self) -> bool:
        return self.report_outside or self.view_model is not None or self.declared


def rank_metric(rank_by: str, count, area_km2, population) -> ColumnElement:
    """What districts are ranked by, densest first (`rank_by`)."""
    return {
        "per_km2": case((area_km2 > 0, cast(count, Float) / area_km2)),
        "count": count,
        "per_10k_inhabitants": case((population > 0, cast(count, Float) / population)),
    }[rank_by]


def district_figures(query: DensityQuery, only: Select | None = None):
    """CTEs: the selected districts, and one row per district with its figures.

    ONLY: the codes of the districts to give (default: every selected one), still counted
    under the border rule of the whole selection; the rank is then among them only.
    The CTEs are MATERIALIZED: PostgreSQL would otherwise inline one used once and re-run the
    device aggregation for every district of a nested loop.
    """
    given = [District.code.in_(only)] if only is not None else []
    sel = (
        select(
            *DISTRICT_HEAD,
            District.area_km2,
            District.dataset,
            District.population_source,
            # Carried only when read: polygons make every row of a large selection heavy.
            (District.geom if query.needs_geometry() else cast(null(), District.geom.type)).label(
                "geom"
            ),
        )
        .where(*query.selection.clauses(), *given)
        .cte("sel")
        .prefix_with("MATERIALIZED")
    )
    hits = select_hits(query.selection, query.filter, query.from_scratch, only)
    # One pass over the hits, spreading them into one column per vocabulary value.
    counts = (
        select(
            hits.c.code,
            func.sum(hits.c.n).label("count"),
            *[
                c
                for _name, column, values, prefix in COUNT_GROUPS
                for c in vocabulary_counts(column, values, prefix, hits)
            ],
        )
        .group_by(hits.c.code)
        .cte("counts")
        .prefix_with("MATERIALIZED")
    )
    count = func.coalesce(counts.c.count, 0)
    metric = rank_metric(query.rank_by, count, sel.c.area_km2, sel.c.population)
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
            func.coalesce(counts.c[count_name(prefix, v)], 0).label(count_name(prefix, v))
            for _n, _c, values, prefix in COUNT_GROUPS
            for v in values
        ],
    ]
    source = sel.outerjoin(counts, counts.c.code == sel.c.code)
    if query.view_model is not None:
        watched = select_watched(sel, query.selection, query.filter, query.view_model)
        source = source.outerjoin(watched, watched.c.code == sel.c.code)
        columns.append(func.coalesce(watched.c.watched_km2, 0.0).label("watched_km2"))
    else:
        columns.append(cast(null(), Float).label("watched_km2"))
    # Declared versus observed, only when asked: one statement of its own module.
    if query.declared:
        declared = select_declared_figures(sel, query.selection.clauses, query.filter.clauses())
        source = source.outerjoin(declared, declared.c.code == sel.c.code)
        columns += declared_columns(declared, count)
    rows = select(*columns).select_from(source).cte("figures").prefix_with("MATERIALIZED")
    return sel, rows


def watched_values(watched_km2, area_km2) -> dict[str, ColumnElement]:
    return {
        "watched_area_km2": rounded(watched_km2, 6),
        "watched_share": ratio(watched_km2, area_km2, digits=6),
    }


def watched_pairs(watched_km2, area_km2) -> list[tuple[str, ColumnElement]]:
    return list(watched_values(watched_km2, area_km2).items())


def figures_members(district, counts) -> list[tuple[str, ColumnElement]]:
    """A district's fields, then the figures of COUNTS's `count` column, in their order: the
    names are a contract, keep them stable. DISTRICT has the districts' columns."""
    head = [("code", district.code), ("name", district.name), ("level", district.level)]
    head += [("parent_code", district.parent_code), ("population_year", district.population_year)]
    count = func.coalesce(counts.c.count, 0)
    return [*head, *figure_values(count, district.area_km2, district.population).items()]


def district_figures_object(district, counts) -> ColumnElement:
    """One district's JSON object: DISTRICT's fields, the figures and the counts by vocabulary
    value of COUNTS's columns (a `count` column and one per value, COUNT_GROUPS). The CSV
    columns carry the same names."""
    counts_members = counts_objects(counts, sum_them=False)
    return json_object_text([*figures_members(district, counts), *counts_members])


def district_object_parts(rows, flat: bool = False, watched: bool = True):
    """A district's object in a statistic, in two texts around its rank (which depends on the
    selection): `{`, its fields and figures; then the counts by vocabulary value (FLAT: as
    members of their own, flat_counts, instead of nested objects), the share under cameras
    (not WATCHED: left out, which GIS clients would type as text were it always null), the
    declared figures, and `}`. Migration 0026 keeps both for the default filter."""
    tail = flat_counts(rows) if flat else counts_objects(rows, sum_them=False)
    if watched:
        tail += watched_pairs(rows.c.watched_km2, rows.c.area_km2)
    if has_declared_figures(rows):
        tail += declared_pairs(rows)
    head = func.concat(sql_string("{"), json_members_text(figures_members(rows.c, rows)))
    return head, func.concat(json_members_text(tail), sql_string("}"))


def ranked_object(head, rank, tail) -> ColumnElement:
    """The object of district_object_parts' HEAD and TAIL with its RANK between them."""
    return func.concat(head, sql_string(',"rank":'), rank, sql_string(","), tail)


def district_object(rows, flat: bool = False, watched: bool = True) -> ColumnElement:
    """A district's object in a statistic: its figures, its rank, the share under cameras
    (district_object_parts)."""
    head, tail = district_object_parts(rows, flat, watched)
    return ranked_object(head, rows.c.rank, tail)


def district_values(rows) -> dict[tuple[str, ...], ColumnElement]:
    """The values of district_object(ROWS) by their path in it (("counts_by_kind", "camera")),
    for answers written field by field (CSV)."""
    count = func.coalesce(rows.c.count, 0)
    plain = {name: rows.c[name] for name in ("code", "name", "level", "parent_code")}
    plain["population_year"] = rows.c.population_year
    plain |= figure_values(count, rows.c.area_km2, rows.c.population)
    plain["rank"] = rows.c.rank
    plain |= watched_values(rows.c.watched_km2, rows.c.area_km2)
    if has_declared_figures(rows):
        plain |= dict(declared_pairs(rows))
    values = {(name,): value for name, value in plain.items()}
    for group, _column, vocabulary, prefix in COUNT_GROUPS:
        for value in vocabulary:
            values[(group, value)] = func.coalesce(rows.c[count_name(prefix, value)], 0)
    return values


def district_level_figures_json(district=District) -> ColumnElement:
    """A district's figures among the districts of its level, as JSON (a correlated subquery).

    The OGC API's districts collection gives these: the figures, names and border rule of
    /api/v1/stats/districts?level=<its level>, for the devices on the map now.
    """
    same_level = aliased(District)
    hits = select_counted_hits(
        lambda code: code == district.code,
        lambda code: code.in_(
            select(same_level.code).where(same_level.level == district.level).correlate(district)
        ),
        StatisticsFilter(),
        correlate=[district],
    ).subquery("hits")
    counted = (
        select(
            func.coalesce(func.sum(hits.c.n), 0).label("count"),
            *[
                count
                for _name, column, values, prefix in COUNT_GROUPS
                for count in vocabulary_counts(column, values, prefix, hits)
            ],
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
    district (NULL for a list of codes, whose bounding box means nothing). Each is looked for
    in the districts themselves: the sum of their counts would take a device twice in
    districts that overlap (Paris with its arrondissements, overlapping imports).
    """
    inside = func.coalesce(func.sum(rows.c.count), 0)
    outside = null()
    if query.report_outside:
        extent = select(extent_of(sel.c.geom)).scalar_subquery()
        near = select(Device.id).where(Device.geom.op("&&")(extent))
        devices = query.filter.devices(near, name="devices_in_extent")
        # Under the border rule, a device a selected district touches counts in one of them.
        district = aliased(District)
        in_a_district = exists().where(
            district.code.in_(select(sel.c.code)),
            func.ST_Intersects(district.geom, devices.c.geom),
        )
        # ST_Intersects, not `&&`: the index's boxes are rounded outward to single
        # precision, and would take a device a few decimetres beyond the box.
        outside = (
            select(func.count())
            .select_from(devices)
            .where(func.ST_Intersects(devices.c.geom, extent), ~in_a_district)
            .scalar_subquery()
        )
    area = func.sum(rows.c.area_km2)
    tail = counts_objects(rows, sum_them=True) + watched_pairs(func.sum(rows.c.watched_km2), area)
    if has_declared_figures(rows):
        tail += declared_pairs(rows, sum_them=True)
    tail += [
        ("districts", func.count()),
        ("districts_without_population", func.count() - func.count(rows.c.population)),
        ("outside_count", outside),
    ]
    figures = figures_object([], inside, area, func.sum(rows.c.population), tail)
    return select(figures).select_from(rows).scalar_subquery()


def attribution_array(sel, credits: list[dict]) -> ColumnElement:
    """Whom to credit: the district datasets, the population sources, then CREDITS (the device
    data's contributors, OpenStreetMap's when devices came from it, the declared lists')."""
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
    credited = population_credits(sources)
    populations = select(
        func.json_build_object(
            sql_string("name"),
            sql_string("population"),
            sql_string("attribution"),
            credited.c.source,
            sql_string("licence"),
            credited.c.licence,
            sql_string("source_url"),
            credited.c.source_url,
        ),
        literal(2),
        credited.c.source,
    )
    given = [
        select(
            func.json_build_object(
                *[
                    p
                    for key, value in credit.items()
                    for p in (sql_string(key), null() if value is None else literal(value))
                ]
            ),
            literal(3),
            literal(f"{index:03d}"),
        )
        for index, credit in enumerate(credits)
    ]
    items = union_all(datasets, populations, *given).subquery("items")
    return select(
        func.json_agg(aggregate_order_by(items.c.item, items.c.part, items.c.sort))
    ).scalar_subquery()


def select_district_credits(clauses, credits: list[dict]) -> Select:
    """Whom to credit for the districts CLAUSES pick: their datasets and the sources of their
    populations, then CREDITS (those of the figures said of them)."""
    sel = select(District.dataset, District.population_source).where(*clauses).cte()
    return select(attribution_array(sel, credits))


def select_selection_exists(selection: DistrictSelection) -> Select:
    return select(exists(select(District.code).where(*selection.clauses())))


def select_codes(selection: DistrictSelection, limit: int) -> Select:
    """The codes of the selected districts, LIMIT at most."""
    return select(District.code).where(*selection.clauses()).order_by(District.code).limit(limit)


def select_known_levels(levels: list[str]) -> Select:
    """Those of LEVELS that some district has."""
    return select(District.level).where(District.level.in_(levels)).distinct()


def select_known_parents(codes: list[str]) -> Select:
    """Those of CODES that are a district's code, or the parent of some."""
    return union(
        select(District.code).where(District.code.in_(codes)),
        select(District.parent_code).where(District.parent_code.in_(codes)),
    )


def select_known_codes(codes: list[str]) -> Select:
    return select(District.code).where(District.code.in_(codes))
