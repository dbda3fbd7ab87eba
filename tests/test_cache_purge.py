"""The purge hook: after a committed change of devices, one PURGE naming the keys it touched."""

import http.server
import logging
import threading
from datetime import UTC, datetime, time, timedelta

import pytest

from service import create_app
from service.caching import Purger, place_keys
from service.config import Config
from service.geo.keys import mercator_pixel, spread_bits
from tests.districts import district_feature, load, square, write_geojson
from tests.helpers import feature, pin
from tests.osm.test_importer import osm_xml_file, run_import
from tests.server import free_port

PARIS = (2.3522, 48.8566)
MOVED = (2.2950, 48.8738)


def key_of(lon: float, lat: float) -> int:
    x, y = mercator_pixel(lon, lat)
    return spread_bits(x) | (spread_bits(y) << 1)


class RecordingCache(http.server.BaseHTTPRequestHandler):
    """A cache that only records the keys of the PURGE requests it receives."""

    purged: list[set[str]] = []

    def do_PURGE(self):
        self.purged.append(set(self.headers["Surrogate-Key"].split()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def load_paris(connection, tmp_path):
    """A district 75056, a 0.01° square around PARIS."""
    load(
        connection,
        write_geojson(
            tmp_path / "districts.geojson",
            [district_feature("75056", square(PARIS[0] - 0.005, PARIS[1] - 0.005, 0.01))],
        ),
    )


@pytest.fixture(scope="module")
def cache():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingCache)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def app(database_url, cache, tmp_path_factory):
    app = create_app(
        Config(
            DATABASE_URL=database_url,
            TESTING=True,
            MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
            RATELIMIT_ENABLED=False,
            CACHE_PURGE_URL=cache,
            CACHE_PURGE_WAIT_MS=5000,
        )
    )
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def purged():
    RecordingCache.purged.clear()
    return RecordingCache.purged


def test_a_change_purges_both_positions_its_districts_and_the_device(
    moderator, purged, isolated, tmp_path
):
    load_paris(isolated, tmp_path)
    device = pin(moderator, *PARIS)
    assert purged[-1] == place_keys(key_of(*PARIS), ["75056"], min_zoom=10) | {
        f"device/{device['id']}"
    }
    purged.clear()
    etag = moderator.get(f"/api/v1/devices/{device['id']}").headers["ETag"]
    moved = moderator.patch(
        f"/api/v1/devices/{device['id']}",
        json={"geometry": {"type": "Point", "coordinates": list(MOVED)}},
        headers={"If-Match": etag},
    )
    assert moved.status_code == 200
    # Sent before the write answered: the author's next read through the cache is fresh.
    assert len(purged) == 1
    # The tiles of both positions from zoom 10 on; wider ones are kept a minute, not purged.
    expected = place_keys(key_of(*PARIS), ["75056"], min_zoom=10)
    assert purged[0] == expected | place_keys(key_of(*MOVED), min_zoom=10) | {
        f"device/{device['id']}"
    }
    assert "tile/9/259/176" not in purged[0] and len(expected) == 22 - 10 + 1 + 1


@pytest.mark.parametrize("bulk", [False, True])
def test_a_change_of_a_device_that_moved_purges_the_districts_it_stood_in_before(
    moderator, purged, isolated, tmp_path, db, bulk
):
    """Dated statistics (at=, timelines) count a moved device where it stood then: its
    deletion changes the answers of the district it left, which no longer holds it. BULK: a
    row loaded without history, whose first place only its move records."""
    left = square(PARIS[0] - 0.005, PARIS[1] - 0.005, 0.01)
    now = square(MOVED[0] - 0.0005, MOVED[1] - 0.0005, 0.001)
    districts = [district_feature("75056", left), district_feature("75117", now)]
    load(isolated, write_geojson(tmp_path / "districts.geojson", districts))
    device = pin(moderator, *PARIS)
    if bulk:
        db("DELETE FROM device_revisions WHERE device_id = :id", id=device["id"])
    url = f"/api/v1/devices/{device['id']}"
    moved = moderator.patch(
        url,
        json={"geometry": {"type": "Point", "coordinates": list(MOVED)}},
        headers={"If-Match": moderator.get(url).headers["ETag"]},
    )
    assert moved.status_code == 200
    purged.clear()
    assert moderator.delete(url).status_code == 204
    assert {"district/75056", "district/75117"} <= purged[0]


def test_reads_and_failed_writes_purge_nothing(client, moderator, purged):
    device = pin(moderator, *PARIS)
    purged.clear()
    client.get(f"/api/v1/devices/{device['id']}")
    client.get("/api/v1/devices")
    stale = moderator.patch(
        f"/api/v1/devices/{device['id']}",
        json={"properties": {"notes": "x"}},
        headers={"If-Match": '"0.0"'},
    )
    assert stale.status_code == 412
    duplicate = moderator.post("/api/v1/devices", json=feature(*PARIS))
    assert duplicate.status_code == 409
    assert purged == []


def test_a_cache_that_does_not_answer_costs_a_log_line_not_the_write(
    app, moderator, monkeypatch, caplog
):
    down = Purger([f"http://127.0.0.1:{free_port()}/"], timeout=1)
    monkeypatch.setitem(app.extensions, "cache_purger", down)
    with caplog.at_level(logging.WARNING, logger="service.caching"):
        device = pin(moderator, *PARIS)
    assert device["id"]
    assert down.failed == 1 and down.sent == 0
    assert "cache purge of" in caplog.text and "failed" in caplog.text


def test_purged_answers_are_kept_a_day_and_wide_ones_a_minute(client, isolated, tmp_path):
    """With purges sent, precise answers stay until a write purges them; the answers every
    write in a region would purge (low zooms, whole levels) are recomputed once a minute."""
    day, minute = "s-maxage=86400", "s-maxage=60"
    z14, z5 = (
        client.get("/tiles/devices/14/8298/5637.mvt"),
        client.get("/tiles/devices/5/16/11.mvt"),
    )
    assert (
        day in z14.headers["Cache-Control"] and "tile/14/8298/5637" in z14.headers["Surrogate-Key"]
    )
    assert minute in z5.headers["Cache-Control"] and z5.headers["Surrogate-Key"] == "vigie devices"
    assert minute in client.get("/api/v1/devices").headers["Cache-Control"]
    assert day in client.get("/api/v1/devices?bbox=2.34,48.85,2.36,48.86").headers["Cache-Control"]
    # Statistics are exact when computed: purged by area, like the listing of that box.
    grid = client.get("/api/v1/stats/grid?bbox=2.34,48.85,2.36,48.86")
    assert day in grid.headers["Cache-Control"]
    # Their format follows Accept; declared figures change with no purge naming them.
    assert "Accept" in grid.vary
    load_paris(isolated, tmp_path)
    plain = client.get("/api/v1/stats/compare?codes=75056")
    assert (
        day in plain.headers["Cache-Control"] and "district/75056" in plain.headers["Surrogate-Key"]
    )
    # So do watched areas (a camera next door looks in) and the devices outside every district:
    # statistics being exact, shared caches ask again for those each time.
    for query in ("declared=true", "watched=true"):
        unnamed = client.get(f"/api/v1/stats/compare?codes=75056&{query}")
        assert unnamed.status_code == 200, unnamed.get_json()
        assert "s-maxage=0" in unnamed.headers["Cache-Control"], query
        assert unnamed.headers["Surrogate-Key"] == "vigie devices", query
    outside = client.get("/api/v1/stats/districts?level=quartier&outside=true")
    assert outside.headers["Surrogate-Key"] == "vigie devices"
    assert "s-maxage=0" in outside.headers["Cache-Control"]


def test_a_cache_that_stays_down_is_logged_once_in_a_while(caplog):
    down = Purger([f"http://127.0.0.1:{free_port()}/"], timeout=1)
    with caplog.at_level(logging.WARNING, logger="service.caching"):
        for key in ("tile/10/1/1", "tile/10/1/2", "tile/10/1/3"):
            assert down.submit([key]).wait(10)
    assert down.failed == 3
    assert len([r for r in caplog.records if r.name == "service.caching"]) == 1


def test_an_import_of_openstreetmap_nodes_purges_every_answer(app, purged, tmp_path):
    result, counts = run_import(app, osm_xml_file(tmp_path, 1, "90"))
    assert result.exit_code == 0 and counts["created"] == 1
    assert purged == [{"vigie"}]


def test_the_change_that_takes_off_the_last_openstreetmap_device_purges_every_answer(
    app, moderator, purged, tmp_path, db
):
    """OpenStreetMap's credit is on every answer over devices while one of them came from it,
    wherever they stand: the write that takes the last one off purges every answer; other
    writes of it only its places."""
    result, _ = run_import(app, osm_xml_file(tmp_path, 1, "90"))
    assert result.exit_code == 0
    osm_id = db("SELECT id FROM devices WHERE osm_id = 4242").scalar_one()
    url = f"/api/v1/devices/{osm_id}"

    def edit(properties) -> set:
        purged.clear()
        etag = moderator.get(url).headers["ETag"]
        response = moderator.patch(url, json={"properties": properties}, headers={"If-Match": etag})
        assert response.status_code == 200
        [keys] = purged
        return keys

    assert "vigie" not in edit({"notes": "seen again"})  # still credited: its places only
    purged.clear()
    assert moderator.delete(url).status_code == 204
    [keys] = purged
    assert {"vigie", f"device/{osm_id}"} <= keys


def test_a_timeline_is_kept_by_shared_caches_until_its_day_ends(moderator, isolated, tmp_path):
    """Its last period changes at midnight UTC, which no purge follows; a map of districts,
    whose figures change only with devices, is kept a day (purged at each change)."""
    load_paris(isolated, tmp_path)
    now = datetime.now(UTC)  # before the answer, which may take seconds on a busy machine
    timeline = moderator.get("/api/v1/stats/timeline?district=75056&interval=day")
    shared = dict(
        part.strip().split("=") for part in timeline.headers["Cache-Control"].split(",")[1:]
    )
    left = (datetime.combine(now.date() + timedelta(days=1), time.min, UTC) - now).seconds
    assert 0 < int(shared["s-maxage"]) <= left + 1
    compared = moderator.get("/api/v1/stats/compare?codes=75056")
    assert "s-maxage=86400" in compared.headers["Cache-Control"]
