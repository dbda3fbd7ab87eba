"""Community rules: who is trusted, device revisions, and verification levels.

Verification of a device, from its creator's pin, the votes of others and moderators:
- `removed`: at least REMOVED_AFTER distinct trusted contributors (is_trusted: moderators, or
  contributors with enough approved pins) voted `not_found` since the last `still_there` (or
  `wrong_details`, which also says the device exists) of someone other than its creator:
  registering accounts must not be enough to take a device off the map, nor its creator's own
  word, again every CONFIRMATION_INTERVAL_DAYS, enough to keep it there;
- `disputed`: at least one such `not_found` vote, trusted or not, in the last
  DISPUTE_WINDOW_DAYS (`flask community expire-disputes`, run daily, settles older ones);
- `confirmed`: two distinct contributors saw it (the creator counts as one, every later
  `still_there`/`wrong_details` voter as another), or a moderator approved it with a photo;
- `reported`: anything else (one source).
"""

import uuid
from datetime import datetime, timedelta

from flask import current_app
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import Select, exists, func, or_, select

from .db import session
from .geo.statistics.selection import select_appearances
from .models import Confirmation, Device, DeviceRevision, User
from .visibility import day_of, is_public, is_public_revision

REMOVED_AFTER = 3
DISPUTE_WINDOW_DAYS = 90
# Fields a revision records and a revert restores.
EDITABLE_FIELDS = (
    "kind",
    "camera_type",
    "mount",
    "direction",
    "angle",
    "height",
    "zone",
    "surveillance",
    "operator",
    "operator_type",
    "status",
    "observed_at",
    "accuracy_m",
    "notes",
    "source",
    "tags",
    "review_status",
    "review_reason",
    "deleted_at",
    "merged_into",
)


def approved_pins_of(user_id) -> Select:
    """The count of USER_ID's approved pins (an id, or a column of a query about users): on
    the map, or merged into the device they were (right, if not first); a deleted one, wrong
    or spam, counts no more."""
    return (
        select(func.count())
        .select_from(Device)
        .where(
            Device.created_by == user_id,
            Device.review_status == "approved",
            or_(Device.deleted_at.is_(None), Device.merged_into.is_not(None)),
        )
    )


def approved_pin_count(user: User) -> int:
    return session.scalar(approved_pins_of(user.id))


def is_trusted(user: User, approved_pins: int | None = None) -> bool:
    """Moderators, admins and contributors with enough approved pins publish directly.

    APPROVED_PINS spares the count when the caller has it already.
    """
    if user.is_moderator:
        return True
    count = approved_pin_count(user) if approved_pins is None else approved_pins
    return count >= current_app.config["TRUSTED_AFTER_APPROVED_PINS"]


def to_json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot(device: Device) -> dict:
    """The editable state of a device, as JSON values."""
    state = {name: to_json_value(getattr(device, name)) for name in EDITABLE_FIELDS}
    point = to_shape(device.geom) if device.geom is not None else None
    state["geometry"] = [point.x, point.y] if point is not None else None
    return state


def state_before(device: Device) -> dict:
    """What record_revision is given of a device about to change: its snapshot, and when its
    status was set, at the latest."""
    return {**snapshot(device), "status_dated_at": device.status_dated_at}


def record_revision(
    device: Device,
    action: str,
    before: dict | None,
    author: User | None,
    *,
    other_device_id: uuid.UUID | None = None,
    undoing: dict | None = None,
) -> None:
    """Append a revision with the fields that changed since BEFORE (state_before; None for a
    creation). The revisions of a row loaded in bulk up to its first public one keep when its
    status was set: a removal that one found was made then (service/geo/statistics/selection.py,
    observed_then). OTHER_DEVICE_ID and UNDOING: as DeviceRevision keeps them."""
    session.flush()
    found_changed_at = None
    if before is not None and not session.scalar(
        select(
            exists().where(
                DeviceRevision.device_id == device.id, is_public_revision(DeviceRevision)
            )
        )
    ):
        found_changed_at = before["status_dated_at"]
    session.refresh(device)
    after = snapshot(device)
    changes = {
        name: [(before or {}).get(name), value]
        for name, value in after.items()
        if (before is None and value is not None) or (before and before.get(name) != value)
    }
    session.add(
        DeviceRevision(
            device_id=device.id,
            author_id=author.id if author else None,
            action=action,
            changes=changes,
            snapshot=after,
            found_changed_at=found_changed_at,
            other_device_id=other_device_id,
            undoing=undoing,
        )
    )


def restore(device: Device, state: dict) -> None:
    """Put back the editable state recorded by a revision."""
    for name in EDITABLE_FIELDS:
        if name in ("deleted_at", "merged_into", "review_status", "review_reason"):
            continue
        setattr(device, name, state.get(name))
    lon, lat = state["geometry"]
    device.geom = from_shape(Point(lon, lat), srid=4326)


def inherit_first_sighting(kept: Device, duplicate: Device) -> None:
    """A device merged into another was one and the same: when the public DUPLICATE came onto
    the map first, KEPT takes its first observation, so that the statistics at a date go on
    counting the device from then (the duplicate, a tombstone, counts at no date)."""
    if not is_public(duplicate.review_status):
        return  # never on the map: nobody but its author and moderators saw it there
    appeared = dict(session.execute(select_appearances(kept.id, duplicate.id)).all())
    if appeared[duplicate.id] < appeared[kept.id]:
        kept.observed_at = appeared[duplicate.id]


def keep_merged_sightings(device: Device) -> None:
    """Each pin merged into DEVICE dates its first observation (inherit_first_sighting)."""
    for duplicate in session.scalars(select(Device).where(Device.merged_into == device.id)):
        inherit_first_sighting(device, duplicate)


# Revisions whose change of the first observation came from pins merged in (or given back),
# not from the device's own.
MERGE_ACTIONS = ("merge", "unmerge")


def own_first_sighting(device_id, until: int | None = None) -> str | None:
    """The first observation of DEVICE_ID as its own revisions (up to revision UNTIL) set it,
    as JSON keeps it: as pinned, then as edited, or as a revert took it from the revision it
    restored; never as taken from a pin merged into it. None without any revision."""
    bounded = [DeviceRevision.id <= until] if until is not None else []
    revisions = session.execute(
        select(DeviceRevision.action, DeviceRevision.changes, DeviceRevision.undoing)
        .add_columns(DeviceRevision.snapshot["observed_at"].astext.label("observed"))
        .where(DeviceRevision.device_id == device_id, *bounded)
        .order_by(DeviceRevision.id)
    ).all()
    if not revisions:
        return None
    first = revisions[0]
    own = first.observed
    if first.action in MERGE_ACTIONS and "observed_at" in first.changes:
        own = first.changes["observed_at"][0]  # a row loaded in bulk, merged into: as loaded
    for revision in revisions[1:]:
        if revision.action in MERGE_ACTIONS:
            continue
        if revision.action == "revert" and revision.undoing:
            own = own_first_sighting(device_id, revision.undoing["revision"])
        elif "observed_at" in revision.changes:
            own = revision.changes["observed_at"][1]
    return own


def date_first_sighting(device: Device, until: int | None = None) -> None:
    """DEVICE's first observation: its own (own_first_sighting), or that of a pin merged into
    it, if earlier (keep_merged_sightings). After a merge undone, or a revert to revision
    UNTIL, nothing of a pin no longer merged stays in it."""
    own = own_first_sighting(device.id, until)
    device.observed_at = datetime.fromisoformat(own) if own else None
    keep_merged_sightings(device)


def trusted_count(user_ids: set) -> int:
    """How many of USER_IDS are trusted (is_trusted), their approved pins counted at once."""
    approved = approved_pins_of(User.id).scalar_subquery()
    users = session.execute(select(User, approved).where(User.id.in_(user_ids))).all()
    return sum(is_trusted(user, pins) for user, pins in users)


def recompute_verification(device: Device, *, confirmed: bool = False) -> None:
    """Derive the verification level and last confirmation from the votes (rules above), and
    from the pins merged into DEVICE, whose authors saw it too. CONFIRMED: confirmed by other
    means (approved with a photo; a confirmed duplicate merged in)."""
    votes = session.execute(
        select(Confirmation.user_id, Confirmation.verdict, Confirmation.created_at)
        .where(Confirmation.device_id == device.id)
        .order_by(Confirmation.created_at)
    ).all()
    # A vote whose account was deleted is someone's all the same, each its own voter; the
    # author's only when the author's account is gone too (nothing tells whose it was then).
    voters = [v.user_id if v.user_id is not None else ("deleted", i) for i, v in enumerate(votes)]
    ballots = list(zip(voters, votes, strict=True))

    def authors(vote) -> bool:
        return (
            device.created_by is None if vote.user_id is None else vote.user_id == device.created_by
        )

    seen = [(who, v) for who, v in ballots if v.verdict in ("still_there", "wrong_details")]
    last_seen = seen[-1][1].created_at if seen else None
    # The creator is one source already: their word settles no one else's.
    others_seen = [(who, v) for who, v in seen if not authors(v)]
    settled = others_seen[-1][1].created_at if others_seen else None
    since = [
        (who, v)
        for who, v in ballots
        if v.verdict == "not_found" and (settled is None or v.created_at > settled)
    ]
    absent = {who for who, _ in since}
    recent_absent = [
        v
        for _, v in since
        if (datetime.now(v.created_at.tzinfo) - v.created_at).days < DISPUTE_WINDOW_DAYS
    ]
    merged_authors = session.scalars(
        select(Device.created_by).where(
            Device.merged_into == device.id, Device.created_by.is_not(None)
        )
    ).all()
    sources = {device.created_by} | {who for who, _ in others_seen} | set(merged_authors)
    # A deleted account is no trusted one: its "gone" counts toward a dispute, not a removal.
    accounts = {who for who in absent if isinstance(who, uuid.UUID)}
    if len(absent) >= REMOVED_AFTER and trusted_count(accounts) >= REMOVED_AFTER:
        level = "removed"
    elif recent_absent:
        level = "disputed"
    elif len(sources) >= 2 or confirmed or device.verification == "confirmed":
        level = "confirmed"
    else:
        level = "reported"
    # Kept as the day others may know: a vote that changes neither the level nor that day
    # leaves the device as it was, so that nothing tells when it was cast.
    last_seen_day = day_of(last_seen)
    if (device.verification, device.last_confirmed_at) != (level, last_seen_day):
        device.verification = level
        device.last_confirmed_at = last_seen_day
        device.touch()  # the Feature shows both: a new ETag


def recompute_for_account_deletion(user_id: uuid.UUID):
    """Call before deleting USER_ID's account; call what it returns once the deletion is
    flushed. Its votes stay, under no account (and no longer a trusted one's), and its own pins'
    votes can no longer be told from their author's: the levels of the devices concerned are
    recomputed then, not left to depend on whether a later vote recomputes them."""
    concerned = session.scalars(
        select(Confirmation.device_id)
        .join(Device, Device.id == Confirmation.device_id)
        .where(
            or_(Confirmation.user_id == user_id, Device.created_by == user_id),
            Device.deleted_at.is_(None),
        )
        .distinct()
    ).all()

    def recompute() -> None:
        session.expire_all()  # the accounts' ids the database has just set to NULL
        for device in session.scalars(select(Device).where(Device.id.in_(concerned))):
            recompute_verification(device)

    return recompute


def expire_disputes() -> int:
    """Recompute the devices disputed by `not_found` votes all older than DISPUTE_WINDOW_DAYS,
    and say how many changed: a level is recomputed when a vote comes, and time alone settles
    a dispute."""
    recent = select(Confirmation.device_id).where(
        Confirmation.verdict == "not_found",
        Confirmation.created_at > func.now() - timedelta(days=DISPUTE_WINDOW_DAYS),
    )
    devices = session.scalars(
        select(Device).where(Device.verification == "disputed", Device.id.not_in(recent))
    ).all()
    for device in devices:
        recompute_verification(device)
    session.commit()
    return sum(device.verification != "disputed" for device in devices)
