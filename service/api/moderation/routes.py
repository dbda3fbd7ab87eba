"""Moderation: review pending pins, merge duplicates, revert to an earlier revision."""

from flask import Response, current_app, g, request
from flask.views import MethodView
from marshmallow import RAISE
from sqlalchemy import func, select, update

from ...community import (
    date_first_sighting,
    inherit_first_sighting,
    recompute_verification,
    record_revision,
    restore,
    state_before,
)
from ...db import session
from ...errors import Conflict, NotFound
from ...extensions import ETAG_HEADER, Blueprint, path_field, requires_json
from ...geo.devices.proximity import select_distance_m, select_moderation_queue
from ...models import Confirmation, Device, DeviceRevision, Photo
from ...photos.library import delete_photos, put_on
from ...ratelimit import write_limit
from ...storage import photo_storage
from ...visibility import AWAITING_REVIEW, PUBLIC_REVIEW_STATUS, is_public
from ..access import check_if_match, feature_response, find_device, lock_photo_and_device
from ..devices.schemas import DeviceFeatureSchema
from ..geojson import GEOJSON, JSON, photo_base
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
    UnmergeSchema,
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
        return Response(body, mimetype=JSON)


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
        # An approval with a photo confirms the device on its own (an undone merge keeps that).
        confirmed = approved and device.has_photos
        if approved:
            recompute_verification(device, confirmed=confirmed)
        device.touch()
        record_revision(
            device, "review", before, g.user, undoing={"confirmed": True} if confirmed else None
        )
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
    """Two kinds, or two places far apart, are more likely a wrong id than the same device
    pinned twice, and need force=true: a merge is undone, but maps and votes meanwhile went by
    it."""
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
        moves = {
            "confirmations": ids_on(Confirmation, other.id),
            "photos": ids_on(Photo, other.id),
            "held_photos": [],
        }
        if is_public(target.review_status) and not is_public(other.review_status):
            # Photos of a pin nobody but its author and moderators saw (pending, or rejected:
            # perhaps for a face) would show at once on a public one: each waits for review.
            held = session.scalars(
                update(Photo)
                .where(Photo.device_id == other.id, Photo.review_status != AWAITING_REVIEW)
                .values(review_status=AWAITING_REVIEW, listed_at=None)
                .returning(Photo.id)
            )
            moves["held_photos"] = [str(photo_id) for photo_id in held]
        for model in (Confirmation, Photo):  # votes and photos move to the kept device
            session.execute(
                update(model).where(model.device_id == other.id).values(device_id=target.id)
            )
        other.deleted_at = func.now()
        other.merged_into = target.id
        other.touch()
        level = target.verification
        recompute_verification(target, confirmed=other.verification == "confirmed")
        # Whether the duplicate made it confirmed, which its undoing then takes back.
        moves["confirmed"] = level != "confirmed" and target.verification == "confirmed"
        inherit_first_sighting(target, other)
        target.touch()
        record_revision(
            other, "merge", before_other, g.user, other_device_id=target.id, undoing=moves
        )
        record_revision(target, "merge", before_target, g.user, other_device_id=other.id)
        session.commit()
        return feature_response(device_id)


def ids_on(model, device_id) -> list[str]:
    """The ids of the votes or photos (MODEL) on a device, as a merge's record keeps them."""
    return [str(i) for i in session.scalars(select(model.id).where(model.device_id == device_id))]


def lock_merged_pair(duplicate_id, kept_id) -> tuple[Device, Device]:
    """DUPLICATE_ID and KEPT_ID, which it was merged into, both locked in the order a merge
    locks them (so that the two cannot deadlock), or the 404/409 that says why not: a stale
    request (a history read before another moderator's decision) undoes no other merge."""
    locked = {
        device.id: device
        for device in session.scalars(
            select(Device)
            .where(Device.id.in_((duplicate_id, kept_id)))
            .order_by(Device.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    duplicate = locked.get(duplicate_id)
    if duplicate is None:
        raise NotFound(f"No device has the id {duplicate_id}.", field=path_field(duplicate_id))
    if duplicate.merged_into != kept_id:
        now = (
            f"merged into {duplicate.merged_into}"
            if duplicate.merged_into
            else "deleted, not merged"
            if duplicate.deleted_at
            else "not merged into another"
        )
        raise Conflict(
            f"Device {duplicate_id} is not merged into {kept_id} (any more): it is {now}.",
            field="merged_into",
        )
    return duplicate, locked[kept_id]


def merge_record(duplicate: Device) -> dict:
    """What the merge of DUPLICATE moved (record_revision's undoing), or a 409 for a merge made
    before merges recorded it."""
    moves = session.scalar(
        select(DeviceRevision.undoing)
        .where(DeviceRevision.device_id == duplicate.id, DeviceRevision.action == "merge")
        .order_by(DeviceRevision.id.desc())
        .limit(1)
    )
    if not moves or "confirmations" not in moves:
        raise Conflict(
            f"Device {duplicate.id} was merged before merges recorded which votes and photos "
            "they moved: this merge cannot be undone. Pin the device again instead.",
            field="device_id",
        )
    return moves


def confirmed_otherwise(device: Device) -> bool:
    """Whether DEVICE is confirmed by other means than votes: approved with a photo (its review
    revision says so), or a confirmed duplicate still merged into it (recompute_verification's
    CONFIRMED)."""
    approved_with_photo = select(DeviceRevision.id).where(
        DeviceRevision.device_id == device.id,
        DeviceRevision.action == "review",
        DeviceRevision.undoing["confirmed"].as_boolean(),
    )
    merged_confirmed = select(Device.id).where(
        Device.merged_into == device.id, Device.verification == "confirmed"
    )
    return session.scalar(select(approved_with_photo.exists() | merged_confirmed.exists()))


@blp.route("/devices/<uuid:device_id>/unmerge")
class UnmergeViews(MethodView):
    @blp.auth(role="moderator")
    @write_limit
    @requires_json
    @blp.arguments(UnmergeSchema)
    @blp.if_match(required=False, when="checked when sent: the kept device's ETag")
    @blp.response(200, DeviceFeatureSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.problems(404, 409, 412, 415)
    def post(self, form, device_id):
        """Undo a wrong merge: this duplicate is a device again, with the votes and photos the
        merge moved, and the device kept loses what the merge gave it"""
        duplicate, kept = lock_merged_pair(device_id, form["merged_into"])
        check_if_match(kept, required=False)
        if kept.merged_into is not None:
            raise Conflict(
                f"Device {kept.id}, which {device_id} was merged into, was itself merged into "
                f"{kept.merged_into} since: undo that merge first "
                f"(POST /api/v1/devices/{kept.id}/unmerge).",
                field="device_id",
            )
        moves = merge_record(duplicate)
        before_duplicate, before_kept = state_before(duplicate), state_before(kept)
        for model in (Confirmation, Photo):  # what the merge moved, still on the device kept
            moved = moves["confirmations" if model is Confirmation else "photos"]
            session.execute(
                update(model)
                .where(model.id.in_(moved), model.device_id == kept.id)
                .values(device_id=duplicate.id)
            )
        # The photos the merge held for review, not reviewed since: the pin hides them again,
        # as before (the others, a vote's evidence on a pin once public, still wait).
        held = session.scalars(
            select(Photo).where(
                Photo.id.in_(moves["held_photos"]),
                Photo.device_id == duplicate.id,
                Photo.review_status == AWAITING_REVIEW,
            )
        )
        for photo in held:
            put_on(photo, duplicate.id, PUBLIC_REVIEW_STATUS)
        duplicate.deleted_at = None
        duplicate.merged_into = None
        duplicate.touch()
        session.flush()
        # What the device kept is without the duplicate, from its own record: its first
        # observation; and its level, when the duplicate made it confirmed, from its votes, its
        # approval with a photo and the pins still merged into it (else as it is: confirmed
        # once, a device stays so).
        date_first_sighting(kept)
        if moves.get("confirmed"):
            kept.verification = "reported"
        recompute_verification(kept, confirmed=confirmed_otherwise(kept))
        recompute_verification(duplicate)
        kept.touch()
        record_revision(duplicate, "unmerge", before_duplicate, g.user, other_device_id=kept.id)
        record_revision(kept, "unmerge", before_kept, g.user, other_device_id=duplicate.id)
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
        # A revert undoes edits, not sightings: its own first observation then, or that of a
        # pin merged into it now (never of one no longer merged).
        date_first_sighting(device, until=revision.id)
        device.touch()
        record_revision(device, "revert", before, g.user, undoing={"revision": revision.id})
        session.commit()
        return feature_response(device_id)
