"""Real GIS clients, unmodified, against a live server: GDAL's OAPIF driver and OWSLib.

They read the OGC API definition to learn which parameters the server filters on, and must
then send `kind=`, `filter=` and large pages instead of filtering on their side.
"""

import json
import os
import re
import shutil
import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from owslib.ogcapi.features import Features

from tests.districts import district_feature, load, rectangle, write_geojson

SEEDED = 120
ALPR_OVER_4 = {n for n in range(1, SEEDED + 1) if n % 7 == 0 and n % 10 > 4}


@pytest.fixture
def seeded(db):
    """Devices on a line across Paris; every seventh is an ALPR, with a height of n % 10."""
    db(
        """
        INSERT INTO devices (id, geom, kind, height, angle, operator, observed_at)
        SELECT gen_random_uuid(),
               ST_SetSRID(ST_MakePoint(2.25 + n * 0.0005, 48.85 + n * 0.0001), 4326),
               CASE WHEN n % 7 = 0 THEN 'alpr' ELSE 'camera' END,
               n % 10, CASE WHEN n % 2 = 0 THEN 90 END,
               'Operator ' || n,
               TIMESTAMPTZ '2026-01-01 00:00:00Z' + n * INTERVAL '1 day'
        FROM generate_series(1, :total) AS n
        """,
        total=SEEDED,
    )


def gdal_run(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} is missing: install Debian's gdal-bin (make test does it as root)"
    result = subprocess.run(
        [tool, *args[1:], "--debug", "on"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "CPL_CURL_VERBOSE": "NO"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def items_requests(stderr: str) -> list[dict]:
    """The query parameters of every items page GDAL fetched, from its debug output."""
    urls = re.findall(r"HTTP: Fetch\((\S+/items\S*?)\)$", stderr, re.MULTILINE)
    return [parse_qs(urlsplit(url).query) for url in urls]


def operators(path) -> set[str]:
    return {f["properties"]["operator"] for f in json.loads(path.read_text())["features"]}


def test_gdal_sends_property_filters_and_cql_to_the_server(live_server, seeded, tmp_path):
    out = tmp_path / "alpr.geojson"
    result = gdal_run(
        "ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{live_server}/ogc", "devices",
        "-oo", "PAGE_SIZE=1000", "-where", "kind = 'alpr' AND height > 4",
    )  # fmt: skip
    assert "evaluated on client side" not in result.stderr
    filtered = [query for query in items_requests(result.stderr) if "filter" in query]
    assert filtered, result.stderr
    (query,) = filtered
    assert query["limit"] == ["1000"]
    assert unquote(query["filter"][0]) == "(kind = 'alpr') AND (height > 4)", result.stderr
    assert operators(out) == {f"Operator {n}" for n in ALPR_OVER_4}


def test_gdal_pushes_a_time_filter_written_as_text(live_server, seeded, tmp_path):
    out = tmp_path / "recent.geojson"
    result = gdal_run(
        "ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{live_server}/ogc", "devices",
        "-where", "observed_at >= '2026-04-01T00:00:00Z' AND kind = 'alpr'",
    )  # fmt: skip
    assert "evaluated on client side" not in result.stderr
    # 2026-04-01 is day 90 after 2026-01-01: ALPRs 91, 98, 105, 112, 119.
    assert operators(out) == {f"Operator {n}" for n in range(91, SEEDED + 1, 7)}


def test_gdal_passes_a_cql2_filter_given_in_the_url(live_server, seeded, tmp_path):
    out = tmp_path / "cql2.geojson"
    query = "filter=kind%3D'alpr'%20AND%20height%3E4&filter-lang=cql2-text"
    gdal_run(
        "ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{live_server}/ogc?{query}", "devices",
    )  # fmt: skip
    assert operators(out) == {f"Operator {n}" for n in ALPR_OVER_4}


def test_gdal_takes_column_types_from_the_feature_schema(live_server, seeded):
    summary = gdal_run("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "devices").stdout
    for line in ("angle: Real", "height: Real", "observed_at: DateTime", "kind: String"):
        assert line in summary, summary


def test_gdal_reads_the_statistics_counts_as_integer_columns(
    live_server, seeded, isolated, tmp_path
):
    paris = district_feature("P", rectangle(2.2, 48.8, 2.4, 48.9))
    load(isolated, write_geojson(tmp_path / "paris.geojson", [paris]))
    url = f"{live_server}/api/v1/stats/districts?level=quartier&f=geojson"
    info = gdal_run("ogrinfo", "-ro", "-al", f"GeoJSON:{url}").stdout
    for column in ("count", "kind_camera", "kind_alpr", "status_active", "verification_reported"):
        assert f"{column}: Integer " in info, info
    assert "per_km2: Real " in info and "counts_by" not in info, info
    alpr = len([n for n in range(1, SEEDED + 1) if n % 7 == 0])
    assert f"kind_alpr (Integer) = {alpr}" in info, info
    assert f"kind_camera (Integer) = {SEEDED - alpr}" in info, info


def test_owslib_connects_and_reads_items_with_bbox_and_cql2(live_server, seeded):
    service = Features(f"{live_server}/ogc/")
    assert service.links and service.api()["servers"][0]["url"].endswith("/ogc")
    assert "/collections/devices/items" in service.api()["paths"]
    assert set(service.feature_collections()) == {"declared_sites", "devices", "districts"}
    queryables = service.collection_queryables("devices")
    assert queryables["properties"]["height"]["type"] == "number"
    inside = service.collection_items("devices", bbox=[2.25, 48.85, 2.2751, 48.86], limit=500)
    assert inside["numberReturned"] == 50
    alpr = service.collection_items(
        "devices", filter="kind = 'alpr' AND height > 4", limit=500, **{"filter-lang": "cql2-text"}
    )
    ops = {f["properties"]["operator"] for f in alpr["features"]}
    assert ops == {f"Operator {n}" for n in ALPR_OVER_4}
