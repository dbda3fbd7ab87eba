"""SQLAlchemy models. Geometry is stored in EPSG:4326."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


from .device import Device  # noqa: E402
from .district import Dataset, District, StatisticsCache  # noqa: E402

__all__ = ["Base", "Dataset", "Device", "District", "StatisticsCache"]
