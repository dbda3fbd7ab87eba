"""Spatial keys: each device's Web Mercator pixel at zoom 30 and its Morton code, `tile_key`.

Every tile at every zoom is one contiguous range of tile_key (migration 0007), so an area is a
short list of key ranges read from one btree index, in key order. Vector tiles cluster a range
(service/geo/tiles.py); pages of devices in an area are read range after range, stopping as
soon as the page is full (select_device_page_in_space in service/geo/devices/spatial.py).
"""

import math
from dataclasses import dataclass

KEY_ZOOM = 30  # mercator_x and mercator_y are pixels of a 2^30-pixel-wide world
MAX_LATITUDE = 85.0511287798  # where Web Mercator is cut
# An area is covered by tiles at most 1/COVER_DETAIL of its width at its edges: more ranges
# to list, fewer devices read outside the area.
COVER_DETAIL = 8

Box = tuple[float, float, float, float]


def spread_bits(value: int) -> int:
    """Put the bits of a 32-bit integer on the even positions (as vigie_spread_bits does)."""
    for shift, mask in (
        (16, 0x0000FFFF0000FFFF),
        (8, 0x00FF00FF00FF00FF),
        (4, 0x0F0F0F0F0F0F0F0F),
        (2, 0x3333333333333333),
        (1, 0x5555555555555555),
    ):
        value = (value | (value << shift)) & mask
    return value


@dataclass(frozen=True)
class KeyRange:
    """Devices with low <= tile_key < high; `inside` when all of them lie inside the area."""

    low: int
    high: int
    inside: bool = True


def tile_key_range(z: int, x: int, y: int) -> KeyRange:
    """The tile_key values [low, high) of the devices inside tile z/x/y."""
    shift = 2 * (KEY_ZOOM - z)
    key = spread_bits(x) | (spread_bits(y) << 1)
    return KeyRange(key << shift, (key + 1) << shift)


def mercator_pixel(lon: float, lat: float) -> tuple[int, int]:
    """The zoom-30 Web Mercator pixel of a position (as vigie_mercator_x/_y compute it)."""
    size = 2**KEY_ZOOM
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    x = math.floor((lon + 180) / 360 * size)
    y = math.floor((1 - math.log(math.tan(math.radians((90 + lat) / 2))) / math.pi) / 2 * size)
    return min(max(x, 0), size - 1), min(max(y, 0), size - 1)


def pixel_box(bbox: Box) -> tuple[int, int, int, int]:
    """The zoom-30 pixels (x0, y0, x1, y1), inclusive, that a lon/lat box touches."""
    west, south, east, north = bbox
    return (*mercator_pixel(west, north), *mercator_pixel(east, south))


KEY_SPACE = 4**KEY_ZOOM  # every tile_key is below


def covering_ranges(bboxes: list[Box]) -> list[KeyRange]:
    """tile_key ranges, in key order, holding every device of the boxes and few others.

    Tiles wholly inside a box are `inside`: their devices need no further test. Tiles across
    an edge are split down to 1/COVER_DETAIL of the box's width; their devices must still be
    tested against the box.
    """
    if not bboxes:
        return [KeyRange(0, KEY_SPACE, True)]
    tiles = sorted(tile for bbox in bboxes for tile in _cover(bbox))
    merged = [list(tiles[0])]
    for low, high, inside in tiles[1:]:
        last = merged[-1]
        if low <= last[1] and (low < last[1] or last[2] == inside):
            # Contiguous tiles of the same kind merge; overlapping ones (boxes that touch)
            # merge as edges.
            last[1], last[2] = max(high, last[1]), last[2] and inside
        else:
            merged.append([low, high, inside])
    return [KeyRange(*r) for r in merged]


def _widened(bbox: Box) -> Box:
    """The box with room for PostGIS's box test, which rounds both boxes outward to float4."""
    west, south, east, north = bbox

    def room(value: float) -> float:
        return (abs(value) + 1) * 2**-21  # a few float4 steps

    return west - room(west), south - room(south), east + room(east), north + room(north)


def _cover(bbox: Box) -> list[tuple[int, int, bool]]:
    """(low, high, inside) of the tiles covering a box."""
    x0, y0, x1, y1 = pixel_box(_widened(bbox))  # every device the box test may keep
    # Devices whose pixel lies here are inside the box whatever the rounding (PostgreSQL's
    # pixels may differ from these by one).
    inner_x0, inner_y0, inner_x1, inner_y1 = pixel_box(bbox)
    inner_x0, inner_y0, inner_x1, inner_y1 = inner_x0 + 2, inner_y0 + 2, inner_x1 - 2, inner_y1 - 2
    x0, y0, x1, y1 = x0 - 1, y0 - 1, x1 + 1, y1 + 1
    span = max(x1 - x0, y1 - y0) + 1
    zoom = KEY_ZOOM  # the deepest zoom whose tiles are at least as wide as the box
    while zoom > 0 and 1 << (KEY_ZOOM - zoom) < span:
        zoom -= 1
    finest = zoom  # edge tiles are split down to this zoom
    while finest < KEY_ZOOM and (1 << (KEY_ZOOM - finest)) * COVER_DETAIL > span:
        finest += 1
    found: list[tuple[int, int, bool]] = []
    shift = KEY_ZOOM - zoom
    # (zoom, x, y, Morton key of the tile): a child's key is its parent's followed by the
    # two bits of its quadrant.
    pending = [
        (zoom, tx, ty, spread_bits(tx) | (spread_bits(ty) << 1))
        for ty in range(max(y0, 0) >> shift, (y1 >> shift) + 1)
        for tx in range(max(x0, 0) >> shift, (x1 >> shift) + 1)
    ]
    last = (1 << KEY_ZOOM) - 1
    while pending:
        z, tx, ty, key = pending.pop()
        shift = KEY_ZOOM - z
        left, top = tx << shift, ty << shift
        right, bottom = left + (1 << shift) - 1, top + (1 << shift) - 1
        if right < x0 or left > x1 or bottom < y0 or top > y1 or left > last or top > last:
            continue
        inside = left >= inner_x0 and right <= inner_x1 and top >= inner_y0 and bottom <= inner_y1
        if inside or z >= finest:
            found.append((key << 2 * shift, (key + 1) << 2 * shift, inside))
        else:
            z, x, y, key = z + 1, 2 * tx, 2 * ty, key << 2
            pending += [
                (z, x, y, key),
                (z, x + 1, y, key | 1),
                (z, x, y + 1, key | 2),
                (z, x + 1, y + 1, key | 3),
            ]
    return found


def compact_bits(value: int) -> int:
    """The even bits of a Morton code packed into an integer (spread_bits undone)."""
    value &= 0x5555555555555555
    for shift, mask in (
        (1, 0x3333333333333333),
        (2, 0x0F0F0F0F0F0F0F0F),
        (4, 0x00FF00FF00FF00FF),
        (8, 0x0000FFFF0000FFFF),
        (16, 0x00000000FFFFFFFF),
    ):
        value = (value | (value >> shift)) & mask
    return value


def tiles_of_key(key: int, max_zoom: int) -> list[tuple[int, int, int]]:
    """The tiles (z, x, y), from zoom 0 to max_zoom, that hold a device of this tile_key."""
    x, y = compact_bits(key), compact_bits(key >> 1)
    return [(z, x >> (KEY_ZOOM - z), y >> (KEY_ZOOM - z)) for z in range(max_zoom + 1)]


def covering_tiles(bboxes: list[Box], max_zoom: int, per_side: int) -> list[tuple[int, int, int]]:
    """Tiles (z, x, y) holding every device a query of these boxes may return: at the deepest
    zoom (up to max_zoom) where at most per_side tiles cover each box's side."""
    tiles = []
    for bbox in bboxes:
        x0, y0, x1, y1 = pixel_box(_widened(bbox))
        zoom, shift = max_zoom, KEY_ZOOM - max_zoom
        while (
            zoom > 0
            and max((x1 >> shift) - (x0 >> shift), (y1 >> shift) - (y0 >> shift)) >= per_side
        ):
            zoom, shift = zoom - 1, shift + 1
        tiles += [
            (zoom, tx, ty)
            for tx in range(x0 >> shift, (x1 >> shift) + 1)
            for ty in range(y0 >> shift, (y1 >> shift) + 1)
        ]
    return sorted(set(tiles))
