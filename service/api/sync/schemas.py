"""Offline sync: every change since a cursor."""

import marshmallow as ma
from marshmallow import validate

from ... import vocabulary as vocab
from ..devices.schemas import DevicePropertiesOutSchema
from ..fields import (
    BBox,
    FeatureCollectionSchema,
    FeatureSchema,
    LinkSchema,
    PointGeometrySchema,
    choice,
    utc_datetime,
)


class SyncArgsSchema(ma.Schema):
    since = ma.fields.String(
        validate=validate.Length(max=128),
        metadata={"description": "Cursor from the previous page; absent at first"},
    )
    bbox = BBox()
    limit = ma.fields.Integer(load_default=500, validate=validate.Range(1, 5000))


class SyncPropertiesSchema(DevicePropertiesOutSchema):
    """A device's properties, or a tombstone's: `deleted_at` (and `merged_into`) set, or a
    withdrawal (`withdrawn`, and nothing else but when)."""

    kind = choice(vocab.KIND_NAMES)  # a withdrawal says nothing of the device
    deleted_at = utc_datetime(allow_none=True)
    merged_into = ma.fields.UUID(allow_none=True)
    withdrawn = ma.fields.Boolean(metadata={"description": "Withdrawn from the public map"})


class SyncFeatureSchema(FeatureSchema):
    id = ma.fields.UUID()
    geometry = ma.fields.Nested(PointGeometrySchema, allow_none=True)
    properties = ma.fields.Nested(SyncPropertiesSchema)


class SyncPageSchema(FeatureCollectionSchema):
    features = ma.fields.List(
        ma.fields.Nested(SyncFeatureSchema),
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
