"""A surveillance device pinned by a contributor."""

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from .. import vocabulary as vocab
from . import Base, CountedByFilters


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


# What clustering a tile reads, and what DeviceFilter.clauses() tests, so that a tile is one
# index-only scan of devices_tile_key_idx (migration 0007).
TILE_KEY_INCLUDED = [
    "kind",
    "mercator_x",
    "mercator_y",
    "deleted_at",
    "review_status",
    "created_by",
]


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        one_of("kind", vocab.KIND_NAMES),
        one_of("camera_type", vocab.CAMERA_TYPES),
        one_of("mount", vocab.MOUNTS),
        one_of("zone", vocab.ZONES),
        one_of("surveillance", vocab.SURVEILLANCE_AREAS),
        one_of("operator_type", vocab.OPERATOR_TYPES),
        one_of("status", vocab.STATUSES),
        one_of("review_status", vocab.REVIEW_STATUSES),
        one_of("verification", vocab.VERIFICATION_LEVELS),
        CheckConstraint("angle > 0 AND angle <= 360", name="angle_range"),
        CheckConstraint("height >= 0 AND height <= 500", name="height_range"),
        CheckConstraint("accuracy_m >= 0", name="accuracy_positive"),
        CheckConstraint("0 <= ALL(direction) AND 359 >= ALL(direction)", name="direction_range"),
        Index("devices_geom_idx", "geom", postgresql_using="gist"),
        Index("devices_updated_at_idx", "updated_at"),
        Index("devices_change_idx", "change_txid", "id"),
        Index("devices_created_by_idx", "created_by"),
        # The pins merged into a device, whose authors its verification counts (migration 0032).
        Index(
            "devices_merged_into_idx",
            "merged_into",
            postgresql_where=text("merged_into IS NOT NULL"),
        ),
        # OGC `datetime` filters on the day a device was observed, else last changed.
        Index("devices_time_idx", text("public_day(coalesce(observed_at, updated_at))")),
        UniqueConstraint("osm_id", name="devices_osm_id_key"),
        # Pages of devices in spatial order follow it too (migration 0010).
        Index(
            "devices_tile_key_idx",
            "tile_key",
            "id",
            postgresql_include=TILE_KEY_INCLUDED,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    camera_type: Mapped[str | None] = mapped_column(String(16))
    mount: Mapped[str | None] = mapped_column(String(16))
    direction: Mapped[list[int] | None] = mapped_column(ARRAY(SmallInteger))
    angle: Mapped[float | None] = mapped_column(Float)
    height: Mapped[float | None] = mapped_column(Float)
    zone: Mapped[str | None] = mapped_column(String(16))
    surveillance: Mapped[str | None] = mapped_column(String(16))
    operator: Mapped[str | None] = mapped_column(String(vocab.OPERATOR_MAX_CHARS))
    operator_type: Mapped[str] = mapped_column(String(16), nullable=False, server_default="unknown")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(2048))
    tags: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    # Authorship and review. A deleted account leaves its pins with no author.
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("users.id", ondelete="SET NULL", name="devices_created_by_fkey"),
    )
    review_status: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="approved"
    )
    review_reason: Mapped[str | None] = mapped_column(Text)
    # Community verification, recomputed from confirmations (see service/verification.py).
    verification: Mapped[str] = mapped_column(String(16), nullable=False, server_default="reported")
    # The day (00:00 UTC) of the last sighting: the votes keep the instants (service/community.py).
    last_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A merged device becomes a tombstone redirecting to the device it was merged into.
    merged_into: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The writing transaction's id, set by a trigger: the sync cursor orders changes by it.
    change_txid: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # A row loaded in bulk: its updated_at before the service first changed it (touch), the
    # moment statistics date its status by (migration 0031); cleared by a change of status
    # made outside the service, which updated_at then dates.
    bulk_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A deleted device stays as a tombstone so that syncing clients learn about the removal.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The OpenStreetMap node it was imported from: a re-import updates rather than duplicates.
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    osm_version: Mapped[int | None] = mapped_column(Integer)
    # Bumped on every change; the ETag is derived from it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    # Web Mercator pixel at zoom 30 and its Morton code, kept by PostgreSQL (migration 0007):
    # a vector tile, or a grid cell within it, is one range of tile_key.
    mercator_x: Mapped[int | None] = mapped_column(Integer, Computed("vigie_mercator_x(geom)"))
    mercator_y: Mapped[int | None] = mapped_column(Integer, Computed("vigie_mercator_y(geom)"))
    tile_key: Mapped[int | None] = mapped_column(BigInteger, Computed("vigie_tile_key(geom)"))
    # When the pin was first approved (a trigger sets it, migration 0009): sync withdraws a
    # pin that was once public from the phones that hold it.
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The public Feature as text up to its last property, written by a trigger on every change
    # (migration 0008); readers add the photos. Never loaded into Python objects.
    feature_head: Mapped[str] = mapped_column(Text, nullable=False, deferred=True)
    # Kept by a trigger on photos (migration 0011): Features look photos up only when true.
    has_photos: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=false(), deferred=True
    )

    def touch(self) -> None:
        """Record a change of what the Feature shows: a new version, hence a new ETag."""
        if self.bulk_changed_at is None:
            self.bulk_changed_at = self.updated_at
        self.version += 1
        self.updated_at = func.now()

    @property
    def status_dated_at(self) -> datetime:
        """When its status was set, at the latest, as far as the row tells (status_dated_at in
        service/geo/statistics/selection.py)."""
        return self.bulk_changed_at or self.updated_at

    @property
    def etag(self) -> str:
        return f'"{self.id.hex}.{self.version}"'


class DeviceTileCell(Base):
    """Public devices of one kind in one grid cell: how many, and the sums of their pixels.

    Kept by statement triggers on devices (migration 0017) in the writing transaction: vector
    tiles of low zooms add these up instead of grouping hundreds of thousands of devices.
    """

    __tablename__ = "device_tile_cells"
    __table_args__ = (
        # The cells a write leaves empty, deleted at once by the trigger.
        Index("device_tile_cells_empty_idx", "zoom", postgresql_where=text("devices = 0")),
    )

    zoom: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    # The cell is the tile of that zoom: tile_key >> 2 * (30 - zoom).
    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    devices: Mapped[int] = mapped_column(Integer, nullable=False)
    sum_x: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sum_y: Mapped[int] = mapped_column(BigInteger, nullable=False)


class DeviceHexagonCount(CountedByFilters, Base):
    """How many public devices one hexagon of the statistics grid holds, per value of each
    statistics filter, for the hexagon sides kept (service/geo/grid.py, KEPT_SIDES_M).

    `srid`: the UTM zone of the devices counted, whose grid (i, j of ST_Hexagon) it is. Kept by
    statement triggers on devices (migration 0018) in the writing transaction.
    """

    __tablename__ = "device_hexagon_counts"
    __table_args__ = (
        # The hexagons a write leaves empty, deleted at once by the trigger.
        Index("device_hexagon_counts_empty_idx", "side_m", postgresql_where=text("n = 0")),
    )

    side_m: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    srid: Mapped[int] = mapped_column(Integer, primary_key=True)
    i: Mapped[int] = mapped_column(Integer, primary_key=True)
    j: Mapped[int] = mapped_column(Integer, primary_key=True)


class GridHexagon(Base):
    """The polygon (WGS84) of a hexagon of the statistics grid that held a device, and its
    GeoJSON (service/geo/sql.py, geojson_geometry): pure geometry, written with
    device_hexagon_counts (migration 0018) and never stale."""

    __tablename__ = "grid_hexagons"

    side_m: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    srid: Mapped[int] = mapped_column(Integer, primary_key=True)
    i: Mapped[int] = mapped_column(Integer, primary_key=True)
    j: Mapped[int] = mapped_column(Integer, primary_key=True)
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False)
    geometry_json: Mapped[str] = mapped_column(Text, nullable=False)
