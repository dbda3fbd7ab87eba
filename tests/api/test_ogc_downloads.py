"""Downloads of whole collections for GIS users: GeoPackage and FlatGeobuf files of the public
devices, and of the districts with their statistics as flat, typed columns."""

import sqlite3
import tempfile
from contextlib import closing

import pyogrio
import pyogrio.raw
import pytest
from werkzeug.test import EnvironBuilder

from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import PROBLEM, pin

MEDIA = {"gpkg": "application/geopackage+sqlite3", "fgb": "application/flatgeobuf"}


@pytest.fixture
def client(moderator):
    return moderator


@pytest.fixture
def mapped(client, db, isolated, tmp_path):
    load(
        isolated,
        write_geojson(
            tmp_path / "q.geojson",
            [
                district_feature("W", rectangle(2.30, 48.80, 2.31, 48.81), population=20_000),
                district_feature("E", rectangle(2.31, 48.80, 2.32, 48.81), population=10),
            ],
        ),
        level="quartier",
        population_field="population",
    )
    pin(client, 2.301, 48.805, height=4.5, angle=90)
    pin(client, 2.302, 48.805, kind="alpr")
    pin(client, 2.315, 48.805, kind="alpr")
    gone = pin(client, 2.303, 48.805)
    db("UPDATE devices SET deleted_at = now() WHERE id = :id", id=gone["id"])


def downloaded(client, tmp_path, url, fmt):
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == MEDIA[fmt]
    assert f".{fmt}" in response.headers["Content-Disposition"]
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(response.data)
    return path


def read(path, layer):
    meta, _, geometries, values = pyogrio.raw.read(path, layer=layer)
    fields = list(meta["fields"])
    rows = [dict(zip(fields, row, strict=True)) for row in zip(*values, strict=True)]
    return meta, rows, geometries


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_devices_download_has_every_public_device_with_typed_fields(client, mapped, tmp_path, fmt):
    path = downloaded(client, tmp_path, f"/ogc/collections/devices/download?f={fmt}", fmt)
    meta, rows, geometries = read(path, "devices")
    assert meta["crs"] == "EPSG:4326" and meta["geometry_type"] == "Point"
    assert sorted(row["kind"] for row in rows) == ["alpr", "alpr", "camera"]
    types = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert types["height"] == "float64" and types["angle"] == "float64"
    assert types["osm_id"] == "int64" and types["kind"] == "object"
    assert len(geometries) == 3


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_statistics_download_has_flat_counts_per_district(client, mapped, tmp_path, fmt):
    url = f"/ogc/collections/districts/download?f={fmt}&level=quartier"
    meta, rows, _ = read(downloaded(client, tmp_path, url, fmt), "districts")
    assert meta["geometry_type"] == "MultiPolygon"
    by_code = {row["code"]: row for row in rows}
    assert (by_code["W"]["count"], by_code["W"]["kind_camera"], by_code["W"]["kind_alpr"]) == (
        2,
        1,
        1,
    )
    assert by_code["E"]["count"] == 1 and by_code["E"]["status_active"] == 1
    types = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert types["kind_camera"] in ("int32", "int64") and types["per_km2"] == "float64"
    # The same figures as the statistics API.
    stats = client.get("/api/v1/stats/districts?level=quartier").get_json()
    assert {d["code"]: d["count"] for d in stats["districts"]} == {
        code: row["count"] for code, row in by_code.items()
    }


def test_the_geopackage_is_of_a_version_gdal_3_6_reads(client, mapped, tmp_path):
    """GeoPackage 1.2 (user_version 10200): Debian 12's GDAL 3.6 and QGIS warn on 1.4."""
    path = downloaded(client, tmp_path, "/ogc/collections/devices/download", "gpkg")
    with closing(sqlite3.connect(path)) as database:
        assert database.execute("PRAGMA user_version").fetchone() == (10200,)
        assert database.execute("PRAGMA application_id").fetchone() == (0x47504B47,)  # GPKG


def test_the_geopackage_credits_its_sources(client, mapped, tmp_path):
    path = downloaded(client, tmp_path, "/ogc/collections/devices/download", "gpkg")
    metadata = pyogrio.read_info(path, layer="devices")["layer_metadata"]
    assert "Vigie contributors" in metadata["attribution"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/ogc/collections/devices/download?f=shp", 400),
        ("/ogc/collections/devices/download?colour=red", 400),
        ("/ogc/collections/nothing/download", 404),
        ("/ogc/collections/districts/download?level=nope", 404),
    ],
)
def test_bad_downloads_are_problems(client, url, status):
    response = client.get(url)
    assert response.status_code == status and response.mimetype == PROBLEM


@pytest.mark.parametrize("level", ["x", "quartier"])
def test_the_devices_download_is_not_narrowed_by_level(client, level):
    """Only districts have levels: the devices' file with every device, answered to a request
    for some level, would be taken for what it is not."""
    response = client.get(f"/ogc/collections/devices/download?level={level}")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["field"] == "level"


def test_collections_link_their_downloads(client):
    links = client.get("/ogc/collections/districts").get_json()["links"]
    enclosures = {link["type"] for link in links if link["rel"] == "enclosure"}
    assert enclosures == set(MEDIA.values())


def test_a_download_offers_no_validator_or_range_it_could_not_honour(client, mapped):
    whole = client.get("/ogc/collections/devices/download")
    part = client.get("/ogc/collections/devices/download", headers={"Range": "bytes=0-10"})
    assert "ETag" not in whole.headers and whole.headers.get("Accept-Ranges") != "bytes"
    assert (
        part.status_code == 200 and part.data.startswith(b"SQLite format 3") and len(part.data) > 11
    )


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_a_download_says_its_length(client, mapped, fmt):
    """Clients show their progress, and tell a download cut short from a whole one."""
    response = client.get(f"/ogc/collections/devices/download?f={fmt}")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.data) > 1000


def test_a_download_leaves_no_file_behind_even_unclosed(app, mapped, tmp_path, monkeypatch):
    """The written file is gone from the temporary folder before it is sent: servers such as
    gunicorn send a file as it is and never call the response's close hooks."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    environ = EnvironBuilder(path="/ogc/collections/devices/download", query_string="f=fgb")
    started = []
    body = app.wsgi_app(environ.get_environ(), lambda status, headers: started.append(status))
    received = b"".join(body)  # read to the end, never closed
    assert started == ["200 OK"] and len(received) > 1000
    assert list((tmp_path / "tmp").iterdir()) == []
