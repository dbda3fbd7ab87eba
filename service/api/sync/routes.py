"""Offline sync: page through every device created, changed or deleted since a cursor."""

import base64
import binascii
import struct
import uuid

import orjson
from flask import Response, url_for
from flask.views import MethodView
from marshmallow import RAISE

from ...auth import current_user
from ...db import session
from ...errors import BadRequest
from ...extensions import Blueprint
from ...geo.devices import select_device_changes
from ..devices.access import GEOJSON
from ..fields import split_antimeridian
from .schemas import SyncArgsSchema, SyncPageSchema

blp = Blueprint(
    "sync",
    __name__,
    url_prefix="/api/v1/sync",
    description="Changes since a cursor, for apps that keep an offline copy.",
)
START = (0, uuid.UUID(int=0))


def encode_position(txid: int, device_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(struct.pack(">q", txid) + device_id.bytes).decode().rstrip("=")


def decode_position(cursor: str) -> tuple[int, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if len(raw) != 24:
            raise ValueError("wrong length")
        return struct.unpack(">q", raw[:8])[0], uuid.UUID(bytes=raw[8:])
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            "The cursor is not one this server issued; sync again from the start.", field="since"
        ) from exc


@blp.route("")
class SyncViews(MethodView):
    @blp.arguments(SyncArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, SyncPageSchema, content_type=GEOJSON)
    @blp.problems(400, 401)
    def get(self, args):
        """Every device created, changed or deleted since the cursor, tombstones included"""
        position = decode_position(args["since"]) if args.get("since") else START
        user = current_user()
        bboxes = split_antimeridian(args["bbox"]) if args.get("bbox") else []
        page = session.execute(
            select_device_changes(position, bboxes, user.id if user else None, args["limit"])
        ).one()
        if page.last_key:
            txid, device_id = page.last_key.split(":")
            position = (int(txid), uuid.UUID(device_id))
        cursor = encode_position(*position)
        query = {"since": cursor, "limit": args["limit"]}
        if args.get("bbox"):
            query["bbox"] = ",".join(map(str, args["bbox"]))
        links = [
            {
                "href": url_for("sync.SyncViews", _external=True, **query),
                "rel": "next",
                "type": GEOJSON,
            }
        ]
        body = (
            f'{{"type":"FeatureCollection","features":[{page.features}],'
            f'"numberReturned":{page.returned},"next_cursor":"{cursor}",'
            f'"has_more":{"true" if page.has_more else "false"},'
            f'"links":{orjson.dumps(links).decode()}}}'
        )
        return Response(body, mimetype=GEOJSON)
