"""A real Varnish (Debian's, with xkey from varnish-modules) in front of two app nodes: tiles are
served from the cache, and a change of a device purges exactly the tiles it touched."""

import json
import time

from service.geo.keys import KEY_ZOOM, mercator_pixel
from tests.helpers import feature
from tests.server import Client, free_port, gunicorn_server, varnish

PARIS = (2.3522, 48.8566)
PARIS_MOVED = (2.2950, 48.8738)  # another tile at zoom 14, the same at zoom 11
LYON = (4.8357, 45.7640)


def tile(position, z: int) -> str:
    x, y = mercator_pixel(*position)
    return f"/tiles/devices/{z}/{x >> (KEY_ZOOM - z)}/{y >> (KEY_ZOOM - z)}.mvt"


def test_a_cache_serves_tiles_and_a_change_purges_exactly_the_tiles_it_touched(
    database_url, tmp_path, committed, make_user
):
    cache_port = free_port()
    settings = {
        "CACHE_PURGE_URL": f"http://127.0.0.1:{cache_port}/",
        "RATELIMIT_ENABLED": "false",
        "TRUSTED_PROXIES": "1",
    }
    _, token = make_user("moderator")
    with (
        gunicorn_server(database_url, tmp_path / "node1.log", **settings) as node1,
        gunicorn_server(database_url, tmp_path / "node2.log", **settings) as node2,
        varnish(tmp_path, cache_port, [f"127.0.0.1:{node1}", f"127.0.0.1:{node2}"]),
    ):
        contributor, reader = Client(cache_port, token), Client(cache_port)
        created = {}
        for name, position in (("paris", PARIS), ("lyon", LYON)):
            status, headers, body = contributor.send(
                "/api/v1/devices?force=true", "POST", feature(*position)
            )
            assert status == 201, body
            created[name] = (json.loads(body)["id"], headers["ETag"])
        watched = {
            "paris14": tile(PARIS, 14),
            "moved14": tile(PARIS_MOVED, 14),
            "paris11": tile(PARIS, 11),
            "lyon14": tile(LYON, 14),
        }
        assert watched["paris11"] == tile(PARIS_MOVED, 11) != watched["lyon14"]
        before = {}
        for name, path in watched.items():
            cached, status, body = reader.hit(path)
            assert not cached
            before[name] = (status, body)
            # The same answer again, from the cache this time.
            assert reader.hit(path) == (True, status, body), name
        assert before["paris14"][0] == 200 and before["moved14"][0] == 204

        device_id, etag = created["paris"]
        moved = {"geometry": {"type": "Point", "coordinates": list(PARIS_MOVED)}}
        status, _, body = contributor.send(
            f"/api/v1/devices/{device_id}", "PATCH", moved, {"If-Match": etag}
        )
        assert status == 200, body

        # The tiles the device left and entered are fetched anew and show the change...
        assert reader.hit(watched["paris14"])[:2] == (False, 204)
        cached, status, body = reader.hit(watched["moved14"])
        assert (cached, status) == (False, 200) and device_id.encode() in body
        cached, status, body = reader.hit(watched["paris11"])
        assert not cached and status == 200
        # ...while a tile the change did not touch stays in the cache.
        assert reader.hit(watched["lyon14"]) == (True, *before["lyon14"])
        # A client's forged forwarding headers write no stranger's host nor scheme into the
        # copy every later reader gets.
        listing = "/api/v1/devices?bbox=4.8,45.7,4.9,45.8"
        forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
        ours = f"//127.0.0.1:{cache_port}/api/v1/devices".encode()
        status, _, body = reader.send(listing, headers=forged)
        assert status == 200 and b"evil.example" not in body and b"https:" + ours in body
        cached, status, body = reader.hit(listing)
        assert not cached and b"evil.example" not in body and b"http:" + ours in body
        # Both nodes served requests (which ones depends on the probes: on a loaded machine a
        # node slow to answer its health check is left out for a while, as it should be).
        for log in ("node1.log", "node2.log"):
            served = (tmp_path / log).read_text()
            assert "GET /tiles/devices/" in served or "POST /api/v1/devices " in served, log


def test_nodes_that_trust_one_host_name_stay_healthy_and_purges_come_only_from_nodes(
    database_url, tmp_path, committed
):
    """A node with TRUSTED_HOSTS refuses other names, the health probe's too: the cache names
    the site to its nodes. A PURGE relayed by a proxy in front (from loopback too, but with the
    client's X-Forwarded-For) is refused: only a node's own purge counts."""
    cache_port = free_port()
    settings = {"TRUSTED_HOSTS": "vigie.test", "CACHE_PURGE_URL": f"http://127.0.0.1:{cache_port}/"}
    with (
        gunicorn_server(database_url, tmp_path / "node.log", **settings) as node,
        varnish(tmp_path, cache_port, [f"127.0.0.1:{node}"], host="vigie.test"),
    ):
        client = Client(cache_port)
        # Probes every 2 s, a node counted sick after 2 failures out of 3: past that, still up
        # (a probe refused for its host name would keep it sick; one slowed by a loaded
        # machine past its timeout leaves it sick until the next two, hence a few tries).
        time.sleep(7)
        for _attempt in range(8):
            status, _, body = client.send("/api/v1/health", headers={"Host": "vigie.test"})
            if status == 200:
                break
            time.sleep(2)
        assert status == 200, body
        purge = {"Surrogate-Key": "vigie"}
        relayed = client.send("/", "PURGE", headers=purge | {"X-Forwarded-For": "203.0.113.9"})
        assert relayed[0] == 403
        assert client.send("/", "PURGE", headers=purge)[0] == 200


def test_a_client_reads_the_downloads_of_one_node_through_the_cache(
    database_url, tmp_path, committed
):
    """Each node writes its own GeoPackage of the same data, and the two may differ (written
    on either side of midnight, by another GDAL, with other credits, as here): the cache sends
    one client's requests for a download to one node, so that the byte ranges of one read
    (GDAL's /vsicurl/ sends no If-Range) are of one file."""
    cache_port = free_port()
    settings = {"RATELIMIT_ENABLED": "false", "DOWNLOAD_WAIT_SECONDS": "30"}
    with (
        gunicorn_server(
            database_url, tmp_path / "node1.log", DOWNLOADS_ROOT=str(tmp_path / "d1"), **settings
        ) as node1,
        gunicorn_server(
            database_url,
            tmp_path / "node2.log",
            DOWNLOADS_ROOT=str(tmp_path / "d2"),
            DEVICES_ATTRIBUTION="Devices © the contributors of Vigie",
            **settings,
        ) as node2,
        varnish(tmp_path, cache_port, [f"127.0.0.1:{node1}", f"127.0.0.1:{node2}"]),
    ):
        client = Client(cache_port)
        answers = [client.send("/ogc/collections/devices/download") for _ in range(6)]
        assert [status for status, _, _ in answers] == [200] * 6
        assert len({headers["ETag"] for _, headers, _ in answers}) == 1
        # Asked directly, each node has a file of its own: what the cache's routing is for.
        own = {
            Client(node).send("/ogc/collections/devices/download")[1]["ETag"]
            for node in (node1, node2)
        }
        assert len(own) == 2
