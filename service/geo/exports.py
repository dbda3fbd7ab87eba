"""Rows of the public data for file exports (GeoPackage): plain columns and WKB geometries.

Which devices are public is the listings' rule: DeviceFilter's clauses for the anonymous
viewer (approved, not deleted).
"""

from sqlalchemy import Float, Integer, Select, Text, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from ..models import Dataset, Device, District
from .devices.features import PUBLIC_PROPERTIES, public_column
from .devices.filter import DeviceFilter
from .districts import DISTRICT_HEAD
from .statistics.density import COUNT_GROUPS, count_name, district_level_figures_json


def flat_device_property(name: str) -> ColumnElement:
    """A public property as a column a GeoPackage field can hold: lists and objects as text.

    Several directions are joined with ";", as OpenStreetMap's camera:direction writes them.
    """
    column = public_column(name)
    if name == "direction":
        return func.array_to_string(column, ";", type_=Text).label(name)
    if name == "tags":
        return cast(column, Text).label(name)
    return column.label(name)


def select_public_device_rows() -> Select:
    """Every public device: its id, public properties and position (WKB, EPSG:4326), by id."""
    return (
        select(
            cast(Device.id, Text).label("id"),
            *(flat_device_property(name) for name in PUBLIC_PROPERTIES),
            func.ST_AsBinary(Device.geom).label("geometry"),
        )
        .where(*DeviceFilter().clauses())
        .order_by(Device.id)
    )


def select_district_rows() -> Select:
    """Every district with its population, the credit of its dataset, and its WKB geometry."""
    return (
        select(
            *DISTRICT_HEAD,
            District.population_source,
            District.area_km2,
            District.dataset,
            Dataset.attribution,
            Dataset.licence,
            func.ST_AsBinary(District.geom).label("geometry"),
        )
        .join(Dataset, Dataset.name == District.dataset)
        .order_by(District.code)
    )


def select_district_statistics_rows(levels=()) -> Select:
    """Districts (of LEVELS, or all) with the figures of /api/v1/stats/districts for their
    level as flat columns (`kind_camera`, `status_active`...), which GIS fields can hold, and
    their WKB geometry, by code."""
    # Written as text (json_object_text): read as JSONB, parsed once, to pick its 27 members
    # (JSON is parsed again by each member picked: 3 s for France's communes).
    figures = cast(district_level_figures_json(), JSONB).label("figures")
    clauses = [District.level.in_(list(levels))] if levels else []
    # Materialized: as a subquery, PostgreSQL put the figures' statement in each column read
    # from them, 27 times a district (12 s for France's communes instead of 0.5).
    rows = (
        select(
            *DISTRICT_HEAD,
            District.area_km2,
            figures,
            func.ST_AsBinary(District.geom).label("geometry"),
        )
        .where(*clauses)
        .cte("rows")
        .prefix_with("MATERIALIZED")
    )

    def figure(name: str, type_, *path: str) -> ColumnElement:
        value = rows.c.figures
        for key in path[:-1]:
            value = value.op("->")(key)
        return cast(value.op("->>")(path[-1]), type_).label(name)

    counts = [
        figure(count_name(prefix, value), Integer, group, value)
        for group, _column, values, prefix in COUNT_GROUPS
        for value in values
    ]
    return select(
        rows.c.code,
        rows.c.name,
        rows.c.level,
        rows.c.parent_code,
        rows.c.population,
        rows.c.population_year,
        rows.c.area_km2,
        figure("count", Integer, "count"),
        figure("per_km2", Float, "per_km2"),
        figure("per_10k_inhabitants", Float, "per_10k_inhabitants"),
        figure("inhabitants_per_device", Float, "inhabitants_per_device"),
        *counts,
        rows.c.geometry,
    ).order_by(rows.c.code)
