"""Statements about photos that other resources embed (a device Feature lists its photos)."""

from sqlalchemy import Text, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ..models import Device, Photo
from ..models.photo import RENDITIONS

# Where photos are served when a caller gives no absolute base URL.
PHOTO_PATH = "/api/v1/photos"


def device_photos_json(
    photo_urls_base: str | ColumnElement = PHOTO_PATH, device_id: ColumnElement = Device.id
) -> ColumnElement:
    """The JSON array of the photos of device DEVICE_ID, oldest first, via photos_device_idx.

    A correlated subquery: one index probe per device, so pages of devices stay one statement.
    """
    if isinstance(photo_urls_base, str):
        base = literal(photo_urls_base.rstrip("/") + "/", Text)
    else:  # a parameter whose value ends with "/"
        base = photo_urls_base
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
