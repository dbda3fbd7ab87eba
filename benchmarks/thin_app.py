"""The ceiling: a minimal Flask app that runs Vigie's own SQL and returns the text.

No validation, no error handling, no links: only what any Flask app must pay for. The SQL is
compiled once from Vigie's builders; only the bbox and limit values change per request.
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
LIMIT_SENTINEL = 777
BY_ID_SENTINEL = uuid.UUID(int=1)


def compiled(statement):
    result = statement.compile(dialect=DIALECT)
    return str(result), dict(result.params)


PAGE_SQL, PAGE_PARAMS = compiled(
    select_device_page(DeviceFilter(bboxes=[BBOX_SENTINELS]), LIMIT_SENTINEL, None)
)
BY_ID_SQL, BY_ID_PARAMS = compiled(select_device_feature(BY_ID_SENTINEL))


def page_params(bbox, limit):
    """Vigie's compiled parameters, with this request's bbox and limit in place of sentinels."""
    replace = dict(zip(BBOX_SENTINELS, bbox, strict=True)) | {
        LIMIT_SENTINEL: limit,
        LIMIT_SENTINEL + 1: limit + 1,
    }
    return {
        name: replace.get(value, value) if isinstance(value, float | int) else value
        for name, value in PAGE_PARAMS.items()
    }


url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
pool = ConnectionPool(url, min_size=1, max_size=4, kwargs={"options": SESSION_OPTIONS})
app = Flask(__name__)


@app.get("/devices")
def devices():
    bbox = tuple(float(v) for v in request.args["bbox"].split(","))
    params = page_params(bbox, int(request.args.get("limit", 100)))
    with pool.connection() as conn:
        features = conn.execute(PAGE_SQL, params).fetchone()[0]
    body = '{"type":"FeatureCollection","features":[' + features + "]}"
    return Response(body, mimetype="application/geo+json")


@app.get("/devices/<device_id>")
def device(device_id):
    params = {
        name: uuid.UUID(device_id) if value == BY_ID_SENTINEL else value
        for name, value in BY_ID_PARAMS.items()
    }
    with pool.connection() as conn:
        row = conn.execute(BY_ID_SQL, params).fetchone()
    return Response(row[0], mimetype="application/geo+json")
