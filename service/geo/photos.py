"""Statements about photos that other resources embed (a device Feature lists its photos)."""

from sqlalchemy import Select, Text, and_, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ..models import Device, Photo, User
from ..models.photo import RENDITIONS
from ..visibility import PUBLIC_REVIEW_STATUS, Viewer, public_day, visible_clause
from .sql import sql_string


def photo_json(base: ColumnElement, *more: tuple[str, ColumnElement]) -> ColumnElement:
    """A photo as a device Feature lists it (id, rendition URLs, size), then the MORE members.

    BASE is where photo URLs start: the `photo_base` parameter, an absolute URL ending with "/".
    """
    members = [
        ("id", Photo.id),
        *(
            (name, func.concat(base, cast(Photo.id, Text), sql_string(f"/{name}")))
            for name in RENDITIONS
        ),
        ("width", Photo.width),
        ("height", Photo.height),
        *more,
    ]
    return func.json_build_object(
        *(part for name, value in members for part in (literal_column(f"'{name}'"), value))
    )


def device_photos_json(base: ColumnElement, device_id: ColumnElement = Device.id) -> ColumnElement:
    """The JSON array of the approved photos of device DEVICE_ID, in the order they were
    listed, via photos_device_idx (service/visibility.py: one awaiting review is listed
    nowhere; approved, it comes after those listed before, whenever it was taken).

    A correlated subquery: one index probe per device, so pages stay one statement.
    """
    photos = func.json_agg(aggregate_order_by(photo_json(base), Photo.listed_at, Photo.id))
    approved = Photo.review_status == sql_string(PUBLIC_REVIEW_STATUS)
    return (
        select(func.coalesce(photos, literal_column("'[]'::json")))
        .where(Photo.device_id == device_id, approved)
        .correlate_except(Photo)
        .scalar_subquery()
    )


def pending_photos_json(base: ColumnElement, limit: int) -> ColumnElement:
    """The photos awaiting a moderator, oldest first (photos_pending_idx), each with its
    device's id, kind and position (to judge it against the map) and its uploader's name, as a
    JSON array."""
    position = func.json_build_array(func.ST_X(Device.geom), func.ST_Y(Device.geom))
    pending = (
        select(
            photo_json(
                base,
                ("device_id", Photo.device_id),
                ("kind", Device.kind),
                ("coordinates", position),
                ("uploaded_by", User.username),
                ("created_at", public_day(Photo.created_at)),
            ).label("item"),
            Photo.created_at,
            Photo.id,
        )
        .join(Device, Device.id == Photo.device_id)
        .outerjoin(User, User.id == Photo.uploaded_by)
        .where(Photo.review_status == sql_string("pending"), Device.deleted_at.is_(None))
        .order_by(Photo.created_at, Photo.id)
        .limit(limit)
        .subquery("pending_photos")
    )
    items = func.json_agg(aggregate_order_by(pending.c.item, pending.c.created_at, pending.c.id))
    return select(func.coalesce(items, literal_column("'[]'::json"))).scalar_subquery()


def select_uploaded_photos(uploader: Viewer) -> Select:
    """The photos UPLOADER sent, oldest first, each with its pin where they find it on the
    map: its kind and position, or NULLs for a pin withdrawn or no longer theirs to see (a
    merged duplicate's photos are on the device kept)."""
    shown = and_(
        Device.id == Photo.device_id, Device.deleted_at.is_(None), visible_clause(uploader)
    )
    return (
        select(
            Photo,
            Device.kind.label("pin_kind"),
            func.ST_X(Device.geom).label("pin_lon"),
            func.ST_Y(Device.geom).label("pin_lat"),
        )
        .outerjoin(Device, shown)
        .where(Photo.uploaded_by == uploader.id)
        .order_by(Photo.created_at)
    )
