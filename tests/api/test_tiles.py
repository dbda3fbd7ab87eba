"""Vector tiles of devices and the clustered GeoJSON listing: what a map client decodes."""

import math

import mapbox_vector_tile
import pytest

from tests.helpers import PROBLEM, feature, pin

MVT = "application/vnd.mapbox-vector-tile"
PARIS = (2.3522, 48.8566)


def tile_of(lon, lat, z):
    """The XYZ tile holding a position (the usual slippy-map formula)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def pixel_in_tile(lon, lat, z, extent=4096):
    n = 2**z
    x, y = tile_of(lon, lat, z)
    fx = (lon + 180) / 360 * n - x
    fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n - y
    return fx * extent, fy * extent


def tile_url(lon, lat, z, query=""):
    x, y = tile_of(lon, lat, z)
    return f"/tiles/devices/{z}/{x}/{y}.mvt{query}"


def decode(response):
    assert response.status_code == 200, response.data
    assert response.mimetype == MVT
    layers = mapbox_vector_tile.decode(response.data, default_options={"y_coord_down": True})
    assert set(layers) == {"devices"}
    assert layers["devices"]["extent"] == 4096
    return layers["devices"]["features"]


def tile_bounds(z, x, y):
    """West, south, east, north of a tile in degrees."""
    n = 2**z

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def insert_grid(db, count, west, south, east, north, kind="camera"):
    """COUNT devices on a regular grid inside a box, straight into the table."""
    side = math.ceil(math.sqrt(count))
    db(
        "INSERT INTO devices (id, geom, kind) SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint("
        ":west + (i % :side + 0.5) * :dx, :south + (i / :side + 0.5) * :dy), 4326), "
        ":kind FROM generate_series(0, :count - 1) AS i",
        west=west,
        south=south,
        side=side,
        dx=(east - west) / side,
        dy=(north - south) / side,
        kind=kind,
        count=count,
    )


@pytest.fixture
def client(moderator):
    """Pins come from a moderator, whose pins are published directly."""
    return moderator


class TestDeviceTiles:
    def test_street_level_tile_carries_each_device_with_its_properties(self, client):
        camera = pin(client, 2.3522, 48.8566, direction=[90, 270], angle=60, camera_type="dome")
        alpr = pin(client, 2.3532, 48.8570, kind="alpr")
        features = decode(client.get(tile_url(*PARIS, 17)))
        by_id = {f["properties"]["id"]: f for f in features}
        assert set(by_id) == {camera["id"], alpr["id"]}
        props = by_id[camera["id"]]["properties"]
        assert props["kind"] == "camera"
        assert props["direction"] == "90,270"
        assert props["angle"] == 60
        assert props["camera_type"] == "dome"
        assert props["cluster"] is False
        assert "count" not in props
        x, y = by_id[camera["id"]]["geometry"]["coordinates"]
        expected_x, expected_y = pixel_in_tile(2.3522, 48.8566, 17)
        assert abs(x - expected_x) <= 1 and abs(y - expected_y) <= 1

    def test_low_zoom_tile_clusters_nearby_devices_with_count_and_kinds(self, client):
        pin(client, 2.3522, 48.8566)
        pin(client, 2.3525, 48.8567, kind="alpr")
        pin(client, 2.3527, 48.8569, kind="microphone")
        features = decode(client.get(tile_url(*PARIS, 10)))
        assert len(features) == 1
        props = features[0]["properties"]
        assert props["cluster"] is True
        assert props["count"] == 3
        assert props["kinds"] == "camera,alpr,microphone"
        assert "id" not in props

    @pytest.mark.parametrize(("z", "cap"), [(12, 64), (18, 4096)])
    def test_a_dense_tile_stays_under_the_feature_cap_and_counts_every_device(
        self, client, db, z, cap
    ):
        insert_grid(db, 5000, *tile_bounds(z, *tile_of(*PARIS, z)))
        features = decode(client.get(tile_url(*PARIS, z)))
        assert cap * 0.75 < len(features) <= cap
        assert sum(f["properties"].get("count", 1) for f in features) == 5000
        for point in features:
            x, y = point["geometry"]["coordinates"]
            assert 0 <= x <= 4096 and 0 <= y <= 4096

    def test_devices_outside_the_tile_and_deleted_ones_are_left_out(self, client):
        inside = pin(client, 2.3522, 48.8566)
        gone = pin(client, 2.3523, 48.8566)
        client.delete(f"/api/v1/devices/{gone['id']}")
        pin(client, 2.2945, 48.8584)  # the Eiffel Tower: another z17 tile
        features = decode(client.get(tile_url(*PARIS, 17)))
        assert [f["properties"]["id"] for f in features] == [inside["id"]]

    def test_pins_awaiting_review_stay_out_of_the_public_tiles(self, app, client, as_user):
        approved = pin(client)
        pending = as_user("contributor").post(
            "/api/v1/devices?force=true", json=feature(2.3525, 48.8567, kind="alpr")
        )
        assert pending.get_json()["properties"]["review_status"] == "pending"
        features = decode(app.test_client().get(tile_url(*PARIS, 17)))
        assert [f["properties"]["id"] for f in features] == [approved["id"]]

    def test_kind_filter_keeps_only_the_kinds_asked_for(self, client):
        pin(client, 2.3522, 48.8566)
        alpr = pin(client, 2.3530, 48.8568, kind="alpr")
        features = decode(client.get(tile_url(*PARIS, 17, "?kind=alpr,microphone")))
        assert [f["properties"]["id"] for f in features] == [alpr["id"]]

    def test_tiles_carry_etag_and_cache_control_and_answer_304(self, client):
        pin(client)
        url = tile_url(*PARIS, 15)
        first = client.get(url)
        assert first.status_code == 200
        assert "max-age" in first.headers["Cache-Control"]
        etag = first.headers["ETag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.data
        pin(client, 2.3524, 48.8567, kind="alpr")
        changed = client.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag

    def test_an_empty_tile_is_204(self, client):
        pin(client)
        response = client.get(tile_url(-74.0, 40.7, 14))
        assert response.status_code == 204
        assert not response.data and "Content-Type" not in response.headers
        assert response.headers["Cache-Control"]

    @pytest.mark.parametrize(
        ("url", "field"),
        [
            ("/tiles/devices/23/0/0.mvt", "z"),
            ("/tiles/devices/3/8/0.mvt", "x"),
            ("/tiles/devices/3/0/9.mvt", "y"),
        ],
    )
    def test_a_tile_outside_the_pyramid_is_404_naming_the_coordinate(self, client, db, url, field):
        pin(client)
        response = client.get(url)
        assert response.status_code == 404
        assert response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"].split(".")[0] == field
        assert db("SELECT count(*) FROM devices").scalar_one() == 1

    @pytest.mark.parametrize("url", ["/tiles/devices/a/0/0.mvt", "/tiles/devices/-1/0/0.mvt"])
    def test_malformed_tile_coordinates_are_404(self, client, url):
        response = client.get(url)
        assert response.status_code == 404
        assert response.mimetype == PROBLEM

    @pytest.mark.parametrize(("query", "field"), [("?kind=drone", "kind"), ("?color=red", "color")])
    def test_bad_query_is_400_naming_the_parameter(self, client, query, field):
        response = client.get(f"/tiles/devices/0/0/0.mvt{query}")
        assert response.status_code == 400
        assert response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"].split(".")[0] == field


class TestTileJSON:
    def test_describes_the_tile_url_the_layer_and_its_fields(self, client):
        body = client.get("/tiles/devices.json").get_json()
        assert body["tilejson"] == "3.0.0"
        assert body["tiles"] == ["http://localhost/tiles/devices/{z}/{x}/{y}.mvt"]
        assert (body["minzoom"], body["maxzoom"]) == (0, 22)
        # No public device: the whole world.
        assert body["bounds"] == [-180.0, -85.0511, 180.0, 85.0511]
        layer = body["vector_layers"][0]
        assert layer["id"] == "devices"
        assert {"cluster", "count", "kinds", "id", "kind", "direction"} <= set(layer["fields"])

    def test_bounds_are_the_world_and_the_center_that_of_the_public_devices_asked(self, client, db):
        """Clients never ask for tiles outside the bounds, which a map keeps while open (and a
        browser an hour): bounds of the devices would hide any pinned beyond them since."""
        pin(client, 2.30, 48.84)
        pin(client, 2.40, 48.88, kind="alpr")
        pending = pin(client, 5.0, 45.0)
        db("UPDATE devices SET review_status = 'pending' WHERE id = :id", id=pending["id"])
        db(
            "INSERT INTO devices (id, geom, kind, deleted_at) VALUES "
            "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(-70, -30), 4326), 'camera', now())"
        )
        body = client.get("/tiles/devices.json").get_json()
        assert body["bounds"] == [-180.0, -85.0511, 180.0, 85.0511]
        assert body["center"] == [2.35, 48.86, 11]
        alpr = client.get("/tiles/devices.json?kind=alpr").get_json()
        assert alpr["bounds"] == body["bounds"] and alpr["center"] == [2.4, 48.88, 16]

    def test_is_revalidated_as_often_as_a_tile(self, client):
        """Its centre and its credit (OpenStreetMap's once imported) change with the devices: a
        browser keeps it a minute, then asks again with its ETag."""
        first = client.get("/tiles/devices.json")
        assert first.headers["Cache-Control"].startswith("public, max-age=60")
        again = client.get("/tiles/devices.json", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
        pin(client, 2.30, 48.84)
        changed = client.get(
            "/tiles/devices.json", headers={"If-None-Match": first.headers["ETag"]}
        )
        assert changed.status_code == 200 and changed.get_json()["center"] == [2.3, 48.84, 16]

    def test_kind_filter_is_carried_into_the_tile_url(self, client):
        body = client.get("/tiles/devices.json?kind=alpr,camera").get_json()
        assert body["tiles"][0].endswith("{z}/{x}/{y}.mvt?kind=alpr%2Ccamera")

    def test_bad_kind_is_400(self, client):
        response = client.get("/tiles/devices.json?kind=drone")
        assert response.status_code == 400
        assert response.get_json()["errors"][0]["field"] == "kind"


class TestClusteredListing:
    def test_clusters_carry_count_and_kinds_and_lone_devices_stay_devices(self, client):
        pin(client, 2.3522, 48.8566)
        pin(client, 2.3524, 48.8567, kind="alpr")
        lone = pin(client, 2.45, 48.80, direction=45)
        response = client.get("/api/v1/devices?cluster=true&zoom=12&bbox=2.2,48.7,2.6,48.95")
        assert response.status_code == 200
        assert response.mimetype == "application/geo+json"
        body = response.get_json()
        assert body["type"] == "FeatureCollection"
        assert body["numberReturned"] == body["numberMatched"] == 2
        cluster, device = body["features"]
        assert cluster["properties"] == {
            "cluster": True,
            "count": 2,
            "kinds": {"camera": 1, "alpr": 1},
        }
        lon, lat = cluster["geometry"]["coordinates"]
        assert 2.3522 <= lon <= 2.3524 and 48.8566 <= lat <= 48.8567
        assert device["id"] == lone["id"]
        assert device["properties"]["direction"] == [45]
        # A validator as the other listings have, as the API definition says.
        url = "/api/v1/devices?cluster=true&zoom=12&bbox=2.2,48.7,2.6,48.95"
        again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304

    def test_a_cut_answer_says_how_many_cells_there_are_in_all(self, client):
        """The `limit` most populous cells are kept: numberMatched tells a map client that the
        others, emptier, are left out (else the map looks empty there)."""
        pin(client, 2.3522, 48.8566)
        pin(client, 2.3524, 48.8567, kind="alpr")
        for lon in (2.40, 2.45, 2.50):
            pin(client, lon, 48.80)
        url = "/api/v1/devices?cluster=true&zoom=12&bbox=2.2,48.7,2.6,48.95"
        body = client.get(f"{url}&limit=2").get_json()
        assert (body["numberReturned"], body["numberMatched"]) == (2, 4)
        assert body["features"][0]["properties"]["count"] == 2
        empty = client.get("/api/v1/devices?cluster=true&zoom=12&bbox=3,40,3.1,40.1").get_json()
        assert (empty["numberReturned"], empty["numberMatched"], empty["features"]) == (0, 0, [])

    def test_bbox_and_kind_filters_apply_to_clusters(self, client):
        pin(client, 2.3522, 48.8566)
        pin(client, 2.3524, 48.8567, kind="alpr")
        pin(client, 4.8357, 45.7640)  # Lyon, outside the box
        body = client.get(
            "/api/v1/devices?cluster=true&zoom=5&kind=camera&bbox=2.2,48.7,2.6,48.95"
        ).get_json()
        assert [f["properties"]["kind"] for f in body["features"]] == ["camera"]

    @pytest.mark.parametrize("zoom", [0, 3, 10, 16])
    def test_a_box_across_the_antimeridian_keeps_its_two_sides_only(self, client, zoom):
        west = pin(client, 179.99999, 0.0)
        east = pin(client, -179.99999, 0.0001)
        pin(client, 10.0, 0.0)  # on the equator, far from the box
        pin(client, 2.35, 48.85)
        body = client.get(
            f"/api/v1/devices?cluster=true&zoom={zoom}&bbox=179,-10,-179,10"
        ).get_json()
        counted = sum(f["properties"].get("count", 1) for f in body["features"])
        assert counted == 2
        if zoom == 16:
            assert {f["id"] for f in body["features"]} == {west["id"], east["id"]}

    def test_a_contributor_sees_their_own_pending_pins_among_the_clusters(
        self, app, client, as_user
    ):
        pin(client)
        contributor = as_user("contributor")
        contributor.post("/api/v1/devices?force=true", json=feature(2.45, 48.80, kind="alpr"))
        url = "/api/v1/devices?cluster=true&zoom=12&bbox=2.2,48.7,2.6,48.95"
        public = app.test_client().get(url).get_json()
        own = contributor.get(url).get_json()
        assert [f["properties"]["kind"] for f in public["features"]] == ["camera"]
        assert sorted(f["properties"]["kind"] for f in own["features"]) == ["alpr", "camera"]

    def test_limit_keeps_the_most_populous_cells(self, client, db):
        insert_grid(db, 50, *PARIS, PARIS[0] + 0.001, PARIS[1] + 0.001)
        pin(client, 2.45, 48.80)
        body = client.get("/api/v1/devices?cluster=true&zoom=10&limit=1").get_json()
        assert body["numberReturned"] == 1
        assert body["features"][0]["properties"]["count"] == 50

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("cluster=true", "zoom"),
            ("cluster=true&zoom=23", "zoom"),
            ("cluster=true&zoom=-1", "zoom"),
            ("cluster=true&zoom=3&cursor=abc", "cursor"),
            ("cluster=maybe&zoom=3", "cluster"),
            # Parameters the answer would not apply: refused, not silently ignored.
            ("cluster=true&zoom=3&f=osm", "f"),
            ("zoom=3", "zoom"),
            ("cluster=false&zoom=3", "zoom"),
            ("cluster=true&zoom=3&count=true", "count"),
        ],
    )
    def test_bad_cluster_query_is_400_naming_the_parameter(self, client, query, field):
        response = client.get(f"/api/v1/devices?{query}")
        assert response.status_code == 400
        assert response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"].split(".")[0] == field
