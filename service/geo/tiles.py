"""Vector tiles and clusters of devices, aggregated inside PostGIS from the tile_key index.

Every device carries its Web Mercator pixel at zoom 30 and the Morton code of that pixel
(`tile_key`, migration 0007). A tile at zoom z is then one contiguous range of tile_key, and the
grid cells that cluster it are tile_key shifted right: an index-only scan of
devices_tile_key_idx groups tens of thousands of devices in a few milliseconds.

A cell holding one device yields that device; a cell holding more yields a cluster with its
count and the kinds inside. Cells are 1/8 of a tile side below DETAIL_ZOOM (32 pixels on a
256-pixel tile, the spacing of map markers) and 1/64 from it on (only devices a metre or two
apart still share one), so a tile never carries more than 64 (or 4096) features.
"""

from dataclasses import dataclass, replace

from sqlalchemy import (
    ARRAY,
    BigInteger,
    BindParameter,
    Integer,
    Select,
    SmallInteger,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from .. import vocabulary as vocab
from ..models import Device, DeviceTileCell
from .crs import MERCATOR_HALF_WORLD_M
from .devices.features import PUBLIC_FEATURE
from .devices.filter import DeviceFilter
from .keys import KEY_SPACE, KEY_ZOOM, KeyRange, pixel_box, tile_key_range
from .sql import COORDINATE_DECIMALS, sql_string
from .statements import STATEMENTS, BoundStatement, parameter

LAYER = "devices"
# The zooms of the cells whose public devices device_tile_cells counts (migration 0017).
CELL_LEVELS = (11, 16)
TILE_EXTENT = 4096
TILE_BUFFER = 64
MAX_ZOOM = 22
DETAIL_ZOOM = 18
WORLD_HALF = MERCATOR_HALF_WORLD_M  # half the width of the Web Mercator world
METRES_PER_KEY_PIXEL = 2 * WORLD_HALF / 2**KEY_ZOOM


def cell_bits(zoom: int) -> int:
    """log2 of the number of grid cells along a tile side at this zoom."""
    return 3 if zoom < DETAIL_ZOOM else 6


def kind_count_column(kind: str) -> str:
    return f"n_{kind}"


@dataclass(frozen=True)
class KeyArea:
    """Where to look for devices: tile_key ranges, optionally cut to boxes of zoom-30 pixels."""

    ranges: list[KeyRange]
    pixel_boxes: tuple[tuple[int, int, int, int], ...] = ()

    @classmethod
    def of_tile(cls, z: int, x: int, y: int) -> "KeyArea":
        return cls([tile_key_range(z, x, y)])

    @classmethod
    def of_bboxes(cls, bboxes: list[tuple[float, float, float, float]]) -> "KeyArea":
        """The tiles covering the boxes (two for one that crosses the antimeridian), each at
        the deepest zoom where at most 8 by 8 of them do."""
        if not bboxes:
            return cls([KeyRange(0, KEY_SPACE)])
        ranges, boxes = [], []
        for bbox in bboxes:
            x0, y0, x1, y1 = pixel_box(bbox)
            zoom = KEY_ZOOM
            while zoom > 0 and (
                (x1 >> (KEY_ZOOM - zoom)) - (x0 >> (KEY_ZOOM - zoom)) >= 8
                or (y1 >> (KEY_ZOOM - zoom)) - (y0 >> (KEY_ZOOM - zoom)) >= 8
            ):
                zoom -= 1
            shift = KEY_ZOOM - zoom
            ranges += [
                tile_key_range(zoom, tx, ty)
                for tx in range(x0 >> shift, (x1 >> shift) + 1)
                for ty in range(y0 >> shift, (y1 >> shift) + 1)
            ]
            boxes.append((x0, y0, x1, y1))
        # Tiles are nested or apart: a tile inside one already read would be read twice.
        disjoint, end = [], 0
        for key_range in sorted(ranges, key=lambda r: (r.low, -r.high)):
            if key_range.low >= end:
                disjoint.append(key_range)
                end = key_range.high
        return cls(disjoint, tuple(boxes))

    def clauses(self, ranges) -> list[ColumnElement]:
        clauses = [Device.tile_key >= ranges.c.low, Device.tile_key < ranges.c.high]
        if self.pixel_boxes:
            clauses.append(
                or_(
                    *(
                        and_(Device.mercator_x.between(x0, x1), Device.mercator_y.between(y0, y1))
                        for x0, y0, x1, y1 in self.pixel_boxes
                    )
                )
            )
        return clauses


def cell_shift_parameter(cell_zoom: int) -> BindParameter:
    """How far tile_key shifts right to name the cell (a tile of cell_zoom) of a device."""
    return bindparam("cell_shift", 2 * (KEY_ZOOM - cell_zoom), type_=Integer)


def range_parameter(name: str, values: list[int], kept: bool) -> BindParameter:
    """Range ends: a parameter of a kept statement, or values of a statement built anew."""
    if kept:
        return parameter(name, ARRAY(BigInteger))
    return bindparam(name, values, type_=ARRAY(BigInteger))


def device_cells(flt: DeviceFilter, area: KeyArea, cell_shift: BindParameter, kept=False):
    """Public devices of the area grouped into grid cells: count, kinds, centroid.

    Each tile_key range is read by its own index-only scan: a fenced LATERAL subquery per range
    keeps the planner from scanning the whole index once and probing the ranges for each entry.
    """
    ranges = (
        func.unnest(
            range_parameter("lows", [r.low for r in area.ranges], kept),
            range_parameter("highs", [r.high for r in area.ranges], kept),
        )
        .table_valued("low", "high")
        .render_derived(name="ranges")
    )
    public = replace(flt, bboxes=[])  # the key area replaces the GiST box test
    in_range = (
        select(Device.tile_key, Device.kind, Device.mercator_x, Device.mercator_y)
        .where(*area.clauses(ranges), *public.clauses(kept=kept))
        .offset(0)  # a fence: PostgreSQL would otherwise flatten the subquery into a join
        .lateral("in_range")
    )
    cell = in_range.c.tile_key.op(">>")(cell_shift)
    return (
        select(
            cell.label("cell"),
            func.count().label("n"),
            func.avg(in_range.c.mercator_x).label("px"),
            func.avg(in_range.c.mercator_y).label("py"),
            *(
                func.count().filter(in_range.c.kind == kind).label(kind_count_column(kind))
                for kind in vocab.KIND_NAMES
            ),
        )
        .select_from(ranges)
        .join(in_range, true())
        .group_by(cell)
        .subquery("cells")
    )


def lone_device(flt, cells, cell_shift: BindParameter, *columns: ColumnElement, kept=False):
    """The device of a single-device cell, found again by its tile_key range."""
    return (
        select(*columns)
        .where(
            cells.c.n == 1,
            *replace(flt, bboxes=[]).clauses(kept=kept),
            Device.tile_key >= cells.c.cell.op("<<")(cell_shift),
            Device.tile_key < (cells.c.cell + 1).op("<<")(cell_shift),
        )
        .limit(1)
        .lateral("lone")
    )


def cluster_kinds_text(cells) -> ColumnElement:
    """The kinds present in a cell, comma-separated in vocabulary order."""
    return func.concat_ws(
        sql_string(","),
        *(
            case((cells.c[kind_count_column(kind)] > 0, sql_string(kind)))
            for kind in vocab.KIND_NAMES
        ),
    )


def counted_level(cell_zoom: int) -> int | None:
    """The zoom of the counted cells (device_tile_cells) that make up cells of CELL_ZOOM."""
    return next((level for level in CELL_LEVELS if cell_zoom <= level), None)


def counted_cells(flt: DeviceFilter):
    """Public devices grouped into grid cells by adding up device_tile_cells (migration 0017).

    The same columns as device_cells, for tiles whose cells are no finer than a counted level:
    at most 4^6 rows per cell instead of every device. Its parameters: the counted `level`,
    the tile's cells of that level [`level_low`, `level_high`), and `level_merge`, the shift
    from a counted cell to the tile's cell.
    """
    counted = DeviceTileCell
    cell = counted.cell.op(">>")(parameter("level_merge", Integer))
    clauses = [
        counted.zoom == parameter("level", SmallInteger),
        counted.cell >= parameter("level_low", BigInteger),
        counted.cell < parameter("level_high", BigInteger),
    ]
    if flt.kinds:
        clauses.append(counted.kind == any_(parameter("filter_kinds", ARRAY(Text))))
    devices = func.sum(counted.devices)
    return (
        select(
            cell.label("cell"),
            devices.label("n"),
            (func.sum(counted.sum_x) / devices).label("px"),
            (func.sum(counted.sum_y) / devices).label("py"),
            *(
                func.coalesce(devices.filter(counted.kind == kind), 0).label(
                    kind_count_column(kind)
                )
                for kind in vocab.KIND_NAMES
            ),
        )
        .where(*clauses)
        .group_by(cell)
        .subquery("cells")
    )


def device_tile_statement(z: int, x: int, y: int, kinds=()) -> BoundStatement:
    """One Mapbox Vector Tile (bytes, empty when no device is there) of devices and clusters.

    Cells no finer than a counted level add up device_tile_cells; finer ones group the
    devices of the tile's tile_key range. Kept once per way and kind filter
    (service/geo/statements.py): building and compiling it costs more than running it.
    """
    flt = DeviceFilter(kinds=list(kinds))
    tile = tile_key_range(z, x, y)
    cell_zoom = z + cell_bits(z)
    level = counted_level(cell_zoom)
    values = flt.values() | {"z": z, "x": x, "y": y, "cell_shift": 2 * (KEY_ZOOM - cell_zoom)}
    if level is None:
        values |= {"lows": [tile.low], "highs": [tile.high]}

        def build():
            cells = device_cells(
                flt, KeyArea.of_tile(0, 0, 0), parameter("cell_shift", Integer), kept=True
            )
            return _device_tile(flt, cells)

    else:
        level_shift = 2 * (KEY_ZOOM - level)
        values |= {
            "level": level,
            "level_low": tile.low >> level_shift,
            "level_high": tile.high >> level_shift,
            "level_merge": 2 * (level - cell_zoom),
        }

        def build():
            return _device_tile(flt, counted_cells(flt))

    return BoundStatement(STATEMENTS.get(("device_tile", flt.shape(values)), build), values)


def _device_tile(flt: DeviceFilter, cells) -> Select:
    cell_shift = parameter("cell_shift", Integer)
    lone = lone_device(
        flt,
        cells,
        cell_shift,
        cast(Device.id, Text).label("id"),
        Device.kind,
        Device.camera_type,
        func.array_to_string(Device.direction, sql_string(",")).label("direction"),
        Device.angle,
        Device.status,
        kept=True,
    )
    centroid = func.ST_SetSRID(
        func.ST_MakePoint(
            cells.c.px * METRES_PER_KEY_PIXEL - WORLD_HALF,
            WORLD_HALF - cells.c.py * METRES_PER_KEY_PIXEL,
        ),
        3857,
    )
    is_cluster = cells.c.n > 1
    features = (
        select(
            func.ST_AsMVTGeom(
                centroid,
                func.ST_TileEnvelope(
                    parameter("z", Integer), parameter("x", Integer), parameter("y", Integer)
                ),
                TILE_EXTENT,
                TILE_BUFFER,
                True,
            ).label("geom"),
            is_cluster.label("cluster"),
            case((is_cluster, cells.c.n)).label("count"),
            case((is_cluster, cluster_kinds_text(cells))).label("kinds"),
            lone.c.id,
            lone.c.kind,
            lone.c.camera_type,
            lone.c.direction,
            lone.c.angle,
            lone.c.status,
        )
        .select_from(cells.outerjoin(lone, cells.c.n == 1))
        .subquery("features")
    )
    return select(
        func.ST_AsMVT(features.table_valued(), LAYER, TILE_EXTENT, sql_string("geom")).label("mvt")
    )


def cluster_feature_text(cells) -> ColumnElement:
    """A cluster as an RFC 7946 Feature: its centroid, count and the count of each kind."""
    lon = cells.c.px / 2**KEY_ZOOM * 360 - 180
    lat = func.degrees(func.atan(func.sinh(func.pi() * (1 - 2 * cells.c.py / 2**KEY_ZOOM))))
    kinds = []
    for kind in vocab.KIND_NAMES:
        kinds += [sql_string(kind), func.nullif(cells.c[kind_count_column(kind)], 0)]
    properties = func.json_build_object(
        sql_string("cluster"),
        True,
        sql_string("count"),
        cells.c.n,
        sql_string("kinds"),
        func.jsonb_strip_nulls(func.jsonb_build_object(*kinds)),
    )
    return func.concat(
        sql_string('{"type":"Feature","geometry":'),
        func.ST_AsGeoJSON(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), COORDINATE_DECIMALS),
        sql_string(',"properties":'),
        cast(properties, Text),
        sql_string("}"),
    )


def select_device_clusters(flt: DeviceFilter, zoom: int, limit: int) -> Select:
    """Devices as clusters for a map at this zoom: Feature texts joined by commas, and their count.

    Cells are those of the vector tiles at the same zoom; the `limit` most populous are kept,
    and `matched` says how many there are in all (a map client tells a cut answer by it).
    Parameter `photo_base`.
    """
    cell_shift = cell_shift_parameter(min(zoom + cell_bits(zoom), KEY_ZOOM))
    cells = device_cells(flt, KeyArea.of_bboxes(flt.bboxes), cell_shift)
    lone = lone_device(
        flt,
        cells,
        cell_shift,
        PUBLIC_FEATURE.label("feature"),
    )
    features = (
        select(
            case((cells.c.n == 1, lone.c.feature), else_=cluster_feature_text(cells)).label(
                "feature"
            ),
            func.row_number().over(order_by=(cells.c.n.desc(), cells.c.cell)).label("rank"),
            func.count().over().label("matched"),
        )
        .select_from(cells.outerjoin(lone, cells.c.n == 1))
        .order_by(cells.c.n.desc(), cells.c.cell)
        .limit(limit)
        .subquery("clusters")
    )
    return select(
        func.coalesce(
            func.string_agg(
                features.c.feature, aggregate_order_by(sql_string(","), features.c.rank)
            ),
            sql_string(""),
        ).label("features"),
        func.count().label("returned"),
        func.coalesce(func.max(features.c.matched), 0).label("matched"),
    )


def select_device_extent(flt: DeviceFilter) -> Select:
    """West, south, east and north of the devices FLT selects (public ones by default)."""
    extent = func.ST_Extent(Device.geom)
    return select(
        func.ST_XMin(extent).label("west"),
        func.ST_YMin(extent).label("south"),
        func.ST_XMax(extent).label("east"),
        func.ST_YMax(extent).label("north"),
    ).where(*flt.clauses())


def select_last_device_change() -> Select:
    """When a device last changed (devices_updated_at_idx answers it)."""
    return select(func.max(Device.updated_at))
