"""SQLAlchemy models. Geometry is stored in EPSG:4326."""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CountedByFilters:
    """Columns of a table of counts kept at write time: how many public devices (`n`) per
    value of each statistics filter, after the table's own keys (whose place comes first)."""

    kind: Mapped[str] = mapped_column(String(32), primary_key=True, sort_order=10)
    status: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=10)
    operator_type: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=10)
    verification: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=10)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False, sort_order=10)


from .account import ApiToken, ReservedUsername, User  # noqa: E402
from .community import Confirmation, DeviceRevision, IdempotentRequest  # noqa: E402
from .declared import DeclaredDataset, DeclaredMatch, DeclaredSite, DeclaredVersion  # noqa: E402
from .device import Device, DeviceHexagonCount, DeviceTileCell, GridHexagon  # noqa: E402
from .district import (  # noqa: E402
    Dataset,
    DeviceDistrict,
    District,
    DistrictCsvLine,
    DistrictDeviceCount,
    DistrictJsonObject,
    PopulationSource,
    StatisticsCache,
    district_csv_lines_stale,
    timeline_changes,
    timeline_device_changes,
    timeline_device_marks,
    timeline_districts,
)
from .photo import Photo  # noqa: E402

__all__ = [
    "ApiToken",
    "Base",
    "Confirmation",
    "Dataset",
    "DeclaredDataset",
    "DeclaredMatch",
    "DeclaredSite",
    "DeclaredVersion",
    "Device",
    "DeviceDistrict",
    "DeviceHexagonCount",
    "DeviceRevision",
    "DeviceTileCell",
    "District",
    "DistrictCsvLine",
    "DistrictDeviceCount",
    "DistrictJsonObject",
    "GridHexagon",
    "IdempotentRequest",
    "Photo",
    "PopulationSource",
    "ReservedUsername",
    "StatisticsCache",
    "User",
    "district_csv_lines_stale",
    "timeline_changes",
    "timeline_device_changes",
    "timeline_device_marks",
    "timeline_districts",
]
