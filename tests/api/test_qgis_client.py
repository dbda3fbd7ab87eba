"""QGIS's own OGC API Features provider (Debian's python3-qgis, run by the system Python),
unmodified, against a live server.

QGIS 3.22 (Debian 12) sends the extent of the view as `bbox` and filters a subset string on
its side (it knows neither CQL2 nor property parameters; QGIS 3.28 and later read both from
the API definition and the conformance classes, in the forms this server gives them)."""

import json
import os
import shutil
import subprocess
import threading

import pytest
from werkzeug.serving import make_server

SYSTEM_PYTHON = "/usr/bin/python3"
SEEDED = 60

QGIS_SCRIPT = r"""
import json, os, sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
from qgis.core import QgsFeatureRequest, QgsRectangle
server, subset = sys.argv[1], sys.argv[2]
uri = (f"pagesize='500' restrictToRequestBBOX='1' typename='devices' url='{server}/ogc' "
       "version='OGC_API_FEATURES'")
layer = QgsVectorLayer(uri, "devices", "OAPIF")
assert layer.isValid(), layer.error().summary()
fields = {f.name(): f.typeName() for f in layer.fields()}
assert layer.setSubsetString(subset), "subset refused"
# The view: the first half of the line of devices.
request = QgsFeatureRequest().setFilterRect(QgsRectangle(2.25, 48.85, 2.265, 48.86))
operators = sorted(f["operator"] for f in layer.getFeatures(request))
print(json.dumps({"fields": fields, "operators": operators}), flush=True)
os._exit(0)  # QGIS 3.22's exitQgis() may crash on the way out, after the work is done
"""


def qgis_available() -> bool:
    return shutil.which(SYSTEM_PYTHON) is not None and (
        subprocess.run(
            [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
        ).returncode
        == 0
    )


@pytest.fixture
def seeded(db):
    db(
        """
        INSERT INTO devices (id, geom, kind, height, operator)
        SELECT gen_random_uuid(),
               ST_SetSRID(ST_MakePoint(2.25 + n * 0.0005, 48.85 + n * 0.0001), 4326),
               CASE WHEN n % 7 = 0 THEN 'alpr' ELSE 'camera' END, n % 10, 'Operator ' || n
        FROM generate_series(1, :total) AS n
        """,
        total=SEEDED,
    )


@pytest.fixture
def recorded_server(app):
    """The app on a loopback port, recording the query string of every items request."""
    seen: list[str] = []

    def recording(environ, start_response):
        if environ["PATH_INFO"].endswith("/items"):
            seen.append(environ.get("QUERY_STRING", ""))
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, recording, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    thread.join(timeout=10)


def run_qgis(server: str, subset: str) -> dict:
    assert qgis_available(), "QGIS is missing: install Debian's python3-qgis (make test does)"
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", QGIS_SCRIPT, server, subset],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_qgis_reads_the_view_from_the_server_and_applies_a_subset(recorded_server, seeded):
    server, seen = recorded_server
    answer = run_qgis(server, "\"kind\" = 'alpr'")
    # Devices 1 to 30 lie in the view; the ALPRs among them are every seventh.
    assert answer["operators"] == sorted(f"Operator {n}" for n in range(7, 31, 7))
    assert any("bbox=" in query for query in seen), seen
    # QGIS 3.22 types columns from the first page, where these heights look whole.
    assert answer["fields"]["height"].lower() in ("double", "real", "integer")
    assert answer["fields"]["kind"].lower() in ("string", "text")
