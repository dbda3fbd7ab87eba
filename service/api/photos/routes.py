"""Photos: upload (cleaned of every metadata block), read, attach to devices, delete.

Uploading needs an account. An upload not yet attached is seen only by its uploader (and
moderators); a photo of a device is seen by whoever may see the device.
"""

import contextlib
import functools
import logging
import math
import threading

from flask import Response, current_app, g, redirect, request, url_for
from flask.views import MethodView
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from ... import idempotency
from ...caching import device_key, photo_key, share
from ...db import session
from ...errors import (
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
    ValidationFailed,
)
from ...extensions import BINARY, ETAG_HEADER, Blueprint
from ...models import Photo
from ...models.photo import RENDITIONS
from ...photos.library import delete_photos, loose_upload_of, save_photo
from ...photos.processing import OUTPUT_MEDIA_TYPE, ProcessedPhoto, process_photo
from ...ratelimit import write_limit
from ...storage import photo_storage
from ...storage.base import content_key
from ...visibility import day_of, is_public
from ..access import check_if_match, find_device, find_photo, lock_photo_and_device
from ..geojson import photo_base
from .schemas import PhotoSchema, PhotoUploadSchema, UploadedPhotoSchema

log = logging.getLogger(__name__)
# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_ALLOWANCE = 64 * 1024
# A presigned URL expires: the redirect to it may only be cached briefly.
REDIRECT_CACHE = "private, max-age=60"
NOT_KEPT = "no-store"

blp = Blueprint(
    "photos",
    __name__,
    url_prefix="/api/v1",
    description="Photos of devices, stripped of EXIF/GPS/XMP/IPTC and re-encoded as JPEG.",
)


def share_photo(photo: Photo, **policy) -> None:
    """A photo of a public pin is public: purged with its device (deleted, or pending again)."""
    share([photo_key(photo.id), device_key(photo.device_id)], **policy)


def photo_view(photo: Photo) -> dict:
    base = photo_base()
    return {
        "id": photo.id,
        "device_id": photo.device_id,
        "width": photo.width,
        "height": photo.height,
        "created_at": day_of(photo.created_at),
        "review_status": photo.review_status,
        **{name: f"{base}{photo.id}/{name}" for name in RENDITIONS},
    }


def uploaded_view(photo: Photo, processed: ProcessedPhoto) -> dict:
    suggestion = processed.suggestion
    return photo_view(photo) | {
        "suggested_location": suggestion.location,
        "accuracy_m": suggestion.accuracy_m,
        "taken_at": suggestion.taken_at,
    }


def allow_photo_body() -> None:
    """This request's body may reach the photo size limit, not the small JSON one; beyond, the
    413 states the photo's limit (not the multipart allowance's), whoever reads the body first
    (the view, or the Idempotency-Key fingerprint)."""
    limit = current_app.config["PHOTO_MAX_BYTES"]
    request.max_content_length = limit + MULTIPART_ALLOWANCE
    g.body_too_large = lambda: refused_body(limit)


def refused_body(limit: int) -> PayloadTooLarge | ValidationFailed:
    """What Werkzeug's RequestEntityTooLarge means for a photo upload. Within the photo's limit,
    the body itself is not too large: Werkzeug refused a part without a filename, read as text
    (MAX_FORM_MEMORY_SIZE), or parts past MAX_FORM_PARTS."""
    if (request.content_length or math.inf) <= request.max_content_length:
        return as_text_part()
    return too_large(limit)


def accepts_photo_upload(func):
    """Let the body reach the photo size limit (not the small JSON one) and refuse other bodies.

    Werkzeug spools the file part to an anonymous temporary file as it reads it, so the upload
    is never held whole in memory, and nothing is left on disk whatever happens.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        allow_photo_body()
        if request.mimetype != "multipart/form-data":
            raise UnsupportedMediaType(
                "Send the photo as multipart/form-data with the image in the `file` part, not "
                f"{request.mimetype or 'an undeclared type'}.",
                field="Content-Type",
            )
        try:
            if "file" in request.form and "file" not in request.files:
                raise as_text_part()
            unknown = sorted({*request.form, *request.files} - {"file"})
            if unknown and "file" in request.files:  # without one, the schema says it is needed
                raise ValidationFailed(
                    f"Unknown part {unknown[0]!r}: send the image alone, in the `file` part.",
                    field=unknown[0],
                )
            if len(request.files.getlist("file")) > 1:  # only the first would be kept
                raise ValidationFailed(
                    "Send one image per upload, in one `file` part.", field="file"
                )
            return func(*args, **kwargs)
        except RequestEntityTooLarge as exc:
            raise g.body_too_large() from exc

    # Read before the view by whatever needs the body first (Idempotency-Key's fingerprint).
    wrapper.before_body_is_read = allow_photo_body
    return wrapper


def as_text_part() -> ValidationFailed:
    """The image came in a part without a filename, which multipart reads as a text field
    (or among other parts): a 422 saying how to send it, not "too large" nor "missing"."""
    return ValidationFailed(
        'Send the image alone, as a file part: `Content-Disposition: form-data; name="file"; '
        'filename="photo.jpg"` (a part without a filename is read as text).',
        field="file",
    )


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The photo is larger than the {limit:,} bytes ({limit / 2**20:.1f} MB) accepted.",
        field="file",
        max_bytes=limit,
    )


def processed_upload(upload) -> ProcessedPhoto:
    """Check the file part's size, then decode and clean it. The client's filename is ignored."""
    with upload.stream as stream:
        size = stream.seek(0, 2)
        stream.seek(0)
        if size == 0:
            raise ValidationFailed("The file is empty.", field="file")
        if size > current_app.config["PHOTO_MAX_BYTES"]:
            raise too_large(current_app.config["PHOTO_MAX_BYTES"])
        with decoding_turn():
            return process_photo(stream, max_pixels=current_app.config["PHOTO_MAX_PIXELS"])


@contextlib.contextmanager
def decoding_turn():
    """One of the PHOTO_DECODES_PER_WORKER photos a worker process decodes at once. A few
    kilobytes of HEIC may decode into hundreds of megabytes (64 MP, copied once): threads that
    each decoded one would multiply that, for no more CPU than the worker has. Others wait
    their turn, PHOTO_DECODE_WAIT_SECONDS at most, then get a 503 to retry."""
    config = current_app.config
    turns = current_app.extensions.setdefault(
        "vigie.photo_decodes", threading.BoundedSemaphore(config["PHOTO_DECODES_PER_WORKER"])
    )
    if not turns.acquire(timeout=config["PHOTO_DECODE_WAIT_SECONDS"]):
        raise ServiceUnavailable(
            "Too many photos are being processed at the moment; send this one again shortly.",
            field="file",
            headers={"Retry-After": "5"},
        )
    try:
        yield
    finally:
        turns.release()


def check_loose_uploads(user) -> None:
    """An account keeps at most PHOTO_LOOSE_MAX uploads attached to no device: each takes disk
    until it is attached (or swept by clean-orphans a day later), and accounts cost nothing."""
    limit = current_app.config["PHOTO_LOOSE_MAX"]
    loose = session.scalar(
        select(func.count())
        .select_from(Photo)
        .where(Photo.uploaded_by == user.id, Photo.device_id.is_(None))
    )
    if loose >= limit:
        raise TooManyRequests(
            f"You have {loose} photos attached to no device (at most {limit}): attach them to "
            "pins, or delete them, before sending more.",
            field="file",
            # A limit of its own, which no wait frees: no Retry-After.
            headers={"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"},
        )


def created(photo: Photo, processed: ProcessedPhoto, status: int = 201) -> tuple:
    location = url_for("photos.PhotoByIdViews", photo_id=photo.id, _external=True)
    return uploaded_view(photo, processed), status, {"Location": location}


# Where and when a photo was taken is answered once, never kept (docs/photos.md).
PRIVATE_SUGGESTIONS = ("suggested_location", "accuracy_m", "taken_at")


@blp.route("/photos")
class PhotoUploadViews(MethodView):
    @idempotency.stored_without(*PRIVATE_SUGGESTIONS)
    @blp.auth()
    @write_limit
    @accepts_photo_upload
    @blp.arguments(PhotoUploadSchema, location="files")
    @blp.response(201, UploadedPhotoSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(
        200,
        schema=UploadedPhotoSchema,
        description="You uploaded this image already and it is not attached yet: that photo",
    )
    @blp.problems(400, 413, 415, 422, 429, 503, 507)
    def post(self, files):
        """Upload a photo; it is stripped of metadata and its GPS position is suggested back"""
        check_loose_uploads(g.user)
        processed = processed_upload(files["file"])
        earlier = loose_upload_of(processed, g.user)
        if earlier is not None:
            return created(earlier, processed, status=200)
        photo = save_photo(photo_storage(), processed, g.user)
        session.commit()
        return created(photo, processed)


@blp.route("/devices/<uuid:device_id>/photos")
class DevicePhotoViews(MethodView):
    @idempotency.stored_without(*PRIVATE_SUGGESTIONS)
    @blp.auth()
    @write_limit
    @accepts_photo_upload
    @blp.arguments(PhotoUploadSchema, location="files")
    @blp.if_match(required=False)
    @blp.response(201, UploadedPhotoSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.problems(400, 404, 410, 412, 413, 415, 422, 503, 507)
    def post(self, files, device_id):
        """Upload a photo straight onto a device"""
        # An unknown or deleted device, or a stale If-Match, refused before decoding.
        check_if_match(find_device(device_id), required=False)
        processed = processed_upload(files["file"])
        # Lock the device only now: decoding takes long, and the device may have changed.
        device = find_device(device_id, for_update=True)
        check_if_match(device, required=False)
        photo = save_photo(photo_storage(), processed, g.user, device=device)
        if is_public(photo.review_status):
            device.touch()  # its Feature lists one more; one awaiting review changes nothing
        session.commit()
        return created(photo, processed)


@blp.route("/photos/<uuid:photo_id>")
class PhotoByIdViews(MethodView):
    @blp.response(200, PhotoSchema)
    @blp.problems(404, 410)
    @blp.reads_caller()
    def get(self, photo_id):
        """Read a photo's metadata: its device, size and image URLs"""
        photo, public = find_photo(photo_id)
        if public:
            share_photo(photo)
        return photo_view(photo)

    @blp.auth()
    @write_limit
    @blp.response(204)
    @blp.problems(403, 404)
    def delete(self, photo_id):
        """Delete a photo and the files no other photo shares (its uploader or a moderator),
        a withdrawn device's too"""
        photo, device = lock_photo_and_device(photo_id, of_deleted_device=True)
        if not (g.user.is_moderator or photo.uploaded_by == g.user.id):
            raise Forbidden("Only the uploader or a moderator may delete this photo.")
        if device is not None and device.deleted_at is None and is_public(photo.review_status):
            device.touch()
        delete_photos(photo_storage(), [photo])  # commits
        return Response(status=204)


@blp.route("/photos/<uuid:photo_id>/<any(full, large, thumbnail):rendition>")
class PhotoImageViews(MethodView):
    @blp.response(200, content_type=OUTPUT_MEDIA_TYPE)
    @blp.served_as(
        {OUTPUT_MEDIA_TYPE: BINARY},
        description="The JPEG (its bytes never change; revalidate with If-None-Match)",
        headers=ETAG_HEADER,
    )
    @blp.alt_response(302, description="Redirect to a presigned URL of the object store")
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(404, 410)
    @blp.reads_caller()
    def get(self, photo_id, rendition):
        """Fetch a rendition of a photo: full (2560 px), large (1024 px) or thumbnail (320 px)"""
        photo, public = find_photo(photo_id)
        sha256 = photo.sha256_of(rendition)
        headers = {"ETag": f'"{sha256}"'}
        if public:
            share_photo(photo, max_age=current_app.config["PHOTO_MAX_AGE"])
        else:
            # Not yet public, fetched with a token: kept by no cache, not even the browser's,
            # which would serve it to the next person on a shared phone (no Vary would help:
            # the app signs out, the cached copy stays).
            headers["Cache-Control"] = NOT_KEPT
        # If-None-Match compares weakly (RFC 9110, 13.1.2): W/"..." names these bytes too.
        if request.if_none_match.contains_weak(sha256):
            return Response(status=304, mimetype=OUTPUT_MEDIA_TYPE, headers=headers)
        storage = photo_storage()
        key = content_key(sha256)
        target = storage.redirect_url(key)
        if target:
            response = redirect(target, 302)
            response.headers["Cache-Control"] = REDIRECT_CACHE if public else NOT_KEPT
            return response
        try:
            data = storage.read(key)
        except FileNotFoundError:
            # Not in this node's store (one of its own, not shared), or lost: said, not a 500.
            log.error("photo %s: its %s file %s is not in the store", photo_id, rendition, key)
            raise NotFound(
                f"The {rendition} image of photo {photo_id} is missing from the photo store.",
                field="rendition",
            ) from None
        response = Response(data, mimetype=OUTPUT_MEDIA_TYPE, headers=headers)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
