"""Finding a device as the caller may see it, and answering with its Feature."""

import uuid

from flask import Response, request, url_for
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from ...auth import current_user
from ...db import session
from ...errors import Gone, NotFound, PreconditionFailed, PreconditionRequired
from ...geo.devices import select_device_feature
from ...models import Device, User
from ..photos.urls import photo_base

GEOJSON = "application/geo+json"


def etag_of(device_id: uuid.UUID, version: int) -> str:
    return f'"{device_id.hex}.{version}"'


def may_see(review_status: str, created_by: uuid.UUID | None, user: User | None) -> bool:
    """Approved pins are public; others are shown to their author and to moderators."""
    return review_status == "approved" or (
        user is not None and (user.is_moderator or created_by == user.id)
    )


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


def find_device(device_id: uuid.UUID, *, for_update: bool = False) -> Device:
    """The live device the caller may see, or the right 404/410."""
    query = session.query(Device).filter(Device.id == device_id)
    device = (query.with_for_update() if for_update else query).one_or_none()
    if device is None or not may_see(device.review_status, device.created_by, current_user()):
        raise NotFound(f"No device has the id {device_id}.")
    if device.deleted_at is not None:
        raise Gone(
            f"Device {device_id} was deleted.",
            deleted_at=device.deleted_at.isoformat(),
            merged_into=str(device.merged_into) if device.merged_into else None,
        )
    return device


def check_if_match(device: Device, *, required: bool) -> None:
    """Optimistic concurrency: a write must name the version it was based on."""
    if not request.if_match:
        if required:
            raise PreconditionRequired(
                "Send the device's ETag in If-Match to change it.", field="If-Match"
            )
        return
    etag = etag_of(device.id, device.version)
    if not (request.if_match.star_tag or request.if_match.contains(etag.strip('"'))):
        raise PreconditionFailed(
            "The device changed since you read it: fetch it again.",
            field="If-Match",
            headers={"ETag": etag},
        )
