"""Declared sites: camera lists published by authorities, and the devices found at them."""

import uuid
from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from . import Base


class DeclaredDataset(Base):
    """One published list, as of its last imported version, with its provenance."""

    __tablename__ = "declared_datasets"
    __table_args__ = (
        CheckConstraint(
            "match_distance_m > 0 AND match_distance_m <= 1000", name="match_distance_range"
        ),
        UniqueConstraint("name", name="declared_datasets_name_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    publisher: Mapped[str] = mapped_column(Text, nullable=False)
    published_on: Mapped[date | None] = mapped_column(Date)
    source_url: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # A declared site matches the devices within this distance of it (metres, geodesic).
    match_distance_m: Mapped[float] = mapped_column(Float, nullable=False)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class DeclaredVersion(Base):
    """One imported file of a dataset: its provenance and what it changed (source ids)."""

    __tablename__ = "declared_versions"

    dataset_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("declared_datasets.id", ondelete="CASCADE"),
        primary_key=True,
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    publisher: Mapped[str] = mapped_column(Text, nullable=False)
    published_on: Mapped[date | None] = mapped_column(Date)
    source_url: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    sites: Mapped[int] = mapped_column(Integer, nullable=False)
    added: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    removed: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    changed: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class DeclaredSite(Base):
    """A place where a list declares surveillance devices (how many, of which kinds)."""

    __tablename__ = "declared_sites"
    __table_args__ = (
        CheckConstraint("declared_count > 0", name="declared_count_positive"),
        UniqueConstraint("dataset_id", "source_id", name="declared_sites_source_key"),
        Index("declared_sites_geom_idx", "geom", postgresql_using="gist"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("declared_datasets.id", ondelete="CASCADE"), nullable=False
    )
    # The id the publisher gives the site (its number in the list).
    source_id: Mapped[str] = mapped_column(Text, nullable=False)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    kinds: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    # The observed kinds that can be one of `kinds` (vocabulary.COMPATIBLE_KINDS).
    compatible_kinds: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    declared_count: Mapped[int] = mapped_column(Integer, nullable=False)
    address: Mapped[str | None] = mapped_column(Text)
    # The commissioning date as published, and as a date when it reads as one.
    commissioned: Mapped[str | None] = mapped_column(Text)
    commissioned_on: Mapped[date | None] = mapped_column(Date)
    # The file's other fields, as published.
    attributes: Mapped[dict] = mapped_column(JSONB, nullable=False)
    # Where the site is in the file (line of a CSV, feature number otherwise).
    line: Mapped[int] = mapped_column(Integer, nullable=False)


class DeclaredMatch(Base):
    """An observed device within the distance of a declared site, of a compatible kind.

    Kept by the import (for a dataset's sites) and by a trigger on devices (for one device,
    migration 0014).
    """

    __tablename__ = "declared_matches"
    __table_args__ = (Index("declared_matches_device_idx", "device_id"),)

    site_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("declared_sites.id", ondelete="CASCADE"), primary_key=True
    )
    # No foreign key: the trigger forgets a deleted device's pairs (a key would cost a check
    # per pair written).
    device_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    distance_m: Mapped[float] = mapped_column(Float, nullable=False)
