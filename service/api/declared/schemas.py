"""Declared lists and their sites: provenance, statuses and the devices found at them."""

import marshmallow as ma
from marshmallow import validate

from ...geo.declared.matching import SITE_STATUSES
from ..fields import BBox, FeatureCollectionSchema, FeatureSchema, LinkSchema, ValueList

NAME_MAX_CHARS = 100


def choice(values):
    return ma.fields.String(validate=validate.OneOf(values))


class DeclaredSiteQueryArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    dataset = ma.fields.String(
        validate=validate.Length(1, NAME_MAX_CHARS),
        metadata={"description": "Only the sites of this dataset (by name)"},
    )
    status = ValueList(
        choice(SITE_STATUSES),
        metadata={"description": "Comma-separated statuses, e.g. `unverified`: places to check"},
    )
    bbox = BBox()
    limit = ma.fields.Integer(
        validate=validate.Range(1, 10000), metadata={"description": "Page size (default 1000)"}
    )
    cursor = ma.fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "Opaque cursor from a `next` link"},
    )


class DeclaredVersionSchema(ma.Schema):
    version = ma.fields.Integer()
    publisher = ma.fields.String()
    published_on = ma.fields.Date(allow_none=True)
    source_url = ma.fields.String(allow_none=True)
    licence = ma.fields.String(allow_none=True)
    sha256 = ma.fields.String(metadata={"description": "SHA-256 of the imported file"})
    sites = ma.fields.Integer()
    imported_at = ma.fields.DateTime()
    added = ma.fields.List(ma.fields.String(), metadata={"description": "Source ids"})
    removed = ma.fields.List(ma.fields.String(), metadata={"description": "Source ids"})
    changed = ma.fields.List(ma.fields.String(), metadata={"description": "Source ids"})


class DeclaredFiguresSchema(ma.Schema):
    sites = ma.fields.Integer()
    declared_devices = ma.fields.Integer(metadata={"description": "Sum of declared counts"})
    matched = ma.fields.Integer(
        metadata={"description": "Declared devices found: per site, at most its declared count"}
    )
    verified = ma.fields.Integer()
    partially_verified = ma.fields.Integer()
    unverified = ma.fields.Integer()


class DeclaredDatasetSchema(ma.Schema):
    name = ma.fields.String()
    publisher = ma.fields.String()
    published_on = ma.fields.Date(allow_none=True)
    source_url = ma.fields.String(allow_none=True)
    licence = ma.fields.String(allow_none=True)
    sha256 = ma.fields.String()
    version = ma.fields.Integer()
    match_distance_m = ma.fields.Float()
    imported_at = ma.fields.DateTime()
    figures = ma.fields.Nested(DeclaredFiguresSchema)
    versions = ma.fields.List(ma.fields.Nested(DeclaredVersionSchema))


class DeclaredSitePropertiesSchema(ma.Schema):
    dataset = ma.fields.String()
    source_id = ma.fields.String(metadata={"description": "The publisher's id of the site"})
    kinds = ma.fields.List(ma.fields.String())
    declared_count = ma.fields.Integer()
    address = ma.fields.String(allow_none=True)
    commissioned = ma.fields.String(allow_none=True, metadata={"description": "As published"})
    commissioned_on = ma.fields.Date(allow_none=True)
    status = choice(SITE_STATUSES)
    matched = ma.fields.Integer(metadata={"description": "Observed devices matching the site"})
    devices = ma.fields.List(ma.fields.UUID(), metadata={"description": "Their ids"})
    match_distance_m = ma.fields.Float()
    attributes = ma.fields.Dict(metadata={"description": "The file's other fields"})


class DeclaredSiteFeatureSchema(FeatureSchema):
    id = ma.fields.UUID()
    geometry = ma.fields.Dict(metadata={"description": "A GeoJSON Point"})
    properties = ma.fields.Nested(DeclaredSitePropertiesSchema)


class DeclaredSiteCollectionSchema(FeatureCollectionSchema):
    features = ma.fields.List(ma.fields.Nested(DeclaredSiteFeatureSchema))
    numberReturned = ma.fields.Integer()
    links = ma.fields.List(ma.fields.Nested(LinkSchema))


class DeviceDeclarationSiteSchema(ma.Schema):
    site = ma.fields.UUID()
    dataset = ma.fields.String()
    source_id = ma.fields.String()
    distance_m = ma.fields.Float()


class DeviceDeclarationSchema(ma.Schema):
    device = ma.fields.UUID()
    declared = ma.fields.Boolean(
        metadata={"description": "Whether the device matches a site of a declared list"}
    )
    sites = ma.fields.List(ma.fields.Nested(DeviceDeclarationSiteSchema))
