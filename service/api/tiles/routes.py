"""Vector tiles of devices (Mapbox Vector Tile), clustered below street level, and TileJSON."""

import hashlib
from urllib.parse import urlencode

from flask import Response, request, url_for
from flask.views import MethodView
from marshmallow import RAISE

from ...caching import share, tile_keys
from ...db import run_statement
from ...errors import NotFound
from ...extensions import Blueprint
from ...geo.tiles import DETAIL_ZOOM, LAYER, MAX_ZOOM, device_tile_statement
from .schemas import TileJSONSchema, TileQueryArgsSchema

MVT = "application/vnd.mapbox-vector-tile"
# Pins change often but a browser can show a minute-old tile; the ETag makes revalidation
# cheap. Shared caches keep tiles longer: a change of devices purges the tiles it touched.
TILE_MAX_AGE = 60
# TileJSON changes only with the server's address or version.
TILEJSON_MAX_AGE = 3600

# What the features of the layer carry, for TileJSON's vector_layers.
TILE_FIELDS = {
    "cluster": "Boolean: true for a cluster of several devices",
    "count": "Number of devices in the cluster",
    "kinds": "Comma-separated kinds inside the cluster",
    "id": "Device UUID (single devices)",
    "kind": "Kind of device (single devices)",
    "camera_type": "fixed, dome or panning",
    "direction": "Comma-separated viewing directions in degrees",
    "angle": "Field of view in degrees",
    "status": "active, planned, removed or unknown",
}

blp = Blueprint(
    "tiles",
    __name__,
    url_prefix="/tiles",
    description="Devices as Mapbox Vector Tiles, clustered server-side, with a TileJSON document.",
)


def check_tile(z: int, x: int, y: int) -> None:
    if z > MAX_ZOOM:
        raise NotFound(f"Tiles go from zoom 0 to {MAX_ZOOM}.", field="z")
    for name, value in (("x", x), ("y", y)):
        if value >= 2**z:
            raise NotFound(f"At zoom {z}, {name} goes from 0 to {2**z - 1}.", field=name)


@blp.route("/devices/<int:z>/<int:x>/<int:y>.mvt")
class DeviceTileViews(MethodView):
    @blp.arguments(TileQueryArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(
        200,
        content_type=MVT,
        description="A tile with a `devices` layer: devices, and clusters of them",
        headers={
            "ETag": {"schema": {"type": "string"}},
            "Cache-Control": {"schema": {"type": "string"}},
            "Surrogate-Key": {
                "schema": {"type": "string"},
                "description": "tile/{z}/{x}/{y}: what a cache purges when a device there "
                "changes (docs/deployment.md)",
            },
        },
    )
    @blp.alt_response(204, description="No device in this tile")
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(400, 404)
    def get(self, z, x, y, kind=()):
        """Read one vector tile of devices (clusters with their count and kinds when dense)"""
        check_tile(z, x, y)
        share(tile_keys(z, x, y), max_age=TILE_MAX_AGE)
        tile = run_statement(device_tile_statement(z, x, y, sorted(set(kind))))
        data = bytes(tile.mvt or b"")
        etag = hashlib.blake2b(data, digest_size=12).hexdigest()
        headers = {"ETag": f'"{etag}"'}
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        if not data:
            return Response(status=204, headers=headers)
        return Response(data, mimetype=MVT, headers=headers)


@blp.route("/devices.json")
class DeviceTileJSONViews(MethodView):
    @blp.arguments(TileQueryArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, TileJSONSchema)
    @blp.problems(400)
    def get(self, kind=()):
        """Describe the device tiles as TileJSON, for MapLibre, OpenLayers or Leaflet"""
        share([], max_age=TILEJSON_MAX_AGE)
        template = url_for("tiles.DeviceTileViews", z=0, x=0, y=0, _external=True).replace(
            "/0/0/0.mvt", "/{z}/{x}/{y}.mvt"
        )
        if kind:
            template += "?" + urlencode({"kind": ",".join(kind)})
        # The whole world: bounds computed from the table would also outline pins that are not
        # public (pending, deleted), and any filter-aware extent would cost a scan.
        bounds = [-180.0, -85.0511, 180.0, 85.0511]
        return {
            "tilejson": "3.0.0",
            "name": "Vigie devices",
            "description": f"Surveillance devices; below zoom {DETAIL_ZOOM} grid cells of 1/8 "
            "tile side hold clusters, from it on cells of 1/64.",
            "attribution": "Vigie contributors",
            "scheme": "xyz",
            "tiles": [template],
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "bounds": bounds,
            "center": [0.0, 0.0, 2],
            "vector_layers": [
                {
                    "id": LAYER,
                    "description": "Devices and clusters of devices",
                    "minzoom": 0,
                    "maxzoom": MAX_ZOOM,
                    "fields": TILE_FIELDS,
                }
            ],
        }
