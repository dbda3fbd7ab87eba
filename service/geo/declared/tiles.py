"""Vector tiles of declared sites: one `declared` layer, each site with its status."""

from sqlalchemy import Integer, Select, Text, bindparam, cast, func, select

from ...models import DeclaredDataset, DeclaredSite
from ..sql import sql_string
from ..tiles import TILE_BUFFER, TILE_EXTENT
from .matching import matched_count, site_status

LAYER = "declared"
# A tile holds at most this many sites (the first in id order): a whole country's lists seen
# from far would otherwise make a tile of megabytes.
MAX_SITES_PER_TILE = 10_000


def declared_tile_statement(z: int, x: int, y: int) -> Select:
    """One Mapbox Vector Tile (bytes, empty when no site is there) of declared sites."""
    envelope = func.ST_TileEnvelope(
        bindparam("z", z, type_=Integer),
        bindparam("x", x, type_=Integer),
        bindparam("y", y, type_=Integer),
    )
    # In 4326, with a margin for the buffer, so that the sites' GiST index answers.
    area = func.ST_Transform(
        func.ST_Expand(envelope, 0.02 * func.ST_XMax(envelope) - 0.02 * func.ST_XMin(envelope)),
        4326,
    )
    matched = matched_count()
    features = (
        select(
            func.ST_AsMVTGeom(
                func.ST_Transform(DeclaredSite.geom, 3857), envelope, TILE_EXTENT, TILE_BUFFER
            ).label("geom"),
            cast(DeclaredSite.id, Text).label("id"),
            DeclaredDataset.name.label("dataset"),
            DeclaredSite.source_id,
            site_status(matched, DeclaredSite.declared_count).label("status"),
            DeclaredSite.declared_count,
            matched.label("matched"),
        )
        .join(DeclaredDataset, DeclaredDataset.id == DeclaredSite.dataset_id)
        .where(DeclaredSite.geom.op("&&")(area))
        .order_by(DeclaredSite.id)
        .limit(MAX_SITES_PER_TILE)
        .subquery("features")
    )
    return select(
        func.ST_AsMVT(features.table_valued(), LAYER, TILE_EXTENT, sql_string("geom")).label("mvt")
    )
