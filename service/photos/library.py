"""Keeping photos: their rows and their files, consistent with each other.

Files are shared by every photo with the same content, so writing and deleting them happens
under a per-file advisory lock: an upload of the same image cannot slip between the check that
a file is unused and its removal. Files are written before their row is committed and removed
after it is deleted and committed: whatever fails on the way, no row names a missing file
(a file left without a row is a stray, which `clean-orphans --files` removes).
"""

import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import delete, func, or_, select

from ..community import is_trusted
from ..db import session
from ..errors import Conflict, Forbidden, InsufficientStorage, ServiceUnavailable, ValidationFailed
from ..models import Device, Photo, User
from ..models.photo import RENDITIONS
from ..storage import PhotoStorage
from ..visibility import (
    PUBLIC_REVIEW_STATUS,
    Viewer,
    is_public,
    may_see_photo,
    photo_review_status,
)
from .processing import OUTPUT_MEDIA_TYPE, ProcessedPhoto

log = logging.getLogger(__name__)


def lock_files(keys: Iterable[str]) -> None:
    """Hold each file's lock until the transaction ends (sorted: no deadlock between two)."""
    for key in sorted(set(keys)):
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def review_status_on(device: Device, user: User) -> str:
    """Whether USER's photo of DEVICE goes public with it or waits for a moderator."""
    return photo_review_status(device.review_status, is_trusted(user))


def put_on(photo: Photo, device_id: uuid.UUID, review_status: str) -> None:
    """PHOTO on a device: listed with it from now on (after the photos listed before), or
    awaiting a moderator, who lists it the same way."""
    photo.device_id, photo.review_status = device_id, review_status
    photo.listed_at = func.clock_timestamp() if is_public(review_status) else None


def save_photo(
    storage: PhotoStorage,
    processed: ProcessedPhoto,
    uploaded_by: User,
    device: Device | None = None,
) -> Photo:
    """Write the renditions (once per content) and add the photo's row to the session."""
    lock_files(rendition.key for rendition in processed.renditions)
    for rendition in processed.renditions:
        if not storage.exists(rendition.key):
            storage.put(rendition.key, rendition.data, OUTPUT_MEDIA_TYPE)
    by_name = {rendition.name: rendition for rendition in processed.renditions}
    photo = Photo(
        id=uuid.uuid4(),
        # A loose upload is put on its device when it is attached (attach_photos).
        review_status=PUBLIC_REVIEW_STATUS,
        uploaded_by=uploaded_by.id,
        width=processed.full.width,
        height=processed.full.height,
        **{f"{name}_sha256": by_name[name].sha256 for name in RENDITIONS},
    )
    if device is not None:
        put_on(photo, device.id, review_status_on(device, uploaded_by))
    session.add(photo)
    session.flush()
    return photo


def loose_upload_of(processed: ProcessedPhoto, uploaded_by: User) -> Photo | None:
    """The photo of the same image this user uploaded and has not attached yet, if any.

    An upload sent again (a retry whose answer was lost, a double tap) gives that photo back
    rather than a second one that nothing would ever attach. Asked under the files' locks,
    which save_photo takes again: a retry sent while the first still runs waits for it, and
    then finds its photo.
    """
    lock_files(rendition.key for rendition in processed.renditions)
    return session.scalars(
        select(Photo)
        .where(
            Photo.uploaded_by == uploaded_by.id,
            Photo.device_id.is_(None),
            Photo.full_sha256 == processed.full.sha256,
        )
        .limit(1)
    ).first()


def file_in_use(key: str) -> bool:
    sha256 = key.removesuffix(".jpg")
    columns = (getattr(Photo, f"{name}_sha256") for name in RENDITIONS)
    used = select(Photo.id).where(or_(*(column == sha256 for column in columns))).limit(1)
    return session.execute(used).first() is not None


def delete_photos(storage: PhotoStorage, photos: list[Photo]) -> None:
    """Delete the rows and commit (with whatever else the session holds), then remove every
    file no other photo uses any more."""
    keys = sorted({key for photo in photos for key in photo.storage_keys()})
    session.execute(delete(Photo).where(Photo.id.in_([photo.id for photo in photos])))
    session.commit()
    remove_unused_files(storage, keys)


def remove_unused_files(storage: PhotoStorage, keys: list[str]) -> None:
    """Remove each file of KEYS that no photo names, once the rows' deletion is committed.

    Each is checked under its lock, in a transaction of its own: an upload of the same image
    that came meanwhile keeps it. A file the store fails to remove stays as a stray.
    """
    for key in keys:
        lock_files([key])
        try:
            if not file_in_use(key):
                storage.delete(key)
        except (ServiceUnavailable, InsufficientStorage):
            log.warning("a deleted photo's file stays until clean-orphans --files: %s", key)
        finally:
            session.commit()


def stray_files(storage: PhotoStorage) -> Iterator[str]:
    """Stored files no photo names, each yielded while its lock is held (until the caller
    commits): written by an upload whose transaction then failed. An upload still in flight
    holds its files' locks until it commits, so it is waited for, never robbed of its files."""
    stored = storage.keys()  # a backend's listing, not a dict
    for key in stored:
        lock_files([key])
        if not file_in_use(key):
            yield key
        session.commit()


def attach_photos(
    device: Device, photo_ids: list[uuid.UUID], user: User, field: str = "photo_ids"
) -> bool:
    """Attach USER's uploads to a device; True when its Feature lists more photos. Refusals
    name FIELD, where the request gave the ids.

    A photo already on this device is fine (a retry); one on another device is a conflict;
    someone else's upload may only be attached by a moderator. A photo USER may not see is no
    photo at all, as GET answers. Attached to a public pin by a contributor who does not
    publish directly, a photo waits for a moderator.
    """
    device_id = device.id
    wanted = set(photo_ids)
    if not wanted:
        return False
    rows = session.execute(
        select(Photo, Device.review_status, Device.created_by)
        .outerjoin(Device, Device.id == Photo.device_id)
        .where(Photo.id.in_(wanted))
        .with_for_update(of=Photo)
    ).all()
    viewer = Viewer.of(user)
    photos = [
        row.Photo
        for row in rows
        if may_see_photo(row.Photo, row.review_status, row.created_by, viewer)
    ]
    missing = wanted - {photo.id for photo in photos}
    if missing:
        raise ValidationFailed(
            f"No uploaded photo has the id {sorted(map(str, missing))[0]}: upload it first.",
            field=field,
        )
    if not user.is_moderator and any(photo.uploaded_by != user.id for photo in photos):
        raise Forbidden("Only your own uploads can be attached.", field=field)
    taken = [photo for photo in photos if photo.device_id not in (None, device_id)]
    if taken:
        raise Conflict(f"Photo {taken[0].id} already belongs to another device.", field=field)
    loose = [photo for photo in photos if photo.device_id is None]
    if not loose:
        return False
    status = review_status_on(device, user)
    for photo in loose:
        put_on(photo, device_id, status)
    return is_public(status)


def photos_attached_to(device_id: uuid.UUID, photo_ids: list[uuid.UUID]) -> bool:
    """Whether every one of photo_ids already belongs to the device (a replayed creation)."""
    if not photo_ids:
        return True
    attached = select(func.count()).where(
        Photo.id.in_(set(photo_ids)), Photo.device_id == device_id
    )
    return session.execute(attached).scalar_one() == len(set(photo_ids))


def select_orphans(older_than: datetime):
    """Uploads never attached, and photos of devices deleted, before the cut-off."""
    deleted_device = (
        select(Device.id)
        .where(Device.id == Photo.device_id, Device.deleted_at < older_than)
        .exists()
    )
    return select(Photo).where(
        or_(
            (Photo.device_id.is_(None)) & (Photo.created_at < older_than),
            deleted_device,
        )
    )
