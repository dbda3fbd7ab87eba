"""CQL2 text filters (OGC API Features Part 3) turned into SQLAlchemy Core clauses.

pygeofilter parses the text; this module walks its syntax tree and builds clauses on the
whitelisted properties ("queryables") of a collection only. Every literal is bound as a
parameter and type-checked against the property it meets, so a bad filter is a clear
FilterError (a 400 for the client), never a database error.
"""

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import orjson
import shapely.geometry
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle
from pygeofilter.parsers.cql2_text import parse
from sqlalchemy import Boolean, Float, and_, bindparam, func, literal, not_, or_
from sqlalchemy.sql.elements import ColumnElement

MAX_FILTER_CHARS = 20_000
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
MAX_GEOMETRY_VERTICES = 10_000

# JSON Schema type of each kind of queryable, as /queryables publishes it.
JSON_SCHEMA_TYPES = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "datetime": {"type": "string", "format": "date-time"},
    "geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
}
# Integers and numbers compare with each other.
COMPARABLE_TYPE = {"integer": "number"}

COMPARISONS = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
SPATIAL_FUNCTIONS = {
    "INTERSECTS": func.ST_Intersects,
    "DISJOINT": func.ST_Disjoint,
    "CONTAINS": func.ST_Contains,
    "WITHIN": func.ST_Within,
    "TOUCHES": func.ST_Touches,
    "CROSSES": func.ST_Crosses,
    "OVERLAPS": func.ST_Overlaps,
    "EQUALS": func.ST_Equals,
}


class FilterError(ValueError):
    """The filter cannot be run: its message tells the client what to change."""


@dataclass(frozen=True)
class Queryable:
    """A property clients may filter on: the SQL expression behind it and its type."""

    expression: ColumnElement
    type: str  # a key of JSON_SCHEMA_TYPES
    enum: tuple[str, ...] = ()
    description: str = ""

    def json_schema(self, name: str) -> dict:
        schema = {"title": name, **JSON_SCHEMA_TYPES[self.type]}
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Operand:
    """A typed value in an expression: a property (SQL) or a literal (bound parameter)."""

    expression: ColumnElement
    type: str
    name: str  # the property name, or the literal as written

    @property
    def comparable_type(self) -> str:
        return COMPARABLE_TYPE.get(self.type, self.type)


@dataclass(frozen=True)
class Predicate:
    clause: ColumnElement


def literal_operand(value) -> Operand:
    if isinstance(value, bool):
        return Operand(literal(value, Boolean), "boolean", str(value).lower())
    if isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
        # Past PostgreSQL's integers: compared as a double, as a number that large would be.
        try:
            return Operand(literal(float(value), Float), "number", repr(value))
        except OverflowError as exc:
            raise FilterError(f"The number {str(value)[:20]}... is too large.") from exc
    if isinstance(value, int | float):
        return Operand(literal(value), "number", repr(value))
    if isinstance(value, str):
        return Operand(literal(value), "string", repr(value))
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
        return Operand(literal(instant.astimezone(UTC)), "datetime", value.isoformat())
    if isinstance(value, date):
        instant = datetime.combine(value, time(), UTC)
        return Operand(literal(instant), "datetime", value.isoformat())
    raise FilterError(f"Literals of type {type(value).__name__} are not supported.")


def geometry_operand(geojson: dict) -> Operand:
    """A literal geometry in CRS84, checked before PostGIS sees it."""
    try:
        shape = shapely.geometry.shape(geojson)
    except (ValueError, TypeError, AttributeError) as exc:
        raise FilterError(f"The geometry literal is malformed: {exc}") from exc
    if shape.is_empty or not shape.is_valid:
        raise FilterError("The geometry literal is empty or invalid (self-intersecting?).")
    if shapely.get_num_coordinates(shape) > MAX_GEOMETRY_VERTICES:
        raise FilterError(f"Geometry literals are limited to {MAX_GEOMETRY_VERTICES} vertices.")
    min_x, min_y, max_x, max_y = shape.bounds
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise FilterError("Geometry literals are longitude, latitude in CRS84.")
    text = orjson.dumps(shapely.geometry.mapping(shape)).decode()
    return Operand(
        func.ST_SetSRID(func.ST_GeomFromGeoJSON(bindparam(None, text)), 4326),
        "geometry",
        shape.geom_type,
    )


def require_predicate(value, where: str) -> ColumnElement:
    if not isinstance(value, Predicate):
        raise FilterError(f"{where} needs a condition such as `kind = 'camera'`, not a value.")
    return value.clause


def require_operand(value) -> Operand:
    if not isinstance(value, Operand):
        raise FilterError("A condition was found where a property or value was expected.")
    return value


def matching(lhs, rhs, what: str) -> tuple[Operand, Operand]:
    """Both sides of a comparison, checked to be of the same type."""
    lhs, rhs = require_operand(lhs), require_operand(rhs)
    if lhs.comparable_type != rhs.comparable_type:
        raise FilterError(
            f"{what}: {lhs.name} is a {lhs.type} and {rhs.name} is a {rhs.type}; "
            "compare values of the same type (timestamps as TIMESTAMP('...'))."
        )
    return lhs, rhs


class ClauseBuilder(Evaluator):
    """Walks pygeofilter's tree bottom-up; every node becomes an Operand or a Predicate."""

    def __init__(self, queryables: Mapping[str, Queryable]):
        self.queryables = queryables

    def adopt(self, node, *sub_args):
        name = getattr(node, "op", None)
        label = getattr(name, "value", None) or type(node).__name__
        raise FilterError(f"{label} is not supported by this server's CQL2 filters.")

    @handle(ast.Attribute)
    def attribute(self, node):
        queryable = self.queryables.get(node.name)
        if queryable is None:
            known = ", ".join(sorted(self.queryables))
            raise FilterError(f"Unknown property {node.name!r}; filter on one of: {known}.")
        return Operand(queryable.expression, queryable.type, node.name)

    @handle(str, int, float, bool, datetime, date)
    def scalar(self, node):
        return literal_operand(node)

    @handle(values.Geometry)
    def geometry(self, node):
        return geometry_operand(node.geometry)

    @handle(values.Envelope)
    def envelope(self, node):
        return geometry_operand(node.geometry)

    @handle(ast.Function)
    def function(self, node, *arguments):
        if node.name.lower() != "bbox" or len(arguments) != 4:
            raise FilterError(f"Function {node.name}() is not supported (BBOX(x1,y1,x2,y2) is).")
        if not all(isinstance(a, Operand) and a.type == "number" for a in arguments):
            raise FilterError("BBOX() takes four numbers: minLon, minLat, maxLon, maxLat.")
        x1, y1, x2, y2 = node.arguments
        return geometry_operand(shapely.geometry.mapping(shapely.geometry.box(x1, y1, x2, y2)))

    @handle(ast.Not)
    def negation(self, node, sub):
        return Predicate(not_(require_predicate(sub, "NOT")))

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs, rhs):
        join = and_ if node.op.value == "AND" else or_
        return Predicate(join(require_predicate(lhs, node.op.value), require_predicate(rhs, "")))

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        lhs, rhs = matching(lhs, rhs, node.op.value)
        if lhs.type == "geometry":
            raise FilterError("Compare geometries with S_INTERSECTS() and friends, not with =.")
        return Predicate(COMPARISONS[node.op.value](lhs.expression, rhs.expression))

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        lhs, low = matching(lhs, low, "BETWEEN")
        lhs, high = matching(lhs, high, "BETWEEN")
        clause = lhs.expression.between(low.expression, high.expression)
        return Predicate(not_(clause) if node.not_ else clause)

    @handle(ast.In)
    def in_list(self, node, lhs, *options):
        checked = [matching(lhs, option, "IN")[1].expression for option in options]
        clause = require_operand(lhs).expression.in_(checked)
        return Predicate(not_(clause) if node.not_ else clause)

    @handle(ast.Like)
    def like(self, node, lhs):
        lhs = require_operand(lhs)
        if lhs.type != "string" or not isinstance(node.pattern, str):
            raise FilterError("LIKE compares a text property with a text pattern.")
        # CQL2 patterns are SQL's: % any run, _ one character, backslash escapes.
        pattern = bindparam(None, node.pattern)
        method = lhs.expression.ilike if node.nocase else lhs.expression.like
        clause = method(pattern, escape="\\")
        return Predicate(not_(clause) if node.not_ else clause)

    @handle(ast.IsNull)
    def is_null(self, node, lhs):
        lhs = require_operand(lhs)
        return Predicate(lhs.expression.is_not(None) if node.not_ else lhs.expression.is_(None))

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial(self, node, lhs, rhs):
        lhs, rhs = matching(lhs, rhs, f"S_{node.op.value}")
        if lhs.type != "geometry":
            raise FilterError(f"S_{node.op.value} takes two geometries.")
        return Predicate(SPATIAL_FUNCTIONS[node.op.value](lhs.expression, rhs.expression))


def cql2_text_clause(text: str, queryables: Mapping[str, Queryable]) -> ColumnElement:
    """The WHERE clause a CQL2 text filter means on these queryables."""
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"Filters are limited to {MAX_FILTER_CHARS} characters.")
    try:
        tree = parse(text)
    except Exception as exc:  # the parser raises many types; all mean "not CQL2 text"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FilterError(f"The filter is not valid CQL2 text: {first_line}") from exc
    try:
        return require_predicate(ClauseBuilder(queryables).evaluate(tree), "A filter")
    except RecursionError as exc:
        raise FilterError("The filter nests too deeply.") from exc
