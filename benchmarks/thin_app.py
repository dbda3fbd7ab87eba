"""The ceiling: a minimal Flask app that runs Vigie's own SQL and returns the text.

No validation, no error handling, no links: only what any Flask app must pay for.
"""

import os
import uuid

from flask import Flask, Response, request
from psycopg_pool import ConnectionPool
from sqlalchemy.dialects import postgresql

from service.db import SESSION_OPTIONS
from service.geo.devices import DeviceFilter, select_device_feature, select_device_page

DIALECT = postgresql.psycopg.dialect()
BBOX_SENTINELS = (11.125, 22.125, 33.125, 44.125)
LIMIT_SENTINEL = 987654
PAGE = select_device_page(DeviceFilter(bboxes=[BBOX_SENTINELS]), LIMIT_SENTINEL, None).compile(
    dialect=DIALECT
)
PAGE_SQL = str(PAGE)
BY_ID_SQL = str(select_device_feature(uuid.UUID(int=0)).compile(dialect=DIALECT))
url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
pool = ConnectionPool(url, min_size=1, max_size=4, kwargs={"options": SESSION_OPTIONS})
app = Flask(__name__)


@app.get("/devices")
def devices():
    minx, miny, maxx, maxy = (float(v) for v in request.args["bbox"].split(","))
    limit = int(request.args.get("limit", 100))
    # Every parameter of the compiled statement, the sentinels replaced by the request's values.
    values = dict(zip(BBOX_SENTINELS, (minx, miny, maxx, maxy), strict=True))
    values |= {LIMIT_SENTINEL: limit, LIMIT_SENTINEL + 1: limit + 1}
    params = {name: values.get(value, value) for name, value in PAGE.params.items()}
    with pool.connection() as conn:
        features = conn.execute(PAGE_SQL, params).fetchone()[0]
    body = '{"type":"FeatureCollection","features":[' + features + "]}"
    return Response(body, mimetype="application/geo+json")


@app.get("/devices/<device_id>")
def device(device_id):
    with pool.connection() as conn:
        row = conn.execute(
            BY_ID_SQL, {"id_1": uuid.UUID(device_id), "ST_AsGeoJSON_1": 7}
        ).fetchone()
    return Response(row[0], mimetype="application/geo+json")
