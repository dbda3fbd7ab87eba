"""Who may see which device: the one rule every read path applies, in SQL and in Python.

- An approved pin is public.
- A pending or rejected pin is seen by its author and by moderators (and admins), nobody else.
- A photo is seen by whoever may see its device; a photo not attached to a device yet, or
  awaiting review, by its uploader and by moderators. A photo awaits review when a contributor
  who does not publish directly (service/community.py, is_trusted) adds it to a public pin:
  registering must not be enough to put an image on the map. The photos of a pin awaiting
  review are reviewed with it. Device Features list approved photos only.
- Answers shared by everyone and kept by caches (vector tiles, statistics, the OGC API, view
  cone listings) apply the rule for the anonymous viewer, whoever asks.
- A deleted device is a tombstone: a read by id answers 410 to whoever could see it, listings
  leave it out, and sync tells the phones that could see it (service/geo/devices/sync.py).
- Times are days: every time of a device, of its history and of its photos is served as the
  start of its UTC day (`public_day` in SQL, `day_of` in Python). A contributor pins a camera
  standing in front of it and the camera films them: the exact moment would tell its operator
  which footage to look at. The exact times stay in the database, for the rules that need
  them (rate limits, vote intervals, statistics replays).

`may_see` and `visible_clause` are the same rule, in Python for a row already read and in SQL
for a selection; tests/test_visibility.py reads a pending pin through every endpoint.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, func, or_, true
from sqlalchemy.sql.elements import ColumnElement

from .geo.sql import COORDINATE_DECIMALS, sql_string
from .models import Device, Photo

PUBLIC_REVIEW_STATUS = "approved"
AWAITING_REVIEW = "pending"
# The device properties that are times, served as days.
DAY_PROPERTIES = frozenset(
    ("observed_at", "last_confirmed_at", "created_at", "updated_at", "deleted_at")
)


@dataclass(frozen=True)
class Viewer:
    """Who is asking: an account id (None: anonymous), and whether they see every pin."""

    id: uuid.UUID | None = None
    sees_every_pin: bool = False

    @classmethod
    def of(cls, user) -> "Viewer":
        """The viewer a signed-in User (or None) is."""
        return ANONYMOUS if user is None else cls(user.id, user.is_moderator)


ANONYMOUS = Viewer()


def is_public(review_status: str | None) -> bool:
    return review_status == PUBLIC_REVIEW_STATUS


def is_public_revision(revision) -> ColumnElement:
    """Whether REVISION (a row of device_revisions) recorded a public state. What changed while
    a pin awaited review (a first place, often where its author stood, a note taken back)
    stays between its author and the moderators: in its history as in statistics at a date."""
    return revision.snapshot["review_status"].astext == sql_string(PUBLIC_REVIEW_STATUS)


def may_see(review_status: str, created_by: uuid.UUID | None, viewer: Viewer) -> bool:
    """Whether VIEWER may see a device with this review status and author."""
    return (
        is_public(review_status)
        or viewer.sees_every_pin
        or (viewer.id is not None and created_by == viewer.id)
    )


def may_see_upload(uploaded_by: uuid.UUID | None, viewer: Viewer) -> bool:
    """Whether VIEWER may see a photo not attached to any device yet, or awaiting review."""
    return viewer.sees_every_pin or (viewer.id is not None and uploaded_by == viewer.id)


def may_see_photo(
    photo: Photo, review_status: str | None, created_by: uuid.UUID | None, viewer: Viewer
) -> bool:
    """Whether VIEWER may see PHOTO, whose device (if any) has this review status and author:
    a loose upload, or one awaiting review, is its uploader's and moderators' only."""
    listed = photo.device_id is not None and is_public(photo.review_status)
    if not listed and not may_see_upload(photo.uploaded_by, viewer):
        return False
    # One's own photo, whatever became of its pin: one a moderator withdrew (rejected after
    # its approval), which its sender no longer sees, is still theirs to take back.
    sent_by_viewer = viewer.id is not None and photo.uploaded_by == viewer.id
    return photo.device_id is None or sent_by_viewer or may_see(review_status, created_by, viewer)


def photo_review_status(device_review_status: str, uploader_trusted: bool) -> str:
    """The review status of a photo added to a device: pending when it would otherwise go
    public at once, from a contributor whose pins still wait for a moderator."""
    if is_public(device_review_status) and not uploader_trusted:
        return AWAITING_REVIEW
    return PUBLIC_REVIEW_STATUS


def visible_clause(viewer: Viewer, viewer_id: ColumnElement | None = None) -> ColumnElement:
    """may_see as SQL on the devices table.

    VIEWER_ID is what the statement compares authors with: a parameter holding viewer.id, so
    that one statement serves every viewer of the same kind (by default, viewer.id itself).
    The public status is written into the statement so that partial indexes on it apply.
    """
    if viewer.sees_every_pin:
        return true()
    public = Device.review_status == sql_string(PUBLIC_REVIEW_STATUS)
    if viewer.id is None:
        return public
    return or_(public, Device.created_by == (viewer.id if viewer_id is None else viewer_id))


def day_of(instant: datetime | None) -> datetime | None:
    """The start of INSTANT's UTC day: what others may know of when something happened."""
    if instant is None:
        return None
    return instant.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def public_day(instant: ColumnElement) -> ColumnElement:
    """day_of in SQL (the function of migration 0024, which the stored Features use)."""
    return func.public_day(instant, type_=DateTime(timezone=True))


def public_changes(changes: dict) -> dict:
    """A revision's {field: [before, after]} with the times among them as days, and positions
    to 7 decimals, as every GeoJSON of the API gives them (a revision keeps what was sent)."""

    def day_text(value):
        return value and day_of(datetime.fromisoformat(value)).isoformat()

    def position(value):
        return value and [round(number, COORDINATE_DECIMALS) for number in value]

    shown = {**{name: day_text for name in DAY_PROPERTIES}, "geometry": position}
    return {
        name: [shown[name](value) for value in pair] if name in shown else pair
        for name, pair in changes.items()
    }
