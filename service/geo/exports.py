"""Rows of the public data for file exports (GeoPackage): plain columns and WKB geometries.

Which devices are public is the listings' rule: DeviceFilter's clauses for the anonymous
viewer (approved, not deleted).
"""

from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from ..models import Dataset, Device, District
from .devices.features import PUBLIC_PROPERTIES
from .devices.filter import DeviceFilter


def flat_device_property(name: str) -> ColumnElement:
    """A public property as a column a GeoPackage field can hold: lists and objects as text.

    Several directions are joined with ";", as OpenStreetMap's camera:direction writes them.
    """
    column = getattr(Device, name)
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
            District.code,
            District.name,
            District.level,
            District.parent_code,
            District.population,
            District.population_year,
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
