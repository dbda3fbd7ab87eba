"""SQLAlchemy models. Geometry is stored in EPSG:4326."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


from .device import Device  # noqa: E402
from .photo import Photo  # noqa: E402

__all__ = ["Base", "Device", "Photo"]
