"""Administrative areas (districts) and the datasets they were imported from."""

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    column,
    func,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from . import Base, CountedByFilters


class Dataset(Base):
    """Where a set of districts came from: shown as attribution next to every statistic."""

    __tablename__ = "datasets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    attribution: Mapped[str] = mapped_column(Text, nullable=False)
    licence: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class PopulationSource(Base):
    """Who published the districts' populations (their `population_source`), credited beside
    the datasets: its licence and where its figures come from, as an import named them."""

    __tablename__ = "population_sources"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    licence: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)


# The width of a district's code: official codes (INSEE's have 5 characters) and those of
# imported files.
CODE_MAX_CHARS = 32


class District(Base):
    """An administrative area (country, département, commune, arrondissement, quartier)."""

    __tablename__ = "districts"
    __table_args__ = (
        Index("districts_geom_idx", "geom", postgresql_using="gist"),
        Index("districts_level_parent_idx", "level", "parent_code"),
        # The few sources of the populations, found by a probe each (migration 0034).
        Index(
            "districts_population_source_idx",
            "population_source",
            postgresql_where=text("population_source IS NOT NULL"),
        ),
    )

    # The official code (INSEE for France); unique across levels.
    code: Mapped[str] = mapped_column(String(CODE_MAX_CHARS), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[str] = mapped_column(String(32), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(String(32))
    population: Mapped[int | None] = mapped_column(BigInteger)
    population_year: Mapped[int | None] = mapped_column(Integer)
    population_source: Mapped[str | None] = mapped_column(Text)
    # The population is the sum of its children's (Paris, of its arrondissements), not a count
    # of its own: a later population file may sum it again, never replace a count of its own.
    population_summed: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    dataset: Mapped[str] = mapped_column(
        String(100), ForeignKey("datasets.name", ondelete="RESTRICT"), nullable=False
    )
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)
    # Geodesic area on the WGS84 spheroid, computed once at import.
    area_km2: Mapped[float] = mapped_column(Float, nullable=False)
    # The boundary as GeoJSON, simplified at service/geo/districts.py's DEFAULT_TOLERANCE_M:
    # what GeoJSON answers give by default, written by PostgreSQL with geom (migration 0022).
    # Deferred: loading a district does not fetch it.
    boundary_geojson: Mapped[str] = mapped_column(
        Text,
        Computed(
            "ST_AsGeoJSON(ST_ForcePolygonCCW(ST_Multi("
            "ST_SimplifyPreserveTopology(geom, 10::float8 / 111320::float8))), 7)"
        ),
        deferred=True,
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class StatisticsCache(Base):
    """Computed statistics bodies, valid while the data version they were computed at holds."""

    __tablename__ = "statistics_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The request URL (host, path and query string), so that a refresh can compute it again.
    request: Mapped[str] = mapped_column(Text, nullable=False)
    # The media type it was answered as, sent again as Accept (the format may be negotiated).
    media_type: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # statistics_data_version() when it was computed (migration 0013).
    data_version: Mapped[str] = mapped_column(Text, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class DeviceDistrict(Base):
    """A district whose geometry meets a device's, kept by triggers (migration 0013).

    `interior`: the district's interior holds the device; false when it lies on the border.
    """

    __tablename__ = "device_districts"

    district_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    interior: Mapped[bool] = mapped_column(Boolean, nullable=False)


class DistrictDeviceCount(CountedByFilters, Base):
    """How many public devices a district's interior holds, per value of each statistics
    filter; kept by triggers in the transaction of every write (migration 0013)."""

    __tablename__ = "district_device_counts"

    district_code: Mapped[str] = mapped_column(String(32), primary_key=True)


class DistrictCsvLine(Base):
    """A district's CSV line for the default filter, counting the devices its interior holds,
    in two parts around its rank (which depends on the selection), with what selections and
    ranks read of the district; kept at write time (migration 0020), marked stale by writes and
    rewritten by the next reader (0021)."""

    __tablename__ = "district_csv_lines"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[str] = mapped_column(String(32), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(String(32))
    area_km2: Mapped[float] = mapped_column(Float, nullable=False)
    population: Mapped[int | None] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    before_rank: Mapped[str] = mapped_column(Text, nullable=False)
    after_rank: Mapped[str] = mapped_column(Text, nullable=False)


class DistrictJsonObject(Base):
    """The JSON object of a district's kept line (migration 0026), in two parts around its
    rank, with its counts by vocabulary value (which totals add up): written with the line, in
    a table of its own so that reading the CSV does not read them too."""

    __tablename__ = "district_json_objects"

    code: Mapped[str] = mapped_column(
        String(32), ForeignKey("district_csv_lines.code", ondelete="CASCADE"), primary_key=True
    )
    # The counts by vocabulary value, in service.geo.statistics.density.COUNT_GROUPS's order.
    value_counts: Mapped[list[int]] = mapped_column(ARRAY(Integer), nullable=False)
    json_head: Mapped[str] = mapped_column(Text, nullable=False)  # "{" to the last figure
    json_tail: Mapped[str] = mapped_column(Text, nullable=False)  # nested counts to "}"
    flat_tail: Mapped[str] = mapped_column(Text, nullable=False)  # flat counts to "}"


# The districts whose kept CSV line may be behind their counts: marked by every write of
# counts or districts, unmarked when refresh_district_csv_lines() rewrites them (migration
# 0021). No key: writers only insert.
district_csv_lines_stale = table("district_csv_lines_stale", column("code", String(32)))


# Timelines kept for the districts asked about (migration 0028): each change of a device's
# state there (before and after, as a filter reads it), their numbers per district, day or
# month and pair of states, and the devices written since (marked by writers, replayed again
# by the next timeline request).
TIMELINE_STATE_FIELDS = ("kind", "status", "operator_type", "verification")


def timeline_change_columns() -> list:
    return [
        column(f"{side}_{name}", Text)
        for side in ("before", "after")
        for name in TIMELINE_STATE_FIELDS
    ]


timeline_districts = table("timeline_districts", column("code", String(32)))
timeline_device_changes = table(
    "timeline_device_changes",
    column("code", String(32)),
    column("device_id", UUID(as_uuid=True)),
    column("at", DateTime(timezone=True)),
    *timeline_change_columns(),
)
timeline_changes = table(
    "timeline_changes",
    column("code", String(32)),
    column("unit", Text),
    column("period", DateTime(timezone=True)),
    *timeline_change_columns(),
    column("n", Integer),
)
timeline_device_marks = table("timeline_device_marks", column("device_id", UUID(as_uuid=True)))
