"""The web map: served as bundled static files, and working in a real headless Chromium."""

import re
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from service import web
from tests import images
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
        script = re.search(r'src="(/map/map-\w+\.js)"', html).group(1)
        asset = client.get(script)
        assert asset.status_code == 200
        assert "immutable" in asset.headers["Cache-Control"]
        assert b"leaflet" in asset.data.lower()
        assert "//unpkg" not in html and "cdn" not in html.lower()

    def test_missing_asset_is_a_problem_404(self, client):
        response = client.get("/map/nothing-here.js")
        assert response.status_code == 404
        assert response.mimetype == PROBLEM

    def test_unbuilt_map_is_a_503_that_says_how_to_build_it(self, client, monkeypatch, tmp_path):
        monkeypatch.setattr(web, "WEB_DIST", tmp_path)
        response = client.get("/")
        assert response.status_code == 503
        assert response.mimetype == PROBLEM
        assert "make run" in response.get_json()["detail"]


@pytest.fixture
def browser_page():
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
    page.locator(".leaflet-marker-icon[title='alpr']").click()
    popup = page.locator(".device-popup")
    expect(popup).to_be_visible()
    expect(popup.locator("h2")).to_have_text("alpr")
    expect(popup).to_contain_text("Ville de Paris")
    expect(popup).to_contain_text(seeded["alpr"]["id"])
    page.locator(".leaflet-popup-close-button").click()
    expect(popup).to_have_count(0)  # the closing popup no longer takes the next click
    page.locator(".leaflet-marker-icon[title='sensor']").click()
    expect(popup.locator("h2")).to_have_text("sensor")
    expect(popup.locator("dd", has_text="<b>not bold</b>")).to_have_count(1)  # text, not HTML
    assert page.errors == []


def test_kind_filter_and_clusters(live_server, browser_page, seeded):
    page = browser_page
    page.goto(f"{live_server}/#17/48.85685/2.3526")
    expect(page.locator(".leaflet-marker-icon .pin")).to_have_count(4)
    page.get_by_label("camera").uncheck()
    expect(page.locator(".leaflet-marker-icon .pin")).to_have_count(3)
    expect(page.locator(".leaflet-marker-icon[title='camera']")).to_have_count(0)
    page.get_by_label("camera").check()
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
    page.locator(".leaflet-marker-icon[title='microphone']").click()
    image = page.locator(".device-popup .photos img")
    expect(image).to_have_attribute("alt", "Photo 1 of this microphone")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0  # the thumbnail really loaded
    assert page.errors == []
