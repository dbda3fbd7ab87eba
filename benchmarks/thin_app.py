"""The ceiling: a minimal Flask app that runs Vigie's own SQL and returns the text.

No validation, no error handling, no links: only what any Flask app must pay for. The SQL is
compiled once from Vigie's builders; only the bbox and limit values change per request.
/devices is the REST listing's page (id order), /ogc-items the OGC API's (spatial order).
"""

import os
import uuid

from flask import Flask, Response, request
from psycopg.rows import namedtuple_row
from psycopg_pool import ConnectionPool
from sqlalchemy.dialects import postgresql

from service.db import CONNECT_ARGS
from service.geo.devices.features import select_device_feature
from service.geo.devices.filter import DeviceFilter
from service.geo.devices.pages import select_device_page
from service.geo.devices.spatial import select_device_page_in_space, spatial_page

DIALECT = postgresql.psycopg.dialect()
PHOTO_BASE = "/api/v1/photos/"


def compiled(statement, parameters):
    result = statement.params(parameters).compile(dialect=DIALECT)
    return str(result), dict(result.params)


# Vigie's statements take named parameters: the bbox and limit of each request replace them.
LISTING = select_device_page(DeviceFilter(bboxes=[(0.0, 0.0, 1.0, 1.0)]), 100, None)
PAGE_SQL, PAGE_PARAMS = compiled(LISTING.statement, LISTING.values)
PAGE_PARAMS["photo_base"] = PHOTO_BASE
BY_ID_SQL, BY_ID_PARAMS = compiled(select_device_feature(), {"photo_base": PHOTO_BASE})
SPATIAL_PAGE_SQL: dict = {}  # by statement: one per shape of filter


url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
# The connection settings of the application: statements planned for their values, but the
# by-id and spatial-order statements prepared, as CompiledRead does.
pool = ConnectionPool(url, min_size=1, max_size=4, kwargs=CONNECT_ARGS)
app = Flask(__name__)


@app.get("/devices")
def devices():
    west, south, east, north = (float(v) for v in request.args["bbox"].split(","))
    params = PAGE_PARAMS | {
        "filter_bbox0_west": west,
        "filter_bbox0_south": south,
        "filter_bbox0_east": east,
        "filter_bbox0_north": north,
        "page_limit": int(request.args.get("limit", 100)),
    }
    with pool.connection() as conn:
        features = conn.execute(PAGE_SQL, params).fetchone()[0]
    body = '{"type":"FeatureCollection","features":[' + features + "]}"
    return Response(body, mimetype="application/geo+json")


@app.get("/ogc-items")
def ogc_items():
    bbox = tuple(float(v) for v in request.args["bbox"].split(","))
    limit = int(request.args.get("limit", 100))
    page = select_device_page_in_space(DeviceFilter(bboxes=[bbox]), limit)
    statement, values = page.statement, page.values
    if statement not in SPATIAL_PAGE_SQL:
        SPATIAL_PAGE_SQL[statement] = compiled(statement, {"photo_base": PHOTO_BASE})
    sql, defaults = SPATIAL_PAGE_SQL[statement]
    with pool.connection() as conn, conn.cursor(row_factory=namedtuple_row) as cursor:
        row = cursor.execute(sql, defaults | values, prepare=True).fetchone()
    features = spatial_page(row, limit, backward=False).features
    body = '{"type":"FeatureCollection","features":[' + features + "]}"
    return Response(body, mimetype="application/geo+json")


@app.get("/devices/<device_id>")
def device(device_id):
    params = BY_ID_PARAMS | {"device_id": uuid.UUID(device_id)}
    with pool.connection() as conn:
        row = conn.execute(BY_ID_SQL, params, prepare=True).fetchone()
    return Response(row[0], mimetype="application/geo+json")
