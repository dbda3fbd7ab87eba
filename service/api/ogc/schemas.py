"""OGC API Features documents and query parameters (Part 1 core + Part 3 filtering)."""

import marshmallow as ma
from marshmallow import validate

from ...geo.collections import OgcCollection
from ...geo.crs import CRS84, SUPPORTED
from ..fields import (
    BBox,
    DateTimeInterval,
    FeatureCollectionSchema,
    FeatureSchema,
    LinkSchema,
    ValueList,
    check_geographic,
)

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100


class PageSize(ma.fields.Integer):
    """OGC API Features' `limit`: a value above MAX_LIMIT is served as MAX_LIMIT, never refused
    (the standard's own example asks for 50,000 and gets 10,000 and a next link; GDAL's
    PAGE_SIZE may ask for more, and read nothing when refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return min(super()._deserialize(value, attr, data, **kwargs), MAX_LIMIT)


class FormatArgsSchema(ma.Schema):
    """Only `f` is understood; any other parameter is refused with 400."""

    class Meta:
        unknown = ma.RAISE

    f = ma.fields.String(
        validate=validate.OneOf(["json", "geojson"]),
        metadata={"description": "Response format: json (application/json) or geojson"},
    )


# GDAL repeats the query string of an `OAPIF:https://host/ogc?filter=...` URL on every request
# it makes, the landing page and the API definition included: documents ignore the parameters
# an items request would take (and still refuse any other).
ITEMS_PARAMETERS = {
    "bbox", "bbox-crs", "crs", "datetime", "limit", "cursor", "filter", "filter-lang",
    "filter-crs",
}  # fmt: skip


class DocumentArgsSchema(FormatArgsSchema):
    """`f`; the parameters of an items request are ignored, any other is refused with 400."""

    # Parameters of an items request that this document reads itself.
    own_items_parameters: frozenset[str] = frozenset()

    @ma.pre_load
    def ignore_items_parameters(self, data, **_kwargs):
        ignored = (ITEMS_PARAMETERS | PROPERTY_PARAMETERS) - self.own_items_parameters
        return {key: value for key, value in data.items() if key not in ignored}


class Repeatable:
    """A parameter that may come more than once: GDAL sends an `OAPIF:` URL's `filter` and
    `bbox` with every request, and its own besides when told `-where` or `-spat`. Every value,
    in order, each validated (and documented) as the one value it is."""

    is_multiple = True  # webargs then reads every value, and the parser takes repeats

    def _deserialize(self, value, attr, data, **kwargs):
        one = super()._deserialize
        return [
            one(item, attr, data, **kwargs)
            for item in (value if isinstance(value, list) else [value])
        ]

    def _validate(self, value):
        for item in value:
            super()._validate(item)


class RepeatableString(Repeatable, ma.fields.String):
    pass


class RepeatableBBox(Repeatable, BBox):
    pass


class ItemsArgsSchema(FormatArgsSchema):
    """Parameters of every collection's items; the collection adds its property filters."""

    bbox = RepeatableBBox(
        heights=True,
        geographic=False,
        metadata={
            "description": "minLon,minLat,maxLon,maxLat in CRS84 (four numbers, or six with "
            "heights, ignored; minLon greater than maxLon crosses the antimeridian); in the "
            "axis order of `bbox-crs` when given; given more than once (as GDAL sends a URL's "
            "bbox and its -spat), features lie in every box"
        },
    )
    bbox_crs = ma.fields.String(
        data_key="bbox-crs",
        validate=validate.OneOf(list(SUPPORTED)),
        metadata={"description": "CRS of bbox (default CRS84)"},
    )
    crs = ma.fields.String(
        validate=validate.OneOf(list(SUPPORTED)),
        metadata={"description": "CRS of the geometries returned (default CRS84)"},
    )
    datetime = DateTimeInterval()
    limit = PageSize(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1),
        metadata={
            "maximum": MAX_LIMIT,
            "description": f"Page size (default {DEFAULT_LIMIT}); a page holds {MAX_LIMIT} "
            f"features at most, and a larger limit is served as {MAX_LIMIT}, with a next link",
        },
    )
    cursor = ma.fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "Opaque position from a `next` or `prev` link"},
    )
    filter = RepeatableString(
        metadata={
            "description": "CQL2 filter on the queryables, as text (e.g. "
            "`kind = 'alpr' AND S_INTERSECTS(geometry, BBOX(2.2,48.8,2.5,48.9))`) or JSON; "
            "given more than once (as GDAL sends a URL's filter and its -where), every one "
            "must hold"
        }
    )
    filter_lang = RepeatableString(
        data_key="filter-lang",
        validate=validate.OneOf(["cql2-text", "cql2-json", "cql-text"]),
        metadata={
            "description": "cql2-text (the default), cql2-json, or cql-text: CQL2 text where a "
            "time may also be written as a string (what GDAL 3.6 sends); the same for every "
            "filter of the request"
        },
    )
    filter_crs = ma.fields.String(
        data_key="filter-crs",
        validate=validate.OneOf(list(SUPPORTED)),
        metadata={
            "description": "The CRS of the filter's geometry literals, one of the collection's "
            "CRSs (default CRS84, longitude then latitude; EPSG:4326 is latitude first)"
        },
    )

    @ma.validates_schema
    def bbox_in_its_crs(self, data, **_kwargs):
        if "bbox" not in data:
            return
        crs = SUPPORTED[data.get("bbox_crs", CRS84)]
        try:
            for west, south, east, north in data["bbox"]:
                if crs.is_storage:
                    check_geographic(west, south, east, north)
                elif crs.srid == 4326:  # latitude first; a greater minLon crosses ±180 too
                    check_geographic(south, west, north, east)
                elif west > east or south > north:
                    raise ma.ValidationError("A bbox's minimums must not exceed its maximums.")
        except ma.ValidationError as exc:
            raise ma.ValidationError(exc.messages, "bbox") from exc


class NamedDownloadArgsSchema(ma.Schema):
    """A download named by its file's extension: districts may be narrowed to some levels."""

    level = ValueList(
        ma.fields.String(validate=validate.Length(1, 32)),
        metadata={"description": "Districts only: these levels (comma-separated)"},
    )


class DownloadArgsSchema(NamedDownloadArgsSchema):
    """The file format; districts may be narrowed to some levels."""

    f = ma.fields.String(
        load_default="gpkg",
        validate=validate.OneOf(["gpkg", "fgb"]),
        metadata={"description": "gpkg (GeoPackage, the default) or fgb (FlatGeobuf)"},
    )


class ItemArgsSchema(DocumentArgsSchema):
    """Parameters of one feature: `f`, and the CRS of its geometry. GDAL asks for one feature
    with the query string of its `OAPIF:` URL too: the other items parameters are ignored."""

    own_items_parameters = frozenset({"crs"})

    crs = ma.fields.String(
        validate=validate.OneOf(list(SUPPORTED)),
        metadata={"description": "CRS of the geometry returned (default CRS84)"},
    )


def property_filter_field(collection: OgcCollection, name: str) -> ma.fields.Field:
    queryable = collection.queryables[name]
    if queryable.enum:
        value = ma.fields.String(validate=validate.OneOf(queryable.enum))
    elif queryable.type in ("number", "integer"):
        value = ma.fields.Float(allow_nan=False)
    else:
        value = ma.fields.String(validate=validate.Length(max=255))
    return ValueList(
        value, metadata={"description": f"{queryable.description} (comma-separated: any of)"}
    )


# Every property parameter of a collection (filled in as item schemas are built).
PROPERTY_PARAMETERS: set[str] = set()


def items_args_schema(collection: OgcCollection) -> type[ItemsArgsSchema]:
    """The items parameters of one collection: the common ones plus its property filters."""
    fields = {name: property_filter_field(collection, name) for name in collection.property_filters}
    PROPERTY_PARAMETERS.update(fields)
    name = "".join(part.title() for part in collection.id.split("_")) + "ItemsArgsSchema"
    return type(name, (ItemsArgsSchema,), fields)


class LandingPageSchema(ma.Schema):
    title = ma.fields.String()
    description = ma.fields.String()
    links = ma.fields.List(ma.fields.Nested(LinkSchema))


class ConformanceSchema(ma.Schema):
    conformsTo = ma.fields.List(ma.fields.String())


class ExtentSchema(ma.Schema):
    spatial = ma.fields.Dict(metadata={"description": "bbox (CRS84) of the data"})
    temporal = ma.fields.Dict(metadata={"description": "interval of the data (RFC 3339)"})


class CollectionSchema(ma.Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    itemType = ma.fields.String()
    crs = ma.fields.List(ma.fields.String())
    storageCrs = ma.fields.String()
    attribution = ma.fields.String(metadata={"description": "Whom to credit, with licences"})
    extent = ma.fields.Nested(ExtentSchema)
    links = ma.fields.List(ma.fields.Nested(LinkSchema))


class CollectionsSchema(ma.Schema):
    collections = ma.fields.List(ma.fields.Nested(CollectionSchema))
    links = ma.fields.List(ma.fields.Nested(LinkSchema))


class SchemaDocumentSchema(ma.Schema):
    """A JSON Schema of the collection's features (OGC API Features Part 5's returnables)."""

    schema = ma.fields.String(data_key="$schema", metadata={"description": "JSON Schema dialect"})
    id = ma.fields.String(data_key="$id", metadata={"description": "This document's URL"})
    title = ma.fields.String()
    type = ma.fields.String()
    properties = ma.fields.Dict()


class FeatureSchemaDocumentSchema(SchemaDocumentSchema):
    """A JSON Schema of one GeoJSON Feature of the collection."""

    required = ma.fields.List(ma.fields.String(), metadata={"description": "Members required"})


class QueryablesSchema(SchemaDocumentSchema):
    """A JSON Schema of the properties `filter` and property parameters may use."""

    additionalProperties = ma.fields.Boolean(
        metadata={"description": "Queryables: false, no other property may be filtered on"}
    )
    queryables = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Queryables: the same as a list of {id, type}, the draft "
            "standard's form that GDAL 3.6 reads"
        },
    )


class OgcFeatureSchema(FeatureSchema):
    id = ma.fields.String()
    geometry = ma.fields.Dict()
    properties = ma.fields.Dict()
    links = ma.fields.List(ma.fields.Nested(LinkSchema))


class OgcFeatureCollectionSchema(FeatureCollectionSchema):
    features = ma.fields.List(ma.fields.Nested(OgcFeatureSchema))
    numberReturned = ma.fields.Integer()
    numberMatched = ma.fields.Integer(
        metadata={"description": "Given when the first page holds every match"}
    )
    attribution = ma.fields.String(metadata={"description": "Whom to credit, with licences"})
    links = ma.fields.List(ma.fields.Nested(LinkSchema))
