"""Devices: pin, read, change, remove, and list what is in view as GeoJSON."""

import base64
import binascii
import uuid

import orjson
from flask import Response, request, url_for
from flask.views import MethodView
from geoalchemy2.shape import from_shape, to_shape
from marshmallow import RAISE
from shapely.geometry import Point
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from ...db import session
from ...errors import (
    BadRequest,
    Conflict,
    Gone,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from ...extensions import Blueprint, requires_json
from ...geo.devices import DeviceFilter, count_devices, select_device_feature, select_device_page
from ...geo.tiles import select_device_clusters
from ...models import Device
from ..fields import split_antimeridian
from .schemas import (
    DeviceCollectionSchema,
    DeviceFeatureInSchema,
    DeviceFeatureSchema,
    DevicePatchSchema,
    DeviceQueryArgsSchema,
)

GEOJSON = "application/geo+json"
DEFAULT_PAGE_SIZE = 100
# Column defaults that apply when a client leaves the property out.
PROPERTY_DEFAULTS = {"operator_type": "unknown", "status": "active", "tags": {}}

blp = Blueprint(
    "devices",
    __name__,
    url_prefix="/api/v1/devices",
    description="Surveillance devices as GeoJSON Features (RFC 7946).",
)


def encode_cursor(device_id: str) -> str:
    return base64.urlsafe_b64encode(uuid.UUID(device_id).bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            "The cursor is not one this server issued; restart from the first page.", field="cursor"
        ) from exc


def point(geometry: dict):
    lon, lat = geometry["coordinates"][:2]
    return from_shape(Point(lon, lat), srid=4326)


def same_content(device: Device, columns: dict, geometry: dict) -> bool:
    """Whether a replayed creation carries what is already stored."""
    stored = to_shape(device.geom)
    lon, lat = geometry["coordinates"][:2]
    if abs(stored.x - lon) > 1e-9 or abs(stored.y - lat) > 1e-9:
        return False
    return all(getattr(device, name) == value for name, value in columns.items())


def feature_response(device_id: uuid.UUID, status: int = 200, headers=None) -> Response:
    row = session.execute(select_device_feature(device_id)).one()
    response = Response(row.feature, status=status, mimetype=GEOJSON)
    response.headers["ETag"] = etag_of(device_id, row.version)
    response.headers.update(headers or {})
    return response


def etag_of(device_id: uuid.UUID, version: int) -> str:
    return f'"{device_id.hex}.{version}"'


def find_device(device_id: uuid.UUID, *, for_update: bool = False) -> Device:
    query = session.query(Device).filter(Device.id == device_id)
    device = (query.with_for_update() if for_update else query).one_or_none()
    if device is None:
        raise NotFound(f"No device has the id {device_id}.")
    if device.deleted_at is not None:
        raise Gone(f"Device {device_id} was deleted.", deleted_at=device.deleted_at.isoformat())
    return device


def check_if_match(device: Device, *, required: bool) -> None:
    """Optimistic concurrency: a write must name the version it was based on."""
    if not request.if_match:
        if required:
            raise PreconditionRequired(
                "Send the device's ETag in If-Match to change it.", field="If-Match"
            )
        return
    if not (request.if_match.star_tag or request.if_match.contains(device.etag.strip('"'))):
        raise PreconditionFailed(
            "The device changed since you read it: fetch it again.",
            field="If-Match",
            headers={"ETag": device.etag},
        )


def cluster_response(flt: DeviceFilter, zoom: int, limit: int) -> Response:
    clusters = session.execute(select_device_clusters(flt, zoom, limit)).one()
    links = [{"href": request.url, "rel": "self", "type": GEOJSON}]
    body = (
        f'{{"type":"FeatureCollection","features":[{clusters.features}],'
        f'"numberReturned":{clusters.returned},"links":{orjson.dumps(links).decode()}}}'
    )
    return Response(body, mimetype=GEOJSON)


@blp.route("")
class DeviceViews(MethodView):
    @blp.arguments(DeviceQueryArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, DeviceCollectionSchema, content_type=GEOJSON)
    @blp.problems(400)
    def get(
        self,
        bbox=None,
        kind=(),
        status=(),
        operator_type=(),
        updated_since=None,
        limit=DEFAULT_PAGE_SIZE,
        cursor=None,
        count=False,
        cluster=False,
        zoom=None,
    ):
        """List devices in view as a GeoJSON FeatureCollection, page by page"""
        flt = DeviceFilter(
            bboxes=split_antimeridian(bbox) if bbox else [],
            kinds=list(kind),
            statuses=list(status),
            operator_types=list(operator_type),
            updated_since=updated_since,
        )
        if cluster:
            return cluster_response(flt, zoom, limit)
        after = decode_cursor(cursor) if cursor else None
        page = session.execute(select_device_page(flt, limit, after)).one()
        links = [{"href": request.url, "rel": "self", "type": GEOJSON}]
        if page.has_more:
            args = request.args.to_dict(flat=False) | {"cursor": encode_cursor(page.last_id)}
            links.append(
                {
                    "href": url_for("devices.DeviceViews", _external=True, **args),
                    "rel": "next",
                    "type": GEOJSON,
                }
            )
        matched = ""
        if count:
            matched = f',"numberMatched":{session.execute(count_devices(flt)).scalar_one()}'
        body = (
            f'{{"type":"FeatureCollection","features":[{page.features}],'
            f'"numberReturned":{page.returned}{matched},"links":{orjson.dumps(links).decode()}}}'
        )
        return Response(body, mimetype=GEOJSON)

    @requires_json
    @blp.arguments(DeviceFeatureInSchema)
    @blp.response(
        201,
        DeviceFeatureSchema,
        content_type=GEOJSON,
        headers={
            "Location": {"schema": {"type": "string"}},
            "ETag": {"schema": {"type": "string"}},
        },
    )
    @blp.alt_response(
        200,
        schema=DeviceFeatureSchema,
        content_type=GEOJSON,
        description="The same Feature was already stored under this id (safe retry)",
    )
    @blp.problems(409, 413, 415)
    def post(self, feature):
        """Pin a device (the Feature id may be a client-made UUID; retries are safe)"""
        columns = PROPERTY_DEFAULTS | feature["properties"]
        device_id = feature.get("id") or uuid.uuid4()
        existing = session.get(Device, device_id)
        if existing is None:
            session.add(Device(id=device_id, geom=point(feature["geometry"]), **columns))
            try:
                session.commit()
            except IntegrityError:
                # Another request created the same id meanwhile: treat it as a replay.
                session.rollback()
                existing = session.get(Device, device_id)
                if existing is None:
                    raise
        if existing is not None:
            if existing.deleted_at is not None:
                raise Conflict(
                    f"Device {device_id} was deleted; pin it under a new id.", field="id"
                )
            if not same_content(existing, columns, feature["geometry"]):
                raise Conflict(
                    f"A different device is already stored under the id {device_id}.", field="id"
                )
        location = url_for("devices.DeviceByIdViews", device_id=device_id, _external=True)
        return feature_response(device_id, 200 if existing else 201, {"Location": location})


@blp.route("/<uuid:device_id>")
class DeviceByIdViews(MethodView):
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON)
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(404, 410)
    def get(self, device_id):
        """Read one device as a GeoJSON Feature"""
        row = session.execute(select_device_feature(device_id)).one_or_none()
        if row is None:
            raise NotFound(f"No device has the id {device_id}.")
        if row.deleted_at is not None:
            raise Gone(f"Device {device_id} was deleted.", deleted_at=row.deleted_at.isoformat())
        etag = etag_of(device_id, row.version)
        if request.if_none_match.contains_weak(etag.strip('"')):
            return Response(status=304, headers={"ETag": etag})
        response = Response(row.feature, mimetype=GEOJSON)
        response.headers["ETag"] = etag
        return response

    @requires_json
    @blp.arguments(DevicePatchSchema)
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON)
    @blp.problems(404, 410, 412, 415, 428)
    def patch(self, changes, device_id):
        """Change some properties and/or the position of a device (needs If-Match)"""
        if not changes.get("properties") and "geometry" not in changes:
            raise ValidationFailed(
                "Send properties and/or a geometry to change.", field="properties"
            )
        device = find_device(device_id, for_update=True)
        check_if_match(device, required=True)
        for name, value in changes.get("properties", {}).items():
            setattr(device, name, value)
        if "geometry" in changes:
            device.geom = point(changes["geometry"])
        device.version += 1
        device.updated_at = func.now()
        session.commit()
        return feature_response(device_id)

    @blp.response(204)
    @blp.problems(404, 412)
    def delete(self, device_id):
        """Remove a device; a tombstone remains so that syncing clients learn of it"""
        device = session.get(Device, device_id, with_for_update=True)
        if device is None:
            raise NotFound(f"No device has the id {device_id}.")
        if device.deleted_at is None:
            check_if_match(device, required=False)
            device.deleted_at = device.updated_at = func.now()
            device.version += 1
            session.commit()
        return Response(status=204)
