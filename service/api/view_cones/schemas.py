"""View cones of cameras as GeoJSON."""

import marshmallow as ma
from marshmallow import validate

from ..fields import BBox, FeatureCollectionSchema, FeatureSchema, LinkSchema
from ..statistics.schemas import DeviceSelectionArgsSchema


class ViewConesArgsSchema(DeviceSelectionArgsSchema):
    bbox = BBox(required=True)
    limit = ma.fields.Integer(
        validate=validate.Range(1, 10000), metadata={"description": "At most (default 1000)"}
    )


class ViewConePropertiesSchema(ma.Schema):
    kind = ma.fields.String()
    camera_type = ma.fields.String(allow_none=True)
    direction = ma.fields.List(ma.fields.Integer(), allow_none=True)
    fov = ma.fields.Float(allow_none=True, metadata={"description": "Degrees; null for a disc"})
    radius_m = ma.fields.Float()
    shape = ma.fields.String(metadata={"description": "sector or disc"})


class ViewConeSchema(FeatureSchema):
    id = ma.fields.UUID(metadata={"description": "The device's id"})
    geometry = ma.fields.Dict(metadata={"description": "A GeoJSON Polygon or MultiPolygon"})
    properties = ma.fields.Nested(ViewConePropertiesSchema)


class ViewConeCollectionSchema(FeatureCollectionSchema):
    features = ma.fields.List(ma.fields.Nested(ViewConeSchema))
    numberReturned = ma.fields.Integer()
    truncated = ma.fields.Boolean(metadata={"description": "More cameras than limit in view"})
    links = ma.fields.List(
        ma.fields.Nested(LinkSchema),
        metadata={"description": "self, and a license link per source of the devices"},
    )
