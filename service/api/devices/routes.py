"""Devices: pin, read, change, remove, and list what is in view as GeoJSON."""

import math
import uuid
from datetime import timedelta

from flask import Response, current_app, g, request
from flask.views import MethodView
from geoalchemy2.shape import to_shape
from marshmallow import RAISE
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ... import vocabulary as vocab
from ...auth import current_viewer
from ...caching import area_keys, device_key, share
from ...community import is_trusted, record_revision, state_before
from ...db import run_statement, session
from ...delivery import conditional_response
from ...errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from ...extensions import ETAG_HEADER, Blueprint, requires_json
from ...geo.devices.filter import DeviceFilter, count_devices
from ...geo.devices.proximity import (
    area_cells,
    lock_area_statement,
    select_duplicate_candidates,
)
from ...geo.devices.spatial import check_device_position, select_device_page_in_space, spatial_page
from ...geo.tiles import select_device_clusters
from ...models import Device, User
from ...photos.library import attach_photos, photos_attached_to
from ...ratelimit import count_against, write_limit
from ...visibility import may_see
from ..access import (
    check_if_match,
    device_gone,
    device_url,
    etag_of,
    feature_response,
    find_device,
    point,
    read_device_feature,
)
from ..credits import device_credits, licence_links, with_credit_headers
from ..fields import split_antimeridian
from ..geojson import (
    GEOJSON,
    CursorCodec,
    feature_collection,
    link,
    photo_base,
    request_uri,
    this_url_with,
)
from .osm_export import OSM_XML, osm_export_response
from .schemas import (
    DeviceCollectionSchema,
    DeviceCreateArgsSchema,
    DeviceFeatureInSchema,
    DeviceFeatureSchema,
    DevicePatchSchema,
    DeviceQueryArgsSchema,
    no_camera_type,
)

DEFAULT_PAGE_SIZE = 100
# A position in the listing's spatial order: (tile_key, id), as the OGC API's pages; marked,
# since a sync cursor has the same parts (a transaction id, an id) and means another order.
CURSORS = CursorCodec(
    int, uuid.UUID, advice="restart from the first page.", check=check_device_position, mark=b"L"
)
# Column defaults that apply when a client leaves the property out.
PROPERTY_DEFAULTS = {"operator_type": "unknown", "status": "active", "tags": {}}

blp = Blueprint(
    "devices",
    __name__,
    url_prefix="/api/v1/devices",
    description="Surveillance devices as GeoJSON Features (RFC 7946).",
)


def same_content(device: Device, columns: dict, geometry: dict, photo_ids: list) -> bool:
    """Whether a replayed creation carries what is already stored."""
    stored = to_shape(device.geom)
    lon, lat = geometry["coordinates"][:2]
    if abs(stored.x - lon) > 1e-9 or abs(stored.y - lat) > 1e-9:
        return False
    return all(
        getattr(device, name) == value for name, value in columns.items()
    ) and photos_attached_to(device.id, photo_ids)


def replay_or_conflict(existing: Device, columns: dict, geometry: dict, photo_ids: list) -> None:
    """A pin sent again by its author (a retry whose answer was lost) is answered as saved.

    Anyone else is told only that the id is taken: comparing their body with the device would
    answer whether a guess of what the public is not told (the exact time it was seen, a
    pending pin's notes) is right.
    """
    if existing.created_by is None or existing.created_by != g.user.id:
        raise Conflict(f"The id {existing.id} is taken; pin the device under a new id.", field="id")
    if existing.deleted_at is not None:
        raise Conflict(f"Device {existing.id} was deleted; pin it under a new id.", field="id")
    if not same_content(existing, columns, geometry, photo_ids):
        # Theirs, stored before (a pin whose answer was lost, corrected since on the phone):
        # what to do is to edit it.
        raise Conflict(
            f"Your pin {existing.id} is already stored, as it was first sent: change it with "
            f"PATCH /api/v1/devices/{existing.id}.",
            field="id",
            yours=True,
        )


def check_pin_rate(user: User) -> None:
    """Contributors not yet trusted may pin only so many devices an hour (spam, mistakes)."""
    limit = current_app.config["NEW_ACCOUNT_PINS_PER_HOUR"]
    if limit <= 0:
        raise Forbidden("On this server only trusted contributors may pin devices.")
    # When the hour's oldest pin (this one, if it is the first) stops counting.
    freed = func.coalesce(func.min(Device.created_at), func.now()) + timedelta(hours=1)
    count, wait, reset = session.execute(
        select(
            func.count(), func.extract("epoch", freed - func.now()), func.extract("epoch", freed)
        ).where(Device.created_by == user.id, Device.created_at > func.now() - timedelta(hours=1))
    ).one()
    if count < limit:
        count_against(limit, remaining=limit - count - 1, reset_at=math.ceil(reset))
    else:
        raise TooManyRequests(
            f"New accounts may pin {limit} devices an hour; try again later.",
            headers={
                "Retry-After": str(max(1, math.ceil(wait))),
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(reset)),
            },
        )


def fit_camera_type(device: Device, properties: dict) -> None:
    """A camera type belongs to the kinds that film: one sent for another kind is refused,
    and a device changed to another kind drops its own (its revision keeps it)."""
    kind = properties.get("kind", device.kind)
    if kind in vocab.CAMERA_KINDS:
        return
    if properties.get("camera_type") is not None:
        raise ValidationFailed(no_camera_type(kind), field="properties.camera_type")
    if "kind" in properties and device.camera_type is not None:
        properties["camera_type"] = None


# The OSM key of each field (`source` aside: OSM's `source=survey` is no web address for the
# field) and of each kind: tags of these keys would contradict the fields in the OSM export.
TAGS_OF_FIELDS = {key: field for field, key in vocab.OSM_KEYS.items() if field != "source"} | {
    key: "kind" for kind in vocab.KINDS for key in kind.osm_tags
}


def refuse_tags_of_fields(properties: dict, kept: dict | None = None) -> None:
    """A tag that a field says is set through that field: given as a tag, it would be exported
    to OpenStreetMap over a field left empty (a microphone with `camera:type=dome`). A device
    imported from OSM keeps those the import could not read: sent back unchanged, they pass."""
    kept = kept or {}
    for key, value in (properties.get("tags") or {}).items():
        if key in TAGS_OF_FIELDS and kept.get(key) != value:
            raise ValidationFailed(
                f"The tag {key!r} stands for the field {TAGS_OF_FIELDS[key]}: tags hold what "
                "no field says.",
                field="properties.tags",
            )


def duplicate_candidates(
    kind: str, lon: float, lat: float, device_id: uuid.UUID, *, to_write: bool = True
) -> list:
    """The devices of KIND near (LON, LAT). TO_WRITE (a device about to stand there): once no
    other check of that area is under way, whose lock, held until this transaction ends, makes
    a pin sent at the same moment nearby wait for this one to be stored, and then find it (two
    pins each checked before the other was stored were both accepted)."""
    distance = current_app.config["DUPLICATE_DISTANCE_M"]
    if to_write:
        session.execute(lock_area_statement(area_cells(lon, lat, distance)))
    return session.execute(
        select_duplicate_candidates(kind, lon, lat, distance, current_viewer(), device_id),
        {"photo_base": photo_base()},
    ).all()


def refuse_duplicates(candidates: list) -> None:
    """A 409 listing CANDIDATES (rows of select_duplicate_candidates), if any."""
    if candidates:
        distance = current_app.config["DUPLICATE_DISTANCE_M"]
        raise Conflict(
            f"{len(candidates)} device{'s' if len(candidates) > 1 else ''} of the same kind "
            f"within {distance:g} m: check {'them' if len(candidates) > 1 else 'it'}, then send "
            "again with force=true if yours is another one.",
            field="geometry",
            candidates=[
                {
                    "id": str(c.id),
                    "kind": c.kind,
                    "review_status": c.review_status,
                    "distance_m": float(c.distance_m),
                    "photos": c.photos,
                    "yours": c.yours,
                }
                for c in candidates
            ],
        )


def check_duplicates(kind: str, geometry: dict, device_id: uuid.UUID) -> None:
    """A 409 listing the devices of KIND within DUPLICATE_DISTANCE_M of GEOMETRY, if any."""
    lon, lat = geometry["coordinates"][:2]
    refuse_duplicates(duplicate_candidates(kind, lon, lat, device_id))


def check_moved_onto_duplicates(device: Device, changes: dict) -> None:
    """A move, or a change of kind, that brings a device near others of its kind is checked as
    a new pin is (force=true to insist); the devices it stood near before were accepted (read
    only when some stand near its new place: most moves cost one lookup)."""
    kind = changes.get("properties", {}).get("kind", device.kind)
    if "geometry" not in changes and kind == device.kind:
        return
    here = to_shape(device.geom)
    lon, lat = (changes.get("geometry") or {"coordinates": [here.x, here.y]})["coordinates"][:2]
    candidates = duplicate_candidates(kind, lon, lat, device.id)
    if candidates:
        before = duplicate_candidates(device.kind, here.x, here.y, device.id, to_write=False)
        near_already = {c.id for c in before}
        refuse_duplicates([c for c in candidates if c.id not in near_already])


def require_editor(device: Device, user: User) -> None:
    """Moderators edit anything; authors edit their own pins while they await review."""
    if user.is_moderator:
        return
    if device.created_by != user.id:
        raise Forbidden("Only the author or a moderator may change this device.")
    if device.review_status == "rejected":
        raise Forbidden(
            "A moderator rejected this pin, for the reason it gives: if the device is there, "
            "pin it again with what was missing."
        )
    if device.review_status != "pending":
        # Named by its field, so that an app says it in its own words (its button for a
        # confirmation with wrong_details).
        raise Forbidden(
            "Reviewed pins can only be changed by moderators: send a "
            "confirmation with `wrong_details` instead.",
            field="review_status",
        )


def cluster_response(flt: DeviceFilter, zoom: int, limit: int) -> Response:
    clusters = session.execute(
        select_device_clusters(flt, zoom, limit), {"photo_base": photo_base()}
    ).one()
    body = feature_collection(
        clusters.features,
        numberReturned=clusters.returned,
        numberMatched=clusters.matched,
        links=[link(request_uri(), "self"), *licence_links(device_credits())],
    )
    return conditional_response(body, GEOJSON)


def next_link(last_key: str) -> str:
    """This listing's URL, continued after the page edge last_key ('tile_key:id')."""
    return this_url_with(cursor=CURSORS.encode(*CURSORS.parse_edge(last_key)))


@blp.route("")
class DeviceViews(MethodView):
    @blp.arguments(DeviceQueryArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, DeviceCollectionSchema, content_type=GEOJSON)
    @blp.served_as(
        {
            GEOJSON: {"$ref": "#/components/schemas/DeviceCollection"},
            OSM_XML: {"type": "string", "description": "With f=osm; a Link header: next page"},
        },
        headers=ETAG_HEADER,
    )
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(400)
    @blp.reads_caller()
    def get(
        self,
        bbox=None,
        kind=(),
        status=(),
        operator_type=(),
        verification=(),
        updated_since=None,
        declared=None,
        limit=DEFAULT_PAGE_SIZE,
        cursor=None,
        count=False,
        f="geojson",
        cluster=False,
        zoom=None,
    ):
        """List devices in view as a GeoJSON FeatureCollection (or OSM XML), page by page"""
        flt = DeviceFilter(
            bboxes=split_antimeridian(bbox) if bbox else [],
            kinds=list(kind),
            statuses=list(status),
            operator_types=list(operator_type),
            verifications=list(verification),
            updated_since=updated_since,
            declared=declared,
            viewer=current_viewer(),
        )
        share(area_keys(flt.bboxes), per_viewer=True)
        if cluster:
            return cluster_response(flt, zoom, limit)
        after = CURSORS.decode(cursor) if cursor else None
        if f == "osm":
            return osm_export_response(flt, limit, after, bbox, next_link)
        row = run_statement(
            select_device_page_in_space(flt, limit, after=after), photo_base=photo_base()
        )
        page = spatial_page(row, limit, backward=False)
        links = [
            link(request_uri(), "self"),
            *licence_links(device_credits(page.from_openstreetmap)),
        ]
        if page.has_more:
            links.append(link(next_link(page.last_key), "next"))
        matched = session.execute(count_devices(flt)).scalar_one() if count else None
        body = feature_collection(
            page.features, numberReturned=page.returned, numberMatched=matched, links=links
        )
        return conditional_response(body, GEOJSON)

    @blp.auth()
    @write_limit
    @requires_json
    @blp.arguments(DeviceCreateArgsSchema, location="query", unknown=RAISE, as_kwargs=True)
    @blp.arguments(DeviceFeatureInSchema)
    @blp.response(
        201,
        DeviceFeatureSchema,
        content_type=GEOJSON,
        headers={"Location": {"schema": {"type": "string"}}, **ETAG_HEADER},
    )
    @blp.alt_response(
        200,
        schema=DeviceFeatureSchema,
        content_type=GEOJSON,
        description="The same Feature was already stored under this id (safe retry)",
    )
    @blp.problems(403, 409, 413, 415, 422, 429)
    def post(self, feature, force=False):
        """Pin a device (the Feature id may be a client-made UUID; retries are safe)"""
        user = g.user
        columns = PROPERTY_DEFAULTS | feature["properties"]
        device_id = feature.get("id") or uuid.uuid4()
        photo_ids = feature.get("photo_ids", [])
        existing = session.get(Device, device_id)
        if existing is not None:
            replay_or_conflict(existing, columns, feature["geometry"], photo_ids)
            return feature_response(device_id, 200, {"Location": device_url(device_id)})
        refuse_tags_of_fields(feature["properties"])
        trusted = is_trusted(user)  # one count of approved pins serves both rules below
        if not trusted:
            check_pin_rate(user)
        if not force:
            check_duplicates(columns["kind"], feature["geometry"], device_id)
        device = Device(
            id=device_id,
            geom=point(feature["geometry"]),
            created_by=user.id,
            review_status="approved" if trusted else "pending",
            **columns,
        )
        session.add(device)
        try:
            session.flush()
            attach_photos(device, photo_ids, user)
            record_revision(device, "create", None, user)
            session.commit()
        except IntegrityError:
            # Another request created the same id meanwhile: treat it as a replay.
            session.rollback()
            existing = session.get(Device, device_id)
            if existing is None:
                raise
            replay_or_conflict(existing, columns, feature["geometry"], photo_ids)
            return feature_response(device_id, 200, {"Location": device_url(device_id)})
        return feature_response(device_id, 201, {"Location": device_url(device_id)})


@blp.route("/<uuid:device_id>")
class DeviceByIdViews(MethodView):
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.alt_response(308, description="Merged into another device: follow Location")
    @blp.problems(404, 410)
    @blp.reads_caller()
    def get(self, device_id):
        """Read one device as a GeoJSON Feature"""
        row = read_device_feature(device_id)
        share([device_key(device_id)], per_viewer=True)
        if row.merged_into is not None:
            # No body: Werkzeug's would be an HTML page, the only one of the API's answers.
            moved = Response(status=308, headers={"Location": device_url(row.merged_into)})
            del moved.headers["Content-Type"]
            return moved
        if row.deleted_at is not None:
            raise device_gone(device_id, row.deleted_at)
        etag = etag_of(device_id, row.version)
        if request.if_none_match.contains_weak(etag.strip('"')):
            return Response(status=304, mimetype=GEOJSON, headers={"ETag": etag})
        response = Response(row.feature, mimetype=GEOJSON)
        response.headers["ETag"] = etag
        # One from OpenStreetMap names its sources, as the ODbL asks (in headers: the Feature
        # has no links). Written for those only: 20 us, 6 % of a read by id.
        if row.from_openstreetmap:
            with_credit_headers(response, device_credits(from_openstreetmap=True))
        return response

    @blp.auth()
    @write_limit
    @requires_json
    @blp.arguments(DeviceCreateArgsSchema, location="query", unknown=RAISE, as_kwargs=True)
    @blp.arguments(DevicePatchSchema)
    @blp.if_match(required=True)
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.problems(403, 404, 409, 410, 412, 415, 428)
    def patch(self, changes, device_id, force=False):
        """Change some properties and/or the position of a device (needs If-Match)"""
        if not (changes.get("properties") or "geometry" in changes or changes.get("photo_ids")):
            raise ValidationFailed(
                "Send properties, a geometry and/or photo_ids to change.", field="properties"
            )
        if changes.get("id", device_id) != device_id:
            # A client's mix-up of two devices, rather than an edit to apply to the URL's.
            raise ValidationFailed(
                f"The body names the device {changes['id']}, the URL {device_id}.", field="id"
            )
        device = find_device(device_id, for_update=True)
        require_editor(device, g.user)
        check_if_match(device, required=True)
        before = state_before(device)
        fit_camera_type(device, changes.setdefault("properties", {}))
        refuse_tags_of_fields(changes["properties"], kept=device.tags)
        if not force:
            check_moved_onto_duplicates(device, changes)
        for name, value in changes["properties"].items():
            setattr(device, name, value)
        if "geometry" in changes:
            device.geom = point(changes["geometry"])
        attach_photos(device, changes.get("photo_ids", []), g.user)
        device.touch()
        record_revision(device, "update", before, g.user)
        session.commit()
        return feature_response(device_id)

    @blp.auth()
    @write_limit
    @blp.if_match(required=False)
    @blp.response(204)
    @blp.problems(403, 404, 412)
    def delete(self, device_id):
        """Remove a device; a tombstone remains so that syncing clients learn of it"""
        device = session.get(Device, device_id, with_for_update=True)
        if device is None or not may_see(device.review_status, device.created_by, current_viewer()):
            raise NotFound(f"No device has the id {device_id}.", field="device_id")
        if device.deleted_at is None:
            require_editor(device, g.user)
            check_if_match(device, required=False)
            before = state_before(device)
            device.deleted_at = func.now()
            device.touch()
            record_revision(device, "delete", before, g.user)
            session.commit()
        return Response(status=204)
