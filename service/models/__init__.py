"""SQLAlchemy models. Geometry is stored in EPSG:4326."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


from .account import ApiToken, ReservedUsername, User  # noqa: E402
from .community import Confirmation, DeviceRevision, IdempotentRequest  # noqa: E402
from .device import Device, DeviceTileCell  # noqa: E402
from .district import Dataset, District, StatisticsCache  # noqa: E402
from .photo import Photo  # noqa: E402

__all__ = [
    "ApiToken",
    "Base",
    "Confirmation",
    "Dataset",
    "Device",
    "DeviceRevision",
    "DeviceTileCell",
    "District",
    "IdempotentRequest",
    "Photo",
    "ReservedUsername",
    "StatisticsCache",
    "User",
]
