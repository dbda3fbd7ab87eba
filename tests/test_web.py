"""The web map: served as bundled static files, and working in a real headless Chromium.

The contributor features of the app are tested on a phone profile in test_webapp.py."""

import gzip
import json
import re
import shutil
import socket
import time
from urllib.parse import urlsplit
from urllib.request import urlopen

import brotli
import mapbox_vector_tile
import pytest
from playwright.sync_api import expect, sync_playwright
from pmtiles.reader import Reader

from service import web
from service.config import PROJECT_DIR
from tests import images
from tests.basemaps import write_pmtiles
from tests.districts import real_source, rectangle
from tests.helpers import PROBLEM, feature, pin
from tests.images import uploaded

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The map fetches tiles and renders them: on two cores shared with the rest of the suite,
# Playwright's default of 5 s to see a change is too short to be a fair failure.
expect.set_options(timeout=20_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def client(moderator):
    """Pins come from a moderator, whose pins are published directly."""
    return moderator


class TestStaticFiles:
    def test_index_names_hashed_bundles_that_are_served_for_long(self, client):
        page = client.get("/")
        assert page.status_code == 200
        assert page.mimetype == "text/html"
        assert page.headers["Cache-Control"] == "no-cache"
        html = page.get_data(as_text=True)
        assert 'href="/api/docs"' in html
        script = re.search(r'src="(/map/app-\w+\.js)"', html).group(1)
        asset = client.get(script)
        assert asset.status_code == 200
        assert "immutable" in asset.headers["Cache-Control"]
        assert b"leaflet" in asset.data.lower()
        assert "//unpkg" not in html and "cdn" not in html.lower()

    def test_assets_come_precompressed_to_clients_that_accept_it(self, client):
        html = client.get("/").get_data(as_text=True)
        script = re.search(r'src="(/map/app-\w+\.js)"', html).group(1)
        plain = client.get(script)
        for coding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
            packed = client.get(script, headers={"Accept-Encoding": coding})
            assert packed.headers["Content-Encoding"] == coding
            assert packed.mimetype == "text/javascript"
            assert decode(packed.data) == plain.data
            assert len(packed.data) < len(plain.data) / 2
        assert "Content-Encoding" not in plain.headers

    def test_first_view_ships_under_350_kb_compressed(self, client):
        """The page, its stylesheet, its script and the chunks it imports before drawing (the
        map library included); chunks loaded later on demand (import()) are not counted."""
        first_view = [client.get("/", headers={"Accept-Encoding": "br"}).data]
        html = client.get("/").get_data(as_text=True)
        pending = re.findall(r'(?:src|href)="(/map/app-\w+\.(?:js|css))"', html)
        deferred = set()
        while pending:
            asset = client.get(pending.pop(), headers={"Accept-Encoding": "br"})
            first_view.append(asset.data)
            code = brotli.decompress(asset.data).decode()
            pending += [f"/map/{name}" for name in re.findall(r'from"\./([\w-]+\.js)"', code)]
            deferred |= set(re.findall(r'import\("\./([\w-]+\.js)"\)', code))
        assert deferred  # the PMTiles renderer waits until a PMTiles basemap is configured
        assert sum(map(len, first_view)) < 350 * 1024

    def test_missing_asset_is_a_problem_404(self, client):
        response = client.get("/map/nothing-here.js")
        assert response.status_code == 404
        assert response.mimetype == PROBLEM

    def test_unbuilt_map_is_a_503_that_says_how_to_build_it(self, client, monkeypatch, tmp_path):
        monkeypatch.setattr(web, "WEB_DIST", tmp_path)
        for url in ("/", "/sw.js", "/manifest.webmanifest"):
            response = client.get(url)
            assert response.status_code == 503
            assert response.mimetype == PROBLEM
            assert "make run" in response.get_json()["detail"]


API_CALL = re.compile(r'request\("(GET|POST|PATCH|PUT|DELETE)", ([`"])([^`"]*)\2')


def test_every_api_call_of_the_app_is_in_the_contract():
    """The app's requests (web/src, through api.js) name operations of openapi/openapi.json: a
    contract change that breaks the app fails here."""
    contract = json.loads((PROJECT_DIR / "openapi" / "openapi.json").read_text())
    operations = {
        (method.upper(), re.sub(r"\{\w+\}", "{}", path))
        for path, item in contract["paths"].items()
        for method in item
    }
    calls = set()
    for module in (PROJECT_DIR / "web" / "src").glob("*.js"):
        for method, _, path in API_CALL.findall(module.read_text()):
            path = re.sub(r"/\$\{[^}]+\}", "/{}", path)  # a path parameter
            path = re.sub(r"\$\{[^}]+\}|\?.*", "", path)  # a query string
            calls.add((method, f"/api/v1/{path}"))
    assert len(calls) >= 15  # the pattern still finds the app's calls
    assert calls - operations == set()


def served_settings(client) -> dict:
    html = client.get("/").get_data(as_text=True)
    block = re.search(r'<script type="application/json" id="vigie-config">(.*?)</script>', html)
    return json.loads(block.group(1))


class TestBasemapAndPolicy:
    def test_default_basemap_is_openstreetmap_raster_tiles_with_their_credit(self, client):
        assert served_settings(client)["basemap"] == {
            "type": "raster",
            "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attribution": "© OpenStreetMap contributors",
        }
        policy = client.get("/").headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy
        assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in policy
        assert "connect-src 'self' https://tile.openstreetmap.org;" in policy

    def test_configured_raster_basemap_and_its_hosts_only(self, app, client, monkeypatch):
        monkeypatch.setitem(
            app.config, "BASEMAP_URL", "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
        )
        monkeypatch.setitem(app.config, "BASEMAP_ATTRIBUTION", "</script><b>Example</b>")
        settings = served_settings(client)["basemap"]
        assert settings["url"] == "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
        assert settings["attribution"] == "</script><b>Example</b>"  # escaped, block intact
        policy = client.get("/").headers["Content-Security-Policy"]
        assert "img-src 'self' data: blob: https://*.tiles.example.org;" in policy
        assert "openstreetmap" not in policy

    def test_pmtiles_basemap_is_served_by_range_and_keeps_every_request_here(
        self, app, client, monkeypatch, tmp_path
    ):
        archive = write_pmtiles(
            tmp_path / "tiny.pmtiles",
            [{"type": "Polygon", "coordinates": rectangle(2.34, 48.85, 2.36, 48.86)}],
        )
        monkeypatch.setitem(app.config, "BASEMAP_PMTILES", archive)
        assert served_settings(client)["basemap"]["type"] == "pmtiles"
        assert served_settings(client)["basemap"]["url"] == "/basemap.pmtiles"
        policy = client.get("/").headers["Content-Security-Policy"]
        assert "img-src 'self' data: blob:;" in policy and "https:" not in policy
        header = client.get("/basemap.pmtiles", headers={"Range": "bytes=0-126"})
        assert header.status_code == 206
        assert header.data[:7] == b"PMTiles" and len(header.data) == 127
        assert header.headers["Content-Range"].startswith("bytes 0-126/")

    def test_a_basemap_of_the_real_paris_boundaries_serves_its_tiles_by_range(
        self, app, client, monkeypatch, tmp_path
    ):
        """The archive is built from the official arrondissements (the data folder, else
        downloaded through the geodata catalogue), then read back as a client reads it."""
        source = real_source(app, "paris-arrondissements")
        with open(source.location, encoding="utf-8") as handle:
            boundaries = [f["geometry"] for f in json.load(handle)["features"]]
        archive = write_pmtiles(tmp_path / "paris.pmtiles", boundaries, min_zoom=10, max_zoom=12)
        monkeypatch.setitem(app.config, "BASEMAP_PMTILES", archive)

        def read_range(offset: int, length: int) -> bytes:
            answer = client.get(
                "/basemap.pmtiles", headers={"Range": f"bytes={offset}-{offset + length - 1}"}
            )
            assert answer.status_code == 206
            return answer.data

        centre = Reader(read_range).get(12, 2074, 1409)  # Paris Centre, in the 1st-4th
        layers = mapbox_vector_tile.decode(gzip.decompress(centre))
        assert layers["earth"]["features"], "the tile over central Paris is empty"
        assert Reader(read_range).get(12, 0, 0) is None  # nothing was made far away

    def test_no_pmtiles_basemap_is_a_problem_404(self, client):
        response = client.get("/basemap.pmtiles")
        assert response.status_code == 404
        assert response.mimetype == PROBLEM

    def test_service_worker_and_manifest_have_stable_urls_and_scope(self, client):
        worker = client.get("/sw.js")
        assert worker.status_code == 200
        assert worker.mimetype == "text/javascript"
        assert worker.headers["Cache-Control"] == "no-cache"
        html = client.get("/").get_data(as_text=True)
        assert re.search(r"/map/app-\w+\.js", html).group(0).encode() in worker.data
        manifest = client.get("/manifest.webmanifest")
        assert manifest.mimetype == "application/manifest+json"
        assert manifest.get_json()["scope"] == "/"

    def test_the_worker_changes_with_the_raster_basemaps_host(self, app, client, monkeypatch):
        """A browser renews a worker, and the CSP its fetches of tiles obey, only when the
        script's bytes change."""
        before = client.get("/sw.js")
        monkeypatch.setitem(app.config, "BASEMAP_PMTILES", None)
        monkeypatch.setitem(app.config, "BASEMAP_URL", "https://tiles.example.test/{z}/{x}/{y}.png")
        after = client.get("/sw.js")
        assert after.data != before.data
        assert b"tiles.example.test" in after.data
        assert "https://tiles.example.test" in after.headers["Content-Security-Policy"]


@pytest.fixture
def pmtiles_basemap(app, tmp_path):
    """The app's basemap: a tiny PMTiles archive of central Paris served by Vigie itself."""
    archive = write_pmtiles(
        tmp_path / "paris.pmtiles",
        [{"type": "Polygon", "coordinates": rectangle(2.33, 48.84, 2.37, 48.87)}],
        min_zoom=12,
        max_zoom=15,
    )
    saved = {key: app.config[key] for key in ("BASEMAP_PMTILES", "BASEMAP_URL")}
    app.config.update(BASEMAP_PMTILES=archive)
    yield archive
    app.config.update(saved)


@pytest.fixture
def browser_page(pmtiles_basemap):
    """A page of Debian's Chromium (never a downloaded browser), recording console errors."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.errors = []
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        yield page
        browser.close()


@pytest.fixture
def seeded(client):
    """Four devices around the Hôtel de Ville, about 60 m apart."""
    return {
        "camera": pin(
            client, 2.3522, 48.8566, direction=[90, 200], angle=70, operator="Préfecture"
        ),
        "alpr": pin(client, 2.3530, 48.8566, kind="alpr", operator="Ville de Paris"),
        "microphone": pin(client, 2.3522, 48.8571, kind="microphone"),
        "sensor": pin(client, 2.3530, 48.8571, kind="sensor", notes="<b>not bold</b>"),
    }


def test_the_live_server_answers_beside_a_connection_left_idle(live_server):
    """A browser opens connections ahead of need and may leave them idle for seconds: the
    server the browser tests run against answers the next request meanwhile."""
    address = urlsplit(live_server)
    with socket.create_connection((address.hostname, address.port)) as idle:
        time.sleep(0.2)  # accepted before the request below
        answer = urlopen(f"{live_server}/api/v1/health", timeout=10)
        assert answer.status == 200
        idle.sendall(b"GET /api/v1/health HTTP/1.0\r\n\r\n")  # used at last, it is answered
        assert idle.recv(64).startswith(b"HTTP/1.")


def test_map_shows_seeded_devices_and_opens_a_popup(live_server, browser_page, seeded):
    page = browser_page
    page.goto(f"{live_server}/#17/48.85685/2.3526")
    markers = page.locator(".leaflet-marker-icon .pin")
    expect(markers).to_have_count(4)
    expect(page.locator("#status")).to_have_text(re.compile(r"^4 devices in view"))
    expect(page.locator("path.view-cone")).to_have_count(2)
    expect(page.get_by_role("link", name="API documentation")).to_have_attribute(
        "href", "/api/docs"
    )
    page.locator(".leaflet-marker-icon[title='licence-plate reader']").click()
    sheet = page.locator("#sheet")
    expect(sheet).to_be_visible()
    expect(sheet.locator("h2")).to_have_text("licence-plate reader")
    expect(sheet).to_contain_text("Ville de Paris")
    expect(sheet).to_contain_text(seeded["alpr"]["id"])
    page.get_by_role("button", name="Close").click()
    expect(sheet).to_be_hidden()  # the closed panel no longer takes the next click
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    expect(sheet.locator("h2")).to_have_text("sensor")
    expect(sheet.locator("dd", has_text="<b>not bold</b>")).to_have_count(1)  # text, not HTML
    assert page.errors == []


def test_kind_filter_and_clusters(live_server, browser_page, seeded):
    page = browser_page
    page.goto(f"{live_server}/#17/48.85685/2.3526")
    expect(page.locator(".leaflet-marker-icon .pin")).to_have_count(4)
    page.get_by_text("Kinds shown").click()
    page.get_by_label("camera", exact=True).uncheck()
    expect(page.locator(".leaflet-marker-icon .pin")).to_have_count(3)
    expect(page.locator(".leaflet-marker-icon[title^='camera']")).to_have_count(0)
    page.get_by_label("camera", exact=True).check()
    # Follow a link to a place while a load finishing at that moment rewrites the address to
    # the current view: the map must still go to the place followed.
    page.evaluate(
        """() => {
            window.location.hash = "#11/48.85685/2.3526";
            window.history.replaceState(null, "", "#17/48.85685/2.35260");
        }"""
    )
    cluster = page.locator(".cluster")
    expect(cluster).to_have_text("4")
    cluster.click()  # zooms in by two levels
    expect(page).to_have_url(re.compile(r"#13/"))
    expect(page.locator("#status")).to_have_text(re.compile(r"^4 devices in view"))
    assert page.errors == []


def test_popup_shows_the_photos_of_a_device(live_server, browser_page, client):
    photo = uploaded(client, images.plain_photo())
    response = client.post(
        "/api/v1/devices?force=true",
        json={**feature(2.3526, 48.8568, kind="microphone"), "photo_ids": [photo["id"]]},
    )
    assert response.status_code == 201, response.get_json()
    page = browser_page
    page.goto(f"{live_server}/#17/48.8568/2.3526")
    page.locator(".leaflet-marker-icon[title^='microphone']").click()
    image = page.locator("#sheet .photos img")
    expect(image).to_have_attribute("alt", "Photo 1 of this microphone")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0  # the thumbnail really loaded
    assert page.errors == []
