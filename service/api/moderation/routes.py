"""Moderation: review pending pins, merge duplicates, revert to an earlier revision."""

from flask import Response, current_app, g, request
from flask.views import MethodView
from marshmallow import RAISE
from sqlalchemy import func, update

from ...community import (
    inherit_first_sighting,
    keep_merged_sightings,
    recompute_verification,
    record_revision,
    restore,
    state_before,
)
from ...db import session
from ...errors import Conflict, NotFound
from ...extensions import ETAG_HEADER, Blueprint, requires_json
from ...geo.devices.proximity import select_distance_m, select_moderation_queue
from ...models import Confirmation, Device, DeviceRevision, Photo
from ...photos.library import delete_photos, put_on
from ...ratelimit import write_limit
from ...storage import photo_storage
from ...visibility import AWAITING_REVIEW, PUBLIC_REVIEW_STATUS, is_public
from ..access import check_if_match, feature_response, find_device, lock_photo_and_device
from ..devices.schemas import DeviceFeatureSchema
from ..geojson import GEOJSON, photo_base
from ..photos.routes import photo_view
from ..photos.schemas import PhotoSchema
from .schemas import (
    MergeArgsSchema,
    MergeSchema,
    PhotoReviewSchema,
    QueueArgsSchema,
    QueueSchema,
    RevertSchema,
    ReviewSchema,
)

blp = Blueprint(
    "moderation",
    __name__,
    url_prefix="/api/v1",
    description="Moderation of pins: review, merge, revert (moderators and admins).",
)


@blp.route("/moderation/queue")
class QueueViews(MethodView):
    @blp.auth(role="moderator")
    @blp.arguments(QueueArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, QueueSchema)
    @blp.problems(400)
    def get(self, args):
        """List pins awaiting review, each with its duplicate candidates, and photos awaiting
        review, oldest first"""
        distance = current_app.config["DUPLICATE_DISTANCE_M"]
        body = session.scalar(
            select_moderation_queue(args["limit"], distance), {"photo_base": photo_base()}
        )
        return Response(body, mimetype="application/json")


@blp.route("/devices/<uuid:device_id>/review")
class ReviewViews(MethodView):
    @blp.auth(role="moderator")
    @write_limit
    @requires_json
    @blp.arguments(ReviewSchema)
    @blp.if_match(required=False, when="needed to change a decision already taken (409 without)")
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.problems(404, 409, 410, 412, 415)
    def post(self, decision, device_id):
        """Approve a pin, or reject it with a reason shown to its author (a decision already
        taken is changed only with the device's ETag in If-Match)"""
        device = find_device(device_id, for_update=True)
        if device.review_status != "pending":
            # Another moderator may have decided since the queue was read: a decision is
            # changed (a public pin withdrawn, a rejected one approved) only knowingly.
            if not request.if_match:
                raise Conflict(
                    f"Pin {device_id} is not awaiting review any more: it was "
                    f"{device.review_status}. To change that decision, send the device's ETag "
                    "in If-Match.",
                    field="device_id",
                )
            check_if_match(device, required=True)
        before = state_before(device)
        approved = decision["decision"] == "approve"
        device.review_status = "approved" if approved else "rejected"
        device.review_reason = decision.get("reason")
        if approved:
            recompute_verification(device, confirmed=device.has_photos)
        device.touch()
        record_revision(device, "review", before, g.user)
        session.commit()
        return feature_response(device_id)


@blp.route("/photos/<uuid:photo_id>/review")
class PhotoReviewViews(MethodView):
    @blp.auth(role="moderator")
    @write_limit
    @requires_json
    @blp.arguments(PhotoReviewSchema)
    @blp.response(200, PhotoSchema)
    @blp.alt_response(204, description="Rejected: the photo is deleted")
    @blp.problems(404, 409, 410, 415)
    def post(self, decision, photo_id):
        """Approve a photo awaiting review (listed with its device from then on), or reject it"""
        photo, device = lock_photo_and_device(photo_id)
        if photo.review_status != "pending":
            raise Conflict(f"Photo {photo_id} is not awaiting review.", field="photo_id")
        if decision["decision"] == "reject":
            delete_photos(photo_storage(), [photo])  # commits
            return Response(status=204)
        put_on(photo, device.id, PUBLIC_REVIEW_STATUS)
        device.touch()  # its Feature lists one more
        session.commit()
        return photo_view(photo)


def refuse_hiding_merge(target: Device, other: Device) -> None:
    """A public device merged into a pin awaiting review (or rejected) would leave the map,
    its redirect naming a pin nobody else may see: the pin is the one to merge."""
    if is_public(other.review_status) and not is_public(target.review_status):
        raise Conflict(
            f"Device {other.id} is public and this pin is {target.review_status}: merge the "
            f"pin into it instead (POST /api/v1/devices/{other.id}/merge, other "
            f"{target.id}).",
            field="other",
        )


def refuse_unlikely_merge(target: Device, other: Device) -> None:
    """A merge cannot be undone (the duplicate's votes and photos join the device kept, which
    its revisions do not record): two kinds, or two places far apart, are more likely a wrong
    id than the same device pinned twice, and need force=true."""
    distance = session.scalar(select_distance_m(target.id, other.id))
    limit = current_app.config["MERGE_DISTANCE_M"]
    if other.kind != target.kind or distance > limit:
        raise Conflict(
            f"Device {other.id} is a {other.kind} {distance:,.0f} m from this {target.kind}; "
            f"a duplicate is of the same kind, within {limit:,.0f} m. If it is the same "
            "device all the same, merge with force=true.",
            field="other",
        )


@blp.route("/devices/<uuid:device_id>/merge")
class MergeViews(MethodView):
    @blp.auth(role="moderator")
    @write_limit
    @requires_json
    @blp.arguments(MergeArgsSchema, location="query", as_kwargs=True)
    @blp.arguments(MergeSchema)
    @blp.if_match(required=False, when="checked when sent: the kept device's ETag")
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.problems(404, 409, 410, 412, 415)
    def post(self, form, device_id, force=False):
        """Merge a duplicate into this device: its votes move here, it becomes a redirect
        (a public duplicate merges into a public device only)"""
        if form["other"] == device_id:
            raise Conflict("A device cannot be merged into itself.", field="other")
        # Lock both rows in a fixed order so that two crossing merges cannot deadlock.
        first, second = sorted((device_id, form["other"]))
        field = {form["other"]: "other"}
        locked = {
            first: find_device(first, for_update=True, field=field.get(first)),
            second: find_device(second, for_update=True, field=field.get(second)),
        }
        target, other = locked[device_id], locked[form["other"]]
        check_if_match(target, required=False)
        refuse_hiding_merge(target, other)
        if not force:
            refuse_unlikely_merge(target, other)
        before_target, before_other = state_before(target), state_before(other)
        if is_public(target.review_status) and not is_public(other.review_status):
            # Photos of a pin nobody but its author and moderators saw (pending, or rejected:
            # perhaps for a face) would show at once on a public one: each waits for review.
            session.execute(
                update(Photo)
                .where(Photo.device_id == other.id)
                .values(review_status=AWAITING_REVIEW, listed_at=None)
            )
        for model in (Confirmation, Photo):  # votes and photos move to the kept device
            session.execute(
                update(model).where(model.device_id == other.id).values(device_id=target.id)
            )
        other.deleted_at = func.now()
        other.merged_into = target.id
        other.touch()
        recompute_verification(target, confirmed=other.verification == "confirmed")
        inherit_first_sighting(target, other)
        target.touch()
        record_revision(other, "merge", before_other, g.user)
        record_revision(target, "merge", before_target, g.user)
        session.commit()
        return feature_response(device_id)


@blp.route("/devices/<uuid:device_id>/revert")
class RevertViews(MethodView):
    @blp.auth(role="moderator")
    @write_limit
    @requires_json
    @blp.arguments(RevertSchema)
    @blp.if_match(required=False, when="checked when sent")
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.problems(404, 410, 412, 415)
    def post(self, form, device_id):
        """Restore the device as it stood right after one of its revisions"""
        device = find_device(device_id, for_update=True)
        check_if_match(device, required=False)
        revision = session.get(DeviceRevision, form["revision"])
        if revision is None or revision.device_id != device_id:
            raise NotFound(
                f"Device {device_id} has no revision {form['revision']}.", field="revision"
            )
        before = state_before(device)
        restore(device, revision.snapshot)
        keep_merged_sightings(device)
        device.touch()
        record_revision(device, "revert", before, g.user)
        session.commit()
        return feature_response(device_id)
