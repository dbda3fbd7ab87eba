"""A real Varnish (Debian's, with xkey from varnish-modules) in front of two app nodes: tiles are
served from the cache, and a change of a device purges exactly the tiles it touched."""

import json

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
        # Both nodes served requests.
        for log in ("node1.log", "node2.log"):
            assert "GET /tiles/devices/" in (tmp_path / log).read_text(), log
