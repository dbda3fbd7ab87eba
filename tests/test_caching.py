"""What shared caches may keep (Cache-Control, Vary, Surrogate-Key), and the purge after a write."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.caching import area_keys, place_keys, tile_key
from service.geo.keys import KEY_ZOOM, compact_bits, mercator_pixel, spread_bits
from service.geo.tiles import MAX_ZOOM
from tests.districts import district_feature, load, rectangle, write_geojson
from tests.helpers import pin

PARIS = (2.3522, 48.8566)
BBOX = "2.34,48.85,2.36,48.86"
SHARED = "public, max-age=60, s-maxage=60, stale-while-revalidate=60"


def key_of(lon: float, lat: float) -> int:
    x, y = mercator_pixel(lon, lat)
    return spread_bits(x) | (spread_bits(y) << 1)


def tile_of(position, z: int) -> tuple[int, int, int]:
    x, y = mercator_pixel(*position)
    return z, x >> (KEY_ZOOM - z), y >> (KEY_ZOOM - z)


def keys(response) -> set[str]:
    return set(response.headers.get("Surrogate-Key", "").split())


def vary(response) -> set[str]:
    return {name.strip() for name in response.headers.get("Vary", "").split(",")}


class TestHeaders:
    def test_tiles_are_shared_under_their_tile_key(self, client, moderator):
        pin(moderator, *PARIS)
        z, x, y = tile_of(PARIS, 14)
        response = client.get(f"/tiles/devices/{z}/{x}/{y}.mvt")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == SHARED
        assert keys(response) == {"vigie", f"tile/{z}/{x}/{y}"}
        again = client.get(
            f"/tiles/devices/{z}/{x}/{y}.mvt", headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304 and again.headers["Cache-Control"] == SHARED
        assert keys(again) == keys(response)
        empty = client.get(f"/tiles/devices/{z}/{x + 1}/{y}.mvt")
        assert empty.status_code == 204 and keys(empty) == {"vigie", f"tile/{z}/{x + 1}/{y}"}

    @pytest.mark.parametrize(
        "url",
        [
            "/tiles/devices.json",
            f"/api/v1/devices?bbox={BBOX}",
            f"/api/v1/devices?bbox={BBOX}&cluster=true&zoom=12",
            "/api/v1/devices",
            f"/ogc/collections/devices/items?bbox={BBOX}",
            "/ogc/collections",
            f"/api/v1/views?bbox={BBOX}",
        ],
    )
    def test_every_cacheable_answer_says_how_long_and_under_which_keys(self, client, url):
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        control = response.headers["Cache-Control"]
        assert control.startswith("public,") and "s-maxage=" in control
        assert "stale-while-revalidate=" in control
        assert "vigie" in keys(response)

    @pytest.mark.parametrize(
        ("url", "shared"),
        [
            # No purge is sent here (CACHE_PURGE_URL): shared caches ask again each time.
            # (With purges, tests/test_cache_purge.py.)
            (f"/api/v1/stats/grid?bbox={BBOX}", "s-maxage=0"),
            ("/api/v1/stats/districts?level=quartier&parent=P", "s-maxage=0"),
            ("/api/v1/stats/districts?level=quartier&parent=P&f=csv", "s-maxage=0"),
            ("/api/v1/stats/districts?level=quartier", "s-maxage=0"),
            ("/api/v1/stats/districts?level=quartier&parent=P&outside=true", "s-maxage=0"),
            # The OGC API's districts carry the same figures.
            ("/ogc/collections/districts/items", "s-maxage=0"),
            ("/ogc/collections/districts/items/Q", "s-maxage=0"),
        ],
    )
    def test_statistics_are_never_served_by_a_cache_once_a_change_committed(
        self, client, moderator, isolated, tmp_path, url, shared
    ):
        """Browsers, which no purge reaches, ask again each time (a 304 while nothing
        changed); nothing serves them stale meanwhile; a change gives the new figures."""
        around_paris = district_feature("Q", rectangle(2.34, 48.85, 2.36, 48.86))
        load(isolated, write_geojson(tmp_path / "q.geojson", [around_paris]), parent="P")
        first = client.get(url)
        assert first.status_code == 200, first.get_json()
        assert first.headers["Cache-Control"] == f"public, max-age=0, {shared}"
        assert "vigie" in keys(first)
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
        pin(moderator, *PARIS)
        changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert changed.status_code == 200 and changed.data != first.data

    def test_a_listing_of_an_area_is_named_by_the_tiles_covering_it(self, client, moderator):
        device = pin(moderator, *PARIS)
        for url in (f"/api/v1/devices?bbox={BBOX}", f"/ogc/collections/devices/items?bbox={BBOX}"):
            response = client.get(url)
            assert device["id"] in response.get_data(as_text=True)
            tiles = keys(response) - {"vigie"}
            assert 1 <= len(tiles) <= 9
            # A change of the device purges one of them.
            assert tiles & place_keys(key_of(*PARIS))
        assert keys(client.get("/api/v1/devices")) == {"vigie", "devices"}
        one = client.get(f"/api/v1/devices/{device['id']}")
        assert keys(one) == {"vigie", f"device/{device['id']}"}
        item = client.get(f"/ogc/collections/devices/items/{device['id']}")
        assert keys(item) == {"vigie", f"device/{device['id']}"}

    def test_declared_tiles_are_kept_a_minute_as_wide_answers(self, client):
        """A site's status follows devices in other tiles too, which no tile key names: kept
        as the low zooms are (CACHE_WIDE_MAX_AGE), where they were asked again every time."""
        tile = client.get("/tiles/declared/14/8298/5637.mvt")
        assert tile.status_code in (200, 204)
        assert tile.headers["Cache-Control"] == (
            "public, max-age=60, s-maxage=60, stale-while-revalidate=60"
        )
        assert keys(tile) == {"vigie", "devices"}

    def test_view_cones_are_shared_and_purged_as_their_cameras(self, client, moderator):
        """They were answered no-cache: every map redrawing its cones asked Vigie again."""
        camera = pin(moderator, *PARIS, kind="camera", direction=[90])
        cones = client.get(f"/api/v1/views?bbox={BBOX}")
        assert camera["id"] in cones.get_data(as_text=True)
        assert cones.headers["Cache-Control"] == SHARED
        assert (keys(cones) - {"vigie"}) & place_keys(key_of(*PARIS))
        one = client.get(f"/api/v1/devices/{camera['id']}/view")
        assert keys(one) == {"vigie", f"device/{camera['id']}"}
        for answer in (cones, one):
            url = answer.request.full_path
            again = client.get(url, headers={"If-None-Match": answer.headers["ETag"]})
            assert again.status_code == 304

    def test_answers_that_depend_on_the_caller_are_private_to_callers_with_credentials(
        self, client, as_user
    ):
        author = as_user()
        pending = pin(author, *PARIS)
        assert pending["properties"]["review_status"] == "pending"
        for url in (f"/api/v1/devices?bbox={BBOX}", f"/api/v1/devices/{pending['id']}"):
            own = author.get(url)
            assert own.status_code == 200 and pending["id"] in own.get_data(as_text=True)
            assert own.headers["Cache-Control"] == "private, no-cache"
            assert "Surrogate-Key" not in own.headers
            assert "Authorization" in vary(own)
        anonymous = client.get(f"/api/v1/devices?bbox={BBOX}")
        assert pending["id"] not in anonymous.get_data(as_text=True)
        assert anonymous.headers["Cache-Control"] == SHARED
        assert "Authorization" in vary(anonymous)

    def test_errors_and_unshared_answers_are_never_stored(self, client, as_user):
        missing = client.get("/tiles/devices/23/0/0.mvt")
        assert missing.status_code == 404
        assert missing.headers["Cache-Control"] == "no-cache"
        assert "Surrogate-Key" not in missing.headers
        me = as_user().get("/api/v1/me")
        assert me.status_code == 200 and me.headers["Cache-Control"] == "no-store"
        sync = client.get("/api/v1/sync")
        assert sync.headers["Cache-Control"] == "no-cache" and "Surrogate-Key" not in sync.headers


class TestKeys:
    @given(st.integers(0, 2**30 - 1), st.integers(0, 2**30 - 1))
    def test_compact_bits_undoes_spread_bits(self, x, y):
        key = spread_bits(x) | (spread_bits(y) << 1)
        assert (compact_bits(key), compact_bits(key >> 1)) == (x, y)

    def test_a_device_is_named_by_its_tile_at_every_zoom(self):
        named = place_keys(key_of(*PARIS))
        assert named == {tile_key(*tile_of(PARIS, z)) for z in range(MAX_ZOOM + 1)}

    @given(
        st.floats(-179, 178),
        st.floats(-80, 79),
        st.floats(1e-6, 1),
        st.floats(1e-6, 1),
        st.floats(0, 1),
        st.floats(0, 1),
    )
    def test_a_change_inside_an_area_purges_its_listings(
        self, app, west, south, width, height, u, v
    ):
        bbox = (west, south, west + width, south + height)
        device = (west + u * width, south + v * height)
        with app.app_context():
            named = area_keys([bbox])
        # Wider areas than a tile of CACHE_PURGE_MIN_ZOOM are not purged: kept a minute.
        assert named == ["devices"] or set(named) & place_keys(key_of(*device), min_zoom=10)
