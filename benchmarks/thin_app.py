"""The ceiling: a minimal Flask app that runs Vigie's own SQL and returns the text.

No validation, no error handling, no links: only what any Flask app must pay for. The SQL is
compiled once from Vigie's builders; only the bbox and limit values change per request.
/devices is the REST listing's page, /ogc-items the OGC API's: both the same spatial-order
statement, prepared.
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
from service.geo.devices.spatial import select_device_page_in_space, spatial_page

DIALECT = postgresql.psycopg.dialect()
PHOTO_BASE = "/api/v1/photos/"


def compiled(statement, parameters):
    result = statement.params(parameters).compile(dialect=DIALECT)
    return str(result), dict(result.params)


BY_ID_SQL, BY_ID_PARAMS = compiled(select_device_feature(), {"photo_base": PHOTO_BASE})
SPATIAL_PAGE_SQL: dict = {}  # by statement: one per shape of filter

url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
# The connection settings of the application: the by-id and spatial-order statements
# prepared, as CompiledRead does.
pool = ConnectionPool(url, min_size=1, max_size=4, kwargs=CONNECT_ARGS)
app = Flask(__name__)


@app.get("/devices")
@app.get("/ogc-items")
def devices():
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
