"""Small pieces of SQL every builder of the geo layer writes its text with."""

import json
from collections.abc import Iterable

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    Integer,
    Numeric,
    Text,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement, Null

COORDINATE_DECIMALS = 7  # about 1 cm: more digits only add bytes (RFC 7946 section 11.2)
METRES_PER_DEGREE = 111_320  # of latitude, and of longitude at the equator


def sql_string(value: str) -> ColumnElement:
    """A constant string written into the statement (never user input)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def array_literal(values) -> str:
    """A PostgreSQL array of numbers or booleans as text."""
    return "{" + ",".join(map(str, values)) + "}"


def feature_text(
    id_json: ColumnElement | None, geometry: ColumnElement, properties: ColumnElement
) -> ColumnElement:
    """One RFC 7946 Feature as JSON text, from its id and its members already written as JSON.

    ID_JSON is the id as JSON text (a quoted string, or a number); None leaves the member out.
    GEOMETRY is GeoJSON text (ST_AsGeoJSON) and PROPERTIES a JSON object (json or text).
    """
    head = [sql_string('{"type":"Feature",')]
    if id_json is not None:
        head += [sql_string('"id":'), id_json, sql_string(",")]
    return func.concat(
        *head,
        sql_string('"geometry":'),
        geometry,
        sql_string(',"properties":'),
        properties,
        sql_string("}"),
    )


def comma_joined(texts: ColumnElement, *order_by) -> ColumnElement:
    """TEXTS (Features, JSON objects) of the rows joined by commas in ORDER_BY, "" for none:
    the inside of a JSON array written as text."""
    return func.coalesce(
        func.string_agg(texts, aggregate_order_by(sql_string(","), *order_by)), sql_string("")
    )


def json_value_text(value: ColumnElement) -> ColumnElement:
    """VALUE as json_build_object writes it, as text (NULL: null). Integers, decimals and
    booleans are written by their own output function, which concat() looks up once per
    statement where json_build_object looks it up again for every value (twice as slow on the
    figures of every commune); JSON text as it is; anything else through to_json (strings
    quoted and escaped, floats)."""
    if isinstance(value, Null):
        return sql_string("null")
    kind = value.type
    if isinstance(kind, JSON) or (
        isinstance(kind, Integer | Numeric | Boolean) and not isinstance(kind, Float)
    ):
        written = cast(value, Text)
    else:
        written = cast(func.to_json(value), Text)
    return func.coalesce(written, sql_string("null"))


def json_members_text(members: Iterable[tuple[str, ColumnElement]]) -> ColumnElement:
    """MEMBERS (name, value) as the inside of a JSON object, in their order, commas between
    them, written by concat() (compact, as json_build_object's members without its spaces)."""
    parts = []
    for name, value in members:
        parts += [
            sql_string(("," if parts else "") + json.dumps(name) + ":"),
            json_value_text(value),
        ]
    return func.concat(*parts) if parts else sql_string("")


def json_object_text(members: Iterable[tuple[str, ColumnElement]]) -> ColumnElement:
    """A JSON object of MEMBERS (name, value), in their order (json_members_text). Typed JSON
    for the builder, so that it nests as it is in another json_object_text; PostgreSQL sees
    text."""
    inside = json_members_text(members)
    return type_coerce(func.concat(sql_string("{"), inside, sql_string("}")), JSON)


def uuid_json(column: ColumnElement) -> ColumnElement:
    """A UUID column as a JSON string, written without a function call per row."""
    return func.concat(sql_string('"'), column, sql_string('"'))


def cut_at_antimeridian(geom: ColumnElement) -> ColumnElement:
    """GEOM, a shape of a few kilometres, cut at the antimeridian when it crosses it: its
    longitudes, put back within -180..180, then span more than half the world, and RFC 7946
    (3.1.9) wants one part on each side rather than a polygon drawn round the world."""
    blade = func.ST_GeomFromText("LINESTRING(180 -90, 180 90)", 4326)
    parts = func.ST_Split(func.ST_ShiftLongitude(geom), blade)
    cut = func.ST_WrapX(func.ST_CollectionExtract(parts, 3), 180, -360)
    return case((func.ST_XMax(geom) - func.ST_XMin(geom) > 180, cut), else_=geom)


def geojson_geometry(geom: ColumnElement) -> ColumnElement:
    """GeoJSON text of a geometry; polygons follow RFC 7946's right-hand rule (exterior rings
    counterclockwise, holes clockwise), whatever the order of the stored rings."""
    return func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(geom), COORDINATE_DECIMALS)


def statement_timeout(milliseconds: int):
    """Bound the statements of the current transaction (SET LOCAL ends with it)."""
    return select(func.set_config("statement_timeout", str(int(milliseconds)), True))


def bbox_geometry(bbox) -> ColumnElement:
    """The bbox as a geometry; a point or a line when it has no width or height (a polygon
    without area meets nothing: the box of no width on the antimeridian, split_antimeridian's,
    would miss a boundary that touches it at a vertex)."""
    return func.ST_Envelope(func.ST_MakeEnvelope(*bbox, 4326))


def meets_bboxes(geometry: ColumnElement, bboxes) -> ColumnElement:
    """Whether a geometry of any type (a district's boundary) meets any of the boxes (west,
    south, east, north): its shape, not its bounding box (ST_Intersects, through the GiST
    index). Points have devices.filter.within_bboxes, which compares coordinates."""
    return or_(*(func.ST_Intersects(geometry, bbox_geometry(b)) for b in bboxes))
