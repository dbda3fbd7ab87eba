"""What a map client sends and receives for vector tiles: a kind filter and TileJSON."""

import marshmallow as ma

from ... import vocabulary as vocab
from ..fields import ValueList, choice


class TileQueryArgsSchema(ma.Schema):
    """Filters of the device tiles; unknown parameters are refused."""

    class Meta:
        unknown = ma.RAISE

    kind = ValueList(
        choice(vocab.KIND_NAMES), metadata={"description": "Comma-separated kinds to keep"}
    )


class NoQueryArgsSchema(ma.Schema):
    """No parameter: any one sent is refused rather than silently ignored."""

    class Meta:
        unknown = ma.RAISE


class VectorLayerSchema(ma.Schema):
    id = ma.fields.String()
    description = ma.fields.String()
    minzoom = ma.fields.Integer()
    maxzoom = ma.fields.Integer()
    fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


class TileJSONSchema(ma.Schema):
    """TileJSON 3.0.0: where the tiles are and what their layer holds."""

    tilejson = ma.fields.String(metadata={"example": "3.0.0"})
    name = ma.fields.String()
    description = ma.fields.String()
    attribution = ma.fields.String()
    scheme = ma.fields.String()
    tiles = ma.fields.List(ma.fields.String())
    minzoom = ma.fields.Integer()
    maxzoom = ma.fields.Integer()
    bounds = ma.fields.List(ma.fields.Float())
    center = ma.fields.List(ma.fields.Float())
    vector_layers = ma.fields.List(ma.fields.Nested(VectorLayerSchema))
