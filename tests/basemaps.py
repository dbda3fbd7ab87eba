"""Small PMTiles basemaps for the web app's tests: polygons cut into Mapbox vector tiles of a
few zoom levels, in the layers of the Protomaps basemap schema that the app's style paints."""

import gzip
import math

import mapbox_vector_tile
import shapely
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from shapely.geometry import box, shape
from shapely.ops import unary_union

EARTH_HALF_M = 20037508.342789244
EXTENT = 4096


def to_mercator(lon, lat):
    x = lon * EARTH_HALF_M / 180
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * EARTH_HALF_M / math.pi
    return x, y


def tile_range(z: int, west: float, south: float, east: float, north: float):
    def tile(lon, lat):
        n = 2**z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return min(x, n - 1), min(y, n - 1)

    (x0, y0), (x1, y1) = tile(west, north), tile(east, south)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def tile_bounds(z: int, x: int, y: int) -> tuple:
    size = 2 * EARTH_HALF_M / 2**z
    west = -EARTH_HALF_M + x * size
    north = EARTH_HALF_M - y * size
    return west, north - size, west + size, north


def write_pmtiles(path, geometries, min_zoom=10, max_zoom=14) -> str:
    """Write GeoJSON polygon GEOMETRIES (lon/lat) as the `earth` layer of a PMTiles archive."""
    land = unary_union([shape(g) for g in geometries])
    west, south, east, north = land.bounds
    projected = shapely.transform(land, lambda points: [to_mercator(*p) for p in points])
    tiles = {}
    for z in range(min_zoom, max_zoom + 1):
        for x, y in tile_range(z, west, south, east, north):
            bounds = tile_bounds(z, x, y)
            part = projected.intersection(box(*bounds))
            if part.is_empty:
                continue
            layer = {"name": "earth", "features": [{"geometry": part, "properties": {}}]}
            data = mapbox_vector_tile.encode(
                [layer], default_options={"quantize_bounds": bounds, "extents": EXTENT}
            )
            tiles[zxy_to_tileid(z, x, y)] = gzip.compress(data)
    with open(path, "wb") as handle:
        writer = Writer(handle)
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, tiles[tile_id])
        writer.finalize(
            {
                "tile_type": TileType.MVT,
                "tile_compression": Compression.GZIP,
                "min_zoom": min_zoom,
                "max_zoom": max_zoom,
                "min_lon_e7": int(west * 1e7),
                "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7),
                "max_lat_e7": int(north * 1e7),
                "center_zoom": min_zoom,
                "center_lon_e7": int((west + east) / 2 * 1e7),
                "center_lat_e7": int((south + north) / 2 * 1e7),
            },
            {"vector_layers": [{"id": "earth", "fields": {}}]},
        )
    return str(path)
