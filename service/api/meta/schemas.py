"""Schemas of the service's self-description: device kinds and health."""

import marshmallow as ma


class KindSchema(ma.Schema):
    name = ma.fields.String()
    description = ma.fields.String()
    osm_tags = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "OpenStreetMap tags this kind maps to"},
    )


class KindListSchema(ma.Schema):
    kinds = ma.fields.List(ma.fields.Nested(KindSchema))


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    database = ma.fields.String(
        metadata={"description": "PostgreSQL version string (to admins only)"}
    )
    postgis = ma.fields.String(metadata={"description": "PostGIS library version (to admins only)"})
