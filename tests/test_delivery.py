"""Browsers and phones: CORS, negotiated compression and cache validators on listings."""

import gzip

import brotli
import pytest

from service import create_app
from service.config import Config
from service.geo.crs import CRS84
from tests import images
from tests.api.test_tiles import tile_of
from tests.helpers import GEOJSON, pin


@pytest.fixture
def client(moderator):
    """These tests pin as a moderator, whose pins are published directly."""
    return moderator


LISTINGS = ["/api/v1/devices", "/ogc/collections/devices/items"]


@pytest.fixture
def many(client):
    """Enough devices for a listing to be worth compressing."""
    for n in range(8):
        pin(client, 2.30 + n / 100, 48.85, notes="near the station " * 4)


class TestCors:
    def test_reads_are_open_to_any_origin_by_default(self, client, many):
        response = client.get(LISTINGS[0], headers={"Origin": "https://map.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]

    def test_preflight_allows_get_but_not_writes_by_default(self, client):
        headers = {"Origin": "https://map.example", "Access-Control-Request-Method": "GET"}
        preflight = client.options(LISTINGS[1], headers=headers)
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
        assert "POST" not in preflight.headers["Access-Control-Allow-Methods"]

    def test_the_headers_of_replicas_and_retries_cross_origins(self, client):
        """A browser app sends back its WAL position and Idempotency-Key, and reads the answers'
        position, replay mark and Retry-After."""
        headers = {
            "Origin": "https://map.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "vigie-wal-position, idempotency-key",
        }
        preflight = client.options(LISTINGS[0], headers=headers)
        allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
        assert "vigie-wal-position" in allowed and "idempotency-key" in allowed
        exposed = client.get(LISTINGS[0], headers={"Origin": "https://map.example"}).headers[
            "Access-Control-Expose-Headers"
        ]
        for name in (
            "Vigie-WAL-Position",
            "Idempotent-Replayed",
            "Retry-After",
            "WWW-Authenticate",
        ):
            assert name in exposed

    @pytest.mark.parametrize("path", ["/basemap.pmtiles", "/ogc/collections/devices/download"])
    def test_a_page_on_another_site_may_read_the_basemap_and_downloads_by_ranges(
        self, client, path
    ):
        """pmtiles.js sends a Range header, which browsers preflight for every range but a
        single simple one; a download cut short is resumed with If-Range."""
        headers = {
            "Origin": "https://map.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range, if-range",
        }
        preflight = client.options(path, headers=headers)
        allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
        assert "range" in allowed and "if-range" in allowed
        exposed = client.get(LISTINGS[0], headers={"Origin": "https://map.example"}).headers
        for name in ("Content-Range", "Accept-Ranges"):
            assert name in exposed["Access-Control-Expose-Headers"]

    def test_a_page_on_another_site_reads_credits_freshness_and_crs(self, client, many):
        """A browser hides from a page on another origin every header not listed as exposed:
        the credits it must show, a statistic's freshness and a geometry's CRS are listed."""
        origin = {"Origin": "https://map.example"}
        answers = [
            client.get("/api/v1/stats/grid?bbox=2.3,48.84,2.4,48.86&cell=500", headers=origin),
            client.get("/ogc/collections/devices/items?crs=" + CRS84, headers=origin),
        ]
        for response in answers:
            assert response.status_code == 200
            exposed = {
                name.strip().lower()
                for name in response.headers["Access-Control-Expose-Headers"].split(",")
            }
            for name in ("X-Attribution", "X-Licence", "X-Statistics-Computed-At", "X-Cache",
                         "Content-Crs"):  # fmt: skip
                if name in response.headers:
                    assert name.lower() in exposed, (response.request.path, name)
        assert {"X-Attribution", "X-Statistics-Computed-At"} <= set(answers[0].headers.keys())
        assert "Content-Crs" in answers[1].headers

    def test_origins_are_configurable(self, database_url):
        app = create_app(
            Config(
                DATABASE_URL=database_url,
                CORS_ORIGINS="https://carte.example,https://plan.example",
                TESTING=True,
            )
        )
        client = app.test_client()
        allowed = client.get("/ogc", headers={"Origin": "https://carte.example"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://carte.example"
        refused = client.get("/ogc", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in refused.headers
        # Refused, or asked from no origin, the answer varies by origin all the same: a shared
        # cache would otherwise hand that copy, without the header, to an allowed origin.
        for other in (refused, client.get("/ogc")):
            assert "Origin" in {name.strip() for name in other.headers["Vary"].split(",")}
        # Answers vary by origin and by coding: one Vary field names both (caches that read
        # only the first field would otherwise mix codings).
        assert allowed.headers.getlist("Vary") == ["Accept-Encoding, Origin"]
        app.extensions["engine"].dispose()


class TestCompression:
    @pytest.mark.parametrize("url", LISTINGS)
    @pytest.mark.parametrize(
        ("accept", "coding", "decode"),
        [
            ("br", "br", brotli.decompress),
            ("gzip", "gzip", gzip.decompress),
            ("gzip, br", "br", brotli.decompress),
            ("gzip;q=1, br;q=0.5", "gzip", gzip.decompress),
        ],
    )
    def test_geojson_is_compressed_as_negotiated(self, client, many, url, accept, coding, decode):
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers
        packed = client.get(url, headers={"Accept-Encoding": accept})
        assert packed.headers["Content-Encoding"] == coding
        assert packed.mimetype == GEOJSON
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert len(packed.data) < len(plain.data) / 3
        assert decode(packed.data) == plain.data
        # Another representation, another strong ETag (RFC 9110, 8.8.3): the content's, with
        # the coding named.
        assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + f'.{coding}"'

    def test_refused_codings_are_not_used(self, client, many):
        response = client.get(LISTINGS[0], headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
        assert "Content-Encoding" not in response.headers

    def test_a_compressed_device_etag_still_matches_if_match(self, client):
        device = pin(client, notes="x" * 2000)
        url = f"/api/v1/devices/{device['id']}"
        read = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert read.headers["Content-Encoding"] == "gzip"
        assert read.headers["ETag"].endswith('.gzip"')
        changed = client.patch(
            url, json={"properties": {"height": 3}}, headers={"If-Match": read.headers["ETag"]}
        )
        assert changed.status_code == 200
        # The coded tag of a version since replaced matches no more than the bare one would.
        again = client.patch(
            url, json={"properties": {"height": 4}}, headers={"If-Match": read.headers["ETag"]}
        )
        assert again.status_code == 412

    def test_a_304_names_the_representation_the_client_holds(self, client, many):
        """Revalidated, a copy keeps the tag it was sent with: the coded one for a compressed
        copy, the bare one for a plain copy (a client may hold both, or change codings)."""
        url = LISTINGS[0]
        packed = client.get(url, headers={"Accept-Encoding": "br"}).headers["ETag"]
        plain = client.get(url).headers["ETag"]
        assert packed == plain[:-1] + '.br"'
        for sent, coding, answered in (
            (packed, "br", packed),
            (plain, "br", plain),
            (f"{plain}, {packed}", "br", packed),
            (f"{plain}, {packed}", "identity", plain),
        ):
            again = client.get(url, headers={"If-None-Match": sent, "Accept-Encoding": coding})
            assert again.status_code == 304, sent
            assert again.headers["ETag"] == answered, (sent, coding)
        # A brotli copy, to a client that no longer takes brotli: no copy it can use, the
        # content comes whole (a 304 would validate the copy it cannot read).
        for coding in ("identity", "gzip"):
            again = client.get(url, headers={"If-None-Match": packed, "Accept-Encoding": coding})
            assert again.status_code == 200 and again.headers.get("Content-Encoding") != "br"


class TestListingEtag:
    @pytest.mark.parametrize("url", LISTINGS)
    def test_304_until_the_listing_changes(self, client, many, url):
        first = client.get(url, headers={"Accept-Encoding": "br"})
        etag = first.headers["ETag"]
        again = client.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "br"})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        pin(client, 2.2, 48.9)
        changed = client.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag

    def test_a_304_carries_the_vary_and_policy_of_its_200(self, client, many):
        """A cache updates its copy with the 304's headers (RFC 9110, 15.4.5): a tile or a
        photo, never compressed, must not come back varying on Accept-Encoding, and a listing
        must keep its Vary."""
        device = pin(client, 2.35, 48.86)
        photo = images.uploaded(client, images.plain_photo(colour=(31, 41, 59)))
        urls = [
            LISTINGS[0],
            f"/api/v1/devices/{device['id']}",
            "/tiles/devices/14/{}/{}.mvt".format(*tile_of(2.35, 48.86, 14)),
            photo["thumbnail"],
        ]
        for url in urls:
            first = client.get(url, headers={"Accept-Encoding": "gzip"})
            assert first.status_code == 200, url
            again = client.get(
                url, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]}
            )
            assert again.status_code == 304, url
            for name in ("Vary", "Content-Security-Policy"):
                assert again.headers.get(name) == first.headers.get(name), (url, name)

    def test_the_etag_depends_on_the_filter(self, client, many):
        everything = client.get(LISTINGS[0]).headers["ETag"]
        assert client.get(f"{LISTINGS[0]}?kind=alpr").headers["ETag"] != everything


class TestSecurityHeaders:
    API_ANSWERS = [
        ("GET", "/api/v1/kinds"),  # JSON
        ("GET", LISTINGS[0]),  # GeoJSON
        ("GET", "/tiles/devices/14/8298/5637.mvt"),  # binary
        ("GET", "/api/v1/devices?bbox=bad"),  # problem+json, 400
        ("GET", "/api/v1/nowhere"),  # 404 of the router
        ("DELETE", "/api/v1/kinds"),  # 405
        ("GET", "/api/openapi.json"),
    ]

    @pytest.mark.parametrize("method,url", API_ANSWERS)
    def test_api_answers_forbid_sniffing_referrers_and_any_content(self, app, method, url):
        response = app.test_client().open(url, method=method)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Content-Security-Policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )

    def test_the_page_at_the_root_keeps_a_policy_of_its_own(self, app):
        response = app.test_client().get("/")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        if response.mimetype == "text/html":
            assert "default-src 'none'" not in response.headers.get("Content-Security-Policy", "")

    def test_a_policy_set_by_a_view_is_kept(self, database_url):
        app = create_app(Config(DATABASE_URL=database_url, TESTING=True))
        own_policy = "default-src 'self'"
        app.add_url_rule(
            "/own-policy",
            "own_policy",
            lambda: ({"ok": True}, 200, {"Content-Security-Policy": own_policy}),
        )
        try:
            response = app.test_client().get("/own-policy")
        finally:
            app.extensions["engine"].dispose()
        assert response.headers.getlist("Content-Security-Policy") == [own_policy]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_host_not_trusted_is_refused(database_url, monkeypatch):
    """With TRUSTED_HOSTS set, another Host is a 400 problem: nobody makes answers (their
    links, their statistics cache entries) under a name of their choosing."""
    monkeypatch.setenv("TRUSTED_HOSTS", "vigie.example, www.vigie.example")
    app = create_app(Config(DATABASE_URL=database_url, TESTING=True))
    client = app.test_client()
    refused = client.get("/api/v1/kinds", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["errors"][0] == {
        "field": "Host",
        "location": "headers",
        "message": "The Host header names a host this server does not answer to.",
    }
    for host in ("vigie.example", "www.vigie.example"):
        assert client.get("/api/v1/kinds", headers={"Host": host}).status_code == 200
    app.extensions["engine"].dispose()
