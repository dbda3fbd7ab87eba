"""Districts as GeoJSON Features with simplified geometry."""

import marshmallow as ma
from marshmallow import validate

from ..fields import BBox, FeatureCollectionSchema, FeatureSchema, LinkSchema, ValueList
from ..statistics.schemas import CODE_MAX_CHARS, MAX_CODES, code_field

TOLERANCE = ma.fields.Float(
    allow_nan=False,
    validate=validate.Range(0, 10000),
    metadata={"description": "Simplification tolerance in metres (default 10; 0 = exact)"},
)


class DistrictQueryArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    level = ma.fields.String(validate=validate.Length(1, CODE_MAX_CHARS))
    parent = ValueList(code_field(), validate=validate.Length(max=MAX_CODES))
    bbox = BBox()
    tolerance = TOLERANCE
    limit = ma.fields.Integer(
        validate=validate.Range(1, 50000), metadata={"description": "At most (default 1000)"}
    )
    cursor = ma.fields.String(
        validate=validate.Length(1, CODE_MAX_CHARS),
        metadata={"description": "Where a page begins: from the `next` link of the page before"},
    )


class DistrictOneArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    tolerance = TOLERANCE


class DistrictPropertiesSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    level = ma.fields.String()
    parent_code = ma.fields.String(allow_none=True)
    population = ma.fields.Integer(allow_none=True)
    population_year = ma.fields.Integer(allow_none=True)
    population_source = ma.fields.String(allow_none=True)
    area_km2 = ma.fields.Float(metadata={"description": "Geodesic area on the WGS84 spheroid"})
    dataset = ma.fields.String()


class DistrictFeatureSchema(FeatureSchema):
    id = ma.fields.String()
    geometry = ma.fields.Dict(metadata={"description": "A GeoJSON MultiPolygon"})
    properties = ma.fields.Nested(DistrictPropertiesSchema)


class DistrictCollectionSchema(FeatureCollectionSchema):
    features = ma.fields.List(ma.fields.Nested(DistrictFeatureSchema))
    numberReturned = ma.fields.Integer()
    truncated = ma.fields.Boolean(metadata={"description": "More districts follow: see `next`"})
    links = ma.fields.List(
        ma.fields.Nested(LinkSchema),
        metadata={"description": "`self`, and `next` while more follow"},
    )
