"""Vector tiles of devices (Mapbox Vector Tile), clustered below street level, and TileJSON."""

import hashlib
import math
import time
from urllib.parse import urlencode

import orjson
from flask import Response, request, url_for
from flask.views import MethodView
from marshmallow import RAISE

from ...caching import ALL_DEVICES, share, tile_keys
from ...db import run_statement, session
from ...delivery import conditional_response
from ...errors import NotFound
from ...extensions import BINARY, ETAG_HEADER, Blueprint
from ...geo.declared.tiles import declared_tile_statement
from ...geo.devices.filter import DeviceFilter
from ...geo.tiles import (
    DETAIL_ZOOM,
    LAYER,
    MAX_ZOOM,
    device_tile_statement,
    select_device_extent,
    select_last_device_change,
)
from ..credits import (
    attribution_html,
    declared_site_credits,
    device_credits,
    with_credit_headers,
)
from ..geojson import JSON
from .schemas import NoQueryArgsSchema, TileJSONSchema, TileQueryArgsSchema

MVT = "application/vnd.mapbox-vector-tile"
TILE_HEADERS = {**ETAG_HEADER, "Cache-Control": {"schema": {"type": "string"}}}
# Pins change often but a browser can show a minute-old tile; the ETag makes revalidation
# cheap. Shared caches keep tiles longer: a change of devices purges the tiles it touched.
TILE_MAX_AGE = 60
# TileJSON changes with the devices too: its centre, and its credit (OpenStreetMap's once its
# cameras are imported), which a map shows. Kept as long as a tile, revalidated by its ETag.
TILEJSON_MAX_AGE = 60

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


WORLD = (-180.0, -85.0511, 180.0, 85.0511)
# The extent of the public devices scans them all: each worker reuses it for a minute (as
# long as maps may keep the TileJSON itself), unless a device changed meanwhile (the last
# change time is one probe of devices_updated_at_idx).
EXTENT_MAX_AGE_SECONDS = 60
EXTENTS: dict[tuple, tuple[float, tuple]] = {}


def devices_extent(kinds: tuple[str, ...]) -> tuple[float, float, float, float]:
    """West, south, east, north of the public devices of KINDS (all: empty), or the world."""
    now = time.monotonic()
    key = (kinds, session.execute(select_last_device_change()).scalar())
    cached = EXTENTS.get(key)
    if cached is not None and now - cached[0] < EXTENT_MAX_AGE_SECONDS:
        return cached[1]
    row = session.execute(select_device_extent(DeviceFilter(kinds=list(kinds)))).one()
    extent = WORLD if row.west is None else (row.west, row.south, row.east, row.north)
    EXTENTS.clear()  # one entry per kinds: older changes are of no use
    EXTENTS[key] = (now, extent)
    return extent


def center_of(extent) -> list:
    """[lon, lat, zoom]: the middle of EXTENT, at the zoom that shows it whole."""
    west, south, east, north = extent
    span = max(east - west, (north - south) * 2, 360 / 2**16)
    zoom = max(0, min(16, math.floor(math.log2(360 / span))))
    return [round((west + east) / 2, 6), round((south + north) / 2, 6), zoom]


def check_tile(z: int, x: int, y: int) -> None:
    if z > MAX_ZOOM:
        raise NotFound(f"Tiles go from zoom 0 to {MAX_ZOOM}.", field="z")
    for name, value in (("x", x), ("y", y)):
        if value >= 2**z:
            raise NotFound(f"At zoom {z}, {name} goes from 0 to {2**z - 1}.", field=name)


def tile_response(mvt) -> Response:
    """A tile's bytes with their ETag; 304 when the client has them, 204 when empty."""
    data = bytes(mvt or b"")
    etag = hashlib.blake2b(data, digest_size=12).hexdigest()
    headers = {"ETag": f'"{etag}"'}
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, mimetype=MVT, headers=headers)
    if not data:
        return Response(status=204, mimetype=MVT, headers=headers)
    return Response(data, mimetype=MVT, headers=headers)


@blp.route("/devices/<int:z>/<int:x>/<int:y>.mvt")
class DeviceTileViews(MethodView):
    @blp.arguments(TileQueryArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, content_type=MVT)
    @blp.served_as(
        {MVT: BINARY},
        description="A tile with a `devices` layer: devices, and clusters of them",
        headers=TILE_HEADERS
        | {
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
        return tile_response(tile.mvt)


@blp.route("/declared/<int:z>/<int:x>/<int:y>.mvt")
class DeclaredTileViews(MethodView):
    @blp.arguments(NoQueryArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, content_type=MVT)
    @blp.served_as(
        {MVT: BINARY},
        description="A tile with a `declared` layer: declared sites with id, dataset, "
        "source_id, status (verified, partially_verified, unverified), declared_count, matched",
        headers=TILE_HEADERS,
    )
    @blp.alt_response(204, description="No declared site in this tile")
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(400, 404)
    def get(self, _args, z, x, y):
        """Read one vector tile of declared sites and their status (docs/declared.md)"""
        check_tile(z, x, y)
        # A site's status follows devices up to its match distance away, in other tiles too:
        # no tile key names every change that alters it. Kept as wide answers are, a minute.
        share([ALL_DEVICES], max_age=TILE_MAX_AGE)
        tile = session.execute(declared_tile_statement(z, x, y)).scalar_one()
        return with_credit_headers(tile_response(tile), declared_site_credits())


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
        # Bounds are where clients may ask for tiles (TileJSON 3.0: never outside): the whole
        # world, since a device may be pinned anywhere while a map stays open. The centre is
        # the public devices' (of the kinds asked), at the zoom that shows them whole, so that a
        # map opens on them.
        extent = devices_extent(tuple(sorted(set(kind))))
        tilejson = {
            "tilejson": "3.0.0",
            "name": "Vigie devices",
            "description": f"Surveillance devices; below zoom {DETAIL_ZOOM} grid cells of 1/8 "
            "tile side hold clusters, from it on cells of 1/64.",
            "attribution": attribution_html(device_credits()),
            "scheme": "xyz",
            "tiles": [template],
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "bounds": list(WORLD),
            "center": center_of(extent),
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
        return conditional_response(orjson.dumps(tilejson), JSON)
