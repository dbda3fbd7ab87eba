"""CQL2 filters, text and JSON (OGC API Features Part 3), turned into SQLAlchemy Core clauses.

pygeofilter parses them; this module walks its syntax tree and builds clauses on the
whitelisted properties ("queryables") of a collection only. Every literal is bound as a
parameter and type-checked against the property it meets, so a bad filter is a clear
FilterError (a 400 for the client), never a database error.
"""

import math
import operator
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import orjson
import shapely
import shapely.errors
import shapely.geometry
import shapely.ops
from lark import Lark
from lark.exceptions import UnexpectedCharacters
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle
from pygeofilter.cql2 import BINARY_OP_PREDICATES_MAP
from pygeofilter.parsers.cql2_json.parser import walk_cql_json
from pygeofilter.parsers.cql2_text import parser as cql2_text_parser
from sqlalchemy import Boolean, Float, and_, bindparam, false, func, literal, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from .crs import CRS84, EPSG, SUPPORTED, Crs, stored_literal

MAX_FILTER_CHARS = 20_000
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
MAX_GEOMETRY_VERTICES = 10_000
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# What a literal outside a geographic CRS's range is told (other CRSs: their bounds).
LITERALS_OUT_OF_EXTENT = {
    CRS84: "Geometry literals are longitude, latitude in CRS84.",
    f"{EPSG}4326": "Geometry literals are latitude, longitude in EPSG:4326 (filter-crs).",
}

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
    value: object = None  # a literal's value

    @property
    def comparable_type(self) -> str:
        return COMPARABLE_TYPE.get(self.type, self.type)


@dataclass(frozen=True)
class Predicate:
    clause: ColumnElement


@dataclass(frozen=True)
class Period:
    """A time interval literal; None is an open end."""

    start: ColumnElement | None
    end: ColumnElement | None


def instant_expression(value) -> ColumnElement | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        raise FilterError("Durations are not supported in intervals: give two instants.")
    return literal_operand(value).expression


# Relations that need the left side to last: never true of an instant property (the left side).
LASTING_RELATIONS = ("CONTAINS", "OVERLAPS", "OVERLAPPEDBY", "BEGUNBY", "ENDEDBY")


def refuse_lasting_relation(name: str) -> None:
    if name.upper() in LASTING_RELATIONS:
        raise FilterError(
            f"T_{name.upper()} cannot hold for an instant property such as observed_at; "
            "use T_AFTER, T_BEFORE, T_DURING, T_EQUALS, T_INTERSECTS, T_DISJOINT, T_BEGINS, "
            "T_ENDS, T_MEETS or T_METBY."
        )


def temporal_clause(op: str, instant: ColumnElement, period: Period) -> ColumnElement:
    """The CQL2 relation OP (pygeofilter's name) between an instant property and PERIOD.

    Bounds are included; the instant is the interval [t, t]. pygeofilter reads T_INTERSECTS
    as its TOVERLAPS (T_OVERLAPS itself is refused before: see refuse_lasting_relation).
    """
    start, end = period.start, period.end
    after_start = true() if start is None else instant > start
    before_end = true() if end is None else instant < end
    at_start = false() if start is None else instant == start
    at_end = false() if end is None else instant == end
    from_start = true() if start is None else instant >= start
    to_end = true() if end is None else instant <= end
    relations = {
        "AFTER": false() if end is None else instant > end,
        "BEFORE": false() if start is None else instant < start,
        "DURING": and_(after_start, before_end),
        "TEQUALS": and_(at_start, at_end),
        "TOVERLAPS": and_(from_start, to_end),
        "BEGINS": and_(at_start, before_end),
        "ENDS": and_(at_end, after_start),
        "MEETS": at_start,
        "METBY": at_end,
    }
    if op not in relations:
        refuse_lasting_relation(op.removeprefix("T"))
        raise FilterError(f"The temporal relation {op} is not supported.")
    return relations[op]


def storable(text: str) -> str:
    """TEXT, refused if it holds a NUL (CQL2 JSON may write one as "\\u0000"), which no text of
    PostgreSQL can hold."""
    if "\x00" in text:
        raise FilterError(f"The string {text[:20]!r} contains a NUL character.")
    return text


def literal_operand(value) -> Operand:
    if isinstance(value, bool):
        return Operand(literal(value, Boolean), "boolean", str(value).lower())
    if isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
        # Past PostgreSQL's integers: compared as a double, as a number that large would be.
        try:
            return Operand(literal(float(value), Float), "number", repr(value))
        except OverflowError as exc:
            raise FilterError(f"The number {str(value)[:20]}... is too large.") from exc
    if isinstance(value, float) and not math.isfinite(value):
        # 1e400 is read as infinity: past any double, as an integer that large is.
        raise FilterError("A number is past the range of a double (±1.8e308).")
    if isinstance(value, int | float):
        return Operand(literal(value), "number", repr(value))
    if isinstance(value, str):
        return Operand(literal(storable(value)), "string", repr(value), value)
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            instant = instant.astimezone(UTC)
        except OverflowError as exc:
            raise FilterError(
                f"{value.isoformat()} lies outside the years 1 to 9999 (UTC)."
            ) from exc
        return Operand(literal(instant), "datetime", value.isoformat(), instant)
    if isinstance(value, date):
        instant = datetime.combine(value, time(), UTC)
        return Operand(literal(instant), "datetime", value.isoformat(), instant)
    raise FilterError(f"Literals of type {type(value).__name__} are not supported.")


def geometry_operand(geojson: dict, crs: Crs) -> Operand:
    """A literal geometry in CRS (`filter-crs`), checked before PostGIS sees it."""
    try:
        shape = shapely.geometry.shape(geojson)
    # Shapely's words (an unknown type, a line of one point), numpy's and Python's.
    except (shapely.errors.ShapelyError, ValueError, TypeError, AttributeError) as exc:
        raise FilterError(
            "The geometry literal is malformed: a GeoJSON geometry of a known type whose "
            "positions are two numbers each (three with a height)."
        ) from exc
    if shape.is_empty or not shape.is_valid:
        raise FilterError("The geometry literal is empty or invalid (self-intersecting?).")
    if shapely.get_num_coordinates(shape) > MAX_GEOMETRY_VERTICES:
        raise FilterError(f"Geometry literals are limited to {MAX_GEOMETRY_VERTICES} vertices.")
    if crs.latitude_first:
        shape = shapely.ops.transform(
            lambda first, second, *height: (second, first, *height), shape
        )
    min_x, min_y, max_x, max_y = shape.bounds
    west, south, east, north = crs.extent
    near = crs.step
    if not (
        west - near <= min_x <= max_x <= east + near
        and south - near <= min_y <= max_y <= north + near
    ):
        raise FilterError(
            LITERALS_OUT_OF_EXTENT.get(crs.uri)
            or (f"Geometry literals in {crs.uri} lie within x {west}..{east}, y {south}..{north}.")
        )
    # Near the edge, on it (past it, Web Mercator wraps round the world).
    shape = shapely.transform(shape, crs.onto_edges)
    text = orjson.dumps(shapely.geometry.mapping(shape)).decode()
    return Operand(stored_literal(text, shape.length, crs), "geometry", shape.geom_type)


def bbox_shape(numbers: list, crs: Crs):
    """BBOX()'s box, in the axis order of CRS. In longitude and latitude, a box whose west edge
    lies east of its east edge crosses the antimeridian (as `bbox=` does): two boxes, one on
    each side, not the wide box between them. Any other minimum past its maximum is refused,
    as `bbox=` refuses it, rather than read as the box between them."""
    first_min, second_min, first_max, second_max = numbers
    west, east = (second_min, second_max) if crs.latitude_first else (first_min, first_max)
    south, north = (first_min, first_max) if crs.latitude_first else (second_min, second_max)
    if south > north:
        axis = "latitude" if crs.srid == 4326 else "y"
        raise FilterError(f"BBOX()'s minimum {axis} must not exceed its maximum {axis}.")
    if crs.srid != 4326 and west > east:
        raise FilterError("BBOX()'s minimum x must not exceed its maximum x.")
    if crs.srid != 4326 or west <= east:
        return shapely.geometry.box(first_min, second_min, first_max, second_max)
    if crs.latitude_first:
        sides = [(first_min, west, first_max, 180), (first_min, -180, first_max, east)]
    else:
        sides = [(west, second_min, 180, second_max), (-180, second_min, east, second_max)]
    return shapely.geometry.MultiPolygon([shapely.geometry.box(*side) for side in sides])


def as_time(operand):
    """A string literal operand that holds an RFC 3339 time, or a day, as a time literal.

    GDAL 3.6 writes a day as `'2026-03-01T'`: that day, at midnight UTC."""
    if not (isinstance(operand, Operand) and operand.type == "string"):
        return operand
    text = str(operand.value)
    if DAY.fullmatch(text.removesuffix("T")):
        text = text.removesuffix("T")
    try:
        return literal_operand(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return operand


def require_predicate(value, where: str) -> ColumnElement:
    """VALUE as a condition: a predicate, or a boolean (CQL2's booleanLiteral, `TRUE` or
    `FALSE`, is a condition of its own)."""
    if isinstance(value, Operand) and value.type == "boolean":
        return value.expression
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

    def __init__(
        self,
        queryables: Mapping[str, Queryable],
        times_as_text: bool = False,
        crs: Crs | None = None,
    ):
        self.queryables = queryables
        # Pre-standard CQL text (GDAL 3.6 writes it) has no TIMESTAMP(): a time is a string.
        self.times_as_text = times_as_text
        self.crs = crs or SUPPORTED[CRS84]  # of the geometry literals (`filter-crs`)

    def timed(self, lhs, *others):
        """OTHERS, strings read as times if LHS is a time and the dialect writes times so."""
        if not (self.times_as_text and isinstance(lhs, Operand) and lhs.type == "datetime"):
            return others
        return tuple(as_time(other) for other in others)

    def adopt(self, node, *sub_args):
        name = getattr(node, "op", None)
        label = getattr(name, "value", None) or type(node).__name__
        raise FilterError(f"{label} is not supported by this server's CQL2 filters.")

    @handle(ast.BBox)
    def bbox_predicate(self, node, *_evaluated):
        name = getattr(node.lhs, "name", "geometry")
        box = f"{node.minx}, {node.miny}, {node.maxx}, {node.maxy}"
        raise FilterError(
            f"BBOX(property, ...) is not CQL2: write S_INTERSECTS({name}, BBOX({box}))."
        )

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
        return geometry_operand(node.geometry, self.crs)

    @handle(values.Envelope)
    def envelope(self, node):
        # ENVELOPE is no CQL2 literal: an older draft's, in the order minX, maxX, maxY, minY,
        # which a box written in BBOX's order turns silently into another box.
        raise FilterError(NO_ENVELOPE)

    @handle(values.Interval)
    def interval(self, node, start, end):
        return Period(instant_expression(node.start), instant_expression(node.end))

    @handle(ast.Function)
    def function(self, node, *arguments):
        name = node.name.lower()
        if name == "lower" and len(arguments) == 1:  # CASEI(...), as pygeofilter reads it
            value = require_operand(arguments[0])
            if value.type != "string":
                raise FilterError("CASEI() takes a text property or a text value.")
            return Operand(func.lower(value.expression), "string", f"CASEI({value.name})")
        if name != "bbox":
            raise FilterError(
                f"Function {node.name}() is not supported (CASEI() and "
                "BBOX(minLon,minLat,maxLon,maxLat) are)."
            )
        numeric = all(isinstance(a, Operand) and a.type == "number" for a in arguments)
        if len(arguments) not in (4, 6) or not numeric:
            raise FilterError(
                f"BBOX() takes four numbers (minLon, minLat, maxLon, maxLat), or six with "
                f"heights, not {len(arguments)} {'numbers' if numeric else 'values'}."
            )
        numbers = list(node.arguments)
        if len(numbers) == 6:  # with heights, which points on the ground ignore
            numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
        return geometry_operand(shapely.geometry.mapping(bbox_shape(numbers, self.crs)), self.crs)

    @handle(ast.Not)
    def negation(self, node, sub):
        return Predicate(not_(require_predicate(sub, "NOT")))

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs, rhs):
        join = and_ if node.op.value == "AND" else or_
        return Predicate(join(require_predicate(lhs, node.op.value), require_predicate(rhs, "")))

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        (rhs,) = self.timed(lhs, rhs)
        lhs, rhs = matching(lhs, rhs, node.op.value)
        if lhs.type == "geometry":
            raise FilterError("Compare geometries with S_INTERSECTS() and friends, not with =.")
        return Predicate(COMPARISONS[node.op.value](lhs.expression, rhs.expression))

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        low, high = self.timed(lhs, low, high)
        lhs, low = matching(lhs, low, "BETWEEN")
        lhs, high = matching(lhs, high, "BETWEEN")
        clause = lhs.expression.between(low.expression, high.expression)
        return Predicate(not_(clause) if node.not_ else clause)

    @handle(ast.In)
    def in_list(self, node, lhs, *options):
        options = self.timed(lhs, *options)
        checked = [matching(lhs, option, "IN")[1].expression for option in options]
        clause = require_operand(lhs).expression.in_(checked)
        return Predicate(not_(clause) if node.not_ else clause)

    @handle(ast.Like)
    def like(self, node, lhs):
        lhs = require_operand(lhs)
        pattern = node.pattern
        if isinstance(pattern, ast.Function) and pattern.name == "lower":  # CASEI('pattern')
            pattern = pattern.arguments[0] if len(pattern.arguments) == 1 else None
            pattern = pattern.lower() if isinstance(pattern, str) else None
        if lhs.type != "string" or not isinstance(pattern, str):
            raise FilterError("LIKE compares a text property with a text pattern.")
        # CQL2 patterns are SQL's: % any run, _ one character, backslash escapes.
        if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            raise FilterError(
                "A LIKE pattern cannot end with a lone backslash, which escapes the character "
                "after it: write two backslashes to match one."
            )
        pattern = bindparam(None, storable(pattern))
        method = lhs.expression.ilike if node.nocase else lhs.expression.like
        clause = method(pattern, escape="\\")
        return Predicate(not_(clause) if node.not_ else clause)

    @handle(ast.IsNull)
    def is_null(self, node, lhs):
        lhs = require_operand(lhs)
        return Predicate(lhs.expression.is_not(None) if node.not_ else lhs.expression.is_(None))

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node, lhs, rhs):
        lhs = require_operand(lhs)
        if lhs.type != "datetime" or lhs.value is not None:
            raise FilterError(
                "A temporal function compares a time property (first) with a time, "
                f"not {lhs.name}: T_AFTER(observed_at, TIMESTAMP('...'))."
            )
        if not isinstance(rhs, Period):
            rhs = require_operand(rhs)
            if rhs.type != "datetime":
                raise FilterError(
                    f"A temporal function compares {lhs.name} with TIMESTAMP('...'), "
                    f"DATE('...') or INTERVAL('...', '...'), not with {rhs.name}."
                )
            rhs = Period(rhs.expression, rhs.expression)
        return Predicate(temporal_clause(node.op.value, lhs.expression, rhs))

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial(self, node, lhs, rhs):
        lhs, rhs = matching(lhs, rhs, f"S_{node.op.value}")
        if lhs.type != "geometry":
            raise FilterError(f"S_{node.op.value} takes two geometries.")
        return Predicate(SPATIAL_FUNCTIONS[node.op.value](lhs.expression, rhs.expression))


# A CQL2 text string literal: a quote inside is written twice, or after a backslash (the
# standard's escapeQuote), so that a backslash just before a quote that another follows escapes
# it.
STRING_LITERAL = re.compile(r"'(?:''|\\'|[^'])*'")
ESCAPED_QUOTE = re.compile(r"''|\\'")
# The rule of pygeofilter's grammar, whose strings end at their first quote.
PYGEOFILTER_STRING = 'SINGLE_QUOTED: "\'" /.*?/ "\'"'
# The last alternative of pygeofilter's condition_1 rule, after which boolean_condition goes.
PYGEOFILTER_PARENTHESES = '            | "(" condition ")"\n'
# pygeofilter's NOT takes a predicate alone: `NOT (a AND b)`, `NOT NOT a`, `NOT TRUE` were
# refused. CQL2's booleanFactor is NOT before any booleanPrimary, a condition in parentheses
# included.
PYGEOFILTER_NOT = (
    '            | "NOT"i predicate                                               -> not_\n'
    '            | "NOT"i "(" predicate ")"                                       -> not_\n'
)
STANDARD_NOT = '            | "NOT"i condition_1 -> not_\n'


class StringLiterals:
    """Where the string literals of a CQL2 text lie, to leave their contents alone."""

    def __init__(self, text: str):
        spans = [match.span() for match in STRING_LITERAL.finditer(text)]
        self.starts = [start for start, _end in spans]
        self.ends = [end for _start, end in spans]

    def contain(self, index: int) -> bool:
        found = bisect_right(self.starts, index) - 1
        return found >= 0 and index < self.ends[found]


class StandardStrings(cql2_text_parser.CQLTransformer):
    """pygeofilter's tree of a CQL2 text, the quotes escaped inside its strings read as one,
    and its timestamps read as RFC 3339 writes them."""

    def SINGLE_QUOTED(self, token):  # Lark calls a terminal's method by the terminal's name
        return ESCAPED_QUOTE.sub("'", token[1:-1])

    def DATETIME(self, token):
        return rfc3339_timestamp(str(token))

    def DATE(self, token):
        return rfc3339_date(str(token))

    def boolean_condition(self, children):
        return children[0]  # True or False, as the BOOLEAN terminal gives it


# RFC 3339's date-time (a space for the T, as its note allows; no offset: UTC).
RFC3339_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?"
)


def rfc3339_timestamp(text: str) -> datetime:
    """The instant a CQL2 timestamp names (UTC when it gives no offset). pygeofilter reads
    them with dateparser, which guesses: 2020-16-03 was read as 16 March, month 13 as
    January, 20260401T000000Z as now."""
    try:
        if not RFC3339_TIMESTAMP.fullmatch(text):
            raise ValueError(text)
        instant = datetime.fromisoformat(re.sub("[Zz]$", "+00:00", text))
    except ValueError as exc:
        raise FilterError(f"{text!r} is not an RFC 3339 timestamp.") from exc
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def rfc3339_date(text: str) -> date:
    try:
        if not DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise FilterError(f"{text!r} is not an RFC 3339 date.") from exc


# The characters of CQL2 text's `whitespace` production (OGC 21-065, annex A).
CQL2_WHITESPACE = (
    "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)


def standard_text_parser() -> Lark:
    """pygeofilter's CQL2 text parser, its strings as the standard writes them (GDAL sends
    `-where "operator = 'O''Brien'"` as it is, and real operators have apostrophes), a
    boolean literal read as a condition, as CQL2's booleanPrimary has it (`TRUE`, `TRUE AND
    ...`; ranked above the literal, which `(TRUE)` could also be), and NOT before any
    condition."""
    source = Path(cql2_text_parser.__file__).with_name("grammar.lark")
    grammar = source.read_text()
    for expected in (PYGEOFILTER_STRING, PYGEOFILTER_PARENTHESES, PYGEOFILTER_NOT):
        if expected not in grammar:
            raise RuntimeError(f"{source} no longer holds {expected!r}.")
    grammar = grammar.replace(PYGEOFILTER_STRING, f"SINGLE_QUOTED: /{STRING_LITERAL.pattern}/")
    grammar = grammar.replace(PYGEOFILTER_NOT, STANDARD_NOT)
    grammar = grammar.replace(
        PYGEOFILTER_PARENTHESES, PYGEOFILTER_PARENTHESES + "            | boolean_condition\n", 1
    )
    # Whitespace between tokens is CQL2's (its BNF's `whitespace`: line feeds and carriage
    # returns too, a filter read from a file, and Unicode's spaces), not only pygeofilter's
    # spaces and tabs.
    return Lark(
        grammar + "\nboolean_condition.2: BOOLEAN\n" + f"CQL2_WHITESPACE: /{CQL2_WHITESPACE}+/\n"
        "%ignore CQL2_WHITESPACE\n",
        parser="lalr",
        maybe_placeholders=False,
        transformer=StandardStrings(),
        source_path=str(source),
        import_paths=[str(source.parent.parent)],
    )


TEXT_PARSER = standard_text_parser()


TEMPORAL_FUNCTION = re.compile(
    r"\bT_(AFTER|BEFORE|DURING|EQUALS|INTERSECTS|DISJOINT|BEGINS|BEGUNBY|CONTAINS|ENDS|"
    r"ENDEDBY|MEETS|METBY|OVERLAPS|OVERLAPPEDBY)\s*\(",
    re.IGNORECASE,
)
TEMPORAL_INFIX = re.compile(r"\bT_[A-Z]+\b(?!\s*\()", re.IGNORECASE)
INTERVAL_LITERAL = re.compile(r"\bINTERVAL\s*\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)", re.IGNORECASE)
# A time literal: RFC 3339 allows a lowercase t and z, pygeofilter's grammar capitals only.
TIME_LITERAL = re.compile(r"\b(TIMESTAMP|DATE)(\s*\(\s*')([^']*)'", re.IGNORECASE)
# CQL2 keywords are case-insensitive; pygeofilter's grammar reads WKT's in capitals only.
WKT_KEYWORD = re.compile(
    r"\b(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)"
    r"(?=\s*(\(|Z\b|EMPTY\b))",
    re.IGNORECASE,
)
OPEN_START, OPEN_END = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"


def closing_parenthesis(text: str, start: int) -> tuple[int, int | None]:
    """Where the group opened just before START closes, and its first top-level comma."""
    depth, comma, index = 1, None, start
    while index < len(text):
        char = text[index]
        if char == "'":
            string = STRING_LITERAL.match(text, index)
            if string is None:
                break
            index = string.end() - 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index, comma
        elif char == "," and depth == 1 and comma is None:
            comma = index
        index += 1
    raise FilterError("The filter has an unclosed parenthesis.")


def interval_bound(value: str, end: bool) -> str:
    if value == "..":
        return OPEN_END if end else OPEN_START
    if DAY.fullmatch(value):  # a whole day
        rfc3339_date(value)
        return value + ("T23:59:59.999999Z" if end else "T00:00:00Z")
    return value.upper()  # RFC 3339's lowercase t and z, which pygeofilter does not read


def standard_cql2_text(text: str) -> str:
    """CQL2 text as pygeofilter's grammar reads it.

    The standard writes temporal predicates as functions, `T_AFTER(observed_at,
    TIMESTAMP('...'))`, and intervals of dates or with an open end (`INTERVAL('2026-01-01',
    '..')`); pygeofilter reads `observed_at T_AFTER TIMESTAMP('...')` and intervals of two
    timestamps. Keywords are case-insensitive; pygeofilter reads WKT's (`POINT(...)`), and the
    t and z of timestamps, in capitals only.
    """
    strings = StringLiterals(text)
    text = WKT_KEYWORD.sub(lambda m: m[0] if strings.contain(m.start()) else m[0].upper(), text)
    text = TIME_LITERAL.sub(
        lambda m: m[0] if strings.contain(m.start()) else f"{m[1]}{m[2]}{m[3].upper()}'", text
    )
    text = INTERVAL_LITERAL.sub(
        lambda m: (
            m[0]
            if strings.contain(m.start())
            else f"INTERVAL('{interval_bound(m[1], False)}','{interval_bound(m[2], True)}')"
        ),
        text,
    )
    strings = StringLiterals(text)
    for match in TEMPORAL_INFIX.finditer(text):
        if not strings.contain(match.start()):
            raise FilterError(
                f"Write {match[0].upper()} as a function: {match[0].upper()}(observed_at, "
                "TIMESTAMP('...'))."
            )
    out, index = [], 0
    while match := TEMPORAL_FUNCTION.search(text, index):
        if strings.contain(match.start()):
            out.append(text[index : match.end()])
            index = match.end()
            continue
        name = match[1].upper()
        refuse_lasting_relation(name)
        close, comma = closing_parenthesis(text, match.end())
        if comma is None:
            raise FilterError(f"T_{name}() takes two arguments.")
        first = standard_cql2_text(text[match.end() : comma])
        second = standard_cql2_text(text[comma + 1 : close])
        # pygeofilter has no T_DISJOINT; it reads T_INTERSECTS (as TOVERLAPS).
        relation = f"({first} T_INTERSECTS {second})" if name == "DISJOINT" else None
        relation = f"NOT {relation}" if relation else f"({first} T_{name} {second})"
        out.append(f"{text[index : match.start()]}{relation}")
        index = close + 1
    out.append(text[index:])
    return "".join(out)


# The operators of CQL2 JSON pygeofilter reads, with the fewest and most arguments each takes
# (None: no most).
JSON_OPERATORS = {
    **dict.fromkeys([*BINARY_OP_PREDICATES_MAP, "in"], (2, 2)),
    **dict.fromkeys(("and", "or"), (2, None)),
    **dict.fromkeys(("not", "isNull", "casei"), (1, 1)),
    "between": (3, 3),
}
ARGUMENT_COUNTS = {
    (1, 1): "one argument",
    (2, 2): "two arguments",
    (3, 3): "three arguments",
    (2, None): "two arguments or more",
}


def check_json_operation(node: dict) -> None:
    """The operator and the number of arguments of an operation, checked before pygeofilter
    calls its constructors with them, whose errors would speak of Python, not of CQL2."""
    op, args = node["op"], node.get("args")
    if not isinstance(op, str) or op not in JSON_OPERATORS:
        raise FilterError(f"unknown operator {orjson.dumps(op).decode()}.")
    if not isinstance(args, list):
        raise FilterError(f'"{op}" takes its arguments as a list: {{"op": "{op}", "args": [...]}}.')
    fewest, most = JSON_OPERATORS[op]
    if not fewest <= len(args) <= (most or len(args)):
        raise FilterError(f'"{op}" takes {ARGUMENT_COUNTS[fewest, most]}, not {len(args)}.')


def standard_cql2_json(node):
    """CQL2 JSON as pygeofilter reads it: BBOX in its standard order, BETWEEN with 3 args."""
    if node is None:
        raise FilterError('null is no CQL2 value: test a property with {"op": "isNull", ...}.')
    if isinstance(node, list):
        return [standard_cql2_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"} and isinstance(node["bbox"], list):
        # pygeofilter reads [x1, y1, x2, y2] in the order of an ENVELOPE: another box.
        return {"function": {"name": "bbox", "arguments": node["bbox"]}}
    interval = node.get("interval")
    if (
        set(node) == {"interval"}
        and isinstance(interval, list)
        and len(interval) == 2
        and all(isinstance(bound, str) for bound in interval)
    ):
        # Open ends ("..") and days, as in CQL2 text (pygeofilter reads ".." as nothing).
        # Read here, and handed on as Python writes them: what pygeofilter reads exactly.
        bounds = [interval_bound(interval[0], False), interval_bound(interval[1], True)]
        return {"interval": [rfc3339_timestamp(bound).isoformat() for bound in bounds]}
    if set(node) == {"timestamp"} and isinstance(node["timestamp"], str):
        return {"timestamp": rfc3339_timestamp(node["timestamp"]).isoformat()}
    if set(node) == {"date"} and isinstance(node["date"], str):
        return {"date": rfc3339_date(node["date"]).isoformat()}
    if "property" in node and not isinstance(node["property"], str):
        raise FilterError('a property is named by a string: {"property": "kind"}.')
    if "op" in node:
        check_json_operation(node)
    node = {key: standard_cql2_json(value) for key, value in node.items()}
    op = node.get("op")
    if isinstance(op, str) and op.lower().startswith("t_"):
        refuse_lasting_relation(op[2:])
        if op.lower() == "t_disjoint":  # pygeofilter has none: NOT T_INTERSECTS
            return {"op": "not", "args": [{**node, "op": "t_intersects"}]}
    args = node.get("args")
    if op == "between":
        node["args"] = [args[0], args[1:]]
    if op == "in" and not isinstance(args[1], list):
        raise FilterError(
            '"in" takes two arguments, a value and a list: [{"property": ...}, [...]].'
        )
    return node


def clause_of(
    tree, queryables: Mapping[str, Queryable], times_as_text=False, crs: Crs | None = None
) -> ColumnElement:
    try:
        builder = ClauseBuilder(queryables, times_as_text, crs)
        return require_predicate(builder.evaluate(tree), "A filter")
    except RecursionError as exc:
        raise FilterError("The filter nests too deeply.") from exc


NO_ENVELOPE = "ENVELOPE() is not a CQL2 literal; write BBOX(minLon, minLat, maxLon, maxLat)."
# ENVELOPE written as BBOX is, with commas, which the parser stops at before reading it.
ENVELOPE_CALL = re.compile(r"\bENVELOPE\s*\(", re.IGNORECASE)


def check_length(text: str) -> None:
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"Filters are limited to {MAX_FILTER_CHARS} characters.")


def parse_error_text(exc: Exception) -> str:
    """What the parser could not read, on one line: a character it met is named as Python
    writes it (a control character, quoted as it was, cut its message short)."""
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {exc.char!r} at line {exc.line}, column {exc.column}."
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def cql2_text_clause(
    text: str,
    queryables: Mapping[str, Queryable],
    crs: Crs | None = None,
    times_as_text: bool = False,
) -> ColumnElement:
    """The WHERE clause a CQL2 text filter means on these queryables.

    TIMES_AS_TEXT: compare time properties with strings too (`observed_at > '2026-01-01'`),
    as the pre-standard CQL text of GDAL 3.6 writes them (a day as `'2026-01-01T'`).
    """
    check_length(text)
    try:
        tree = TEXT_PARSER.parse(standard_cql2_text(text))
    except FilterError:
        raise
    except Exception as exc:  # the parser raises many types; all mean "not CQL2 text"
        if ENVELOPE_CALL.search(text):
            raise FilterError(NO_ENVELOPE) from exc
        raise FilterError(f"The filter is not valid CQL2 text: {parse_error_text(exc)}") from exc
    return clause_of(tree, queryables, times_as_text, crs)


def cql2_json_clause(
    text: str, queryables: Mapping[str, Queryable], crs: Crs | None = None
) -> ColumnElement:
    """The WHERE clause a CQL2 JSON filter means on these queryables."""
    check_length(text)
    try:
        tree = walk_cql_json(standard_cql2_json(orjson.loads(text)))
    except RecursionError as exc:
        raise FilterError("The filter nests too deeply.") from exc
    except ValueError as exc:  # orjson's, pygeofilter's and ours: what could not be read
        message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        reason = message or type(exc).__name__
        raise FilterError(f"The filter is not valid CQL2 JSON: {reason}") from exc
    except Exception as exc:  # a member of another type than CQL2's, met by pygeofilter
        raise FilterError(
            "The filter is not valid CQL2 JSON: a member holds a value of the wrong type."
        ) from exc
    return clause_of(tree, queryables, crs=crs)


# `property ILIKE 'pattern'` of the pre-standard CQL text: OGR writes its -where's ILIKE so.
PRE_STANDARD_ILIKE = re.compile(
    r"""(?P<lhs>"(?:""|[^"])+"|\b[A-Za-z_][\w.]*)\s+(?P<negated>NOT\s+)?ILIKE\s+"""
    r"(?P<rhs>" + STRING_LITERAL.pattern + ")",
    re.IGNORECASE,
)


def standard_likes(text: str) -> str:
    """The pre-standard `a ILIKE 'p'` as CQL2 writes it, `CASEI(a) LIKE CASEI('p')`."""
    strings = StringLiterals(text)
    return PRE_STANDARD_ILIKE.sub(
        lambda m: (
            m[0]
            if strings.contain(m.start())
            else f"CASEI({m['lhs']}) {'NOT ' if m['negated'] else ''}LIKE CASEI({m['rhs']})"
        ),
        text,
    )


FILTER_LANGUAGES = {
    "cql2-text": cql2_text_clause,
    "cql2-json": cql2_json_clause,
    # The name of CQL2 text before the standard, which GDAL 3.6 (Debian 12) sends, and the
    # only filter language it pushes to a server.
    "cql-text": lambda text, queryables, crs: cql2_text_clause(
        standard_likes(text), queryables, crs, times_as_text=True
    ),
}


def filter_clause(
    text: str, language: str, queryables: Mapping[str, Queryable], crs: Crs | None = None
) -> ColumnElement:
    """The WHERE clause of a filter in LANGUAGE (a key of FILTER_LANGUAGES), its geometry
    literals in CRS (default CRS84)."""
    return FILTER_LANGUAGES[language](text, queryables, crs)
