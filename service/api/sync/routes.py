"""Offline sync: page through every device created, changed or deleted since a cursor."""

import uuid

from flask import Response, url_for
from flask.views import MethodView
from marshmallow import RAISE

from ...auth import current_viewer
from ...db import ReadOnPrimary, current_replica, read_without_primary, session
from ...errors import BadRequest
from ...extensions import Blueprint
from ...geo.devices.sync import select_device_changes, select_next_txid
from ..credits import device_credits, licence_links
from ..fields import split_antimeridian
from ..geojson import GEOJSON, CursorCodec, feature_collection, link, photo_base
from .schemas import SyncArgsSchema, SyncPageSchema

blp = Blueprint(
    "sync",
    __name__,
    url_prefix="/api/v1/sync",
    description="Changes since a cursor, for apps that keep an offline copy.",
)
START = (0, uuid.UUID(int=0))


def check_sync_position(position: tuple[int, uuid.UUID]) -> None:
    """No transaction id is negative: such a cursor was made by hand, not issued here."""
    if position[0] < 0:
        raise ValueError(f"no transaction id is {position[0]}")


# A position: the id of the transaction that last wrote a device, and the device's id.
CURSORS = CursorCodec(
    int, uuid.UUID, field="since", advice="sync again from the start.", check=check_sync_position
)


@blp.route("")
class SyncViews(MethodView):
    @blp.arguments(SyncArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, SyncPageSchema, content_type=GEOJSON)
    @blp.problems(400)
    @blp.reads_caller()
    def get(self, args):
        """Every device created, changed or deleted since the cursor, tombstones included"""
        position = CURSORS.decode(args["since"]) if args.get("since") else START
        beyond = position[0] > session.execute(select_next_txid()).scalar_one()
        if beyond and current_replica() is None:
            raise BadRequest(
                "This cursor is beyond this feed: it is another listing's (give `since` the "
                "`next_cursor` of a sync answer), or it was issued before the database was "
                "restored on another server. Sync again from the start.",
                field="since",
            )
        # A replica behind the cursor (issued by the primary, or a replica further on): the
        # primary tells that lag from another history. With the primary down, the replica
        # answers an empty page that keeps the cursor.
        if beyond and not read_without_primary():
            raise ReadOnPrimary
        bboxes = split_antimeridian(args["bbox"]) if args.get("bbox") else []
        page = session.execute(
            select_device_changes(position, bboxes, current_viewer(), args["limit"]),
            {"photo_base": photo_base()},
        ).one()
        if page.last_key:
            position = CURSORS.parse_edge(page.last_key)
        cursor = CURSORS.encode(*position)
        query = {"since": cursor, "limit": args["limit"]}
        if args.get("bbox"):
            query["bbox"] = ",".join(map(str, args["bbox"]))
        body = feature_collection(
            page.features,
            numberReturned=page.returned,
            next_cursor=cursor,
            has_more=page.has_more,
            # The devices' sources, as the listings credit them (OpenStreetMap's, under the
            # ODbL, which asks it wherever they are published).
            links=[
                link(url_for("sync.SyncViews", _external=True, **query), "next"),
                *licence_links(device_credits()),
            ],
        )
        return Response(body, mimetype=GEOJSON)
