"""Community verification of devices, and the history of every change."""

from datetime import timedelta

from flask import current_app, g
from flask.views import MethodView
from sqlalchemy import case, false, func, select, true

from ...auth import current_viewer
from ...community import MERGE_ACTIONS, recompute_verification
from ...db import session
from ...errors import Conflict, NotFound
from ...extensions import Blueprint, requires_json
from ...models import Confirmation, Device, DeviceRevision, User
from ...photos.library import attach_photos
from ...ratelimit import write_limit
from ...visibility import day_of, is_public, may_see, public_changes
from ..access import find_device
from .schemas import ConfirmationInSchema, ConfirmationSchema, HistorySchema

blp = Blueprint(
    "community",
    __name__,
    url_prefix="/api/v1/devices",
    description="Community verification and edit history of devices.",
)


@blp.route("/<uuid:device_id>/confirmations")
class ConfirmationViews(MethodView):
    @blp.auth()
    @write_limit
    @requires_json
    @blp.arguments(ConfirmationInSchema)
    @blp.response(201, ConfirmationSchema)
    @blp.problems(403, 404, 409, 410, 415)
    def post(self, vote, device_id):
        """Say whether the device is still there (one vote per device every 30 days)"""
        device = find_device(device_id, for_update=True)  # the lock serialises votes
        interval = timedelta(days=current_app.config["CONFIRMATION_INTERVAL_DAYS"])
        previous = session.scalar(
            select(Confirmation.created_at)
            .where(Confirmation.device_id == device_id, Confirmation.user_id == g.user.id)
            .order_by(Confirmation.created_at.desc())
            .limit(1)
        )
        if previous is not None and session.scalar(select(previous + interval > func.now())):
            raise Conflict(
                f"You already voted on this device on {previous:%Y-%m-%d}; you may "
                f"vote again {interval.days} days later.",
                field="verdict",
                voted_on=f"{previous:%Y-%m-%d}",
                vote_again_on=f"{previous + interval:%Y-%m-%d}",
            )
        # The photo is evidence; listed with the device at once (from a trusted contributor),
        # it changes the device's Feature whatever the vote does.
        if vote.get("photo_id") and attach_photos(device, [vote["photo_id"]], g.user, "photo_id"):
            device.touch()
        confirmation = Confirmation(device_id=device_id, user_id=g.user.id, **vote)
        session.add(confirmation)
        session.flush()
        recompute_verification(device)
        session.commit()
        return {
            "id": confirmation.id,
            "device_id": device_id,
            "verdict": confirmation.verdict,
            "comment": confirmation.comment,
            "photo_id": confirmation.photo_id,
            "created_at": confirmation.created_at,
            "verification": device.verification,
            "last_confirmed_at": device.last_confirmed_at,  # a day (recompute_verification)
        }


@blp.route("/<uuid:device_id>/history")
class HistoryViews(MethodView):
    @blp.response(200, HistorySchema)
    @blp.problems(404)
    @blp.reads_caller()
    def get(self, device_id):
        """List every change of the device: who, which day, which fields from what to what"""
        device = session.get(Device, device_id)
        viewer = current_viewer()
        if device is None or not may_see(device.review_status, device.created_by, viewer):
            raise NotFound(f"No device has the id {device_id}.", field="device_id")
        # Whose revisions a reader is told: a moderator everyone's; anyone else only their own.
        # Pseudonyms across every public history would draw each contributor's walks (and
        # name the moderators): a trail a pseudonym alone does not hide.
        named = DeviceRevision.author_id == viewer.id if viewer.id else false()
        if viewer.sees_every_pin:
            named = true()
        query = (
            select(DeviceRevision, case((named, User.username)))
            .outerjoin(User, User.id == DeviceRevision.author_id)
            .where(DeviceRevision.device_id == device_id)
            .order_by(DeviceRevision.id)
        )
        rows = [(r, username, r.changes) for r, username in session.execute(query)]
        author = device.created_by is not None and device.created_by == viewer.id
        if not (viewer.sees_every_pin or author):
            rows = public_revisions(rows)
        elif not viewer.sees_every_pin:
            # Its author is told of no merge that changed nothing of it: a pin of someone else
            # awaiting review, merged in (or out again), they may not see.
            rows = [row for row in rows if row[2] or row[0].action not in MERGE_ACTIONS]
        # Revision ids count every change of every device: to others they would tell, from
        # their own changes' ids, when each revision was made. Moderators revert by them.
        return {
            "revisions": [
                {
                    **(moderators_only(r) if viewer.sees_every_pin else {}),
                    "action": r.action,
                    "author": username,
                    "created_at": day_of(r.created_at),
                    "changes": public_changes(changes),
                }
                for r, username, changes in rows
            ]
        }


def moderators_only(revision: DeviceRevision) -> dict:
    """What moderators are told of a revision besides: its id, which a revert takes, and the
    other device of a merge or of its undoing (the duplicate, on the device kept's history: a
    pin whose id others may not know)."""
    other = {"other": revision.other_device_id} if revision.other_device_id else {}
    return {"id": revision.id, **other}


def public_revisions(rows: list[tuple]) -> list[tuple]:
    """Of ROWS (revision, author's name, changes), what others may read.

    What changed while the pin was not public (a first draft awaiting review, often where its
    author stood; a rejection; edits while rejected) stays between its author and the
    moderators: only the revisions that left it public are told, each with what changed since
    the previous public state (those that changed nothing public, not at all). A moderator's
    reason, meant for the author, is never told.
    """
    shown, seen = [], None
    for revision, username, recorded in rows:
        state = revision.snapshot
        if not is_public(state.get("review_status")):
            continue
        if seen is not None:
            recorded = {key: [seen.get(key), v] for key, v in state.items() if seen.get(key) != v}
        changes = {name: pair for name, pair in recorded.items() if name != "review_reason"}
        # A change of nothing public (a pin awaiting review merged in, a merge of it undone)
        # would only hint at a pin others may not see.
        if changes or seen is None:
            shown.append((revision, username, changes))
        seen = state
    return shown
