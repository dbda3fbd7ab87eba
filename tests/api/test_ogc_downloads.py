"""Downloads of whole collections for GIS users: GeoPackage and FlatGeobuf files of the public
devices, and of the districts with their statistics as flat, typed columns."""

import concurrent.futures
import fcntl
import multiprocessing
import os
import sqlite3
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pyogrio
import pyogrio.raw
import pytest
from flask import Response
from pyogrio.errors import FeatureError
from werkzeug.test import EnvironBuilder

from service.delivery import file_in_ranges
from service.errors import PreconditionFailed
from service.exports import geopackage
from service.exports.kept import kept_download, request_name
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


@pytest.mark.parametrize("collection", ["devices", "districts"])
def test_the_geopackage_tells_the_day_it_was_written_not_the_time(
    client, mapped, tmp_path, collection
):
    """Times others can read are days: GDAL stamps the layers and their metadata with the
    millisecond it wrote them, which for a file written on the first request after a change
    tells the minute of that change."""
    before = datetime.now(UTC).strftime("%Y-%m-%d")
    path = downloaded(client, tmp_path, f"/ogc/collections/{collection}/download", "gpkg")
    days = {before, datetime.now(UTC).strftime("%Y-%m-%d")}  # midnight may pass meanwhile
    with closing(sqlite3.connect(path)) as database:
        stamps = database.execute(
            "SELECT last_change FROM gpkg_contents"
            " UNION ALL SELECT timestamp FROM gpkg_metadata_reference"
        ).fetchall()
    assert len(stamps) >= 2  # the layer, and its credits
    assert len(set(stamps)) == 1 and stamps[0][0] in {f"{day}T00:00:00.000Z" for day in days}
    # Still a GeoPackage that GDAL opens, its credits read.
    assert pyogrio.read_info(path, layer=collection)["features"] >= 1


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
    enclosures = {link["type"]: link["href"] for link in links if link["rel"] == "enclosure"}
    assert enclosures == {
        media: f"http://localhost/ogc/collections/districts/download.{fmt}"
        for fmt, media in MEDIA.items()
    }


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_a_download_named_by_its_extension_is_the_same_file(client, mapped, fmt):
    """GDAL tells a file's format by its URL's extension: download.gpkg is download?f=gpkg,
    the same kept file, ranges and ETag, narrowed by level alike; f is no parameter of it."""
    asked = client.get(f"/ogc/collections/devices/download?f={fmt}")
    named = client.get(f"/ogc/collections/devices/download.{fmt}")
    assert named.status_code == 200 and named.mimetype == MEDIA[fmt]
    assert named.data == asked.data and named.headers["ETag"] == asked.headers["ETag"]
    assert named.headers["Content-Disposition"] == f"attachment; filename=vigie-devices.{fmt}"
    part = client.get(f"/ogc/collections/devices/download.{fmt}", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == asked.data[:10]
    districts = f"/ogc/collections/districts/download.{fmt}?level=quartier"
    assert (
        client.get(districts).data
        == client.get(f"{districts}&f={fmt}".replace(f"download.{fmt}", "download")).data
    )
    for url, status, field in (
        (f"/ogc/collections/devices/download.{fmt}?f=gpkg", 400, "f"),
        (f"/ogc/collections/devices/download.{fmt}?level=quartier", 400, "level"),
        (f"/ogc/collections/districts/download.{fmt}?level=nope", 404, "level"),
        ("/ogc/collections/devices/download.shp", 404, None),
    ):
        refused = client.get(url)
        assert refused.status_code == status and refused.mimetype == PROBLEM, url
        if field:
            assert refused.get_json()["errors"][0]["field"] == field, url


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_a_download_is_served_by_byte_ranges_of_one_kept_file(client, mapped, fmt):
    """GDAL's /vsicurl/ reads a GeoPackage or a FlatGeobuf by ranges, and a cut download is
    resumed by one (If-Range): the same request gives the same file while the data is the same."""
    url = f"/ogc/collections/devices/download?f={fmt}"
    whole = client.get(url)
    etag = whole.headers["ETag"]
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert client.get(url).data == whole.data
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == whole.data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole.data)}"
    resumed = client.get(url, headers={"Range": "bytes=100-", "If-Range": etag})
    assert resumed.status_code == 206 and resumed.data == whole.data[100:]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    beyond = client.get(url, headers={"Range": f"bytes={len(whole.data)}-"})
    assert beyond.status_code == 416 and beyond.mimetype == PROBLEM


def test_a_change_of_public_data_writes_the_download_again(app, client, mapped, as_user, tmp_path):
    """A pin others can see makes a new file, and a range asked of the old one (If-Range) gets
    the new one whole; a pin awaiting review, which the file does not hold, leaves it as it is
    (its ETag would tell anyone polling it when someone pinned something)."""
    url = "/ogc/collections/devices/download?f=fgb"
    before = client.get(url)
    pin(as_user("contributor"), 2.304, 48.805)
    assert client.get(url).headers["ETag"] == before.headers["ETag"]
    pin(client, 2.305, 48.805, operator="Seen since")
    resumed = client.get(url, headers={"Range": "bytes=100-", "If-Range": before.headers["ETag"]})
    assert resumed.status_code == 200 and resumed.headers["ETag"] != before.headers["ETag"]
    path = tmp_path / "again.fgb"
    path.write_bytes(resumed.data)
    assert "Seen since" in [row["operator"] for row in read(path, "devices")[1]]
    # The older file is removed once the newer is kept: one file a request.
    kept = " ".join(p.name for p in Path(app.config["DOWNLOADS_ROOT"]).iterdir())
    assert resumed.get_etag()[0] in kept and before.get_etag()[0] not in kept


def keep(folder, *versions, write=None, key="request", **options):
    """kept_download of KEY in FOLDER, the data at VERSIONS as read one after the other (the
    last one from then on), each written as its version's bytes unless WRITE is given."""
    reads = iter(versions)
    last = versions[0]

    def read_version():
        nonlocal last
        last = next(reads, last)
        return last

    def write_version(path):
        path.write_bytes(last.encode())

    options = {"before_waiting": lambda: None, "wait_seconds": 30, **options}
    return kept_download(folder, key, read_version, ".fgb", write or write_version, **options)


def test_a_download_written_as_the_data_changed_is_sent_once_and_not_kept(tmp_path):
    """Its rows may be of a later version than the one it would be kept under."""
    written = keep(tmp_path, "7.7", "7.7", "7.8")
    assert written.etag is None and written.file.read() == b"7.7"
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".lock"] == []
    kept = keep(tmp_path, "7.8")
    assert kept.etag and [p.name for p in tmp_path.glob("*.fgb")] == [Path(kept.file.name).name]


def written_slowly(path):
    """A file of its writer's own bytes, written slowly enough for another to come meanwhile."""
    time.sleep(0.5)
    path.write_bytes(f"written by {os.getpid()} {threading.get_ident()}".encode())


def keep_and_tell(folder, results):
    download = keep(folder, "3.9", write=written_slowly)
    results.put((download.etag, download.file.read()))


def test_workers_asking_for_one_download_at_once_get_one_file(tmp_path):
    """Each worker of a node, and each of its threads, waits for the one writing it: one ETag
    a version (a GeoPackage written twice differs, by the time it holds)."""
    forked = multiprocessing.get_context("fork")
    results = forked.Queue()
    workers = [forked.Process(target=keep_and_tell, args=(tmp_path, results)) for _ in range(2)]
    threads = [threading.Thread(target=keep_and_tell, args=(tmp_path, results)) for _ in range(2)]
    for each in (*workers, *threads):
        each.start()
    answers = [results.get(timeout=30) for _ in range(4)]
    for each in (*workers, *threads):
        each.join(timeout=30)
    assert len(set(answers)) == 1 and answers[0][0]
    assert len(list(tmp_path.glob("*.fgb"))) == 1


def test_a_request_that_waited_keeps_the_version_committed_meanwhile(tmp_path):
    """It hands its database connection back while it waits, and once its turn comes reads the
    version again: the data changed as it waited, and the file it writes is kept under it."""
    handed_back = threading.Event()
    with (tmp_path / f".{request_name('request')}.lock").open("a") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)  # another request writing it
        waiting = concurrent.futures.ThreadPoolExecutor(1).submit(
            keep, tmp_path, "5.5", "5.6", before_waiting=handed_back.set
        )
        assert handed_back.wait(timeout=30)
    download = waiting.result(timeout=30)
    assert download.etag and download.file.read() == b"5.6"
    assert [p.name.split("_")[1] for p in tmp_path.glob("*.fgb")] == ["5.6"]


def test_a_request_waits_a_bounded_time_for_another_writing_its_file(tmp_path):
    with (tmp_path / f".{request_name('request')}.lock").open("a") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError):
            keep(tmp_path, "5.5", wait_seconds=0.3)


def test_a_download_that_cannot_be_written_is_a_503_to_retry(app, client, mapped, tmp_path):
    """A folder that cannot be made: the next try may find it written."""
    (tmp_path / "a file").write_text("")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.config, "DOWNLOADS_ROOT", str(tmp_path / "a file" / "downloads"))
        response = client.get("/ogc/collections/devices/download")
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == "30"


def test_a_disk_full_as_gdal_writes_is_a_503_to_retry(client, mapped, monkeypatch):
    """GDAL says so by errors of its own (pyogrio's), not by an OSError."""

    def full(*_args, **_kwargs):
        raise FeatureError("failed to execute insert : disk I/O error")

    monkeypatch.setattr(geopackage, "write_rows", full)
    for fmt in ("gpkg", "fgb"):
        response = client.get(f"/ogc/collections/devices/download?f={fmt}")
        assert response.status_code == 503 and response.mimetype == PROBLEM, fmt


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-Match": "*"}, 200),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"x"', "Range": "bytes=0-1"}, 200),
    ],
)
def test_a_file_sent_once_answers_preconditions_without_an_etag(app, headers, status):
    """Written as the data changed, it has no ETag: only `*` matches it, and a Range is not
    honoured, as no later request could name the same file."""
    with app.test_request_context(headers=headers):
        answer = file_in_ranges(Response(b"rows", mimetype="application/flatgeobuf"), None, 4)
    assert answer.status_code == status
    assert "ETag" not in answer.headers and "Accept-Ranges" not in answer.headers


def test_a_file_sent_once_matches_no_etag_of_if_match(app):
    with app.test_request_context(headers={"If-Match": '"x"'}), pytest.raises(PreconditionFailed):
        file_in_ranges(Response(b"rows", mimetype="application/flatgeobuf"), None, 4)


def test_a_database_of_another_history_writes_its_own_downloads(app, client, mapped, db):
    """Made anew or restored, a database counts its data versions again: a file kept under
    the same version for the history it replaced is not its own (migration 0040)."""
    folder = Path(app.config["DOWNLOADS_ROOT"])
    url = "/ogc/collections/devices/download?f=fgb"
    assert client.get(url).status_code == 200
    names = {p.name.split("_")[0] for p in folder.glob("*.fgb")}
    db("UPDATE shared_settings SET value = 'restored' WHERE name = 'data_lineage'")
    db(
        "INSERT INTO shared_settings (name, value) VALUES ('data_lineage', 'restored') "
        "ON CONFLICT (name) DO NOTHING"
    )
    assert client.get(url).status_code == 200
    assert {p.name.split("_")[0] for p in folder.glob("*.fgb")} - names  # under another name


def test_a_kept_version_removes_the_older_ones_never_a_newer_one(tmp_path):
    """A server reading a replica that lags behind keeps the version it read beside the newer
    one, which later requests still find."""
    assert keep(tmp_path, "9.10").file.read() == b"9.10"
    assert keep(tmp_path, "9.9").file.read() == b"9.9"  # older, from a replica: kept beside
    assert keep(tmp_path, "9.10").file.read() == b"9.10"  # the newer one stays
    assert keep(tmp_path, "10.11").file.read() == b"10.11"
    assert sorted(p.read_bytes() for p in tmp_path.glob("*.fgb")) == [b"10.11"]


def test_writes_of_other_requests_ending_meanwhile_are_no_error(tmp_path):
    """What a write leaves is removed as it ends, under its own request's lock, while a write of
    another request looks through them for abandoned ones."""
    failures = []

    def keep_many(key):
        try:
            for version in range(1, 1000):
                keep(tmp_path, str(version), key=key)
        except Exception as error:  # any failure is the finding
            failures.append(error)

    threads = [threading.Thread(target=keep_many, args=(f"request {n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []


def test_what_a_killed_write_left_goes_with_the_next_write(tmp_path):
    abandoned, under_way = tmp_path / ".writing" / "abandoned", tmp_path / ".writing" / "now"
    for folder in (abandoned, under_way):
        folder.mkdir(parents=True)
        (folder / ".partial.download.gpkg").write_bytes(b"half")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(abandoned, (two_days_ago, two_days_ago))
    keep(tmp_path, "1.1")
    assert not abandoned.exists() and under_way.exists()


@pytest.mark.parametrize(
    ("headers", "status", "part"),
    [
        ({"Range": "bytes=0-1,5-6"}, 200, slice(None)),  # several ranges: the whole file
        ({"Range": "items=0-1"}, 200, slice(None)),  # another unit: ignored
        ({"Range": "bytes=abc"}, 200, slice(None)),  # unreadable: ignored
        ({"Range": "bytes=-99999999"}, 206, slice(None)),  # a suffix longer than the file
        ({"Range": "bytes=-100"}, 206, slice(-100, None)),
        ({"Range": "bytes=10-19", "If-Range": "ETAG"}, 206, slice(10, 20)),
        ({"Range": "bytes=10-19", "If-Range": "W/ETAG"}, 200, slice(None)),  # weak: no match
        ({"Range": "bytes=10-19", "If-Range": "Mon, 07 Dec 2026 10:00:00 GMT"}, 200, slice(None)),
        ({"Range": "bytes=10-19", "If-None-Match": "ETAG"}, 304, slice(0)),  # unchanged first
        ({"If-Match": "*"}, 200, slice(None)),
        ({"If-Match": "ETAG"}, 200, slice(None)),
    ],
)
def test_a_download_answers_ranges_and_preconditions_as_http_says(
    client, mapped, headers, status, part
):
    url = "/ogc/collections/devices/download?f=gpkg"
    whole = client.get(url)
    etag = whole.headers["ETag"]
    sent = {name: value.replace("ETAG", etag) for name, value in headers.items()}
    response = client.get(url, headers=sent)
    assert response.status_code == status
    assert response.data == whole.data[part]
    if status == 206:
        assert response.headers["Content-Range"].endswith(f"/{len(whole.data)}")


def test_a_download_changed_since_is_refused_to_if_match_and_past_its_end(client, mapped):
    """Problems naming the header, never the file as the body of an error."""
    url = "/ogc/collections/devices/download?f=gpkg"
    size = len(client.get(url).data)
    for headers, status, field in [
        ({"If-Match": '"another"'}, 412, "If-Match"),
        ({"If-Match": '"another"', "Range": "bytes=0-9"}, 412, "If-Match"),
        ({"Range": f"bytes={size}-"}, 416, "Range"),
    ]:
        response = client.get(url, headers=headers)
        assert response.status_code == status and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0] == {
            "field": field,
            "location": "headers",
            "message": response.get_json()["detail"],
        }
    assert response.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_a_download_says_its_length(client, mapped, fmt):
    """Clients show their progress, and tell a download cut short from a whole one."""
    response = client.get(f"/ogc/collections/devices/download?f={fmt}")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.data) > 1000


def test_a_download_leaves_no_half_written_file_even_unclosed(app, mapped):
    """Read to its end, never closed (servers such as gunicorn send a file as it is and never
    call the response's close hooks): nothing of its writing is left beside the kept file."""
    environ = EnvironBuilder(path="/ogc/collections/devices/download", query_string="f=gpkg")
    started = []
    body = app.wsgi_app(environ.get_environ(), lambda status, headers: started.append(status))
    received = b"".join(body)
    assert started == ["200 OK"] and len(received) > 1000
    downloads = Path(app.config["DOWNLOADS_ROOT"])
    assert [p for p in (downloads / ".writing").rglob("*") if p.is_file()] == []
    assert received in [p.read_bytes() for p in downloads.glob("*.gpkg")]
