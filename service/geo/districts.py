"""Statements that load districts and serve them as GeoJSON built inside PostGIS."""

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from ..models import Dataset, District, PopulationSource
from .paging import select_first_features
from .sql import METRES_PER_DEGREE, feature_text, geojson_geometry, meets_bboxes, sql_string

# What every answer says of a district first (statistics, file exports).
DISTRICT_HEAD = (
    District.code,
    District.name,
    District.level,
    District.parent_code,
    District.population,
    District.population_year,
)

# What GeoJSON answers simplify boundaries at by default: districts.boundary_geojson keeps
# each boundary so (migration 0022), other tolerances are computed.
DEFAULT_TOLERANCE_M = 10.0
POLYGONS = 3  # ST_CollectionExtract type: keep the polygonal parts of a repaired geometry

_staging_metadata = MetaData()

# Rows read from a file land here first (one transaction), then are merged into districts.
district_staging = Table(
    "district_staging",
    _staging_metadata,
    Column("code", String, primary_key=True),
    Column("name", Text),
    Column("parent_code", String),
    Column("population", BigInteger),
    Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)

population_staging = Table(
    "population_staging",
    _staging_metadata,
    Column("code", String, primary_key=True),
    Column("population", BigInteger),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def stage_district() -> ColumnElement:
    """Insert one feature read from a file, reprojected from its source CRS to EPSG:4326."""
    geometry = func.ST_Transform(
        func.ST_SetSRID(
            func.ST_GeomFromWKB(bindparam("wkb", type_=LargeBinary)),
            bindparam("srid", type_=Integer),
        ),
        4326,
    )
    return insert(district_staging).values(
        code=bindparam("code"),
        name=bindparam("name"),
        parent_code=bindparam("parent_code"),
        population=bindparam("population"),
        geom=geometry,
    )


def select_invalid_staged() -> Select:
    """The staged geometries that need repair, with PostGIS's reason."""
    geom = district_staging.c.geom
    return (
        select(district_staging.c.code, func.ST_IsValidReason(geom).label("reason"))
        .where(not_(func.ST_IsValid(geom)))
        .order_by(district_staging.c.code)
    )


def repaired(geometry) -> ColumnElement:
    """GEOMETRY as districts keep it: its polygonal parts, an invalid one repaired first with
    ST_MakeValid."""
    valid = case((func.ST_IsValid(geometry), geometry), else_=func.ST_MakeValid(geometry))
    return func.ST_CollectionExtract(valid, POLYGONS)


def drop_staged_without_area():
    """Delete the staged features with no polygon once repaired (a point, a line, a ring folded
    flat), returning their codes: a district without area has no density, and would be served
    as an empty geometry many readers fail on."""
    without_area = func.ST_IsEmpty(repaired(district_staging.c.geom))
    return delete(district_staging).where(without_area).returning(district_staging.c.code)


def drop_staged_outside_the_world():
    """Delete the staged features not within longitudes -180..180 and latitudes -90..90 once
    in EPSG:4326 (a projected file read as degrees), returning their codes: GeoJSON cannot
    carry them, and their areas would be absurd."""
    world = func.ST_MakeEnvelope(-180, -90, 180, 90, 4326)
    outside = not_(func.ST_CoveredBy(district_staging.c.geom, world))
    return delete(district_staging).where(outside).returning(district_staging.c.code)


def cut_staged_across_the_antimeridian():
    """Cut at ±180° the staged shapes with an edge that spans more than half the world,
    returning their codes. Many sources write a ring across the antimeridian as it is rather
    than cut there (RFC 7946, 3.1.9 asks for the cut): read as written, it is a band round the
    world, holding devices on the far side of the Earth, while its geodesic area, which takes
    each edge the short way, is the island's. An edge with an end on ±180° itself runs along
    the cut a shape already has (Antarctica closed along the pole, a band of latitudes round
    the world): such shapes are left as they are, as are shapes off the world."""
    geom = district_staging.c.geom
    segments = func.ST_DumpSegments(geom).table_valued("geom", joins_implicitly=True)
    start = func.ST_X(func.ST_StartPoint(segments.c.geom))
    end = func.ST_X(func.ST_EndPoint(segments.c.geom))
    round_the_world = and_(func.abs(start - end) > 180, func.abs(start) < 180, func.abs(end) < 180)
    world = func.ST_MakeEnvelope(-180, -90, 180, 90, 4326)
    across = and_(
        func.ST_XMax(geom) - func.ST_XMin(geom) > 180,  # what any such edge spans: cheap first
        func.ST_CoveredBy(geom, world),
        exists(select(literal(1)).select_from(segments).where(round_the_world)),
    )
    cut = func.ST_WrapX(func.ST_ShiftLongitude(geom), 180, -360)
    return (
        update(district_staging).where(across).values(geom=cut).returning(district_staging.c.code)
    )


def upsert_dataset(name: str, attribution: str | None, licence: str | None, source_url: str | None):
    """The dataset, with its credit: a part of it not given (None) keeps the stored one, as a
    file without population keeps the stored populations (a new dataset is credited by its
    name until told better)."""
    given = {"attribution": attribution, "licence": licence, "source_url": source_url}
    statement = pg_insert(Dataset).values(name=name, **given | {"attribution": attribution or name})
    return statement.on_conflict_do_update(
        index_elements=[Dataset.name],
        set_={**given_or_kept(Dataset, given), "imported_at": func.now()},
    )


def upsert_population_source(name: str, licence: str | None, source_url: str | None):
    """The population source NAME, credited with LICENCE and SOURCE_URL: one not given (None)
    keeps the stored one, as for a dataset."""
    given = {"licence": licence, "source_url": source_url}
    statement = pg_insert(PopulationSource).values(name=name, **given)
    return statement.on_conflict_do_update(
        index_elements=[PopulationSource.name], set_=given_or_kept(PopulationSource, given)
    )


def population_credits(sources: Subquery) -> Subquery:
    """SOURCES (population sources' names, a `source` column) with the licence and address an
    import gave each one (none where it gave none): credited beside the district datasets."""
    return (
        select(sources.c.source, PopulationSource.licence, PopulationSource.source_url)
        .select_from(sources.outerjoin(PopulationSource, PopulationSource.name == sources.c.source))
        .subquery("population_credits")
    )


def given_or_kept(model, given: dict) -> dict:
    """An upsert's new value of each column of GIVEN: the one given, else the stored one."""
    return {
        column: func.coalesce(
            bindparam(f"given_{column}", value, type_=Text), getattr(model, column)
        )
        for column, value in given.items()
    }


def merge_staged_districts(
    level: str, dataset: str, population_year: int | None, population_source: str | None
):
    """Insert new codes and update known ones in place; returns one `inserted` flag per row.

    Invalid geometries are repaired with ST_MakeValid, keeping only their polygonal parts, and
    every geometry becomes a MultiPolygon. A file without population keeps the stored one.
    """
    fixed = select(
        district_staging.c.code,
        district_staging.c.name,
        district_staging.c.parent_code,
        district_staging.c.population,
        func.ST_Multi(repaired(district_staging.c.geom)).label("geom"),
    ).subquery("fixed")
    rows = select(
        fixed.c.code,
        fixed.c.name,
        sql_string(level),
        fixed.c.parent_code,
        fixed.c.population,
        case((fixed.c.population.is_not(None), literal(population_year, Integer))),
        case((fixed.c.population.is_not(None), literal(population_source, Text))),
        sql_string(dataset),
        fixed.c.geom,
        func.ST_Area(geography(fixed.c.geom)) / 1e6,
    )
    columns = [
        "code",
        "name",
        "level",
        "parent_code",
        "population",
        "population_year",
        "population_source",
        "dataset",
        "geom",
        "area_km2",
    ]
    statement = pg_insert(District).from_select(columns, rows)
    new = statement.excluded
    keep_population = new.population.is_(None)
    statement = statement.on_conflict_do_update(
        index_elements=[District.code],
        set_={
            "name": new.name,
            "level": new.level,
            "parent_code": new.parent_code,
            "population": func.coalesce(new.population, District.population),
            # A count of its own, from the file, or what it was.
            "population_summed": keep_population & District.population_summed,
            "population_year": case(
                (keep_population, District.population_year), else_=new.population_year
            ),
            "population_source": case(
                (keep_population, District.population_source), else_=new.population_source
            ),
            "dataset": new.dataset,
            "geom": new.geom,
            "area_km2": new.area_km2,
            "updated_at": func.now(),
        },
    )
    return statement.returning(literal_column("(xmax = 0)").label("inserted"))


def select_staged_of_other_datasets(dataset: str) -> Select:
    """The staged codes stored already under another dataset, which the merge takes over
    (shape, area and credit then this dataset's): code and the dataset they were of."""
    return (
        select(District.code, District.dataset)
        .where(District.code.in_(select(district_staging.c.code)), District.dataset != dataset)
        .order_by(District.code)
    )


def stage_population():
    return insert(population_staging)


def join_staged_population(year: int | None, source: str | None):
    """Set the population of every district whose code has a row with a population; returns
    the codes matched (a row with an empty cell leaves the stored population as it is)."""
    return (
        update(District)
        .where(
            District.code == population_staging.c.code,
            population_staging.c.population.is_not(None),
        )
        .values(
            population=population_staging.c.population,
            population_year=year,
            population_source=source,
            population_summed=False,
            updated_at=func.now(),
        )
        .returning(District.code)
    )


def children_sums(year: int | None, source: str | None) -> Subquery:
    """The parents of this file's districts without a row of their own, with the sum of their
    children of one level (Paris = its 20 arrondissements, not those plus its quartiers), when
    every child of that level has a population of this file's year and source and some got it
    from these rows: a sum of figures of other years or origins would be labelled with this
    file's."""
    of_this_file = and_(
        District.population_year.is_not_distinct_from(year),
        District.population_source.is_not_distinct_from(source),
    )
    levels = (
        select(
            District.parent_code.label("code"),
            District.level,
            func.sum(District.population).label("population"),
        )
        .where(District.parent_code.is_not(None))
        .group_by(District.parent_code, District.level)
        .having(
            func.count() == func.count(District.population),
            func.bool_and(of_this_file),
            func.bool_or(
                District.code.in_(
                    select(population_staging.c.code).where(
                        population_staging.c.population.is_not(None)
                    )
                )
            ),
        )
        .subquery("levels")
    )
    # One level per parent, the same whichever the database reads first.
    return (
        select(levels.c.code, levels.c.population)
        .where(levels.c.code.not_in(select(population_staging.c.code)))
        .ext(distinct_on(levels.c.code))
        .order_by(levels.c.code, levels.c.level)
        .subquery("children")
    )


# A parent the sum may give a population: one without, or whose population was a sum already.
summable = or_(District.population.is_(None), District.population_summed)


def sum_population_into_parents(year: int | None, source: str | None):
    """Give the parents of children_sums their sum, unless they hold a count of their own (an
    arrondissement under quartiers that may not cover it), which they keep with its year and
    source; so do the parents of other districts. Returns the codes summed."""
    children = children_sums(year, source)
    return (
        update(District)
        .where(District.code == children.c.code, summable)
        .values(
            population=children.c.population,
            population_year=year,
            population_source=source,
            population_summed=True,
            updated_at=func.now(),
        )
        .returning(District.code)
    )


def select_parents_keeping_their_count(year: int | None, source: str | None) -> Select:
    """The parents of children_sums that keep a count of their own: code, own population and
    the sum they were not given, by code (said, so that an import changes no figure unsaid)."""
    children = children_sums(year, source)
    return (
        select(District.code, District.population, children.c.population.label("sum"))
        .join(children, District.code == children.c.code)
        .where(~summable)
        .order_by(District.code)
    )


def geography(geom) -> ColumnElement:
    """The same shape as a PostGIS geography, so that areas are measured on the spheroid."""
    return cast(geom, Geography)


def tolerance_degrees(tolerance_m: float) -> float:
    return tolerance_m / METRES_PER_DEGREE


def district_properties(district=District) -> ColumnElement:
    return func.json_build_object(
        sql_string("code"),
        district.code,
        sql_string("name"),
        district.name,
        sql_string("level"),
        district.level,
        sql_string("parent_code"),
        district.parent_code,
        sql_string("population"),
        district.population,
        sql_string("population_year"),
        district.population_year,
        sql_string("population_source"),
        district.population_source,
        sql_string("area_km2"),
        func.round(cast(district.area_km2, Numeric), 4),
        sql_string("dataset"),
        district.dataset,
    )


def simplified_geojson(geom, tolerance_m: float) -> ColumnElement:
    """GeoJSON of a geometry simplified at a tolerance given in metres (topology kept)."""
    if tolerance_m > 0:
        geom = func.ST_Multi(func.ST_SimplifyPreserveTopology(geom, tolerance_degrees(tolerance_m)))
    return geojson_geometry(geom)


def boundary_geojson(tolerance_m: float, district=District) -> ColumnElement:
    """DISTRICT's boundary as GeoJSON simplified at TOLERANCE_M (0: as stored): the kept text
    at the default tolerance, else computed."""
    if tolerance_m == DEFAULT_TOLERANCE_M:
        return district.boundary_geojson
    return simplified_geojson(district.geom, tolerance_m)


def district_feature_text(properties: ColumnElement, tolerance_m: float = 0) -> ColumnElement:
    """A district as a Feature: its code as id, its boundary simplified at TOLERANCE_M (0: as
    stored), and PROPERTIES (district_properties, or its figures in the OGC API)."""
    return feature_text(func.to_json(District.code), boundary_geojson(tolerance_m), properties)


def district_clauses(levels=(), parents=(), codes=(), bboxes=(), table=District):
    """WHERE clauses picking districts; `table` may be an alias of District."""
    clauses = []
    for column, values in (
        (table.level, levels),
        (table.parent_code, parents),
        (table.code, codes),
    ):
        if values:
            clauses.append(column.in_(list(values)))
    if bboxes:
        clauses.append(meets_bboxes(table.geom, bboxes))
    return clauses


def select_district_collection(
    clauses, tolerance_m: float, limit: int, after: str | None = None
) -> Select:
    """Features of the matching districts in code order (those after code AFTER), whether more
    than limit matched, and the last code returned."""
    feature = district_feature_text(district_properties(), tolerance_m)
    return select_first_features(feature, District.code, [*clauses, *codes_after(after)], limit)


def codes_after(after: str | None, last: str | None = None) -> list:
    """Clauses keeping the codes after AFTER (any without it), up to LAST: a page's, in code
    order."""
    clauses = [] if after is None else [District.code > after]
    return clauses if last is None else [*clauses, District.code <= last]


def select_district_feature(code: str, tolerance_m: float) -> Select:
    feature = district_feature_text(district_properties(), tolerance_m)
    return select(feature.label("feature")).where(District.code == code)
