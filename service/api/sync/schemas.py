"""Offline sync: every change since a cursor."""

import marshmallow as ma
from marshmallow import validate

from ..devices.schemas import DeviceFeatureSchema
from ..fields import BBox, LinkSchema


class SyncArgsSchema(ma.Schema):
    since = ma.fields.String(
        validate=validate.Length(max=128),
        metadata={"description": "Cursor from the previous page; absent at first"},
    )
    bbox = BBox()
    limit = ma.fields.Integer(load_default=500, validate=validate.Range(1, 5000))


class SyncPageSchema(ma.Schema):
    type = ma.fields.String(metadata={"example": "FeatureCollection"})
    features = ma.fields.List(
        ma.fields.Nested(DeviceFeatureSchema),
        metadata={
            "description": "Changed devices; a tombstone has `deleted_at` (and `merged_into`) "
            "set. A pin withdrawn from the public map (rejected after it was approved) comes as "
            "a tombstone with `withdrawn: true`, no geometry and no other property"
        },
    )
    numberReturned = ma.fields.Integer()
    next_cursor = ma.fields.String(metadata={"description": "Pass as `since` next time"})
    has_more = ma.fields.Boolean(metadata={"description": "Whether to fetch again right away"})
    links = ma.fields.List(ma.fields.Nested(LinkSchema))
