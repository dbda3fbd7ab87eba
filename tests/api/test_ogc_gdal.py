"""A real OGC API Features client, GDAL's OAPIF driver, reads every page from a live server."""

import json
import shutil
import subprocess

import pytest

from tests.districts import district_feature, load, rectangle, write_geojson

SEEDED = 230
PAGE_SIZE = 40  # several pages: GDAL must follow every `next` link


@pytest.fixture
def seeded(db):
    """Devices on a line across Paris; every seventh is an ALPR, one is deleted."""
    db(
        """
        INSERT INTO devices (id, geom, kind, height, operator)
        SELECT gen_random_uuid(),
               ST_SetSRID(ST_MakePoint(2.25 + n * 0.0005, 48.85 + n * 0.0001), 4326),
               CASE WHEN n % 7 = 0 THEN 'alpr' ELSE 'camera' END,
               n % 10,
               'operator ' || n
        FROM generate_series(1, :total) AS n
        """,
        total=SEEDED + 1,
    )
    db("UPDATE devices SET deleted_at = now() WHERE operator = 'operator 1'")


def gdal(*args: str, warnings: list | None = None) -> str:
    """What the GDAL command ARGS prints; what it warns of is added to WARNINGS."""
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} is missing: install Debian's gdal-bin (make test does it as root)"
    result = subprocess.run(
        [tool, *args[1:]], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    if warnings is not None:
        warnings.append(result.stderr)
    return result.stdout


def read_layer(server: str, tmp_path, *options: str, query: str = "") -> list[dict]:
    """The devices as GDAL reads them, through an `OAPIF:` URL with QUERY, and OPTIONS."""
    out = tmp_path / "devices.geojson"
    gdal(
        "ogr2ogr",
        "-f",
        "GeoJSON",
        str(out),
        f"OAPIF:{server}/ogc{query}",
        "devices",
        "-oo",
        f"PAGE_SIZE={PAGE_SIZE}",
        *options,
    )
    return json.loads(out.read_text())["features"]


def test_gdal_reads_every_page_of_the_devices_collection(live_server, seeded, tmp_path):
    features = read_layer(live_server, tmp_path)
    assert len(features) == SEEDED
    operators = {f["properties"]["operator"] for f in features}
    assert operators == {f"operator {n}" for n in range(2, SEEDED + 2)}
    alpr = [f for f in features if f["properties"]["kind"] == "alpr"]
    assert len(alpr) == len([n for n in range(2, SEEDED + 2) if n % 7 == 0])
    lon, lat = features[0]["geometry"]["coordinates"]
    assert 2.25 < lon < 2.38 and 48.85 < lat < 48.88


def test_gdal_reads_osm_node_ids_past_32_bits(live_server, seeded, db, tmp_path):
    """OpenStreetMap node ids pass 2**31, where GDAL would clamp a schema "integer" (32 bits)
    to 2147483647: typed as a number, they come through whole."""
    db("UPDATE devices SET osm_id = 6928121637 WHERE operator = 'operator 2'")
    summary = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "devices")
    assert "osm_id: Real" in summary, summary
    features = read_layer(live_server, tmp_path, "-where", "operator = 'operator 2'")
    assert [f["properties"]["osm_id"] for f in features] == [6928121637]


def test_gdal_sees_the_layer_extent_and_applies_filters(live_server, seeded, tmp_path):
    summary = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "devices")
    assert "Geometry: Point" in summary
    assert f"Feature Count: {SEEDED}" in summary
    assert "Extent: (2.251000, 48.850200) - (2.365500, 48.873100)" in summary
    inside = read_layer(live_server, tmp_path, "-spat", "2.25", "48.85", "2.30", "48.87")
    assert {f["properties"]["operator"] for f in inside} == {f"operator {n}" for n in range(2, 101)}
    alpr = read_layer(live_server, tmp_path, "-where", "kind = 'alpr' AND height > 4")
    expected = {n for n in range(2, SEEDED + 2) if n % 7 == 0 and n % 10 > 4}
    assert {f["properties"]["operator"] for f in alpr} == {f"operator {n}" for n in expected}


def test_gdal_filters_on_a_day_and_on_a_string_with_a_quote(live_server, seeded, db, tmp_path):
    """GDAL 3.6 sends a day as '2026-03-01T' and keeps a quote doubled inside a string."""
    db("UPDATE devices SET observed_at = '2026-03-05' WHERE operator = 'operator 2'")
    db("UPDATE devices SET operator = 'Kennedy''s Irish Pub' WHERE operator = 'operator 3'")
    after = read_layer(live_server, tmp_path, "-where", "observed_at > '2026-03-01'")
    assert [f["properties"]["operator"] for f in after] == ["operator 2"]
    pub = read_layer(live_server, tmp_path, "-where", "operator = 'Kennedy''s Irish Pub'")
    assert [f["properties"]["operator"] for f in pub] == ["Kennedy's Irish Pub"]


def test_gdal_filters_without_regard_to_case(live_server, seeded, tmp_path):
    """OGR's -where ILIKE reaches the server as `operator ILIKE '...'` in its CQL text."""
    features = read_layer(live_server, tmp_path, "-where", "operator ILIKE 'OPERATOR 1%'")
    expected = {n for n in range(2, SEEDED + 2) if str(n).startswith("1")}
    assert {f["properties"]["operator"] for f in features} == {f"operator {n}" for n in expected}


def test_a_filter_in_the_url_holds_with_gdals_own_where(live_server, seeded, db, tmp_path):
    """GDAL repeats an `OAPIF:` URL's query string on every request, and adds its -where as a
    second filter: both hold; the single feature it fetches by id ignores the URL's."""
    in_url = "?filter=kind%3D'alpr'&filter-lang=cql-text"
    both = read_layer(live_server, tmp_path, "-where", "height > 4", query=in_url)
    expected = {n for n in range(2, SEEDED + 2) if n % 7 == 0 and n % 10 > 4}
    assert {f["properties"]["operator"] for f in both} == {f"operator {n}" for n in expected}
    device = db("SELECT id FROM devices WHERE operator = 'operator 7'").scalar_one()
    one = read_layer(live_server, tmp_path, "-where", f"id = '{device}'", query=in_url)
    assert [f["properties"]["operator"] for f in one] == ["operator 7"]


def test_a_bbox_in_the_url_holds_with_gdals_own_spat(live_server, seeded, db, tmp_path):
    """GDAL adds its -spat to a URL's bbox as a second bbox: devices lie in both."""
    both = read_layer(
        live_server, tmp_path, "-spat", "2.27", "48.80", "2.40", "48.90",
        query="?bbox=2.25,48.85,2.30,48.87",
    )  # fmt: skip
    expected = db(
        "SELECT operator FROM devices WHERE deleted_at IS NULL"
        " AND geom && ST_MakeEnvelope(2.27, 48.85, 2.30, 48.87, 4326)"
    ).scalars()
    assert {f["properties"]["operator"] for f in both} == set(expected)
    assert 20 < len(both) < 100


@pytest.fixture
def districts(isolated, tmp_path):
    """Twelve strips side by side, 0.01° wide, over every device of `seeded`."""
    features = [
        district_feature(
            f"Q{n:02d}", rectangle(2.25 + n * 0.01, 48.85, 2.26 + n * 0.01, 48.88), population=n
        )
        for n in range(12)
    ]
    load(
        isolated,
        write_geojson(tmp_path / "q.geojson", features),
        level="quartier",
        population_field="population",
    )


def test_gdal_reads_every_page_of_the_districts_collection(
    live_server, seeded, districts, db, tmp_path
):
    out = tmp_path / "districts.geojson"
    gdal(
        "ogr2ogr",
        "-f",
        "GeoJSON",
        str(out),
        f"OAPIF:{live_server}/ogc",
        "districts",
        "-oo",
        "PAGE_SIZE=5",
    )
    features = json.loads(out.read_text())["features"]
    assert sorted(f["properties"]["code"] for f in features) == [f"Q{n:02d}" for n in range(12)]
    counts = {f["properties"]["code"]: f["properties"]["count"] for f in features}
    inside = db(
        "SELECT q.code, count(d.id) FROM districts q LEFT JOIN devices d "
        "ON ST_Contains(q.geom, d.geom) AND d.deleted_at IS NULL GROUP BY q.code"
    ).all()
    assert all(counts[code] >= n for code, n in inside)
    assert sum(counts.values()) == SEEDED  # a device on a shared edge counts in one only
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in features)


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_gdal_opens_a_download_by_its_url(live_server, seeded, tmp_path, fmt):
    """/vsicurl/ reads the file by byte ranges, as QGIS does with a URL given as its source
    (the commands of docs/clients.md)."""
    url = f"/vsicurl/{live_server}/ogc/collections/devices/download.{fmt}"
    warnings = []
    summary = gdal("ogrinfo", "-ro", "-so", url, "devices", warnings=warnings)
    assert f"Feature Count: {SEEDED}" in summary, summary
    # Named as a file is (the URL of the collection's enclosure link): nothing to warn of.
    assert warnings == [""]
    out = tmp_path / "devices.geojson"
    gdal("ogr2ogr", "-f", "GeoJSON", str(out), url, "devices")
    features = json.loads(out.read_text())["features"]
    assert len(features) == SEEDED and features[0]["geometry"]["type"] == "Point"


def test_curl_resumes_a_download_cut_short_as_docs_clients_says(live_server, seeded, db, tmp_path):
    """`curl -C - -H "If-Range: $etag"` completes the file while it stands, and once the data
    has changed stops (exit 33) rather than join two files."""
    url = f"{live_server}/ogc/collections/devices/download.gpkg"
    whole = tmp_path / "whole.gpkg"
    etag = curl("-sD", "-", "-o", str(whole), url).split("ETag: ")[1].split()[0]
    part = tmp_path / "vigie-devices.gpkg"
    part.write_bytes(whole.read_bytes()[:5000])
    curl("-s", "-C", "-", "-H", f"If-Range: {etag}", "-o", str(part), url)
    assert part.read_bytes() == whole.read_bytes()
    part.write_bytes(whole.read_bytes()[:5000])
    db("UPDATE devices SET operator = 'changed' WHERE operator = 'operator 2'")
    changed = curl("-s", "-C", "-", "-H", f"If-Range: {etag}", "-o", str(part), url, check=33)
    assert changed == "" and part.read_bytes() == whole.read_bytes()[:5000]


def curl(*args: str, check: int = 0) -> str:
    tool = shutil.which("curl")
    assert tool, "curl is missing: install Debian's curl"
    result = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == check, result.stderr
    return result.stdout
