"""Finding a device or a photo as the caller may see it (service/visibility.py), and answering
with a device's Feature. Every resource that reads one device or photo by id comes here."""

import uuid

from flask import Response, request, url_for
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select

from ..auth import current_viewer, keyed_hash
from ..db import CompiledRead, session
from ..errors import Gone, NotFound, PreconditionFailed, PreconditionRequired
from ..extensions import path_field
from ..geo.devices.features import select_device_feature
from ..models import Device, Photo
from ..visibility import day_of, is_public, may_see, may_see_photo
from .geojson import GEOJSON, photo_base

DEVICE_FEATURE = CompiledRead(select_device_feature())


def etag_of(device_id: uuid.UUID, version: int) -> str:
    """A tag that changes with every write of the device and tells nothing else: its version
    would count the changes made while the pin awaited review, seen by its author alone."""
    return f'"{keyed_hash(f"{device_id.hex}.{version}")[:32]}"'


def point(geometry: dict):
    lon, lat = geometry["coordinates"][:2]
    return from_shape(Point(lon, lat), srid=4326)


def device_url(device_id: uuid.UUID) -> str:
    return url_for("devices.DeviceByIdViews", device_id=device_id, _external=True)


def feature_response(device_id: uuid.UUID, status: int = 200, headers=None) -> Response:
    # Core execution: these statements return text, not ORM objects.
    row = (
        session.connection()
        .execute(select_device_feature(), {"device_id": device_id, "photo_base": photo_base()})
        .one()
    )
    response = Response(row.feature, status=status, mimetype=GEOJSON)
    response.headers["ETag"] = etag_of(device_id, row.version)
    response.headers.update(headers or {})
    return response


def device_gone(
    device_id: uuid.UUID, deleted_at, merged_into: uuid.UUID | None = None, field=None
) -> Gone:
    """The 410 of a tombstone: the day it was deleted (times are days: service/visibility.py),
    and the device it was merged into."""
    return Gone(
        f"Device {device_id} was deleted.",
        field=field,
        deleted_at=day_of(deleted_at).isoformat(),
        merged_into=str(merged_into) if merged_into else None,
    )


def find_device(
    device_id: uuid.UUID, *, for_update: bool = False, field: str | None = None
) -> Device:
    """The live device the caller may see, or the right 404/410 (naming FIELD, when the id
    came in the body)."""
    query = session.query(Device).filter(Device.id == device_id)
    device = (query.with_for_update() if for_update else query).one_or_none()
    if device is None or not may_see(device.review_status, device.created_by, current_viewer()):
        raise NotFound(f"No device has the id {device_id}.", field=field or path_field(device_id))
    if device.deleted_at is not None:
        raise device_gone(
            device_id, device.deleted_at, device.merged_into, field or path_field(device_id)
        )
    return device


def check_if_match(device: Device, *, required: bool) -> None:
    """Optimistic concurrency: a write must name the version it was based on (`If-Match: *`,
    any version, names none: a stale client would overwrite what it never saw)."""
    if not request.if_match or (required and request.if_match.star_tag):
        if required:
            raise PreconditionRequired(
                "Send the device's ETag in If-Match to change it (If-Match: * names no version).",
                field="If-Match",
            )
        return
    etag = etag_of(device.id, device.version)
    if not (request.if_match.star_tag or request.if_match.contains(etag.strip('"'))):
        if request.if_match.contains_weak(etag.strip('"')):
            # The version read, sent weak (W/"..."): If-Match compares strongly (RFC 9110,
            # 13.1.1), and "changed since" would send the client to read it again in vain.
            raise PreconditionFailed(
                "A weak ETag (W/) never matches If-Match: send the ETag as the device's answer "
                "gave it, without W/.",
                field="If-Match",
                headers={"ETag": etag},
            )
        raise PreconditionFailed(
            "The device changed since you read it: fetch it again.",
            field="If-Match",
            headers={"ETag": etag},
        )


def read_device_feature(device_id: uuid.UUID):
    """The stored Feature row of a device the caller may see (deleted ones included), or 404."""
    row = DEVICE_FEATURE.one_or_none(device_id=device_id, photo_base=photo_base())
    if row is None or not may_see(row.review_status, row.created_by, current_viewer()):
        raise NotFound(f"No device has the id {device_id}.", field=path_field(device_id))
    return row


def lock_photo_and_device(
    photo_id: uuid.UUID, *, of_deleted_device: bool = False
) -> tuple[Photo, Device | None]:
    """A photo the caller may see and its device (None for a loose upload), both locked for
    a change: the device first, as merges lock devices before their photos. OF_DELETED_DEVICE:
    a photo of a withdrawn device too, which its sender may still delete (nothing brings a
    withdrawn device back)."""
    photo, _ = find_photo(photo_id, of_deleted_device=of_deleted_device)
    device = None
    if photo.device_id is not None and of_deleted_device:
        device = session.get(Device, photo.device_id, with_for_update=True)
    elif photo.device_id is not None:
        device = find_device(photo.device_id, for_update=True)
    photo, _ = find_photo(photo_id, for_update=True, of_deleted_device=of_deleted_device)
    return photo, device


def find_photo(
    photo_id: uuid.UUID, *, for_update: bool = False, of_deleted_device: bool = False
) -> tuple[Photo, bool]:
    """A photo the caller may see (not one of a deleted device, unless OF_DELETED_DEVICE or
    the caller sent it, nor someone else's loose upload or photo awaiting review), and whether
    everyone may see it (an approved photo of a public pin still standing).

    A withdrawn pin's photo stays its sender's to look at: they decide from it whether to
    delete it (a face caught by mistake), as the app's list of their photos offers."""
    query = (
        select(Photo, Device.deleted_at, Device.review_status, Device.created_by)
        .outerjoin(Device, Device.id == Photo.device_id)
        .where(Photo.id == photo_id)
    )
    row = session.execute(query.with_for_update(of=Photo) if for_update else query).one_or_none()
    viewer = current_viewer()
    visible = row is not None and may_see_photo(
        row.Photo, row.review_status, row.created_by, viewer
    )
    if not visible:
        raise NotFound(f"No photo has the id {photo_id}.", field=path_field(photo_id))
    withdrawn = row.deleted_at is not None
    sent_by_viewer = viewer.id is not None and row.Photo.uploaded_by == viewer.id
    if withdrawn and not (of_deleted_device or sent_by_viewer):
        raise Gone(f"Photo {photo_id} belongs to a deleted device.")
    public = not withdrawn and is_public(row.review_status) and is_public(row.Photo.review_status)
    return row.Photo, row.Photo.device_id is not None and public
