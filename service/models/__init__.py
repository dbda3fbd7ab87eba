"""SQLAlchemy models. Geometry is stored in EPSG:4326."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


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
    StatisticsCache,
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
    "GridHexagon",
    "IdempotentRequest",
    "Photo",
    "ReservedUsername",
    "StatisticsCache",
    "User",
]
