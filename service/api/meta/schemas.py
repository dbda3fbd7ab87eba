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
    replicas = ma.fields.List(
        ma.fields.Nested(lambda: ReplicaHealthSchema()),
        metadata={"description": "The read replicas as this process last found them (admins only)"},
    )


class ReplicaHealthSchema(ma.Schema):
    name = ma.fields.String(metadata={"description": "host, port and database"})
    usable = ma.fields.Boolean(metadata={"description": "whether reads go to it"})
    lag_seconds = ma.fields.Float(
        allow_none=True,
        metadata={"description": "since when it lacks WAL the primary had; null: unknown"},
    )
    replayed = ma.fields.String(
        allow_none=True, metadata={"description": "its replayed WAL position; null: down"}
    )
    reads = ma.fields.Integer(metadata={"description": "reads this process sent it"})
    failures = ma.fields.Integer(metadata={"description": "checks or reads it failed"})
