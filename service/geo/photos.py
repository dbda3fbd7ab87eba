"""Statements about photos that other resources embed (a device Feature lists its photos)."""

from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ..models import Device, Photo
from ..models.photo import RENDITIONS


def device_photos_json(base: ColumnElement, device_id: ColumnElement = Device.id) -> ColumnElement:
    """The JSON array of the photos of device DEVICE_ID, oldest first, via photos_device_idx.

    BASE is where photo URLs start: the `photo_base` parameter, an absolute URL ending with
    "/". A correlated subquery: one index probe per device, so pages stay one statement.
    """
    item = func.json_build_object(
        literal_column("'id'"),
        Photo.id,
        *(
            part
            for name in RENDITIONS
            for part in (
                literal_column(f"'{name}'"),
                func.concat(base, cast(Photo.id, Text), literal_column(f"'/{name}'")),
            )
        ),
        literal_column("'width'"),
        Photo.width,
        literal_column("'height'"),
        Photo.height,
    )
    photos = func.json_agg(aggregate_order_by(item, Photo.created_at, Photo.id))
    return (
        select(func.coalesce(photos, literal_column("'[]'::json")))
        .where(Photo.device_id == device_id)
        .correlate_except(Photo)
        .scalar_subquery()
    )
