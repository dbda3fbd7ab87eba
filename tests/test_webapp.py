"""The contributor app in Debian's Chromium on a phone profile, against the real server:
accounts, pinning with a photo, duplicates, the offline outbox, votes, moderation, and the
promises of a PWA (installable, offline shell, no host but Vigie's)."""

import io
import math
import random
import re
import shutil
import threading
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import ExifTags, Image, ImageCms
from playwright.sync_api import expect, sync_playwright

from service import web
from tests import images
from tests.conftest import TEST_PASSWORD
from tests.helpers import PROBLEM, feature, pin
from tests.images import uploaded
from tests.test_web import CHROMIUM, CHROMIUM_ARGS, pmtiles_basemap  # noqa: F401 (a fixture)

# Every phone draws the local PMTiles basemap: no test asks another host for tiles.
pytestmark = pytest.mark.usefixtures("pmtiles_basemap")

# Where the phone stands: the Hôtel de Ville, Paris.
HERE = {"latitude": 48.8566, "longitude": 2.3522, "accuracy": 8}
PHONE = {
    "viewport": {"width": 390, "height": 800},
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
    "geolocation": HERE,
    # The compass needs the motion sensors, as on a phone whose owner allowed them.
    "permissions": ["geolocation", "accelerometer", "gyroscope", "magnetometer"],
}


class Phone:
    """A phone's browser: one context (its storage, service worker, network), every request
    recorded, console errors collected."""

    def __init__(self, browser, server, **options):
        self.server = server
        self.browser = browser
        self.context = browser.new_context(**{**PHONE, **options})
        self.requests = []
        self.errors = []
        self.sent = 0
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, place="#18/48.8566/2.3522"):
        self.page.goto(f"{self.server}/{place}")
        expect(self.page.locator("#status")).to_contain_text(re.compile("in view|visible"))
        return self.page

    def wait_for_service_worker(self):
        """Until a service worker controls the page (evaluated: the CSP forbids wait_for_function's
        eval, as it should)."""
        self.page.evaluate(
            """async () => {
                await navigator.serviceWorker.ready;
                if (navigator.serviceWorker.controller) return;
                await new Promise((resolve) =>
                    navigator.serviceWorker.addEventListener("controllerchange", resolve));
            }"""
        )

    def sign_in(self, username, password=TEST_PASSWORD, register=False):
        page = self.page
        page.get_by_role("button", name="Account", exact=True).click()
        form = page.get_by_role("form", name="Create an account" if register else "Sign in")
        form.get_by_label("Pseudonym").fill(username)
        form.get_by_label("Password").fill(password)
        form.get_by_role("button").click()
        expect(page.locator("#sheet")).to_contain_text(f"Signed in as {username}")
        page.get_by_role("button", name="Close").click()

    def choose_language(self, code):
        """Choose a language, opening the header's menu first where it holds the choice (on a
        phone)."""
        menu = self.page.locator("#menu-button")
        if menu.is_visible() and menu.get_attribute("aria-expanded") == "false":
            menu.click()
        self.page.locator("#language").select_option(code)

    def pin(
        self,
        kind="camera",
        photo=None,
        use_photo_position=False,
        compass_alpha=None,
        east=0,
        cone_east=False,
    ):
        """Pin a device; EAST: first move the map that many arrow-key steps east (keyboard
        only) and put the pin at its centre; CONE_EAST: drag a view cone's handle east."""
        page = self.page
        page.get_by_role("button", name="Pin a device").click()
        expect(page.locator(".accuracy-circle")).to_have_count(1)
        if east:
            page.locator("#map").focus()
            for step in range(1, east + 1):
                page.keyboard.press("ArrowRight")
                # Leaflet pans 80 px a key, and ignores keys while a pan is under way.
                expect(page.locator(".leaflet-map-pane")).to_have_attribute(
                    "style", re.compile(rf"translate3d\(-{80 * step}px, -?[\d.]+px, 0px\)")
                )
            page.get_by_role("button", name="Move the pin to the centre of the map").click()
        page.locator(".pin-form").get_by_label(re.compile(f"^{kind.replace('_', ' ')}$")).check()
        if compass_alpha is not None:
            page.get_by_role("button", name="Add a direction").click()
            page.get_by_role("button", name="Use the compass for direction 1").click()
            # A compass reports continuously, as a phone's does, until the test stops it.
            page.evaluate(
                """alpha => { window.testCompass = setInterval(() => window.dispatchEvent(
                    new DeviceOrientationEvent("deviceorientationabsolute", {alpha, absolute: true})
                ), 50); }""",
                compass_alpha,
            )
            heading = str((360 - compass_alpha) % 360)
            expect(page.get_by_label("Direction 1 (°)")).to_have_value(heading)
            page.evaluate("clearInterval(window.testCompass)")
        if cone_east:
            page.get_by_role("button", name="Add a direction").click()  # north at first
            self.drag_cone_handle_east()
        if photo is not None:
            page.get_by_label("Take or choose a photo").set_input_files(
                {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}
            )
            if use_photo_position:
                page.get_by_role("button", name="Use the photo's position").click()
            else:
                expect(page.locator(".pin-form")).to_contain_text(re.compile("Photo (ready|kept)"))
        page.get_by_role("button", name="Save").click()

    def drag_cone_handle_east(self):
        page = self.page
        pin = page.locator(".pin.draft").bounding_box()
        handle = page.locator(".cone-handle").bounding_box()
        page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        page.mouse.down()
        page.mouse.move(pin["x"] + pin["width"] / 2 + 60, pin["y"] + pin["height"] / 2, steps=8)
        page.mouse.up()
        expect(page.get_by_label("Direction 1 (°)")).to_have_value("90")

    def wait_until_sent(self, count=1):
        """Until COUNT more changes were accepted by the server since the page opened."""
        self.sent += count
        announcer = self.page.locator("#announcer")
        expect(announcer).to_have_attribute("data-sent-total", str(self.sent))
        expect(self.page.locator("#outbox-button")).to_be_hidden()

    def close(self):
        self.context.close()


@pytest.fixture
def phone(live_server):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        device = Phone(browser, live_server)
        yield device
        device.close()
        browser.close()


def devices_by(db, username):
    return db(
        "SELECT d.id, ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat, d.kind, d.direction,"
        " d.review_status, (SELECT count(*) FROM photos p WHERE p.device_id = d.id) AS photos,"
        " to_char(d.observed_at AT TIME ZONE 'UTC', 'HH24:MI:SS') AS observed_time,"
        " to_char(d.observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS observed_day"
        " FROM devices d JOIN users u ON u.id = d.created_by WHERE u.username = :username",
        username=username,
    )


def test_register_then_pin_with_compass_and_the_photos_position(phone, db):
    username = f"owl_{uuid.uuid4().hex[:8]}"
    phone.open()
    phone.sign_in(username, password="a long passphrase", register=True)
    phone.pin(photo=images.leaky_photo("JPEG"), use_photo_position=True, compass_alpha=90)
    phone.wait_until_sent()
    [device] = devices_by(db, username)
    assert device.kind == "camera"
    assert list(device.direction) == [270]
    # Its field of view was not measured: unknown, not the angle its cone is drawn with.
    assert db("SELECT angle FROM devices WHERE id = :id", id=device.id).scalar_one() is None
    assert device.photos == 1
    assert device.review_status == "pending"
    # The day it was seen: the moment never leaves the phone.
    assert device.observed_time == "00:00:00"
    # The photo's EXIF position, not the phone's.
    assert device.lat == pytest.approx(images.LAT_DEG, abs=1e-5)
    assert device.lon == pytest.approx(images.LON_DEG, abs=1e-5)

    # Saved without a change first: nothing is sent (an empty edit would be refused).
    page = phone.page
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    observed = page.locator(".facts dt:has-text('Observed') + dd")
    expect(observed).to_have_text(re.compile(r"^[A-Z][a-z]+ \d{1,2}, \d{4}$"))  # the day seen
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".pin-form")).to_have_count(0)

    # The author edits the pin while it awaits review, and finds it among their contributions.
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    # No answers to one's own pin: Edit and Withdraw are no group named Verification.
    expect(page.locator("#sheet").get_by_role("group", name="Verification")).to_have_count(0)
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    form = page.locator(".pin-form")
    expect(form).to_contain_text("This pin keeps its photo: one chosen here is added to it.")
    form.get_by_label("Field of view (°)").fill("90")
    form.get_by_label("Camera type").select_option("dome")
    form.get_by_label("Mount").select_option("street_lamp")
    form.get_by_label("Height (m)").fill("4.3")  # any height: the server keeps decimals
    form.get_by_label("Operator", exact=True).fill("Musée")
    form.get_by_label("Operator type").select_option("private")
    form.get_by_label("Zone").select_option("building")
    form.get_by_label("Notes").fill("Above the north door")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    edited = db(
        "SELECT angle, camera_type, mount, height, operator, operator_type, zone, notes,"
        " direction FROM devices WHERE id = :id",
        id=device.id,
    ).one()
    assert tuple(edited) == (
        90,
        "dome",
        "street_lamp",
        4.3,
        "Musée",
        "private",
        "building",
        "Above the north door",
        [270],
    )
    page.get_by_role("button", name="Account", exact=True).click()
    pinned = db("SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM devices")
    day = long_day(pinned.scalar_one())
    expect(page.locator(".contributions > li").first).to_have_text(
        f"camera — pinned on {day} — Review: pending"
    )
    # The photo sent with it, listed apart, as its sender's to delete (loaded, with the token,
    # before the sign-out below revokes it).
    expect(page.locator(".your-photos img")).to_have_count(1)
    expect(page.locator(".your-photos img")).to_have_attribute("src", re.compile("^blob:"))
    # Each leads to its pin on the map.
    lon, lat = db("SELECT ST_X(geom), ST_Y(geom) FROM devices WHERE id = :id", id=device.id).one()
    link = page.locator(".contributions").get_by_role("link", name="camera", exact=True)
    expect(link).to_have_attribute("href", f"#19/{lat:.6f}/{lon:.6f}")
    link.click()
    expect(page.locator(".contributions")).to_have_count(0)
    expect(page.locator(".leaflet-marker-icon[title^='camera']")).to_be_in_viewport()

    page.get_by_role("button", name="Account", exact=True).click()
    # The contributions read again, their photo drawn, and the map's listing answered: a
    # request the sign-out overtook would go with the token it revokes (a 401).
    expect(page.locator(".your-photos img")).to_have_js_property("complete", True)
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    revoked = db(
        "SELECT t.revoked_at IS NOT NULL FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE u.username = :username",
        username=username,
    ).scalar_one()
    assert revoked
    assert phone.errors == []


@pytest.fixture
def contributor(make_user):
    user, _ = make_user()
    return user.username


def confirmations_of(db, device_id):
    return db(
        "SELECT c.verdict, u.username FROM confirmations c JOIN users u ON u.id = c.user_id"
        " WHERE c.device_id = :device",
        device=device_id,
    ).all()


def test_a_likely_duplicate_shows_its_photo_then_is_confirmed_instead_or_pinned_anyway(
    phone, db, moderator, contributor
):
    photo = uploaded(moderator, images.plain_photo())
    response = moderator.post(
        "/api/v1/devices",
        json={**feature(HERE["longitude"], HERE["latitude"]), "photo_ids": [photo["id"]]},
    )
    assert response.status_code == 201, response.get_json()
    existing = response.get_json()["id"]
    page = phone.open()
    phone.sign_in(contributor)

    phone.pin()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="Already pinned?")).to_be_visible()
    expect(sheet).to_contain_text(f"camera — approved — {existing[:8]}")  # translated, short
    expect(sheet.get_by_role("img", name="Photo 1 of this camera")).to_be_visible()
    expect(page.locator(".candidate-ring")).to_have_count(1)  # shown on the map
    announcer = page.locator("#announcer")
    expect(announcer).to_contain_text("1 change refused: open the outbox to resolve it.")
    # Said beside the map's controls, not over them (it hid the zoom-out button).
    said = announcer.bounding_box()
    for control in (".leaflet-control-zoom", ".leaflet-control-zoom-out"):
        box = page.locator(control).bounding_box()
        apart_x = said["x"] >= box["x"] + box["width"] or box["x"] >= said["x"] + said["width"]
        apart_y = said["y"] >= box["y"] + box["height"] or box["y"] >= said["y"] + said["height"]
        assert apart_x or apart_y, (control, box, said)
    sheet.get_by_role("button", name="It's this one: confirm it").click()
    phone.wait_until_sent()
    assert confirmations_of(db, existing) == [("still_there", contributor)]
    # Resolved: nothing is left in the outbox to open, and the announcer no longer says so
    # (within the 8 s it would have shown it).
    assert "open the outbox" not in announcer.text_content()
    assert devices_by(db, contributor).all() == []

    phone.pin(cone_east=True)
    expect(sheet.get_by_role("heading", name="Already pinned?")).to_be_visible()
    sheet.get_by_role("button", name="Mine is another one: pin it").click()
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert list(device.direction) == [90]
    # The browser logs each 409 it was answered; nothing else went wrong.
    assert [error for error in phone.errors if "status of 409" not in error] == []


def refused_as_a_duplicate(phone):
    """A camera pinned where one stands already, refused as a likely duplicate, and the sheet
    offering to resolve it closed: the sheet."""
    phone.pin()
    sheet = phone.page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="Already pinned?")).to_be_visible()
    sheet.get_by_role("button", name="Close").click()
    return sheet


def test_a_duplicate_confirmed_from_the_outbox_leaves_the_focus_on_the_map(
    phone, moderator, contributor
):
    """The outbox's button opened the sheet and gets the focus back as it closes, then hides
    once the vote went: a screen reader goes on from the map, not from the top of the page."""
    existing = moderator.post("/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"]))
    assert existing.status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    sheet = refused_as_a_duplicate(phone)
    page.locator("#outbox-button").click()
    sheet.get_by_role("button", name="Already pinned?").click()
    sheet.get_by_role("button", name="It's this one: confirm it").tap()
    phone.wait_until_sent()
    expect(page.locator("#map")).to_be_focused()


def test_a_duplicate_resolved_later_elsewhere_brings_the_device_into_sight(
    phone, moderator, contributor
):
    """Refused in the street, resolved from the outbox at home: the device it may duplicate
    was ringed off the screen, "0 m away. Is it the one you saw?" of nothing in sight."""
    existing = moderator.post("/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"]))
    assert existing.status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    sheet = refused_as_a_duplicate(phone)
    page.evaluate("window.location.hash = '#18/48.8600/2.3600'")  # a kilometre away
    expect(page).to_have_url(re.compile(r"#18/48\.86000/2\.36000$"))
    page.locator("#outbox-button").click()
    sheet.get_by_role("button", name="Already pinned?").click()
    expect(sheet.get_by_role("heading", name="Already pinned?")).to_be_visible()
    for _ in range(40):
        if uncovered(page, ".candidate-ring"):
            break
        page.wait_for_timeout(50)
    assert uncovered(page, ".candidate-ring")


def test_signing_out_says_a_refused_change_waits_to_be_resolved(phone, moderator, contributor):
    """A change refused does not go by itself at the next sign-in, as one not sent yet does:
    the sign-out says so, not that it goes then."""
    existing = moderator.post("/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"]))
    assert existing.status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    refused_as_a_duplicate(phone)
    page.get_by_role("button", name="Account", exact=True).click()
    page.locator("#sheet").get_by_role("button", name="Sign out", exact=True).click()
    said = page.locator("#sheet .notice")
    expect(said).to_contain_text("1 change of this account was refused by the server.")
    expect(said).to_contain_text("until you resolve it from the outbox once signed in again")
    expect(said).not_to_contain_text("not sent yet")


def test_pinning_again_a_device_of_ones_own_offers_to_discard_the_new_pin(phone, db, contributor):
    """One's own pin awaiting review is no other source to confirm: the likely duplicate says
    it is one's own and offers to drop the new pin instead, once the contributor says so; the
    photo the new pin had uploaded goes with it rather than wait on the server."""
    page = phone.open()
    phone.sign_in(contributor)
    phone.pin(kind="sensor")
    phone.wait_until_sent()
    phone.pin(kind="sensor", photo=images.plain_photo())
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="Already pinned?")).to_be_visible()
    expect(sheet).to_contain_text("You pinned this one already.")
    expect(sheet.get_by_role("button", name="It's this one: confirm it")).to_have_count(0)
    assert db("SELECT count(*) FROM photos WHERE device_id IS NULL").scalar_one() == 1
    page.once("dialog", lambda dialog: dialog.dismiss())  # not after all
    sheet.get_by_role("button", name="Discard this new pin").click()
    expect(page.locator("#outbox-button")).to_contain_text("1 change refused")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda answer: answer.request.method == "DELETE") as deleted:
        sheet.get_by_role("button", name="Discard this new pin").click()
    assert deleted.value.status == 204
    expect(page.locator("#outbox-button")).to_be_hidden()
    assert len(devices_by(db, contributor).all()) == 1
    assert db("SELECT count(*) FROM confirmations").scalar_one() == 0
    assert db("SELECT count(*) FROM photos").scalar_one() == 0
    assert [error for error in phone.errors if "status of 409" not in error] == []


def test_an_edit_giving_a_pin_the_kind_of_a_device_beside_it_asks_first(
    phone, db, moderator, as_user
):
    """An edit that makes a pin a likely duplicate (of the camera 4 m away, once it is a camera
    too) is asked about as a new pin is; insisting saves it."""
    author = as_user()
    camera = feature(HERE["longitude"] + 0.00005, HERE["latitude"])
    existing = moderator.post("/api/v1/devices", json=camera).get_json()["id"]
    mine = author.post(
        "/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"], kind="sensor")
    )
    assert mine.status_code == 201
    page = phone.open()
    phone.sign_in(author.user.username)
    # The camera's marker covers most of it: opened from the keyboard.
    page.locator(".leaflet-marker-icon[title^='sensor']").press("Enter")
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    page.locator(".pin-form").get_by_label(re.compile("^camera$")).check()
    page.get_by_role("button", name="Save").click()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="Already pinned?")).to_be_visible()
    expect(sheet).to_contain_text(f"camera — approved — {existing[:8]}")
    assert (
        db("SELECT kind FROM devices WHERE id = :i", i=mine.get_json()["id"]).scalar_one()
        == "sensor"
    )
    sheet.get_by_role("button", name="Mine is another one: save my change").click()
    phone.wait_until_sent()
    assert (
        db("SELECT kind FROM devices WHERE id = :i", i=mine.get_json()["id"]).scalar_one()
        == "camera"
    )
    assert [error for error in phone.errors if "status of 409" not in error] == []


def test_a_send_that_gets_no_answer_is_given_up_then_sent_again_once(phone, db, contributor):
    """A half-open connection (a cell handover, a captive portal) holds a request with neither
    answer nor error: after 45 s of silence the app takes it for a lost network, and a later
    pass sends the pin, once, instead of every pass waiting behind it until a reload."""
    page = phone.page
    page.clock.install()
    held = []

    def hold_the_first_pin(route):  # the connection it went out on never answers
        if route.request.method == "POST" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/devices$"), hold_the_first_pin)
    phone.open()
    phone.sign_in(contributor)
    phone.pin()
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    for _ in range(100):  # until the POST is under way, and held
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    page.clock.fast_forward("00:46")
    expect(outbox).to_have_text("1 change waiting to be sent")
    page.clock.fast_forward("00:31")  # the outbox's next pass
    phone.wait_until_sent()
    assert len(devices_by(db, contributor).all()) == 1
    assert [e for e in phone.errors if "ERR_" not in e] == []


def pinned_with_its_answer_lost(phone, author, operator="", photo=None):
    """A camera AUTHOR (a client) pinned on the phone, signed in: the server stores it, but its
    answer is lost (a gateway timing out meanwhile), so the pin waits in the outbox. No pass of
    the outbox sends it again on its own meanwhile (the page's clock stands still). Returns the
    stored Feature."""
    page = phone.page
    page.clock.install()
    sent = []

    def answer_lost(route):
        sent.append(route.request)
        route.fulfill(status=504, content_type="text/plain", body="Gateway Timeout")

    page.route("**/api/v1/devices", answer_lost, times=1)
    phone.open()
    phone.sign_in(author.user.username)
    page.get_by_role("button", name="Pin a device").click()
    page.locator(".pin-form").get_by_label("Operator", exact=True).fill(operator)
    if photo is not None:
        choose_photo(page, photo)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#outbox-button")).to_contain_text("1 change waiting to be sent")
    for _ in range(100):  # until the POST went out, and was answered so
        if sent:
            break
        page.wait_for_timeout(100)
    # What the server had stored before the gateway gave up, written once the page asks
    # nothing more (the live server shares the test's connection).
    page.wait_for_load_state("networkidle")
    [request] = sent
    headers = {"Idempotency-Key": request.headers["idempotency-key"]}
    # Its very bytes: should the service worker have sent it meanwhile, under the same key,
    # this is then its retry, answered as the first time.
    stored = author.post(
        "/api/v1/devices", data=request.post_data, content_type="application/json", headers=headers
    )
    assert stored.status_code == 201
    return stored.get_json()


def correct_the_pending_pin_to_a_sensor(page, operator=None):
    page.locator(".leaflet-marker-icon .pin.pending").click()
    page.locator("#sheet").get_by_role("button", name="Correct this pin").click()
    page.locator(".pin-form").get_by_label(re.compile("^sensor$")).check()
    if operator is not None:
        page.locator(".pin-form").get_by_label("Operator", exact=True).fill(operator)
    page.get_by_role("button", name="Save").click()


def test_a_pin_stored_whose_answer_was_lost_is_corrected_as_an_edit(phone, db, as_user):
    """Corrected on the phone since its answer was lost (a kind got wrong in the street), it is
    sent as an edit of the pin stored, not refused as another device under its id."""
    author = as_user()
    pinned_with_its_answer_lost(phone, author, operator="ACME")
    correct_the_pending_pin_to_a_sensor(phone.page, operator="")  # not ACME after all
    phone.wait_until_sent()
    assert [d.kind for d in devices_by(db, author.user.username)] == ["sensor"]
    assert db("SELECT operator FROM devices").scalar_one() is None
    assert [e for e in phone.errors if not re.search("status of (504|409)", e)] == []


def choose_photo(page, photo: bytes):
    """PHOTO chosen in the pin form open, and sent."""
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    expect(page.locator(".pin-form")).to_contain_text("Photo ready")


def test_a_correction_with_another_photo_replaces_the_first(phone, db, as_user):
    """Stored with the photo first chosen, its answer lost, then corrected with another photo:
    the pin keeps the photo of its correction only, as the form showed."""
    author = as_user()
    stored = pinned_with_its_answer_lost(phone, author, photo=images.plain_photo())
    [first] = stored["properties"]["photos"]
    page = phone.page
    page.locator(".leaflet-marker-icon .pin.pending").click()
    page.locator("#sheet").get_by_role("button", name="Correct this pin").click()
    choose_photo(page, images.plain_photo(colour=(200, 40, 40)))
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    kept = db("SELECT id FROM photos WHERE device_id = :d", d=stored["id"]).scalars().all()
    assert len(kept) == 1 and str(kept[0]) != first["id"]
    assert db("SELECT count(*) FROM photos WHERE id = :i", i=first["id"]).scalar_one() == 0
    assert [e for e in phone.errors if not re.search("status of (504|409)", e)] == []


def test_a_photo_chosen_by_mistake_is_removed_from_the_form_and_the_server(phone, db, contributor):
    """A personal photo picked in the gallery by mistake is taken out of the form: deleted
    from the server at once, not shown any more, and the pin goes with the photo chosen next,
    or none."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    form = page.locator(".pin-form")
    remove = form.get_by_role("button", name="Remove this photo")
    expect(remove).to_be_hidden()
    choose_photo(page, images.plain_photo(colour=(200, 40, 40)))
    [mistake] = db("SELECT id FROM photos").scalars().all()
    expect(form.get_by_role("img", name="The photo chosen")).to_be_visible()
    with page.expect_response(lambda answer: answer.request.method == "DELETE") as deleted:
        remove.click()
    assert deleted.value.status == 204 and str(mistake) in deleted.value.url
    expect(form).to_contain_text("Photo removed: the pin goes without it.")
    expect(form.get_by_role("img", name="The photo chosen")).to_be_hidden()
    expect(remove).to_be_hidden()
    assert db("SELECT count(*) FROM photos").scalar_one() == 0
    choose_photo(page, images.plain_photo())
    [chosen] = db("SELECT id FROM photos").scalars().all()
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert db("SELECT id FROM photos WHERE device_id = :d", d=device.id).scalars().all() == [chosen]
    assert db("SELECT count(*) FROM photos").scalar_one() == 1
    assert phone.errors == []


def test_a_photo_removed_from_a_pin_kept_offline_is_never_sent(phone, db, contributor):
    """Pinned offline with a photo, dated by its day, then corrected without it before the
    network comes back: the pin is sent alone, no longer dated by the photo, and the photo
    never leaves the phone."""
    page = phone.open()
    phone.sign_in(contributor)
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": images.leaky_photo("JPEG")}
    )
    page.locator(".pin-form").get_by_role("button", name=re.compile("^Seen on November 1")).click()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#outbox-button")).to_have_text("1 change waiting to be sent")
    page.locator(".leaflet-marker-icon .pin.pending").click()
    page.locator("#sheet").get_by_role("button", name="Correct this pin").click()
    form = page.locator(".pin-form")
    expect(form.get_by_role("img", name="The photo chosen")).to_be_visible()
    form.get_by_role("button", name="Remove this photo").click()
    expect(form.get_by_role("img", name="The photo chosen")).to_be_hidden()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#outbox-button")).to_have_text("1 change waiting to be sent")
    phone.context.set_offline(False)
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert device.photos == 0 and device.observed_day == db("SELECT current_date::text").scalar()
    assert db("SELECT count(*) FROM photos").scalar_one() == 0


def test_a_photo_the_outbox_sent_for_a_refused_pin_is_deleted_once_removed(
    phone, db, moderator, contributor
):
    """The pin was refused as a likely duplicate with its photo already on the server: its
    correction without the photo deletes that photo, rather than leave it loose there."""
    existing = moderator.post("/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"]))
    assert existing.status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    phone.sign_in(contributor)
    phone.pin(kind="camera", photo=images.plain_photo())
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="Already pinned?")).to_be_visible()
    [photo] = db("SELECT id FROM photos WHERE device_id IS NULL").scalars().all()
    sheet.get_by_role("button", name="Close").click()
    # Grouped with the camera it may duplicate, at its spot.
    page.get_by_role("button", name=re.compile("^Cluster of 2 devices: ")).click()
    sheet.get_by_role("button", name=re.compile(r"^camera — .*refused pin")).click()
    sheet.get_by_role("button", name="Correct this pin").click()
    form = page.locator(".pin-form")
    form.get_by_role("button", name="Remove this photo").click()
    with page.expect_response(lambda answer: answer.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Save").click()
    assert deleted.value.status == 204 and str(photo) in deleted.value.url
    assert db("SELECT count(*) FROM photos").scalar_one() == 0


def test_a_photo_of_a_pin_withdrawn_meanwhile_is_still_deleted(phone, db, as_user):
    """The pin was withdrawn from another phone: its photo is still its sender's to delete."""
    author = as_user()
    device = pin(author, 2.3522, 48.8566, kind="sensor")
    uploaded(author, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    page = phone.open()
    phone.sign_in(author.user.username)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    sheet = page.locator("#sheet")
    expect(sheet.locator(".photos img")).to_have_count(1)
    # The photo drawn, the sheet has grown and the map moved the pin beside it, and asked for
    # its listing: only then is the network quiet (the live server shares the test's connection).
    expect(sheet.locator(".photos img")).to_have_js_property("complete", True)
    page.wait_for_load_state("networkidle")
    assert author.delete(f"/api/v1/devices/{device['id']}").status_code == 204
    page.once("dialog", lambda dialog: dialog.accept())
    sheet.get_by_role("button", name="Delete photo 1").click()
    expect(sheet).to_contain_text("Photo deleted.")
    expect(sheet.locator(".photos img")).to_have_count(0)
    assert db("SELECT count(*) FROM photos").scalar_one() == 0


def test_discarding_a_pin_stored_with_its_answer_lost_withdraws_it(phone, db, as_user):
    """The pin reached the server with its photo, its answer lost: given up "for good" on the
    phone, it is withdrawn from the server too, rather than left awaiting a moderator's
    approval; the photo goes with the pin it was attached to, not on its own."""
    author = as_user()
    stored = pinned_with_its_answer_lost(phone, author, photo=images.plain_photo())
    [photo] = stored["properties"]["photos"]
    page = phone.page
    page.locator("#outbox-button").click()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda answer: f"/api/v1/photos/{photo['id']}" in answer.url):
        page.locator("#sheet").get_by_role("button", name="Discard").click()
    expect(page.locator("#outbox-button")).to_be_hidden()
    device = db("SELECT deleted_at FROM devices WHERE id = :i", i=stored["id"]).one()
    assert device.deleted_at is not None
    assert db("SELECT device_id FROM photos WHERE id = :i", i=photo["id"]).scalar_one() is not None


def outbox_count(page) -> int:
    return page.evaluate(
        """() => new Promise((resolve) => { indexedDB.open("vigie").onsuccess = (event) => {
            const request = event.target.result.transaction("outbox").objectStore("outbox").count();
            request.onsuccess = () => resolve(request.result); }; })"""
    )


@pytest.mark.parametrize("sign_out", ["answered", "refused by a server error"])
def test_discarding_the_unsent_changes_at_sign_out_withdraws_a_pin_stored_meanwhile(
    phone, db, as_user, sign_out
):
    """Discarded at sign-out, the pin is given up as the outbox's Discard gives it up: stored
    with its answer lost, it is withdrawn from the server too, not left to a moderator to
    publish. The discard stands even when the sign-out then fails: the pin is not sent again."""
    author = as_user()
    stored = pinned_with_its_answer_lost(phone, author)
    page = phone.page
    if sign_out != "answered":
        page.route(
            "**/api/v1/auth/tokens/*",
            lambda route: route.fulfill(status=503, content_type="text/plain", body="Down"),
        )
    page.get_by_role("button", name="Account", exact=True).click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Sign out", exact=True).click()
    sheet.get_by_role("button", name="Discard them and sign out").click()
    if sign_out == "answered":
        expect(sheet.get_by_role("form", name="Sign in")).to_be_visible()
    else:
        expect(sheet).to_contain_text("503")
        expect(sheet).to_contain_text(f"Signed in as {author.user.username}")
    expect(page.locator("#outbox-button")).to_be_hidden()
    assert outbox_count(page) == 0
    device = db("SELECT deleted_at FROM devices WHERE id = :i", i=stored["id"]).one()
    assert device.deleted_at is not None


def test_discarding_at_sign_out_with_a_token_revoked_meanwhile_still_signs_out(phone, db, as_user):
    """The token was revoked from another phone: taking the pin back is refused (401), which
    ends the session; the discard and the sign-out still happen, with no error in between."""
    author = as_user()
    pinned_with_its_answer_lost(phone, author)
    page = phone.page
    revoked = {"type": "about:blank", "status": 401, "title": "Unauthorized"}
    page.route(
        "**/api/v1/devices/*",
        lambda route: (
            route.fulfill(status=401, json=revoked, headers={"Content-Type": PROBLEM})
            if route.request.method == "DELETE"
            else route.continue_()
        ),
    )
    page.get_by_role("button", name="Account", exact=True).click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Sign out", exact=True).click()
    sheet.get_by_role("button", name="Discard them and sign out").click()
    expect(sheet.get_by_role("form", name="Sign in")).to_be_visible()
    expect(sheet).to_contain_text("Your session has ended")
    assert outbox_count(page) == 0
    # The 504 of the pin's lost answer, the 401 of its taking back: no error of the page's.
    assert [e for e in phone.errors if not ("status of 401" in e or "504" in e)] == []


def test_a_correction_of_a_pin_published_at_once_becomes_a_wrong_details_vote(
    phone, db, as_user, app, monkeypatch
):
    """A trusted contributor's pin is public at once: stored with its answer lost, then
    corrected here, it is no longer its author's to edit; what they corrected goes to the
    community as a "wrong details" vote, not into a refusal with no way out."""
    monkeypatch.setitem(app.config, "TRUSTED_AFTER_APPROVED_PINS", 0)
    author = as_user()
    stored = pinned_with_its_answer_lost(phone, author)
    assert stored["properties"]["review_status"] == "approved"
    page = phone.page
    correct_the_pending_pin_to_a_sensor(page)
    outbox = page.locator("#outbox-button")
    expect(outbox).to_contain_text("1 change refused")
    outbox.click()
    page.locator("#sheet").get_by_role("button", name="Report these details as wrong").click()
    expect(outbox).to_be_hidden()
    vote = db("SELECT verdict, comment FROM confirmations").one()
    assert vote.verdict == "wrong_details" and "sensor" in vote.comment
    assert [d.kind for d in devices_by(db, author.user.username)] == ["camera"]


def test_offline_pin_with_photo_survives_a_reload_and_is_sent_exactly_once(
    phone, db, contributor, moderator
):
    seen = moderator.post("/api/v1/devices", json=feature(2.3525, 48.8567, kind="microphone"))
    assert seen.status_code == 201
    page = phone.open()
    expect(page.locator(".leaflet-marker-icon[title^='microphone']")).to_have_count(1)
    phone.sign_in(contributor)
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    phone.pin(photo=images.plain_photo())
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    expect(page.locator("#announcer")).to_have_text(
        "Saved. It will be sent when the network allows."
    )

    page.reload()  # the shell comes from the service worker, the pin from IndexedDB
    # The pin waiting to be sent is drawn, and counted apart from the devices kept.
    expect(page.locator("#status")).to_have_text(
        "Offline: 1 device kept on this phone and 1 pin of yours not sent yet"
    )
    expect(outbox).to_have_text("1 change waiting to be sent")
    expect(page.locator(".leaflet-marker-icon .pin.pending")).to_have_count(1)
    # The devices of the area seen online are still drawn, from the phone.
    expect(page.locator(".leaflet-marker-icon[title^='microphone']")).to_have_count(1)
    assert devices_by(db, contributor).all() == []

    phone.context.set_offline(False)
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert device.photos == 1
    photos = db(
        "SELECT count(*) FROM photos p JOIN users u ON u.id = p.uploaded_by"
        " WHERE u.username = :username",
        username=contributor,
    ).scalar_one()
    assert photos == 1
    expect(page.locator(".leaflet-marker-icon .pin.pending")).to_have_count(0)


def signed_in_on_a_slow_upload(phone, username: str, seed: int, bytes_per_second=200_000):
    """The phone signed in as USERNAME, its upload slowed to a phone's 200 KB/s (unless told
    otherwise), and a photo of noise of 600 KB, three seconds at that rate: (page, CDP session,
    the photo's bytes)."""
    noise = Image.frombytes("RGB", (900, 600), random.Random(seed).randbytes(900 * 600 * 3))
    big = io.BytesIO()
    noise.save(big, "JPEG", quality=95)
    assert len(big.getvalue()) > 600_000
    page = phone.open()
    phone.sign_in(username)
    cdp = phone.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 20,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )
    return page, cdp, big.getvalue()


def test_a_photo_sent_over_a_slow_network_shows_how_much_is_sent(phone, db, contributor):
    """On a phone's slow upload, a photo of 600 KB takes seconds: a progress bar says how
    far it is, and gives way to "Photo ready" once the server has it. A photo chosen instead
    while it is sent replaces it; closing the form gives it up."""
    page, cdp, big = signed_in_on_a_slow_upload(phone, contributor, seed=7)
    sending = page.get_by_role("progressbar", name="Sending the photo…")

    def choose_the_big_photo_and_see_it_sent_in_part():
        page.get_by_role("button", name="Pin a device").click()
        expect(page.locator(".accuracy-circle")).to_have_count(1)
        page.get_by_label("Take or choose a photo").set_input_files(
            {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": big}
        )
        expect(sending).to_be_visible()
        page.wait_for_function(
            "() => { const bar = document.querySelector('.pin-form progress');"
            " return bar && bar.value > 0.2 && bar.value < 1; }",
            polling=50,
        )

    def photos_uploaded() -> int:
        return db(
            "SELECT count(*) FROM photos p JOIN users u ON u.id = p.uploaded_by"
            " WHERE u.username = :name",
            name=contributor,
        ).scalar_one()

    # The form closed while its photo is sent (the contributor says so): the upload is given up.
    choose_the_big_photo_and_see_it_sent_in_part()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Escape")
    page.wait_for_load_state("networkidle")
    assert photos_uploaded() == 0
    choose_the_big_photo_and_see_it_sent_in_part()
    # Another photo chosen meanwhile: the first is given up, not left to finish and win.
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "other.jpg", "mimeType": "image/jpeg", "buffer": images.plain_photo()}
    )
    expect(page.locator(".pin-form")).to_contain_text("Photo ready.", timeout=30_000)
    expect(sending).to_have_count(0)
    page.wait_for_load_state("networkidle")  # the first upload had time to end, had it gone on
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.get_by_role("button", name="Save").click()
    # Save, disabled as it saves, dropped the focus: it goes back to what opened the form.
    expect(page.locator("#pin-button")).to_be_focused()
    phone.wait_until_sent()
    [device] = devices_by(db, contributor)
    sizes = db("SELECT width, height FROM photos WHERE device_id = :id", id=device.id).all()
    assert [tuple(size) for size in sizes] == [(600, 200)]  # the second photo's
    assert photos_uploaded() == 1  # the first never arrived
    assert phone.errors == []


def test_a_photo_still_being_sent_when_the_pin_is_saved_is_sent_once(phone, db, contributor):
    """Saved while its photo is on its way over a slow upload, the pin waits in the outbox for
    that upload to end: the photo is not cut off and sent again from its first byte."""
    # Six seconds to send it, Save pressed in its first two thirds: progress is still to come,
    # for the outbox to show, however late a loaded machine lets the test see the bar.
    page, _, big = signed_in_on_a_slow_upload(phone, contributor, seed=8, bytes_per_second=100_000)
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".accuracy-circle")).to_have_count(1)
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": big}
    )
    page.wait_for_function(
        "() => { const bar = document.querySelector('.pin-form progress');"
        " return bar && bar.value > 0 && bar.value < 0.66; }",
        polling=50,
    )
    page.get_by_role("button", name="Save").click()
    # The form closed, how far the photo is shows beside the count.
    expect(page.locator("#outbox-button")).to_have_text(
        re.compile(r"^1 change waiting to be sent · photo \d+ % sent$")
    )
    phone.wait_until_sent()
    [device] = devices_by(db, contributor)
    assert db("SELECT count(*) FROM photos WHERE device_id = :id", id=device.id).scalar_one() == 1
    uploads = [url for url in phone.requests if url.endswith("/api/v1/photos")]
    assert len(uploads) == 1
    assert phone.errors == []


def test_a_newer_versions_page_never_replaces_the_one_the_app_starts_offline_from(
    phone, monkeypatch, tmp_path
):
    """The worker refreshes its page in the background. A newer version's page names bundles it
    does not hold (and the network may cut the new worker's install): kept, it would leave the
    app unable to start offline. It keeps the page of its own version only."""
    served = tmp_path / "dist"
    shutil.copytree(web.WEB_DIST, served)
    monkeypatch.setattr(web, "WEB_DIST", served)
    page = phone.open()
    phone.wait_for_service_worker()
    index = served / "index.html"
    index.write_text(re.sub(r"/map/app-[\w-]+\.js", "/map/app-NEWVERSION.js", index.read_text()))
    page.reload()
    expect(page.locator("#status")).to_contain_text(re.compile("in view|visible"))
    kept_newer = page.evaluate(
        """async () => {
            for (let i = 0; i < 40; i++) {  // the background refresh: two seconds at most
                const kept = await caches.match("/");
                if ((await kept.text()).includes("NEWVERSION")) return true;
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return false;
        }"""
    )
    assert not kept_newer
    phone.context.set_offline(True)
    page.reload()
    expect(page.locator("#status")).to_contain_text(re.compile("in view|visible"))


def test_devices_at_one_spot_are_kept_for_offline_though_grouped(phone, moderator, contributor):
    """Devices at one spot stay grouped at every zoom: a close view keeps them all the same,
    asked one by one, so that a contributor offline does not pin them again; and offline they
    are grouped as the server groups them, one marker to choose from, not markers stacked at
    one place of which only the top one could be tapped."""
    for kind in ("camera", "microphone"):
        spot = feature(2.3522, 48.8566, kind=kind)
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    page = phone.open("#20/48.8566/2.3522")
    phone.wait_for_service_worker()
    phone.sign_in(contributor)  # the listing is then private: no HTTP cache answers offline
    expect(page.locator("#status")).to_contain_text("1 group of devices at one spot")
    page.wait_for_load_state("networkidle")
    phone.context.set_offline(True)
    page.reload()
    expect(page.locator("#status")).to_have_text("Offline: 2 devices kept on this phone")
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    page.get_by_role("button", name=re.compile("^Cluster of 2 devices: ")).click()
    sheet = page.locator("#sheet")
    expect(sheet.locator(".cluster-devices button")).to_have_count(2)
    sheet.get_by_role("button", name=re.compile("^microphone")).click()
    expect(sheet.get_by_role("heading", name="microphone")).to_be_visible()
    phone.context.set_offline(False)


def test_the_map_shows_the_servers_devices_again_once_back_online(phone, moderator, contributor):
    """Offline, the map said it showed the devices kept on the phone; back online, it shows
    the server's again, without a touch."""
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    page = phone.open("#17/48.8566/2.3522")
    phone.wait_for_service_worker()
    phone.sign_in(contributor)  # the listing is then private: no HTTP cache answers offline
    page.wait_for_load_state("networkidle")
    phone.context.set_offline(True)
    page.reload()
    expect(page.locator("#status")).to_have_text("Offline: 1 device kept on this phone")
    # Pinned meanwhile by someone else (the page, offline, asks the server nothing).
    later = feature(2.3527, 48.8566, kind="microphone")
    assert moderator.post("/api/v1/devices", json=later).status_code == 201
    phone.context.set_offline(False)
    expect(page.locator(".leaflet-marker-icon[title^='microphone']")).to_have_count(1)
    expect(page.locator("#status")).not_to_contain_text("Offline")


def test_a_listing_lost_on_the_network_is_asked_again(phone, moderator):
    """A listing lost while the phone still says it is online (a blip: no "online" event will
    come) is asked again, less often each time: the map does not stay offline until panned."""
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    page = phone.page
    page.clock.install()
    lost = []

    def lose_the_first_two(route):
        if len(lost) < 2:
            lost.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/devices\?.*cluster=true"), lose_the_first_two)
    page.goto(f"{phone.server}/#17/48.8566/2.3522")
    status = page.locator("#status")
    expect(status).to_have_text("Offline: 0 devices kept on this phone")
    page.clock.fast_forward("00:05")
    expect(status).to_have_text("Offline: 0 devices kept on this phone")
    for _ in range(100):  # the second ask reaches the route a moment after the timer fires
        if len(lost) == 2:
            break
        page.wait_for_timeout(50)
    assert len(lost) == 2
    page.clock.fast_forward("00:09")  # the second wait is twice the first
    assert len(lost) == 2
    page.clock.fast_forward("00:01")
    expect(status).to_have_text("1 device in view")


def test_each_sheet_opens_at_its_top(phone, moderator, contributor):
    body = feature(2.3522, 48.8566, kind="sensor", notes="A long note. " * 200)
    assert moderator.post("/api/v1/devices", json=body).status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    sheet = page.locator("#sheet")
    sheet.evaluate("sheet => { sheet.scrollTop = sheet.scrollHeight; }")
    assert sheet.evaluate("sheet => sheet.scrollTop") > 0
    page.get_by_role("button", name="Account", exact=True).click()
    expect(sheet.get_by_role("button", name="Sign out", exact=True)).to_be_in_viewport()
    assert sheet.evaluate("sheet => sheet.scrollTop") == 0
    # Closed while scrolled, then opened again.
    page.get_by_role("button", name="Close").click()
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    sheet.evaluate("sheet => { sheet.scrollTop = sheet.scrollHeight; }")
    page.get_by_role("button", name="Close").click()
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    assert sheet.evaluate("sheet => sheet.scrollTop") == 0


def long_day(day: str) -> str:
    """DAY (YYYY-MM-DD) as the app writes it in English: November 1, 2026."""
    parsed = date.fromisoformat(day)
    return f"{parsed:%B} {parsed.day}, {parsed.year}"


def reopened_offline(phone, tiles: str):
    """Open the map, then again through the worker (which keeps what it reads), then without a
    network, the TILES (a selector) drawn each time: the page, the requests it made offline
    and those that failed."""
    page = phone.open()
    phone.wait_for_service_worker()
    page.reload()
    expect(page.locator(tiles).first).to_be_attached()
    # Every part the view reads, read (and so kept) before the network goes: the first tile
    # drawn leaves others on their way, which the view offline would ask for unread.
    page.wait_for_load_state("networkidle")
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    phone.context.set_offline(True)
    offline_from = len(phone.requests)
    page.reload()
    expect(page.locator("#status")).to_contain_text("in view")
    expect(page.locator(tiles).first).to_be_attached()
    phone.context.set_offline(False)
    return page, phone.requests[offline_from:], failed


def signing_out_forgets_the_basemap(phone, page, contributor) -> None:
    phone.sign_in(contributor)
    page.get_by_role("button", name="Account", exact=True).click()
    page.locator("#sheet").get_by_role("button", name="Sign out", exact=True).click()
    expect(page.locator("#sheet").get_by_role("form", name="Sign in")).to_be_visible()
    assert page.evaluate("caches.has('vigie-basemap')") is False


def test_the_streets_already_seen_are_drawn_offline(phone, contributor):
    """The parts of the PMTiles basemap the app read are kept by its worker: reopened without
    a network, the map draws the same streets under the pins, not a grey ground. They tell
    where someone looked: signing out forgets them with the rest."""
    page, offline, failed = reopened_offline(phone, "canvas.leaflet-tile-loaded")
    assert [url for url in offline if url.endswith("/basemap.pmtiles")]  # read again, offline...
    assert not [url for url in failed if url.endswith("/basemap.pmtiles")]  # ...and served
    signing_out_forgets_the_basemap(phone, page, contributor)


@pytest.fixture
def raster_tiles(app, monkeypatch):
    """Start a raster basemap on another origin (another port); CORS(True) has it answer CORS as
    OpenStreetMap's tile servers do. Its tiles say no-store, so that the browser's own cache
    cannot draw them offline."""
    tile = images.plain_photo("PNG", size=(256, 256))
    servers = []

    def serve(cors: bool) -> str:
        class Tiles(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(tile)))
                self.send_header("Cache-Control", "no-store")
                if cors:
                    self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(tile)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        host = f"http://127.0.0.1:{server.server_port}"
        monkeypatch.setitem(app.config, "BASEMAP_PMTILES", None)
        monkeypatch.setitem(app.config, "BASEMAP_URL", host + "/{z}/{x}/{y}.png")
        return host

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_raster_basemaps_tiles_seen_are_drawn_offline(phone, raster_tiles, contributor):
    """The tiles of a raster basemap from another host (OpenStreetMap's by default) are kept by
    the worker as they are read: reopened without a network, the map draws them. Signing out
    forgets them, as they tell where someone looked."""
    host = raster_tiles(True)
    page, _offline, failed = reopened_offline(phone, "img.leaflet-tile-loaded")
    assert page.locator("img.leaflet-tile-loaded").count() >= 4
    assert not [url for url in failed if url.startswith(host)]
    signing_out_forgets_the_basemap(phone, page, contributor)


def test_a_raster_basemap_refusing_cors_is_drawn_through_the_worker(phone, raster_tiles):
    """Its tiles cannot be kept, but the worker must not lose them online."""
    raster_tiles(False)
    page = phone.open()
    phone.wait_for_service_worker()
    page.reload()
    expect(page.locator("img.leaflet-tile-loaded").first).to_be_attached()
    assert page.locator("img.leaflet-tile-loaded").count() >= 4
    kept = "caches.open('vigie-basemap').then((cache) => cache.keys()).then((keys) => keys.length)"
    assert page.evaluate(kept) == 0


def test_the_service_worker_sends_the_outbox_with_the_app_closed(phone, db, contributor):
    page = phone.open()
    phone.sign_in(contributor)
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    phone.pin(photo=images.plain_photo(), east=3)
    expect(page.locator("#outbox-button")).to_have_text("1 change waiting to be sent")
    page.close()  # no page of the app is left open
    phone.context.set_offline(False)
    # Chromium delivers Background Sync when its own network comes back, which Playwright's
    # offline emulation does not signal: the test delivers the event as DevTools would.
    devtools = phone.context.new_cdp_session(phone.context.new_page())
    registrations = []
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    devtools.send("ServiceWorker.enable")
    for _ in range(200):
        if registrations:
            break
        phone.context.pages[0].wait_for_timeout(50)
    [registration] = [r for r in registrations if r["scopeURL"] == f"{phone.server}/"]
    with phone.context.expect_event(
        "request", lambda r: r.method == "POST" and r.url.endswith("/api/v1/devices")
    ) as sent:
        devtools.send(
            "ServiceWorker.dispatchSyncEvent",
            {
                "origin": phone.server,
                "registrationId": registration["registrationId"],
                "tag": "vigie-outbox",
                "lastChance": False,
            },
        )
    assert sent.value.service_worker is not None  # sent by the worker, not by a page
    assert sent.value.response().status == 201
    [device] = devices_by(db, contributor).all()
    assert device.photos == 1
    assert device.lon > HERE["longitude"] + 0.0001  # placed from the keyboard, east of the phone
    assert device.lat == pytest.approx(HERE["latitude"], abs=1e-5)


def test_a_vote_and_a_moderators_approval(phone, db, moderator, as_user):
    author = as_user()
    details = {
        "mount": "pole",
        "height": 4.5,
        "operator": "ACME",
        "zone": "traffic",
        "tags": {"contact:phone": "+33 6 12 34 56 78"},
    }
    response = author.post("/api/v1/devices", json=feature(2.3524, 48.8567, kind="alpr", **details))
    assert response.status_code == 201
    pending = response.get_json()["id"]
    again = author.post("/api/v1/devices?force=true", json=feature(2.35241, 48.85671, kind="alpr"))
    duplicate = again.get_json()["id"]
    approved = moderator.post("/api/v1/devices", json=feature(2.3520, 48.8565, kind="sensor"))
    doubtful = author.post("/api/v1/devices", json=feature(2.3519, 48.8568, kind="microphone"))
    doubtful = doubtful.get_json()["id"]
    # Photos the new contributor added to the public sensor: one to publish, one to delete.
    onto = f"/api/v1/devices/{approved.get_json()['id']}/photos"
    kept, spam = (
        uploaded(author, images.plain_photo(colour=colour), url=onto)["id"]
        for colour in ("red", "blue")
    )
    page = phone.open()
    phone.sign_in(moderator.user.username)

    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    page.get_by_role("button", name="Show the history").click()
    expect(page.locator(".history li")).to_contain_text(f"create — {moderator.user.username}")
    # Days, as the API gives every time.
    first = page.locator(".history li").first
    expect(first).to_have_text(
        re.compile(rf"^[A-Z][a-z]+ \d{{1,2}}, \d{{4}} — create — {moderator.user.username}")
    )
    expect(first).not_to_contain_text("Tags")  # none given: not named as if they were
    # Shown, the history is hidden by the same button, which says so.
    hide = page.get_by_role("button", name="Hide the history")
    expect(hide).to_have_attribute("aria-expanded", "true")
    hide.click()
    expect(page.locator(".history li")).to_have_count(0)
    expect(page.get_by_role("button", name="Show the history")).to_have_attribute(
        "aria-expanded", "false"
    )
    page.get_by_role("button", name="Still there").click()
    phone.wait_until_sent()
    assert confirmations_of(db, approved.get_json()["id"]) == [
        ("still_there", moderator.user.username)
    ]

    page.get_by_role("button", name="Review queue").click()
    item = page.locator(f".queue-item[data-device='{pending}']")
    expect(item.locator("h3")).to_have_text("licence-plate reader — 48.85670, 2.35240")
    expect(item).to_contain_text(f"By {author.user.username}, ")
    # Every field approval would publish, checked before it is.
    facts = item.locator("dl.facts")
    for label, value in (
        ("Mount", "pole"),
        ("Height (m)", "4.5"),
        ("Operator", "ACME"),
        ("Tags", "contact:phone=+33 6 12 34 56 78"),  # free text, published too
    ):
        expect(facts.locator(f"dt:text-is('{label}') + dd")).to_have_text(value)
    # Named with its pin: a screen reader's list of the sheet's buttons tells one from another's.
    title = "licence-plate reader — 48.85670, 2.35240"
    approve = item.get_by_role("button", name=f"Approve — {title}", exact=True)
    expect(item.get_by_role("button", name=f"Reject — {title}", exact=True)).to_be_visible()
    expect(item.get_by_role("link", name=f"Show on the map — {title}", exact=True)).to_be_visible()
    reason = item.get_by_role("textbox", name="Reason (shown to the author)", exact=True)
    expect(reason).to_have_accessible_description(title)
    # Each one-tap decision is asked first (the buttons sit side by side): dismissed
    # (Playwright's default answer), nothing is decided.
    approve.click()
    expect(item).to_have_count(1)
    assert db("SELECT review_status FROM devices WHERE id = :id", id=pending).scalar_one() == (
        "pending"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    approve.click()
    expect(item).to_have_count(0)
    # The buttons that had the focus are gone: it goes to the queue's title, which says so.
    expect(page.locator("#sheet-title")).to_be_focused()
    expect(page.locator("#sheet [role=status]").first).to_have_text(
        "Decision recorded; the rest of the queue follows."
    )
    status = db("SELECT review_status FROM devices WHERE id = :id", id=pending).scalar_one()
    assert status == "approved"

    # The second pin of the same alpr: merged into the first, its duplicate candidate.
    item = page.locator(f".queue-item[data-device='{duplicate}']")
    merge = item.get_by_role("button", name=f"Merge into {pending[:8]}")
    merge.click()  # asked first; dismissed (Playwright's default answer), nothing is merged
    expect(item).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    merge.click()
    expect(item).to_have_count(0)
    merged = db("SELECT merged_into FROM devices WHERE id = :id", id=duplicate).scalar_one()
    assert str(merged) == pending

    item = page.locator(f".queue-item[data-device='{doubtful}']")
    # Without a reason: told to give one, and nothing is sent.
    item.get_by_role("button", name="Reject").click()
    expect(item).to_contain_text("Give a reason: the author reads it.")
    reason = item.get_by_label("Reason (shown to the author)")
    expect(reason).to_be_focused()
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_have_accessible_description("Give a reason: the author reads it.")
    assert db("SELECT review_status FROM devices WHERE id = :id", id=doubtful).scalar_one() == (
        "pending"
    )
    expect(item.get_by_role("link", name="Show on the map")).to_have_attribute(
        "href", "#19/48.856800/2.351900"
    )
    # Seen on the map, then Back: the queue again, the item where it was, its link focused
    # (the queue used to open again at its top, the moderator to look for the item again).
    item.get_by_role("link", name="Show on the map").click()
    expect(page.locator("#sheet")).to_be_hidden()
    page.go_back()
    expect(page.locator("#sheet-title")).to_have_text("Review queue")
    expect(item).to_have_count(1)
    expect(item.get_by_role("link", name="Show on the map")).to_be_focused()
    item.get_by_label("Reason (shown to the author)").fill("A doorbell, not a microphone")
    item.get_by_role("button", name="Reject").click()
    expect(item).to_have_count(0)
    review = db("SELECT review_status, review_reason FROM devices WHERE id = :id", id=doubtful)
    assert review.one() == ("rejected", "A doorbell, not a microphone")

    item = page.locator(f".queue-item[data-photo='{kept}']")
    expect(item).to_contain_text("sensor")
    # Who added it, which day, and where its device stands: what the photo should show.
    today = long_day(db("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')").scalar_one())
    expect(item).to_contain_text(f"By {author.user.username}, {today}")
    expect(item.get_by_role("link", name="Show on the map")).to_have_attribute(
        "href", "#19/48.856500/2.352000"
    )
    # Large enough to judge, fetched with the token (a link would open without it).
    expect(item.locator(".review-photos img")).to_have_attribute("src", re.compile("^blob:"))
    publish = item.get_by_role("button", name="Publish the photo")
    publish.click()
    expect(item).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    publish.click()
    expect(item).to_have_count(0)
    delete = page.locator(f".queue-item[data-photo='{spam}']").get_by_role(
        "button", name="Delete the photo"
    )
    delete.click()
    expect(page.locator(f".queue-item[data-photo='{spam}']")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(page.get_by_text("No photo awaits review.")).to_be_visible()
    photos = db("SELECT id::text, review_status FROM photos WHERE id IN (:a, :b)", a=kept, b=spam)
    assert photos.all() == [(kept, "approved")]
    assert phone.errors == []


def test_a_pin_decided_meanwhile_by_another_moderator_leaves_the_queue(
    phone, db, moderator, as_user
):
    pending = as_user().post("/api/v1/devices", json=feature(2.3524, 48.8567)).get_json()["id"]
    page = phone.open()
    phone.sign_in(moderator.user.username)
    page.get_by_role("button", name="Review queue").click()
    item = page.locator(f".queue-item[data-device='{pending}']")
    expect(item).to_have_count(1)
    # Another moderator approves it from elsewhere (through the server the page uses, which
    # answers one request at a time on the test's connection).
    decided = page.request.post(
        f"{phone.server}/api/v1/devices/{pending}/review",
        data={"decision": "approve"},
        headers={"Authorization": moderator.environ_base["HTTP_AUTHORIZATION"]},
    )
    assert decided.status == 200, decided.text()
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Approve").click()
    expect(item).to_have_count(0)
    expect(page.locator("#sheet [role=status]").first).to_contain_text("Already decided meanwhile")
    expect(page.locator("#sheet")).not_to_contain_text("ETag")


def test_installable_in_french_and_never_leaves_its_host(phone, moderator):
    dome = feature(2.3523, 48.8567, camera_type="dome", height=3.5)
    pinned = moderator.post("/api/v1/devices", json=dome)
    assert pinned.status_code == 201
    page = phone.open()
    phone.wait_for_service_worker()
    cdp = phone.context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito profiles, where Chromium installs nothing; every
    # criterion of the app itself (manifest, icons, service worker, scope) is met.
    assert [error["errorId"] for error in errors] == ["in-incognito"]
    manifest = page.evaluate("fetch('/manifest.webmanifest').then(r => r.json())")
    assert manifest["scope"] == "/" and manifest["display"] == "standalone"
    # The vector basemap came from Vigie's own archive, by ranges.
    expect(page.locator("canvas.leaflet-tile-loaded").first).to_be_attached()
    french = Phone(phone.browser, phone.server, locale="fr-FR")  # the browser's language
    expect(french.open().get_by_role("button", name="Signaler un dispositif")).to_be_visible()
    french.close()
    phone.choose_language("fr")
    expect(page.get_by_role("button", name="Signaler un dispositif")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_title("Vigie — carte de la surveillance urbaine")
    # Each language's name is read in that language (WCAG 3.1.2).
    assert page.locator("#language option").evaluate_all("os => os.map((o) => o.lang)") == [
        "en",
        "fr",
    ]
    page.locator(".leaflet-marker-icon[title^='caméra']").click()
    expect(page.locator("#sheet dd", has_text="dôme")).to_have_count(1)
    expect(page.locator("#sheet dd", has_text="3,5")).to_have_count(1)  # numbers written in French
    page.reload()
    expect(page.get_by_role("button", name="Compte")).to_be_visible()
    hosts = {urlsplit(url).netloc for url in phone.requests if not url.startswith("data:")}
    assert hosts == {urlsplit(phone.server).netloc}
    assert any(url.endswith("/basemap.pmtiles") for url in phone.requests)
    assert phone.errors == []


def test_the_account_sheet_says_the_role_in_the_chosen_language(phone, as_user):
    author = as_user()
    page = phone.open()
    phone.sign_in(author.user.username)
    phone.choose_language("fr")
    page.get_by_role("button", name="Compte").click()
    expect(page.locator("#sheet")).to_contain_text(
        f"Connecté en tant que {author.user.username} (contributeur·rice)"
    )
    # Leaflet's own controls too.
    expect(page.get_by_role("button", name="Zoomer", exact=True)).to_be_visible()
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("Dispositifs : ")


def in_french_refused(phone, pattern: str, detail: str):
    """A page in French on a phone without a service worker (with one in control,
    Playwright's routes may miss requests), whose requests matching PATTERN the server refuses
    as a bad request, saying DETAIL in its own English."""
    refusal = {
        "type": "https://vigie.invalid/problems/bad-request",
        "title": "Bad Request",
        "status": 400,
        "detail": detail,
    }
    french = Phone(phone.browser, phone.server, service_workers="block")
    page = french.open()
    french.choose_language("fr")
    french.context.route(
        pattern,
        lambda route: route.fulfill(
            status=400, content_type="application/problem+json", json=refusal
        ),
    )
    return page


def test_the_servers_english_words_in_a_french_refusal_are_marked_english(phone):
    """A screen reader reading French would say the server's own reason with French sounds:
    inside the French sentence, those words are marked as English."""
    page = in_french_refused(phone, "**/api/v1/auth/tokens", "The request could not be read.")
    page.get_by_role("button", name="Compte").click()
    form = page.get_by_role("form", name="Se connecter")
    form.get_by_label("Pseudonyme").fill("someone")
    form.get_by_label("Mot de passe").fill("a long passphrase")
    form.get_by_role("button").click()
    shown = page.locator("#sheet .notice.error")
    expect(shown).to_have_text(
        "Demande refusée par le serveur. Le serveur précise (en anglais) : "
        "« The request could not be read. »"
    )
    expect(shown.locator("bdi[lang=en]")).to_have_text("The request could not be read.")
    assert shown.get_attribute("lang") is None  # the sentence around it is the page's French


def test_the_browsers_own_refusal_of_a_field_is_in_the_pages_language(phone, contributor):
    """A phone set to English, the page to French: a height past its maximum is refused in
    French, not in the words of the browser's language."""
    page = phone.open()
    phone.sign_in(contributor)
    phone.choose_language("fr")
    page.get_by_role("button", name="Signaler un dispositif").click()
    height = page.locator(".pin-form").get_by_label("Hauteur (m)")
    height.fill("9999")
    page.get_by_role("button", name="Enregistrer").click()
    assert height.evaluate("control => control.validationMessage") == "Au plus 500."
    # Mended by the page rather than typed (as a compass sets a direction): saved all the same.
    height.evaluate("control => { control.value = '12'; }")
    page.get_by_role("button", name="Enregistrer").click()
    phone.wait_until_sent()


def test_the_servers_english_words_in_the_status_line_are_marked_english(phone):
    """The map's status line says why a listing was refused, in French around the server's
    own English words, which are marked so there too."""
    page = in_french_refused(phone, "**/api/v1/devices?*", "bbox: the box is too large.")
    page.locator("#map").focus()
    page.keyboard.press("ArrowRight")
    status = page.locator("#status")
    expect(status.locator("bdi[lang=en]")).to_have_text("bbox: the box is too large.")
    expect(status).to_contain_text("Le serveur précise (en anglais)")


def test_a_sheet_open_when_the_language_changes_follows_it_unless_something_is_typed(
    phone, as_user
):
    author = as_user()
    page = phone.open()
    phone.sign_in(author.user.username)
    phone.choose_language("fr")
    page.get_by_role("button", name="Compte").click()
    expect(page.locator("#sheet")).to_contain_text("Connecté en tant que")
    language = page.get_by_label("Langue")
    language.focus()
    language.select_option("en")
    expect(page.locator("#sheet-title")).to_have_text("Account")
    expect(page.locator("#sheet")).to_contain_text(f"Signed in as {author.user.username}")
    # The focus stays on the menu (a keyboard goes on choosing), and the sheet still gives it
    # back to what opened it once closed.
    expect(page.get_by_label("Language")).to_be_focused()
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_role("button", name="Account", exact=True)).to_be_focused()

    # A new password being typed is not wiped: that sheet keeps its language until it is left.
    page.get_by_role("button", name="Account", exact=True).click()
    page.get_by_label("Current password").fill("typed so far")
    phone.choose_language("fr")
    expect(page.get_by_label("Current password")).to_have_value("typed so far")
    page.get_by_role("button", name="Fermer").click()
    page.get_by_role("button", name="Compte").click()
    expect(page.get_by_label("Mot de passe actuel")).to_have_value("")
    assert phone.errors == []


def test_a_contributor_changes_the_password_then_signs_out_everywhere(phone, as_user):
    """From the account sheet: a new password (the current one asked; other devices signed out,
    this phone kept), then signing out of every device, this one included. The server is asked
    through the page, one request after the other (the live server shares the test's
    transaction with no other thread)."""
    author = as_user()  # also signed in elsewhere: the token the test client carries
    elsewhere = author.environ_base["HTTP_AUTHORIZATION"]
    new_password = "a brand new passphrase for the street"
    page = phone.open()
    phone.sign_in(author.user.username)

    def status_of(method: str, path: str, headers: dict, body=None) -> int:
        return page.evaluate(
            """async ([method, path, headers, body]) => (await fetch(path, {
                method, headers: { ...headers, "Content-Type": "application/json" },
                body: body && JSON.stringify(body) })).status""",
            [method, path, headers, body],
        )

    page.get_by_role("button", name="Account", exact=True).click()
    form = page.get_by_role("form", name="Change the password")
    form.get_by_label("Current password").fill("not the password at all")
    form.get_by_label("New password").fill(new_password)
    form.get_by_role("button").click()
    expect(form).to_contain_text("The current password is wrong.")
    assert status_of("GET", "/api/v1/me", {"Authorization": elsewhere}) == 200
    form.get_by_label("Current password").fill(TEST_PASSWORD)
    form.get_by_label("New password").fill(new_password)
    form.get_by_role("button").click()
    expect(form).to_contain_text("Password changed: your other devices are signed out.")
    assert status_of("GET", "/api/v1/me", {"Authorization": elsewhere}) == 401
    expect(page.locator("#sheet")).to_contain_text(f"Signed in as {author.user.username}")
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.locator("#sheet")).to_contain_text("Signed out on every device")
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    login = {"username": author.user.username, "password": new_password}
    assert status_of("POST", "/api/v1/auth/tokens", {}, login) == 201


def test_the_servers_refusals_are_worded_in_the_chosen_language(phone, as_user):
    """The server words its problems in English: a French page words them itself, naming what
    was refused; an English page shows the server's own words."""
    taken = as_user().user.username
    page = phone.open()
    phone.choose_language("fr")
    page.get_by_role("button", name="Compte").click()

    def submit(form_name: str, username: str, password: str) -> None:
        form = page.get_by_role("form", name=form_name)
        form.get_by_label(re.compile(r"^(Pseudonyme|Pseudonym)( \(.*\))?$")).fill(username)
        form.get_by_label(re.compile("^(Mot de passe|Password)")).fill(password)
        form.get_by_role("button").click()

    # Even with its owner's password: no sign-in is tried on a name taken (each wrong password
    # would count against the owner), but after an answer lost (below).
    submit("Créer un compte", taken, TEST_PASSWORD)
    expect(page.locator("#sheet")).to_contain_text(
        "Ce pseudonyme est déjà pris. S'il est le vôtre, connectez-vous avec son mot de passe."
    )
    expect(page.locator("#sheet")).not_to_contain_text("taken")
    # A weak password and a pseudonym of other characters are said why, in French.
    submit("Créer un compte", "new_name", "password12")
    expect(page.locator("#sheet")).to_contain_text("Mot de passe refusé : 10 caractères au moins")
    # Tied to the field it is about, which takes the focus (WCAG 3.3.1).
    password = page.get_by_role("form", name="Créer un compte").get_by_label("Mot de passe")
    expect(password).to_be_focused()
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(re.compile("^Mot de passe refusé"))
    submit("Créer un compte", "new name!", TEST_PASSWORD)
    expect(page.locator("#sheet")).to_contain_text("Pseudonyme refusé : de 3 à 32 lettres")
    submit("Se connecter", taken, "not the password at all")
    expect(page.locator("#sheet")).to_contain_text("Pseudonyme ou mot de passe incorrect")
    # The password, which the server names, takes the focus, told why.
    password = page.get_by_role("form", name="Se connecter").get_by_label("Mot de passe")
    expect(password).to_be_focused()
    expect(password).to_have_accessible_description(re.compile("^Pseudonyme ou mot de passe"))
    page.get_by_role("button", name="Fermer").click()
    phone.choose_language("en")
    page.get_by_role("button", name="Account", exact=True).click()
    submit("Create an account", taken, TEST_PASSWORD)
    expect(page.locator("#sheet")).to_contain_text(
        "This pseudonym is taken. If it is yours, sign in with its password."
    )
    # A name the browser itself stops (too short): the server's "taken" no longer stands.
    form = page.get_by_role("form", name="Create an account")
    name = form.get_by_label(re.compile("^Pseudonym"))
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill("ab")
    form.get_by_role("button", name="Create an account").click()
    expect(page.locator("#sheet")).not_to_contain_text("This pseudonym is taken")
    expect(name).not_to_have_attribute("aria-invalid", "true")


def test_a_password_change_whose_answer_was_lost_is_said_made_when_sent_again(phone, as_user):
    """The change reached the server, its answer did not (a gateway giving up): sent again, it
    is said made, not refused because the current password typed is no longer the account's."""
    author = as_user()
    page = phone.page

    def answer_lost(route):
        route.fetch()  # the server changes the password
        route.fulfill(status=504, content_type="text/plain", body="Gateway Timeout")

    page.route("**/api/v1/me/password", answer_lost, times=1)
    phone.open()
    phone.sign_in(author.user.username)
    page.get_by_role("button", name="Account", exact=True).click()
    form = page.get_by_role("form", name="Change the password")
    form.get_by_label("Current password").fill(TEST_PASSWORD)
    form.get_by_label("New password").fill("a brand new passphrase for the street")
    form.get_by_role("button").click()
    expect(form).to_contain_text("504")
    # Sent again from the sheet drawn anew (closed and reopened), as a contributor would.
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Account", exact=True).click()
    form.get_by_label("Current password").fill(TEST_PASSWORD)
    form.get_by_label("New password").fill("a brand new passphrase for the street")
    form.get_by_role("button").click()
    expect(form).to_contain_text("Password changed: your other devices are signed out.")


def test_an_account_created_whose_answer_was_lost_is_signed_in_to_when_created_again(phone, client):
    """The account was made, but the answer never reached the phone (a gateway giving up):
    the contributor creates it again, and is signed in rather than told the name is taken."""
    page = phone.page
    sent = []

    def answer_lost(route):
        sent.append(route.request.post_data_json)
        route.fulfill(status=504, content_type="text/plain", body="Gateway Timeout")

    page.route("**/api/v1/auth/register", answer_lost, times=1)
    phone.open()
    page.get_by_role("button", name="Account", exact=True).click()
    form = page.get_by_role("form", name="Create an account")
    name = f"owl_{uuid.uuid4().hex[:8]}"
    form.get_by_label("Pseudonym").fill(name)
    form.get_by_label("Password").fill(TEST_PASSWORD)
    form.get_by_role("button").click()
    expect(page.locator("#sheet")).to_contain_text("504")
    # What the server had done before the gateway gave up, once the page asks nothing more.
    page.wait_for_load_state("networkidle")
    assert client.post("/api/v1/auth/register", json=sent[0]).status_code == 201
    form.get_by_role("button").click()
    expect(page.locator("#sheet")).to_contain_text(f"Signed in as {name}")


def test_a_device_stays_in_sight_as_its_details_grow(phone, moderator, contributor):
    """Saying what is wrong with a device adds a form to its details, which rise higher over
    the map: a device just above them as they opened, left where it was, is brought into sight
    again rather than left under them."""
    pin(moderator, 2.3522, 48.8575, kind="sensor")  # high on the phone's map
    page = phone.open()
    phone.sign_in(contributor)
    sensor = ".leaflet-marker-icon[title^='sensor']"
    sheet = page.locator("#sheet")
    page.locator(sensor).click()  # in sight: the map does not move
    opened = sheet.bounding_box()["y"]
    bottom = drawn_box(page, sensor)["y"] + drawn_box(page, sensor)["height"]
    sheet.get_by_role("button", name="Wrong details").click()
    grown = sheet.bounding_box()["y"]
    assert grown < opened - 10
    # The map opened again so that the device stands between the two tops: in sight as the
    # details open (24 px clear of them, its centre), under them once they have grown.
    page.goto("about:blank")
    lower = ((opened - 2 + grown) / 2 - bottom) * 2 * math.pi / (256 * 2**18)
    centre = math.degrees(2 * math.atan(math.exp(mercator_y(48.8566) + lower)) - math.pi / 2)
    phone.open(f"#18/{centre:.7f}/2.3522")
    page.locator(sensor).click()
    expect(page.locator("#sheet-title")).to_have_text("sensor")
    assert uncovered(page, sensor) and sheet.bounding_box()["y"] == opened
    sheet.get_by_role("button", name="Wrong details").click()
    expect(sheet.get_by_label("What is wrong")).to_be_focused()
    assert comes_uncovered(page, sensor)


def test_a_device_moved_away_with_the_keyboard_is_left_there_as_its_details_grow(
    phone, moderator, contributor
):
    """The contributor panned with the arrow keys while the details showed: what they look at
    is theirs, and the details growing do not take the map back to the device."""
    pin(moderator, 2.3522, 48.8575, kind="sensor")  # high on the phone's map
    page = phone.open()
    phone.sign_in(contributor)
    sensor = ".leaflet-marker-icon[title^='sensor']"
    page.locator(sensor).click()
    expect(page.locator("#sheet-title")).to_have_text("sensor")
    page.locator("#map").focus()
    for _ in range(3):
        with page.expect_response(lambda answer: "cluster=true" in answer.url):
            page.keyboard.press("ArrowUp")  # the view goes north, the device under the details
    assert not uncovered(page, sensor)
    before = drawn_box(page, sensor)
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Wrong details").click()
    expect(sheet.get_by_label("What is wrong")).to_be_focused()
    page.wait_for_timeout(500)  # frames enough for the sheet's growth to be seen
    assert drawn_box(page, sensor) == before


def mercator_y(latitude: float) -> float:
    """Web Mercator's northing of LATITUDE, in radians of the sphere."""
    return math.log(math.tan(math.pi / 4 + math.radians(latitude) / 2))


def uncovered(page, selector: str) -> bool:
    """Whether what SELECTOR finds lies wholly in the map's part in sight: under the header,
    clear of the sheet (once the map has drawn it again, as it does as each listing comes)."""
    box = drawn_box(page, selector)
    sheet = page.locator("#sheet").bounding_box()
    header = page.locator("header").bounding_box()
    clear_of_sheet = (
        box["x"] + box["width"] <= sheet["x"]
        or box["x"] >= sheet["x"] + sheet["width"]
        or box["y"] + box["height"] <= sheet["y"]
    )
    return clear_of_sheet and box["y"] >= header["y"] + header["height"]


def test_the_pin_being_placed_stays_in_sight_beside_the_form_and_as_the_phone_turns(
    phone, contributor
):
    """Held sideways, the form is a panel at the side of the map: the pin goes beside it, not
    at the map's centre under its edge; turned, the pin is put in sight again."""
    page = phone.open()
    phone.sign_in(contributor)
    landscape, portrait = {"width": 839, "height": 412}, {"width": 390, "height": 800}
    page.set_viewport_size(landscape)
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".accuracy-circle")).to_have_count(1)
    pin = ".leaflet-marker-icon[title^='The new pin']"
    assert uncovered(page, pin)
    page.get_by_role("button", name="Move the pin to the centre of the map").click()
    assert uncovered(page, pin)
    for size in (portrait, landscape):
        page.set_viewport_size(size)
        assert comes_uncovered(page, pin), size  # the map follows the window's resize event


def test_on_a_small_phone_held_sideways_the_cone_handle_is_in_sight_too(phone, contributor):
    """667 x 375: the form rises over most of the map, and the handle of the first cone (north
    of the pin) would stand behind the header: the map zooms out until it is in sight."""
    page = phone.open("#19/48.8566/2.3522")
    phone.sign_in(contributor)
    page.set_viewport_size({"width": 667, "height": 375})
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".accuracy-circle")).to_have_count(1)
    page.get_by_role("button", name="Add a direction").click()
    assert uncovered(page, ".leaflet-marker-icon[title^='The new pin']")
    assert uncovered(page, ".cone-handle")


def test_a_device_tapped_low_on_the_map_stays_in_sight_beside_its_details(phone, moderator):
    """The details rise over the lower half of the map: the device tapped there is brought
    into the part left in sight, and one already in sight does not move."""
    pin(moderator, 2.3522, 48.8560, kind="sensor")  # low on the phone's map
    pin(moderator, 2.3522, 48.8575, kind="microphone")  # high on it
    page = phone.open()
    sensor = ".leaflet-marker-icon[title^='sensor']"
    microphone = ".leaflet-marker-icon[title^='microphone']"
    page.locator(microphone).click()
    expect(page.locator("#sheet-title")).to_have_text("microphone")
    before = drawn_box(page, microphone)
    assert uncovered(page, microphone)
    page.get_by_role("button", name="Close").click()
    assert drawn_box(page, microphone) == before  # in sight already: not moved
    # Afresh: the Back that closing a sheet makes would otherwise still be under way, and its
    # map entry's place would move the map back after the device was brought into sight.
    page.reload()
    expect(page.locator(sensor)).to_be_visible()
    assert not uncovered_by_a_sheet_as_tall_as(page, sensor, 0.5)
    page.locator(sensor).click()
    expect(page.locator("#sheet-title")).to_have_text("sensor")
    assert comes_uncovered(page, sensor)


def uncovered_by_a_sheet_as_tall_as(page, selector: str, share: float) -> bool:
    """Whether SELECTOR lies above the lower SHARE of the viewport (a sheet yet to open)."""
    box = drawn_box(page, selector)
    return box["y"] + box["height"] <= page.viewport_size["height"] * (1 - share)


def drawn_box(page, selector: str) -> dict:
    """SELECTOR's box once the map has drawn it: it removes its markers and adds them again as
    each listing comes, and one looked for in between is nowhere."""
    for _ in range(50):
        box = page.locator(selector).bounding_box()
        if box is not None:
            return box
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector} is not drawn")


def comes_uncovered(page, selector: str, seconds: float = 20) -> bool:
    """Whether SELECTOR comes into the map's part in sight within SECONDS: the map moves once
    the sheet is drawn whole, or the window resized."""
    for _ in range(int(seconds * 10)):
        if uncovered(page, selector):
            return True
        page.wait_for_timeout(100)
    return False


def test_a_public_photo_never_seen_is_said_offline_not_shown_broken(phone, moderator):
    """Kept for offline, a device's details show; its photo, never loaded online, cannot be:
    its text says it is offline, rather than the browser's broken image alone."""
    device = pin(moderator, 2.3522, 48.8566, kind="sensor")
    uploaded(moderator, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    page = phone.open()
    sensor = page.locator(".leaflet-marker-icon[title^='sensor']")
    expect(sensor).to_have_count(1)
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    sensor.click()
    expect(page.locator("#sheet .photos img")).to_have_attribute(
        "alt", "Photo 1 of this sensor (offline)"
    )


@pytest.mark.parametrize(
    ("size", "locale"), [((390, 844), "en-GB"), ((360, 740), "fr-FR")], ids=["en", "fr"]
)
def test_the_scale_stands_clear_of_the_credits(phone, size, locale):
    """On a phone the credits run as wide as the map (two lines in French): the scale stands
    above them, not under them, and the status line and pin button above both."""
    page = phone.open()
    page.set_viewport_size({"width": size[0], "height": size[1]})
    if locale == "fr-FR":
        phone.choose_language("fr")
    scale, credits = ".leaflet-control-scale", ".leaflet-control-attribution"

    def apart() -> bool:
        first, second = (page.locator(s).bounding_box() for s in (scale, credits))
        button = page.locator("#pin-button").bounding_box()
        return (
            first["y"] + first["height"] <= second["y"]
            and button["y"] + button["height"] <= first["y"]
        )

    for _ in range(50):  # once the layout followed the resize
        if apart():
            break
        page.wait_for_timeout(100)
    assert apart()


def test_the_status_line_wraps_beside_a_side_panel(phone, moderator, contributor):
    """Held sideways, an open side panel covers the right of the map: the status line (a long
    one, naming a group at one spot) wraps in the part left in sight."""
    pin(moderator, 2.3522, 48.8566, kind="sensor")
    pin(moderator, 2.3522, 48.8566, kind="microphone")
    page = phone.open("#20/48.8566/2.3522")
    phone.sign_in(contributor)
    page.set_viewport_size({"width": 844, "height": 390})
    expect(page.locator("#status")).to_contain_text("at one spot")
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".accuracy-circle")).to_have_count(1)
    status, sheet = (page.locator(s).bounding_box() for s in ("#status", "#sheet"))
    assert status["x"] + status["width"] <= sheet["x"], (status, sheet)


def test_a_phone_held_sideways_shows_the_whole_map_and_the_announcer_beside_the_panel(
    phone, moderator, contributor
):
    """844 x 390 in French: the header stays one line (no tagline), so the page fits the
    screen, credits included; a refusal announced while a side panel is open is read whole,
    beside it."""
    existing = moderator.post("/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"]))
    assert existing.status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    page.set_viewport_size({"width": 844, "height": 390})
    phone.choose_language("fr")
    expect(page.locator("#status")).to_contain_text("visible")
    assert page.evaluate("document.documentElement.scrollHeight") <= 390
    expect(page.locator(".leaflet-control-attribution")).to_be_in_viewport(ratio=1)
    page.get_by_role("button", name="Signaler un dispositif").click()
    expect(page.locator(".accuracy-circle")).to_have_count(1)
    page.get_by_role("button", name="Enregistrer").click()
    announcer = page.locator("#announcer")
    expect(announcer).to_contain_text("refusé")
    said, sheet = announcer.bounding_box(), page.locator("#sheet").bounding_box()
    assert said["x"] + said["width"] <= sheet["x"], (said, sheet)


def test_a_double_tap_on_create_an_account_registers_once(phone):
    page = phone.open()
    registrations = []
    page.on(
        "request",
        lambda r: registrations.append(r) if r.url.endswith("/api/v1/auth/register") else None,
    )
    page.get_by_role("button", name="Account", exact=True).click()
    form = page.get_by_role("form", name="Create an account")
    name = f"owl_{uuid.uuid4().hex[:8]}"
    form.get_by_label("Pseudonym").fill(name)
    form.get_by_label("Password").fill("a long passphrase")
    form.get_by_role("button").dblclick()
    expect(page.locator("#sheet")).to_contain_text(f"Signed in as {name}")
    page.wait_for_load_state("networkidle")
    assert len(registrations) == 1
    assert phone.errors == []


def test_signing_in_is_one_request_whose_answer_names_the_account(phone, db, contributor):
    """The token's answer says whose it is: no second request (GET /me) can fail once the
    token is made (a server restarting, the network lost) and leave that token valid on the
    server, held by no one."""
    page = phone.page
    page.route(
        "**/api/v1/me",
        lambda route: route.fulfill(status=503, content_type="text/plain", body="Restarting"),
    )
    asked = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/api/v1/me") else None)
    phone.open()
    page.get_by_role("button", name="Account", exact=True).click()
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("Pseudonym").fill(contributor)
    form.get_by_label("Password").fill(TEST_PASSWORD)
    form.get_by_role("button").click()
    expect(page.locator("#sheet")).to_contain_text(f"Signed in as {contributor}")
    assert asked == []
    tokens = db(
        "SELECT count(*) FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE u.username = :username AND t.name = 'Vigie app' AND t.revoked_at IS NULL",
        username=contributor,
    ).scalar_one()
    assert tokens == 1


def test_a_new_pseudonyms_rule_is_said_before_it_is_refused(phone):
    """A pseudonym "Zoé" is refused, é being no letter the API takes: the field says so beside
    it before anything is sent, and the refusal says it too."""
    page = phone.open()
    page.get_by_role("button", name="Account", exact=True).click()
    form = page.get_by_role("form", name="Create an account")
    name = form.get_by_label(
        "Pseudonym (3 to 32 letters without accents, digits, dots, dashes or underscores; "
        "one letter or digit at least)"
    )
    name.fill("Zoé")
    form.get_by_label("Password").fill("a long passphrase for her")
    form.get_by_role("button").click()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("Pseudonym: 3 to 32 letters without accents (a-z)")


def test_raster_basemap_from_the_configured_template_only(phone, app, monkeypatch):
    """Tiles come from the operator's template, credited; no request goes anywhere else."""
    monkeypatch.setitem(app.config, "BASEMAP_PMTILES", None)
    monkeypatch.setitem(app.config, "BASEMAP_URL", "https://tiles.example.test/{z}/{x}/{y}.png")
    monkeypatch.setitem(app.config, "BASEMAP_ATTRIBUTION", "© Example tiles")
    tile = images.plain_photo("PNG", size=(256, 256))
    phone.context.route(
        "https://tiles.example.test/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=tile),
    )
    page = phone.open()
    expect(page.locator("img.leaflet-tile-loaded").first).to_have_attribute(
        "src", re.compile(r"^https://tiles\.example\.test/18/\d+/\d+\.png$")
    )
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("© Example tiles")
    hosts = {urlsplit(url).netloc for url in phone.requests}
    assert hosts == {urlsplit(phone.server).netloc, "tiles.example.test"}
    assert phone.errors == []


# Every visible text's contrast with what is behind it, against WCAG 2.1 AA (a function to
# evaluate in the page; it returns the texts that fail).
LOW_CONTRAST_TEXTS = (Path(__file__).parent / "low_contrast_texts.js").read_text()


def test_texts_meet_wcag_aa_contrast(phone, contributor):
    page = phone.open()
    page.get_by_text("Kinds shown").click()  # the filter's labels, too
    assert page.evaluate(LOW_CONTRAST_TEXTS) == []
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".pin-form")).to_be_visible()
    assert page.evaluate(LOW_CONTRAST_TEXTS) == []


def contrast(first: str, second: str) -> float:
    """WCAG's contrast ratio of two CSS colours written rgb(...) or #rrggbb."""

    def luminance(colour: str) -> float:
        if colour.startswith("#"):
            channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        else:
            channels = [int(float(part)) for part in re.findall(r"[\d.]+", colour)[:3]]
        linear = [
            c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
            for c in channels
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# What focus rings and pin borders stand on: the sheet, the map's light ground, the header.
GROUNDS = {"white": "#ffffff", "land": "#f2efe9", "header": "#1a2330"}


def test_focus_rings_and_pin_borders_stand_out_3_to_1(phone, contributor):
    """WCAG 1.4.11: a focus ring shows 3:1 against what it stands on (its blue outline on light
    ground, its white halo on the header), and so do the borders that tell a pin waiting in the
    outbox or being placed."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Account", exact=True).click()
    page.keyboard.press("Tab")  # from the sheet's title to its first control, by keyboard
    ring = page.evaluate(
        r"""() => { const style = getComputedStyle(document.activeElement);
            return [style.outlineColor, style.boxShadow.match(/rgba?\([^)]*\)/)[0]]; }"""
    )
    assert min(contrast(ring[0], GROUNDS["white"]), contrast(ring[0], GROUNDS["land"])) >= 3
    assert max(contrast(tone, GROUNDS["header"]) for tone in ring) >= 3
    page.get_by_role("button", name="Close").click()
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    phone.pin(kind="camera")
    expect(page.locator(".pin.pending")).to_have_count(1)
    page.get_by_role("button", name="Pin a device").click()
    for selector in (".pin.pending", ".pin.draft"):
        border = page.locator(selector).evaluate("pin => getComputedStyle(pin).borderTopColor")
        assert min(contrast(border, ground) for ground in (GROUNDS["white"], GROUNDS["land"])) >= 3


def test_the_sheet_says_the_position_is_being_found_while_the_gps_takes_its_time(
    phone, contributor
):
    """A fix may take seconds in the street: a tap on "Pin a device" answers at once."""
    phone.context.add_init_script(
        """{ const geolocation = navigator.geolocation;
            const original = geolocation.getCurrentPosition.bind(geolocation);
            geolocation.getCurrentPosition = (ok, fail, options) =>
                setTimeout(() => original(ok, fail, options), 1500); }"""
    )
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator("#sheet")).to_contain_text("Finding your position…", timeout=1000)
    expect(page.locator(".pin-form")).to_be_visible()  # once the fix came

    # Closed before the fix came, it is no pin: the form does not come back over what the
    # contributor turned to since (their account here).
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator("#sheet")).to_contain_text("Finding your position…", timeout=1000)
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Account", exact=True).click()
    page.wait_for_timeout(2500)
    expect(page.locator("#sheet-title")).to_have_text("Account")
    expect(page.locator(".pin-form")).to_have_count(0)
    expect(page.locator(".leaflet-marker-draggable")).to_have_count(0)  # no draft pin left


def test_a_field_of_view_is_typed_once_a_direction_is_given(phone, contributor):
    """Without a direction, a field of view would be dropped without a word."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    angle = page.locator(".pin-form").get_by_label("Field of view (°)")
    expect(angle).to_be_disabled()
    page.get_by_role("button", name="Add a direction").click()
    expect(angle).to_be_enabled()
    page.get_by_role("button", name="Remove direction 1").click()
    expect(angle).to_be_disabled()


def test_removing_a_direction_keeps_the_focus_in_the_form(phone, contributor):
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    for _ in range(2):
        page.get_by_role("button", name="Add a direction").click()
    # The pin and the cones' handles are named for what they are, not by the digit they show.
    draft = page.get_by_role("img", name=re.compile("^The new pin: drag it onto the device, or"))
    expect(draft).to_be_visible()
    expect(draft).not_to_have_attribute("tabindex", "0")  # Enter would do nothing with it
    # The handles are dragged only: named by their title, out of the tab order.
    handle = page.locator(".leaflet-marker-icon[title='Direction 2 (°)']")
    expect(handle).to_be_visible()
    expect(handle).not_to_have_attribute("tabindex", "0")
    page.get_by_role("button", name="Remove direction 1").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Direction 1 (°)")).to_be_focused()  # the one now in its place
    page.get_by_role("button", name="Remove direction 1").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Add a direction")).to_be_focused()


def test_a_direction_added_from_the_keyboard_takes_the_degrees_typed(phone, db, contributor):
    """Enter on "Add a direction" gives the focus to the new field: left on the button (which
    the field stands before), the degrees typed went nowhere and the device was saved looking
    north. A tap leaves it, not to raise the phone's keyboard over the cone's handle."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    add = page.get_by_role("button", name="Add a direction")
    add.click()
    expect(add).to_be_focused()
    page.get_by_role("button", name="Remove direction 1").click()
    add.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Direction 1 (°)")).to_be_focused()
    page.keyboard.type("200")
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    phone.wait_until_sent()
    assert [list(d.direction) for d in devices_by(db, contributor)] == [[200]]


def test_the_skip_link_moves_the_focus_not_the_map(phone, moderator):
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    page = phone.open("#18/48.8566/2.3522")
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the map")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert min(box["width"], box["height"]) >= 44
    page.keyboard.press("Enter")
    expect(page.locator("#map")).to_be_focused()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("location.hash") in ("#map", "#18/48.85660/2.35220")
    expect(page.locator("#status")).to_have_text("1 device in view")
    # The credits' links are told from their text by more than colour (WCAG 1.4.1).
    credit = page.locator(".leaflet-control-attribution a").first
    assert credit.evaluate("a => getComputedStyle(a).textDecorationLine") == "underline"


def test_a_vote_keeps_the_focus_in_the_sheet(phone, moderator, contributor):
    """Its button is disabled as the vote is sent: the focus goes to where the answer shows,
    not to the page's top (WCAG 2.4.3)."""
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    page.get_by_role("button", name="Still there").focus()
    page.keyboard.press("Enter")
    phone.wait_until_sent()
    assert page.evaluate("document.getElementById('sheet').contains(document.activeElement)")
    expect(page.locator("#sheet .device-details > [aria-live]")).to_be_focused()


def test_what_a_thumb_taps_is_44_px_at_least(phone, contributor, moderator):
    """WCAG 2.5.5: what a thumb taps in the street (the header's buttons, language and link,
    the filters and their kinds, the zoom buttons, the markers of devices and of clusters) is
    44 by 44 CSS pixels at least."""
    spot = feature(2.3522, 48.8566)
    for kind in ("camera", "microphone"):  # a cluster of two...
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    lone = feature(2.35228, 48.8566)  # ...and a device alone beside it
    assert moderator.post("/api/v1/devices?force=true", json=lone).status_code == 201
    page = phone.open("#20/48.8566/2.3522")
    expect(page.locator(".leaflet-marker-icon")).to_have_count(2)
    phone.sign_in(contributor)
    page.get_by_text("Kinds shown").click()
    page.get_by_role("button", name="Menu").click()
    targets = (
        "header button:not([hidden]), header select, header a, .filters summary, #kinds label, "
        ".leaflet-control-zoom a, .leaflet-marker-icon"
    )
    sizes = page.evaluate(
        """selector => [...document.querySelectorAll(selector)]
            .filter((node) => node.offsetParent !== null)
            .map((node) => { const box = node.getBoundingClientRect();
                return [node.id || node.textContent.trim(), box.width, box.height]; })""",
        targets,
    )
    assert len(sizes) >= 8
    assert [size for size in sizes if min(size[1:]) < 44] == []


def topmost(locator) -> bool:
    """Whether what LOCATOR finds is what a tap at its middle reaches (nothing over it)."""
    return locator.evaluate(
        """node => { const box = node.getBoundingClientRect();
            const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
            return node.contains(document.elementFromPoint(x, y)); }"""
    )


def test_a_phones_header_holds_one_row_with_the_language_and_links_behind_its_menu(
    phone, moderator
):
    """At 360 px a French moderator's header is one row: the review queue, the account and a
    menu (two rows before, the language and the API documentation inline). The menu opens on
    them and Escape closes it, back on its button; a wide screen shows them all, no menu."""
    page = phone.open()
    phone.sign_in(moderator.user.username)
    page.set_viewport_size({"width": 360, "height": 740})
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Language")).to_be_hidden()
    phone.choose_language("fr")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("link", name="Documentation de l'API")).to_be_visible()
    page.get_by_label("Langue").focus()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    expect(page.get_by_label("Langue")).to_be_hidden()
    # Over an open sheet, Escape closes the menu only.
    page.get_by_role("button", name="Compte").click()
    menu.click()
    menu.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#sheet")).to_be_visible()
    page.get_by_role("button", name="Fermer").click()
    rows = {
        round(page.get_by_role("button", name=name, exact=True).bounding_box()["y"])
        for name in ("File de relecture", "Compte", "Menu")
    }
    assert len(rows) == 1 and page.locator("header").bounding_box()["height"] < 2 * 44
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(menu).to_be_hidden()
    expect(page.get_by_label("Langue")).to_be_visible()
    expect(page.get_by_role("link", name="Documentation de l'API")).to_be_visible()
    assert phone.errors == []


def test_large_text_on_a_narrow_phone_stays_within_reach(phone, contributor):
    """WCAG 1.4.4 and 1.4.10: at 320 px with text at 200 %, the open filters scroll within the
    map instead of running past its bottom, and the kinds of the pin form stay on the screen."""
    page = phone.open()
    page.set_viewport_size({"width": 320, "height": 640})
    page.add_style_tag(content="html { font-size: 200% }")
    # The header leaves the map most of the screen (it took 200 px of 640 with the language
    # and links inline, 370 px for a French moderator).
    assert page.locator("header").bounding_box()["height"] < 640 / 4
    page.get_by_text("Kinds shown").click()
    filters, main = (page.locator(s).bounding_box() for s in ("#filters", "main"))
    assert filters["y"] + filters["height"] <= main["y"] + main["height"]
    # Beside the zoom buttons, not over them; the status line above the pin button.
    zoom = page.locator(".leaflet-control-zoom").bounding_box()
    assert zoom["x"] + zoom["width"] <= filters["x"], (zoom, filters)
    status, button = (page.locator(s).bounding_box() for s in ("#status", "#pin-button"))
    assert status["y"] + status["height"] <= button["y"], (status, button)
    # Closed, the filters' summary wraps to two lines: the status line stays below it (it
    # used to rise over "shown"), and the pin button above the credits (it covered them).
    page.get_by_text("Kinds shown").click()
    expect(page.locator("#filters")).not_to_have_attribute("open", "")
    expect(page.locator("#status")).to_have_text("0 devices in view")

    def apart() -> bool:  # once the layout followed the filters' closing
        closed, status, pin_button, below = (
            page.locator(s).bounding_box()
            for s in ("#filters", "#status", "#pin-button", ".leaflet-control-attribution")
        )
        return (
            closed["y"] + closed["height"] <= status["y"]
            and pin_button["y"] + pin_button["height"] <= below["y"]
        )

    for _ in range(20):
        if apart():
            break
        page.wait_for_timeout(50)
    assert apart()
    page.get_by_text("Kinds shown").click()
    page.locator("#kinds label").last.scroll_into_view_if_needed()
    expect(page.locator("#kinds label").last).to_be_in_viewport()
    page.get_by_text("Kinds shown").click()
    phone.sign_in(contributor)
    page.evaluate("window.scrollTo(0, 0)")  # the header in sight, as the page opens
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".pin-form")).to_be_visible()
    rights = page.locator(".kind-picker label").evaluate_all(
        "labels => labels.map((label) => label.getBoundingClientRect().right)"
    )
    assert rights and max(rights) <= 320
    # The form shows whole (its title row alone showed at the screen's foot when the header
    # pushed the map below it), the strip of map above it.
    expect(page.locator("#sheet")).to_be_in_viewport(ratio=0.98)
    # The strip of map left between the header and the form is about the filters' height:
    # they step aside while the sheet is open, and the pin being placed shows.
    expect(page.locator("#filters")).to_be_hidden()
    assert topmost(page.locator(".leaflet-marker-draggable[role=img]"))
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#filters")).to_be_visible()
    # And the page scrolls back with the sheet's history entry: the header in sight again.
    expect(page.get_by_role("button", name="Account", exact=True)).to_be_in_viewport()
    assert page.evaluate("window.scrollY") == 0


def test_a_long_status_with_large_text_covers_no_control(phone, contributor, moderator):
    """WCAG 1.4.10: at 320 px with text at 200 %, a status line of many words (clusters, a pin
    not sent) scrolls within its box, under the zoom buttons and above the pin button, rather
    than rising over the header, whose buttons a tap would then miss."""
    spot = feature(HERE["longitude"], HERE["latitude"])
    for kind in ("camera", "microphone"):  # a cluster
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    phone.context.set_offline(True)
    phone.pin()
    status = page.locator("#status")
    expect(status).to_contain_text("1 pin of yours not sent yet")
    page.set_viewport_size({"width": 320, "height": 640})
    page.add_style_tag(content="html { font-size: 200% }")
    boxes = {
        name: page.locator(selector).bounding_box()
        for name, selector in (
            ("status", "#status"),
            ("zoom", ".leaflet-control-zoom"),
            ("header", "header.bar"),
            ("button", "#pin-button"),
        )
    }
    assert boxes["status"]["y"] >= boxes["zoom"]["y"] + boxes["zoom"]["height"], boxes
    assert boxes["status"]["height"] >= 60, boxes  # two lines of it at least, the rest scrolls
    assert boxes["status"]["y"] + boxes["status"]["height"] <= boxes["button"]["y"], boxes
    for control in ("#account-button", "#menu-button"):
        assert topmost(page.locator(control)), control
    page.locator("#menu-button").click()
    for control in ("#language", "header.bar nav a"):
        assert topmost(page.locator(control)), control
    phone.context.set_offline(False)


def test_with_large_text_the_header_leaves_most_of_a_phone_to_the_map(phone, contributor):
    """Text at 200 % on a Pixel 7: the header's controls keep their 44 px targets without each
    doubling them, so the header does not take half the screen."""
    page = phone.open()
    page.set_viewport_size({"width": 412, "height": 839})
    page.add_style_tag(content="html { font-size: 200% }")
    phone.sign_in(contributor)
    header = page.locator("header.bar").bounding_box()
    assert header["height"] <= 839 * 0.3
    page.locator("#menu-button").click()
    controls = page.locator("header.bar button:visible, header.bar select:visible").all()
    assert len(controls) == 3  # account, menu, language
    for control in controls:
        assert control.bounding_box()["height"] >= 44


def test_the_pin_stays_in_sight_above_the_form(phone, contributor):
    """On a phone the form covers the lower half of the map: the pin is moved above it."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".pin.draft")).to_be_visible()
    pin = page.locator(".pin.draft").bounding_box()
    sheet = page.locator("#sheet").bounding_box()
    header = page.locator("header").bounding_box()
    assert header["y"] + header["height"] <= pin["y"], (pin, header)
    assert pin["y"] + pin["height"] <= sheet["y"], (pin, sheet)


def test_the_photo_chosen_is_shown_in_the_form(phone, contributor):
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": images.plain_photo()}
    )
    preview = page.get_by_role("img", name="The photo chosen")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.naturalWidth") == 600  # drawn from the file itself
    expect(preview).to_have_attribute("src", re.compile("^blob:"))


def test_a_photo_refused_is_no_longer_shown_as_going_with_the_pin(phone, db, contributor):
    """Chosen from the gallery or the camera alike; refused (not a photo), its preview and file
    leave the form, and the pin saved goes without it, as the form said."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    chooser = page.get_by_label("Take or choose a photo")
    expect(chooser).not_to_have_attribute("capture", re.compile(".*"))
    chooser.set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all"}
    )
    form = page.locator(".pin-form")
    expect(form).to_contain_text("This photo was not kept, and the pin will go without it")
    expect(page.get_by_role("img", name="The photo chosen")).to_be_hidden()
    assert chooser.evaluate("input => input.files.length") == 0
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    assert [d.photos for d in devices_by(db, contributor)] == [0]
    assert db("SELECT count(*) FROM photos").scalar_one() == 0
    assert [e for e in phone.errors if "status of 4" not in e] == []


def test_a_photo_is_kept_through_a_server_error_and_a_refused_one_after_it(phone, db, contributor):
    """The server not answering keeps the photo for the outbox; a photo refused in its place
    leaves it as the pin's photo, shown."""
    page = phone.open()
    phone.sign_in(contributor)
    page.route(
        "**/api/v1/photos",
        lambda route: route.fulfill(status=503, content_type="text/plain", body="down"),
        times=1,
    )
    page.get_by_role("button", name="Pin a device").click()
    chooser = page.get_by_label("Take or choose a photo")
    chooser.set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": images.plain_photo()}
    )
    form = page.locator(".pin-form")
    expect(form).to_contain_text("Photo kept on this phone")
    chooser.set_input_files({"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"no"})
    expect(form).to_contain_text("This photo was not kept")
    expect(page.get_by_role("img", name="The photo chosen")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    assert [d.photos for d in devices_by(db, contributor)] == [1]


def test_a_photo_the_pin_does_not_go_with_leaves_the_server(phone, db, contributor):
    """Replaced by another, or its form given up: not left on the server, attached to nothing
    (a personal photo picked by mistake in the gallery)."""
    page = phone.open()
    phone.sign_in(contributor)
    form = page.locator(".pin-form")
    uploaded_photos = "SELECT count(*) FROM photos"

    def choose(colour):
        page.get_by_label("Take or choose a photo").set_input_files(
            {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": images.plain_photo(colour=colour)}
        )
        expect(form).to_contain_text("Photo ready.")

    page.get_by_role("button", name="Pin a device").click()
    choose("red")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    expect(form).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert db(uploaded_photos).scalar_one() == 0
    page.get_by_role("button", name="Pin a device").click()
    choose("red")
    choose("blue")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    page.wait_for_load_state("networkidle")
    assert db(uploaded_photos).scalar_one() == 1
    assert [d.photos for d in devices_by(db, contributor)] == [1]


def test_a_pin_may_be_dated_by_its_photo(phone, db, contributor):
    """A photo taken another day (its capture time, suggested by the upload, never stored)
    dates the pin, the day only, when the contributor says so."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": images.leaky_photo("JPEG")}
    )
    day = images.TAKEN_UTC[:10]
    page.get_by_role("button", name=f"Seen on {long_day(day)}, the photo's day").click()
    expect(page.locator(".pin-form")).to_contain_text(f"Seen on {long_day(day)}.")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    [device] = devices_by(db, contributor)
    assert (device.observed_day, device.observed_time) == (day, "00:00:00")


def test_two_directions_set_alike_are_sent_as_one(phone, db, contributor):
    """The API refuses a direction given twice: the form sends each direction once, rather
    than have the pin refused in the outbox."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_role("button", name="Add a direction").click()  # north
    page.get_by_role("button", name="Add a direction").click()  # east
    page.get_by_label("Direction 2 (°)").fill("0")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    [device] = devices_by(db, contributor)
    assert list(device.direction) == [0]
    assert phone.errors == []


def test_an_invalid_field_is_shown_below_the_sheets_head(phone, contributor):
    """Save scrolls to a refused field: it must not end up under the sheet's sticky head."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_role("button", name="Add a direction").click()
    direction = page.get_by_label("Direction 1 (°)")
    direction.fill("400")
    page.locator(".pin-form").get_by_label("Notes").focus()  # the form scrolled down meanwhile
    page.get_by_role("button", name="Save").click()
    expect(direction).to_be_focused()
    head = page.locator(".sheet-head").bounding_box()
    field = direction.bounding_box()
    assert field["y"] >= head["y"] + head["height"], (field, head)


def test_declared_sites_to_check_show_on_the_map(phone, isolated, tmp_path, moderator):
    """A declared site nobody found yet is a place to go and check; a found one is not shown."""
    from tests.declared import load_sites, site, write_sites

    sites = [site("77", 2.3522, 48.8566, addr="Place de l'Hôtel de Ville"), site("78", 2.3530)]
    load_sites(isolated, write_sites(tmp_path / "l.geojson", sites), address_field="addr")
    assert moderator.post("/api/v1/devices", json=feature(2.3530, 48.8566)).status_code == 201
    # Opened at a zoom that shows no sites (the layer drawn empty as the map is made).
    page = phone.open("#13/48.8566/2.3522")
    rings = page.locator("path.declared-unverified")
    expect(rings).to_have_count(0)
    with page.expect_response(lambda response: "declared/sites" in response.url):
        page.evaluate("location.hash = '#17/48.8566/2.3522'")
    expect(rings).to_have_count(1)
    expect(page.locator("path.declared-site")).to_have_count(1)
    rings.click()
    popup = page.locator(".declared-popup")
    expect(popup).to_contain_text("Declared camera site: to check")
    expect(popup).to_contain_text("Place de l'Hôtel de Ville")
    expect(popup).to_contain_text("Declared devices found within reach: 0 of 1")
    assert phone.errors == []


def test_a_tap_on_a_declared_site_whose_rings_are_drawn_again_meanwhile_opens_it(
    phone, isolated, tmp_path
):
    """The rings of the declared sites are drawn again as each of their listings comes: one
    replaced between the press and the release of a tap lost the tap, as markers did."""
    from tests.declared import load_sites, site, write_sites

    load_sites(isolated, write_sites(tmp_path / "l.geojson", [site("77", 2.3522, 48.8566)]))
    page = phone.open("#17/48.8566/2.3522")
    ring = page.locator("path.declared-unverified")
    expect(ring).to_have_count(1)
    box = ring.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    # A map that changes size (a phone turned, its toolbar hidden) asks for the sites again:
    # their answer comes while the ring is pressed.
    with page.expect_response(lambda response: "declared/sites" in response.url) as listing:
        page.set_viewport_size({"width": PHONE["viewport"]["width"], "height": 802})
    listing.value.finished()
    page.wait_for_timeout(500)
    page.mouse.up()
    popup = page.locator(".declared-popup")
    expect(popup).to_contain_text("Declared camera site: to check")
    # The redraw held for the tap, of the same sites, leaves the ring and its popup open.
    page.wait_for_timeout(1000)
    expect(popup).to_have_count(1)
    assert phone.errors == []


def test_the_devices_of_one_spot_are_listed_by_the_kinds_shown_and_named_by_their_details(
    phone, moderator
):
    details = {"camera": {"operator": "Ville de Paris"}, "microphone": {}, "sensor": {}}
    pinned = {}
    for kind, properties in details.items():
        spot = feature(2.3522, 48.8566, kind=kind, **properties)
        created = moderator.post("/api/v1/devices?force=true", json=spot)
        pinned[kind] = created.get_json()["properties"]["created_at"][:10]
    page = phone.open("#20/48.8566/2.3522")
    sheet = page.locator("#sheet")
    page.get_by_role("button", name=re.compile("^Cluster of 3 devices: ")).click()
    choices = sheet.locator(".cluster-devices button")
    expect(choices).to_have_count(3)
    expect(sheet.get_by_role("button", name="camera — Ville de Paris")).to_be_visible()
    day = long_day(pinned["microphone"])
    expect(sheet.get_by_role("button", name=f"microphone — pinned on {day}")).to_be_visible()
    sheet.get_by_role("button", name="Close").click()
    page.get_by_text("Kinds shown").click()
    page.locator("#kinds").get_by_label("camera").uncheck()
    expect(page.locator("#status")).to_contain_text(re.compile("^2 devices in view"))
    # The map draws the kinds shown from the devices kept on the phone, then again from the
    # server's answer; a tap spanning that redraw still lands (see the test below). Under a
    # loaded machine a tap once went unanswered all the same: tapped again, as a contributor
    # would.
    cluster = page.get_by_role("button", name=re.compile("^Cluster of 2 devices: "))
    for _attempt in range(3):
        cluster.click()
        try:
            expect(choices).to_have_count(2, timeout=5000)
            break
        except AssertionError:
            continue
    expect(choices).to_have_text([re.compile("^(microphone|sensor) — ")] * 2)


def test_the_kinds_hidden_stay_hidden_after_a_reload_and_a_language_change(phone, moderator):
    """The filter is the contributor's choice of what the map shows: a reload showed every kind
    again, and a language change ticked every box while the map still hid the kinds."""
    for kind, lon in (("camera", 2.3522), ("microphone", 2.3530)):
        pin(moderator, lon, 48.8566, kind=kind)
    page = phone.open("#18/48.8566/2.3526")
    status = page.locator("#status")
    expect(status).to_have_text("2 devices in view")
    page.get_by_text("Kinds shown").click()
    page.locator("#kind-camera").uncheck()
    expect(status).to_have_text("1 device in view")
    page.reload()
    expect(status).to_have_text("1 device in view")
    expect(page.locator(".leaflet-marker-icon[title^='camera']")).to_have_count(0)
    expect(page.locator("#kind-camera")).not_to_be_checked()
    # Said, or the street would look emptier than it is.
    expect(page.locator("#filters summary")).to_have_text("Kinds shown: 5 of 6")
    phone.choose_language("fr")
    expect(status).to_have_text("1 dispositif visible")
    expect(page.locator("#filters summary")).to_have_text("Types affichés : 5 sur 6")
    expect(page.locator("#kind-camera")).not_to_be_checked()
    expect(page.locator("#kind-microphone")).to_be_checked()
    page.get_by_text("Types affichés").click()
    page.locator("#kind-camera").check()
    expect(status).to_have_text("2 dispositifs visibles")
    page.reload()
    expect(status).to_have_text("2 dispositifs visibles")
    expect(page.locator("#filters summary")).to_have_text("Types affichés")


def test_an_area_seen_while_kinds_are_hidden_is_kept_with_every_kind(phone, moderator):
    """Hidden kinds now last past a reload: an area seen meanwhile was kept for offline use
    only when every kind showed, so none was ever kept again. It is kept whole."""
    for kind, lon in (("camera", 2.3522), ("microphone", 2.3530)):
        pin(moderator, lon, 48.8566, kind=kind)
    page = phone.open("#18/48.80/2.30")  # nothing there
    status = page.locator("#status")
    expect(status).to_have_text("0 devices in view")
    page.get_by_text("Kinds shown").click()
    page.locator("#kind-camera").uncheck()
    page.evaluate("location.hash = '#18/48.8566/2.3526'")
    expect(status).to_have_text("1 device in view")
    page.wait_for_load_state("networkidle")
    phone.context.set_offline(True)
    page.locator("#kind-camera").check()
    expect(status).to_have_text("Offline: 2 devices kept on this phone")
    phone.context.set_offline(False)


def test_a_tap_whose_press_spans_a_redraw_of_the_map_opens_what_was_pressed(phone, moderator):
    """The map draws its markers again as each listing comes: a marker replaced between the
    press and the release of a tap is clicked by neither, and the tap was lost. Redraws now
    wait for the tap to end, and then run."""
    for kind, lon in (("camera", 2.3522), ("microphone", 2.3530)):
        assert (
            moderator.post(
                "/api/v1/devices?force=true", json=feature(lon, 48.8566, kind=kind)
            ).status_code
            == 201
        )
    page = phone.open("#18/48.8566/2.3526")
    expect(page.locator("#status")).to_contain_text(re.compile("^2 devices in view"))
    box = drawn_box(page, ".leaflet-marker-icon[title^='camera']")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    # Unticked meanwhile (as a second finger could), microphones leave the map: its answer
    # comes while the camera is pressed.
    with page.expect_response(lambda response: "kind=" in response.url) as listing:
        page.locator("#kinds").get_by_label("microphone").evaluate("box => box.click()")
    listing.value.finished()
    page.wait_for_timeout(500)
    page.mouse.up()
    expect(page.locator("#sheet").get_by_role("heading", name="camera")).to_be_visible()
    # The redraw held for the tap has run since.
    expect(page.locator("#status")).to_contain_text(re.compile("^1 device in view"))
    expect(page.locator(".leaflet-marker-icon[title^='microphone']")).to_have_count(0)


def test_devices_at_one_spot_are_chosen_from_their_cluster_and_markers_open_by_keyboard(
    phone, moderator
):
    """Zooming in cannot part devices pinned at the same spot: close up (zoom 19, a cluster
    at most 1.2 m wide; it used to zoom in once more first), the cluster lists them. A marker
    opens with Enter as with a tap, and gets the focus back when the sheet closes."""
    spot = feature(2.3522, 48.8566)
    for kind in ("camera", "microphone"):
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    lone = feature(2.35228, 48.8566)  # 4 m east: apart at this zoom
    assert moderator.post("/api/v1/devices?force=true", json=lone).status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    # Close up, a cluster no longer zooms in: the status says what it does.
    expect(page.locator("#status")).to_have_text(
        "3 devices in view (1 group of devices at one spot; select it to choose among them)"
    )
    # Named by its title, not by the count it shows.
    page.get_by_role("button", name=re.compile("^Cluster of 2 devices: ")).click()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="2 devices at this spot")).to_be_visible()
    sheet.get_by_role("button", name=re.compile("^microphone — ")).click()
    expect(sheet.get_by_role("heading", name="microphone")).to_be_visible()
    sheet.get_by_role("button", name="Close").click()
    lone = page.locator(".leaflet-marker-icon[title^='camera']")
    lone.focus()
    page.keyboard.press("Enter")
    expect(sheet.get_by_role("heading", name="camera")).to_be_visible()
    cluster = page.locator(".leaflet-marker-icon[title^='Cluster of 2']")
    cluster.focus()  # another marker, opened over the details still shown
    page.keyboard.press("Enter")
    expect(sheet.get_by_role("heading", name="2 devices at this spot")).to_be_visible()
    page.keyboard.press("Escape")  # closing gives the focus back to what opened the sheet
    expect(sheet).to_be_hidden()
    expect(cluster).to_be_focused()
    lone.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(lone).to_be_focused()
    account = page.locator("#account-button")
    account.focus()
    page.keyboard.press("Enter")
    sheet.get_by_role("button", name="Close").click()
    expect(account).to_be_focused()
    assert phone.errors == []


def test_the_keyboards_focus_outlives_the_markers_drawn_again(phone, as_user):
    """An edit saved from a device chosen in a cluster's list gives the focus back to the
    cluster's marker, which the map then draws again: the focus goes to the marker drawn in its
    place, not to the page's start. Each device's marker is named by what tells it apart."""
    author = as_user()
    spot = feature(2.3522, 48.8566)
    for kind in ("camera", "microphone"):
        spot["properties"]["kind"] = kind
        assert author.post("/api/v1/devices?force=true", json=spot).status_code == 201
    lone = feature(2.35228, 48.8566, operator="Ville de Paris")  # 4 m east: apart at this zoom
    assert author.post("/api/v1/devices?force=true", json=lone).status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    phone.sign_in(author.user.username)
    page.wait_for_load_state("networkidle")
    cluster = page.locator(".leaflet-marker-icon[title^='Cluster of 2']")
    cluster.focus()
    page.keyboard.press("Enter")
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name=re.compile("^microphone — ")).click()
    sheet.get_by_role("button", name="Edit").click()
    page.get_by_label("Height (m)").fill("4")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".leaflet-marker-icon[title^='Cluster of 2']")).to_be_focused()
    page.keyboard.press("Enter")  # still the keyboard's way to the devices
    expect(sheet.get_by_role("heading", name="2 devices at this spot")).to_be_visible()
    page.keyboard.press("Escape")
    named = page.get_by_role("button", name="camera — Ville de Paris — awaiting review")
    expect(named).to_have_attribute("title", "camera — awaiting review")  # its tooltip short
    assert phone.errors == []


def test_a_cluster_drawn_online_lists_its_devices_kept_on_the_phone_once_offline(phone, moderator):
    """The server's clusters carry no members: tapped once the network is gone, one asked the
    server for its devices and said it could not, though the phone keeps them."""
    spot = feature(2.3522, 48.8566)
    for kind in ("camera", "microphone"):
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    cluster = page.get_by_role("button", name=re.compile("^Cluster of 2 devices: "))
    expect(cluster).to_be_visible()
    page.wait_for_load_state("networkidle")  # the area kept on the phone
    phone.context.set_offline(True)
    cluster.click()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="2 devices at this spot")).to_be_visible()
    expect(sheet.locator(".cluster-devices button")).to_have_text(
        [re.compile("^(camera|microphone) — ")] * 2
    )
    sheet.get_by_role("button", name=re.compile("^microphone — ")).click()
    expect(sheet.get_by_role("heading", name="microphone")).to_be_visible()
    phone.context.set_offline(False)


def test_offline_a_spots_cluster_counts_and_lists_the_kinds_shown_only(phone, moderator):
    """Grouped on the phone as the server groups online: a kind hidden is neither counted in
    the cluster nor said missing from its list."""
    spot = feature(2.3522, 48.8566)
    for kind in ("camera", "microphone", "sensor"):
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    expect(page.get_by_role("button", name=re.compile("^Cluster of 3 devices: "))).to_be_visible()
    page.wait_for_load_state("networkidle")  # the area kept on the phone
    phone.context.set_offline(True)
    page.get_by_text("Kinds shown").click()
    page.locator("#kind-camera").uncheck()
    expect(page.locator("#status")).to_have_text("Offline: 2 devices kept on this phone")
    page.get_by_text("Kinds shown").click()
    page.get_by_role("button", name=re.compile("^Cluster of 2 devices: ")).click()
    sheet = page.locator("#sheet")
    expect(sheet.locator(".cluster-devices button")).to_have_text(
        [re.compile("^(microphone|sensor) — ")] * 2
    )
    expect(sheet).not_to_contain_text("not kept on this phone")
    phone.context.set_offline(False)


def test_a_cluster_whose_devices_the_phone_does_not_keep_says_so_offline(phone, moderator):
    """Offline, a cluster lists the devices of its own spot the phone keeps, not the nearest
    others of the view, and says how many it does not keep."""
    spot = feature(2.3522, 48.8566)
    for kind in ("camera", "microphone"):
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    pin(moderator, 2.35247, 48.8566, kind="sensor")  # 20 m east of the spot
    page = phone.page
    # Seen alone first (the spot 50 m west, out of view): the phone keeps the sensor.
    page.goto(f"{phone.server}/#19/48.8566/2.35288")
    expect(page.locator("#status")).to_have_text("1 device in view")
    # Then the spot, whose devices one by one do not fit in one answer: not kept.
    more = {"type": "FeatureCollection", "features": [], "links": [{"rel": "next", "href": "/"}]}
    one_by_one = re.compile(r"/api/v1/devices\?bbox=")
    page.route(one_by_one, lambda route: route.fulfill(json=more))
    page.evaluate("location.hash = '#19/48.8566/2.3522'")
    cluster = page.get_by_role("button", name=re.compile("^Cluster of 2 devices: "))
    expect(cluster).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.unroute(one_by_one)
    phone.context.set_offline(True)
    cluster.click()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="2 devices at this spot")).to_be_visible()
    expect(sheet).to_contain_text("2 of them are not kept on this phone: they show once online.")
    expect(sheet.locator(".cluster-devices button")).to_have_count(0)  # not the sensor
    phone.context.set_offline(False)


def test_wrong_details_say_what_is_wrong(phone, db, moderator, contributor):
    """Moderators act on what is wrong: the vote carries the contributor's words."""
    seen = moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="camera"))
    page = phone.open()
    phone.sign_in(contributor)
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    page.get_by_role("button", name="Wrong details").click()
    what = page.get_by_label(re.compile("^What is wrong"))
    expect(what).to_be_focused()
    # Saying nothing of what is wrong is no answer (the server refuses it): asked first.
    for said in ("", "   ", "\u200b"):  # a zero-width space: nothing shows, the server refuses
        what.fill(said)
        page.get_by_role("button", name="Send", exact=True).click()
        expect(what).to_be_focused()
        assert what.evaluate("field => field.validationMessage") == "Fill in this field."
    assert db("SELECT count(*) FROM confirmations").scalar() == 0
    what.fill("A dome, not a fixed camera; it looks at the bus stop")
    page.get_by_role("button", name="Send", exact=True).click()
    phone.wait_until_sent()
    vote = db(
        "SELECT verdict, comment FROM confirmations WHERE device_id = :id", id=seen.get_json()["id"]
    ).one()
    assert tuple(vote) == ("wrong_details", "A dome, not a fixed camera; it looks at the bus stop")


def test_a_vote_shows_the_level_it_brought_and_ones_own_pin_is_not_voted_on(
    phone, db, moderator, contributor
):
    seen = moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="camera"))
    page = phone.open()
    phone.sign_in(contributor)
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    level = page.locator(".device-details dt:text-is('Verification') + dd")
    expect(level).to_have_text("reported")
    page.get_by_role("button", name="Still there").click()
    phone.wait_until_sent()
    # Seen by a second person: confirmed, on the server and on the sheet at once.
    stored = db("SELECT verification FROM devices WHERE id = :id", id=seen.get_json()["id"])
    assert stored.scalar_one() == "confirmed"
    expect(level).to_have_text("confirmed")
    page.get_by_role("button", name="Close").click()
    # Their own pin awaiting review offers no vote, which would count for nothing.
    phone.pin(kind="sensor", east=2)  # apart from the camera
    phone.wait_until_sent()
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    expect(page.locator(".device-details")).to_be_visible()
    expect(page.get_by_role("button", name="Edit")).to_be_visible()
    expect(page.get_by_role("button", name="Still there")).to_have_count(0)
    # Its history, in French: the actions and fields as the page names them, and a change
    # from what to what (a moderator marks it planned meanwhile).
    page.get_by_role("button", name="Close").click()
    [sensor] = devices_by(db, contributor).all()
    url = f"/api/v1/devices/{sensor.id}"
    planned = {"properties": {"status": "planned"}}
    etag = moderator.get(url).headers["ETag"]
    assert moderator.patch(url, json=planned, headers={"If-Match": etag}).status_code == 200
    phone.choose_language("fr")
    page.locator(".leaflet-marker-icon[title^='capteur']").click()
    page.get_by_role("button", name="Voir l'historique").click()
    expect(page.locator(".history li").first).to_have_text(
        re.compile(rf"^\d{{1,2}}(er)? \S+ \d{{4}} — création — {contributor} : ")
    )
    expect(page.locator(".history li").last).to_have_text(
        re.compile(r" — modification : État (actif|inconnu) → prévu$")  # the moderator unnamed
    )


def test_a_refused_vote_says_so_and_leaves_no_dead_end(phone, db, moderator, contributor):
    device = moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="sensor"))
    page = phone.open()
    phone.sign_in(contributor)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Still there").dblclick()  # one vote, said once
    expect(sheet).to_contain_text("Thank you: your answer is recorded.")
    expect(sheet.get_by_role("button", name="Not found")).to_be_disabled()
    expect(sheet.get_by_role("button", name="Not found")).to_have_css("opacity", "0.45")
    expect(sheet).not_to_contain_text("not recorded")
    sheet.get_by_role("button", name="Close").click()
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    sheet.get_by_role("button", name="Not found").click()  # a second vote within 30 days
    expect(sheet).to_contain_text("Your answer was not recorded: You already voted")
    # Its days as English writes them, not as the API sends them (2026-12-06).
    expect(sheet).to_contain_text(re.compile(r"again from (\w+ \d+, \d{4}|\d+ \w+ \d{4})\."))
    # Said once to a screen reader (by the announcer), shown in the sheet too.
    refusal = "Your answer was not recorded"
    expect(page.locator("#announcer")).to_contain_text(refusal)
    said = page.locator("[role=alert], [role=status], [aria-live]").filter(has_text=refusal)
    expect(said).to_have_count(1)
    expect(page.locator("#outbox-button")).to_be_hidden()
    assert confirmations_of(db, device.get_json()["id"]) == [("still_there", contributor)]
    # What a refused "wrong details" said stays in its form, not lost with the vote.
    sheet.get_by_role("button", name="Wrong details").click()
    sheet.get_by_label(re.compile("^What is wrong")).fill("It films the school yard.")
    sheet.get_by_role("button", name="Send").dblclick()  # one vote sent, refused once
    expect(sheet.get_by_text("Your answer was not recorded")).to_have_count(1)
    expect(sheet.get_by_label(re.compile("^What is wrong"))).to_have_value(
        "It films the school yard."
    )
    assert [error for error in phone.errors if "status of 409" not in error] == []


def test_online_a_refused_duplicate_joins_the_device_at_its_spot(phone, moderator, contributor):
    """Refused as a likely duplicate 0 m from a camera, the pin was drawn over it: a tap
    reached one of the two only. Online too, they are grouped at their spot, whose list
    names both, each with its state."""
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    phone.sign_in(contributor)
    refused_as_a_duplicate(phone)
    group = page.get_by_role("button", name=re.compile("^Cluster of 2 devices: "))
    expect(group).to_have_attribute(
        "title", re.compile(r"^Cluster of 2 devices: 2 cameras \(1 with changes not sent yet\)$")
    )
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    expect(page.locator("#status")).to_have_text(
        re.compile("^1 device in view .* and 1 pin of yours not sent yet$")
    )
    group.click()
    sheet = page.locator("#sheet")
    expect(sheet.locator(".cluster-devices button")).to_have_count(2)
    sheet.get_by_role("button", name=re.compile(r"^camera — .*refused pin")).click()
    expect(sheet.get_by_role("alert")).to_contain_text("already pinned close by")
    expect(sheet.get_by_role("button", name="Correct this pin")).to_be_visible()
    assert [error for error in phone.errors if "status of 409" not in error] == []


def test_a_shared_phone_keeps_each_accounts_unsent_pins_to_itself(
    phone, db, moderator, contributor, as_user
):
    """A pin refused as a likely duplicate waits in the outbox: after its author signs out,
    the next account neither sees it nor sends it; its author finds it again. A double tap
    on Save makes one pin."""
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    other = as_user()
    page = phone.open()
    phone.sign_in(contributor)
    sheet = refused_as_a_duplicate(phone)
    expect(page.locator("#outbox-button")).to_contain_text("1 change refused")
    # Grouped with the camera it may duplicate, at its spot.
    refused_pin = page.locator(".leaflet-marker-icon[title$='(1 with changes not sent yet)']")
    expect(refused_pin).to_have_count(1)
    page.get_by_role("button", name="Account", exact=True).click()
    sheet.get_by_role("button", name="Sign out", exact=True).click()
    # Told first what stays on the phone.
    expect(sheet).to_contain_text("1 change of this account was refused by the server")
    sheet.get_by_role("button", name="Keep them and sign out").click()
    sheet.get_by_role("button", name="Close").click()
    expect(page.locator("#outbox-button")).to_be_hidden()
    expect(refused_pin).to_have_count(0)

    phone.sign_in(other.user.username)
    expect(page.locator("#outbox-button")).to_be_hidden()
    page.get_by_role("button", name="Pin a device").click()
    page.locator(".pin-form").get_by_label(re.compile("^sensor$")).check()
    page.get_by_role("button", name="Save").dblclick()
    phone.wait_until_sent()
    assert [d.kind for d in devices_by(db, other.user.username)] == ["sensor"]
    assert devices_by(db, contributor).all() == []
    page.get_by_role("button", name="Account", exact=True).click()
    sheet.get_by_role("button", name="Sign out", exact=True).click()
    sheet.get_by_role("button", name="Close").click()

    phone.sign_in(contributor)
    expect(page.locator("#outbox-button")).to_contain_text("1 change refused")


def expect_said_as_a_refusal(page, *texts):
    """The announcer shows every one of TEXTS, in the colours of a refusal."""
    announcer = page.locator("#announcer")
    for text in texts:
        expect(announcer).to_contain_text(text)
    expect(announcer).to_have_attribute("data-tone", "refusal")


def pinned_offline(phone, username: str, **pin):
    """The phone signed in as USERNAME, offline, one pin (PIN: Phone.pin's options) kept in its
    outbox: (the page, the outbox's button)."""
    page = phone.open()
    phone.sign_in(username)
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    phone.pin(**pin)
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    return page, outbox


def kept_photo(page) -> bytes:
    """The bytes of the photo the outbox keeps with its first change."""
    return bytes(
        page.evaluate(
            """() => new Promise((resolve) => { indexedDB.open("vigie").onsuccess = (event) => {
            const outbox = event.target.result.transaction("outbox").objectStore("outbox");
            const request = outbox.getAll();
            request.onsuccess = async () => resolve(
                [...new Uint8Array(await request.result[0].photo.arrayBuffer())]); }; })"""
        )
    )


def test_a_photo_kept_offline_holds_nothing_of_what_its_file_said(phone, db, contributor):
    """The outbox keeps the photo until the network comes back: a seized phone must not give
    away where and when it was taken, nor the phone's serial number. The copy kept is drawn
    again, upright, without them; it is the one sent."""
    original = images.leaky_photo("JPEG", size=(600, 200), orientation=6)
    assert images.SERIAL.encode() in original
    page, _outbox = pinned_offline(phone, contributor, kind="camera", photo=original)
    kept = kept_photo(page)
    assert images.SERIAL.encode() not in kept and b"Exif" not in kept and b"GPS" not in kept
    with Image.open(io.BytesIO(kept)) as picture:
        assert picture.format == "JPEG" and picture.size == (200, 600)  # turned upright
        assert not picture.getexif(), dict(picture.getexif())
        # The browser's own sRGB profile at most, the same on every phone (none of the file's).
        profile = picture.info.get("icc_profile")
        if profile is not None:
            described = ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile.profile_description
            assert described in ("sRGB", "sRGB IEC61966-2.1"), described
    phone.context.set_offline(False)
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert device.photos == 1
    assert db("SELECT width, height FROM photos").one() == (200, 600)


def test_a_photo_the_phone_cannot_draw_is_kept_without_its_metadata_segments(
    phone, db, contributor
):
    """A JPEG the browser does not draw again (a decoder it lacks, a canvas too large) is kept
    with its metadata segments dropped and whatever follows its end, not as its file."""
    phone.context.add_init_script("window.createImageBitmap = () => Promise.reject(new Error())")
    original = images.leaky_photo("JPEG", size=(600, 200), orientation=6) + b"TRAILER-SN-42"
    page, _outbox = pinned_offline(phone, contributor, kind="camera", photo=original)
    kept = kept_photo(page)
    for said in (images.SERIAL.encode(), b"Exif", b"GPS", b"TRAILER"):
        assert said not in kept, said
    with Image.open(io.BytesIO(kept)) as picture:
        assert picture.size == (600, 200) and not picture.getexif()  # not turned, whole
        picture.load()
    phone.context.set_offline(False)
    phone.wait_until_sent()
    assert devices_by(db, contributor).one().photos == 1


def test_offline_a_photo_the_phone_can_neither_draw_nor_clean_is_said_not_kept(
    phone, db, contributor
):
    """A JPEG whose segments cannot be read is kept neither drawn again nor cleaned: said when
    it is chosen, where the form said it was kept and the pin then went without it, unsaid."""
    page = phone.open()
    phone.sign_in(contributor)
    phone.context.set_offline(True)
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0" + b"x" * 64}
    )
    form = page.locator(".pin-form")
    expect(form).to_contain_text("This photo cannot be read on this phone")
    expect(form).not_to_contain_text("Photo kept on this phone")
    expect(form.get_by_role("button", name="Remove this photo")).to_be_hidden()
    expect(form.locator(".photo-preview")).to_be_hidden()
    page.get_by_role("button", name="Save").click()
    phone.context.set_offline(False)
    phone.wait_until_sent()
    assert devices_by(db, contributor).one().photos == 0


def test_a_photo_stored_with_its_answer_lost_is_sent_again_as_its_copy(phone, db, contributor):
    """Saved while its upload was under way, whose answer is then lost though the server stored
    it: the outbox sends the copy it keeps, under a key of its own (the file's key with other
    bytes would be refused), and the pin goes with its photo."""
    page = phone.open()
    phone.sign_in(contributor)
    held = []
    page.route(
        "**/api/v1/photos",
        lambda route: held.append(route) if route.request.method == "POST" else route.fallback(),
    )
    page.get_by_role("button", name="Pin a device").click()
    page.locator(".pin-form").get_by_label(re.compile("^camera$")).check()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": images.leaky_photo("JPEG")}
    )
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(100)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".pin-form")).to_be_hidden()
    assert held[0].fetch().status == 201  # stored on the server...
    held[0].abort()  # ...its answer lost on the way back
    page.unroute("**/api/v1/photos")
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert device.photos == 1
    # The first one, attached to nothing, waits for the cleanup of loose photos.
    assert db("SELECT count(*) FROM photos WHERE device_id IS NULL").scalar_one() == 1
    assert [error for error in phone.errors if "ERR_FAILED" not in error] == []  # the abort


def test_a_direction_emptied_is_refused_in_the_form_not_sent_as_north(phone, db, contributor):
    """Typed then erased, a direction field reads as 0: the form asks for the degrees rather
    than publish a north nobody measured."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    form = page.locator(".pin-form")
    form.get_by_label(re.compile("^camera$")).check()
    form.get_by_role("button", name="Add a direction").click()
    # Its handle is dragged only: no Tab stop where no key would turn it.
    handle = page.locator(".leaflet-marker-icon", has=page.locator(".cone-handle"))
    assert handle.get_attribute("tabindex") is None and handle.get_attribute("role") is None
    direction = form.get_by_label("Direction 1 (°)")
    direction.fill("45")
    direction.fill("")
    form.get_by_role("button", name="Save").click()
    expect(direction).to_be_focused()
    assert direction.evaluate("input => input.validationMessage") == "Fill in this field."
    assert outbox_count(page) == 0
    direction.fill("135")
    form.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert device.direction == [135]


def test_with_motion_reduced_the_map_jumps_rather_than_glides(phone):
    """prefers-reduced-motion: an arrow key moves the map at once, no glide (WCAG 2.3.3)."""
    page = phone.open()
    page.emulate_media(reduced_motion="reduce")
    page.reload()
    page.wait_for_load_state("networkidle")
    page.locator("#map").focus()
    moved = page.evaluate(
        """() => {
            document.getElementById("map").dispatchEvent(
                new KeyboardEvent("keydown", { key: "ArrowRight", keyCode: 39, bubbles: true }));
            return document.querySelector(".leaflet-map-pane").style.transform;
        }"""
    )
    assert moved.startswith("translate3d(-80px, 0px"), moved
    assert phone.errors == []


def test_notes_of_invisible_characters_alone_are_no_notes(phone, db, contributor):
    """A zero-width space says nothing: the server would refuse it once the form is gone, and
    the pin would wait in the outbox, refused. The form sends the pin without notes."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    form = page.locator(".pin-form")
    form.get_by_label(re.compile("^sensor$")).check()
    form.get_by_label("Notes").fill("\u200b \u2060")
    form.get_by_role("textbox", name="Operator").fill(" City hall\u200b ")
    form.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    notes, operator = db(
        "SELECT notes, operator FROM devices d JOIN users u ON u.id = d.created_by"
        " WHERE u.username = :username",
        username=contributor,
    ).one()
    assert notes is None and operator == "City hall\u200b"


def test_signing_out_offline_leaves_this_phone_with_nothing_of_the_account(phone, contributor):
    """On a shared phone without network: the token cannot be revoked, but the contributor may
    still leave this phone, and take their unsent changes with them rather than leave them
    readable to the next person."""
    page, outbox = pinned_offline(phone, contributor, kind="sensor")
    page.get_by_role("button", name="Account", exact=True).click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Sign out", exact=True).click()
    sheet.get_by_role("button", name="Discard them and sign out").click()
    expect(sheet).to_contain_text("Connect to the network to sign out")
    sheet.get_by_role("button", name="Sign out of this phone only").click()
    expect(sheet).to_contain_text("Signed out of this phone")
    expect(sheet.get_by_role("form", name="Sign in")).to_be_visible()
    expect(outbox).to_be_hidden()
    kept = page.evaluate(
        """() => new Promise((resolve) => { indexedDB.open("vigie").onsuccess = (event) => {
            const request = event.target.result.transaction("outbox").objectStore("outbox").count();
            request.onsuccess = () => resolve(request.result); }; })"""
    )
    assert kept == 0


def test_an_offline_pin_whose_photo_is_refused_can_go_without_it(phone, db, contributor):
    """The server refuses the photo kept offline (a GIF): the pin is not lost with it."""
    gif = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(gif, "GIF")
    page, outbox = pinned_offline(phone, contributor, kind="microphone", photo=gif.getvalue())
    phone.context.set_offline(False)
    expect(outbox).to_contain_text("1 change refused")
    expect(page.locator("#announcer")).to_contain_text("1 change refused")
    outbox.click()
    # The same photo sent again would be refused again: no "Try again" to offer.
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)
    page.get_by_role("button", name="Send it without the photo").click()
    phone.wait_until_sent()
    expect(page.locator(".outbox")).to_have_count(0)  # the emptied list closes
    [device] = devices_by(db, contributor).all()
    assert (device.kind, device.photos) == ("microphone", 0)
    expected = ("status of 415", "ERR_INTERNET_DISCONNECTED")  # the refusal, the offline tries
    assert [e for e in phone.errors if not any(text in e for text in expected)] == []


def test_offline_the_photos_position_and_day_are_read_on_the_phone(phone, db, contributor):
    """Without a network the server cannot read the photo: the phone does, so that the pin
    still goes where the photo was taken and is dated by its day if asked."""
    page, outbox = pinned_offline(phone, contributor, kind="microphone")
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": images.leaky_photo("JPEG")}
    )
    form = page.locator(".pin-form")
    form.get_by_label(re.compile("^camera$")).check()
    expect(form).to_contain_text("Photo kept on this phone")
    form.get_by_role("button", name="Use the photo's position").click()
    form.get_by_role("button", name=re.compile("^Seen on November 1, 2026")).click()
    page.get_by_role("button", name="Save").click()
    expect(outbox).to_have_text("2 changes waiting to be sent")
    phone.context.set_offline(False)
    phone.wait_until_sent(2)
    placed = [d for d in devices_by(db, contributor) if d.kind == "camera"]
    assert len(placed) == 1 and placed[0].photos == 1
    assert placed[0].lat == pytest.approx(images.LAT_DEG, abs=1e-5)
    assert placed[0].lon == pytest.approx(images.LON_DEG, abs=1e-5)
    assert placed[0].observed_day == images.TAKEN_LOCAL[:10].replace(":", "-")


def test_offline_a_photo_at_0_0_offers_no_position(phone, contributor):
    """0, 0 is what a phone with no fix writes: the server suggests nothing for it, nor does
    the phone reading the photo offline (the pin would go to the Gulf of Guinea)."""
    exif = images.leaky_exif(orientation=1)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitude] = (0.0, 0.0, 0.0)
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 0.0, 0.0)
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 90, 90)).save(out, "JPEG", exif=exif.tobytes())
    page, _outbox = pinned_offline(phone, contributor, kind="microphone")
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}
    )
    form = page.locator(".pin-form")
    expect(form).to_contain_text("Photo kept on this phone")
    # Its day is read (the same EXIF block): its position is not offered.
    expect(form.get_by_role("button", name=re.compile("^Seen on "))).to_be_visible()
    expect(form.get_by_role("button", name="Use the photo's position")).to_have_count(0)


def photo_taken(clock: str, zone: str | None) -> bytes:
    """A JPEG with a GPS position, taken at CLOCK (EXIF's form) in ZONE (None: not said)."""
    exif = images.leaky_exif(orientation=1)
    taken = exif.get_ifd(ExifTags.IFD.Exif)
    taken[ExifTags.Base.DateTimeOriginal] = clock
    if zone is None:
        del taken[ExifTags.Base.OffsetTimeOriginal]
    else:
        taken[ExifTags.Base.OffsetTimeOriginal] = zone
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 90, 90)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize(
    ("zone", "day"),
    [("-05:00", "2026-11-21"), (None, None)],  # 23:30 at -05:00 is the 21st in UTC
)
def test_offline_the_phone_reads_the_photos_day_as_the_server_does(
    phone, contributor, as_user, zone, day
):
    """The server gives the day of the UTC instant, and none for a clock that does not say its
    zone (either day around midnight): the phone, offline, offers the same."""
    photo = photo_taken("2026:11:20 23:30:00", zone)
    online = uploaded(as_user(), photo)["taken_at"]
    assert (online or "")[:10] == (day or "")
    page, _outbox = pinned_offline(phone, contributor, kind="microphone")
    page.get_by_role("button", name="Pin a device").click()
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    form = page.locator(".pin-form")
    expect(form.get_by_role("button", name="Use the photo's position")).to_be_visible()
    seen_on = form.get_by_role("button", name=re.compile("^Seen on"))
    if day is None:
        expect(seen_on).to_have_count(0)
    else:
        expect(seen_on).to_have_text(f"Seen on {long_day(day)}, the photo's day")


def test_a_pass_that_sent_some_and_had_others_refused_says_both(phone, db, contributor):
    """The refusals are said in red, and what was sent in the same pass with them (not replaced
    by them at once)."""
    gif = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(gif, "GIF")
    page, outbox = pinned_offline(phone, contributor, kind="microphone", photo=gif.getvalue())
    phone.pin(kind="sensor")
    expect(outbox).to_have_text("2 changes waiting to be sent")
    phone.context.set_offline(False)
    expect_said_as_a_refusal(page, "1 change sent", "1 change refused")
    assert [d.kind for d in devices_by(db, contributor)] == ["sensor"]


def test_a_pin_in_the_outbox_is_corrected_or_discarded_before_it_goes(phone, db, contributor):
    """Pinned offline in the street: a wrong kind is corrected from the outbox (the photo and
    the place kept), a pin made by mistake discarded; only the corrected one is sent."""
    page, outbox = pinned_offline(phone, contributor, kind="camera", photo=images.plain_photo())
    phone.pin(kind="sensor")
    expect(outbox).to_have_text("2 changes waiting to be sent")
    outbox.click()
    page.locator(".outbox-item").nth(0).get_by_role("button", name="Correct this pin").click()
    form = page.locator(".pin-form")
    expect(form.locator(".photo-preview")).to_be_visible()  # the photo kept on the phone
    form.get_by_label(re.compile("^microphone$")).check()
    page.get_by_role("button", name="Save").click()
    expect(outbox).to_have_text("2 changes waiting to be sent")
    outbox.click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".outbox-item").nth(1).get_by_role("button", name="Discard").click()
    expect(outbox).to_have_text("1 change waiting to be sent")
    page.get_by_role("button", name="Close").click()
    phone.context.set_offline(False)
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert (device.kind, device.photos) == ("microphone", 1)
    assert (round(device.lon, 4), round(device.lat, 4)) == (2.3522, 48.8566)


def test_a_pin_sent_while_it_is_corrected_takes_the_correction_as_an_edit(phone, db, contributor):
    """The network came back while the contributor corrected a pin kept offline: the pin went
    as it was, and the correction goes as an edit of it, not lost in an outbox that could then
    neither send nor discard it."""
    page, outbox = pinned_offline(phone, contributor, kind="camera")
    outbox.click()
    page.locator(".outbox-item").get_by_role("button", name="Correct this pin").click()
    page.locator(".pin-form").get_by_label(re.compile("^microphone$")).check()
    phone.context.set_offline(False)
    phone.wait_until_sent()  # the pin, as it was, the form still open
    assert [device.kind for device in devices_by(db, contributor)] == ["camera"]
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    assert [device.kind for device in devices_by(db, contributor)] == ["microphone"]
    # The pin of the same id answered as the contributor's own (409), then edited.
    expected = ("ERR_INTERNET_DISCONNECTED", "status of 409")
    assert [e for e in phone.errors if not any(text in e for text in expected)] == []


def test_the_contributions_shown_follow_what_a_pass_sends(phone, contributor):
    """The Account sheet open when the network comes back: the pin sent meanwhile is listed."""
    page, _ = pinned_offline(phone, contributor, kind="camera")
    page.get_by_role("button", name="Account", exact=True).click()
    contributions = page.locator(".contributions")
    expect(contributions).not_to_contain_text("camera")
    phone.context.set_offline(False)
    phone.wait_until_sent()
    expect(contributions.get_by_role("link", name="camera", exact=True)).to_have_count(1)


def test_the_outbox_list_follows_what_a_pass_sends(phone, contributor):
    """Open while the network comes back: it offers no correction or discard of a change
    already sent, and closes once nothing is left."""
    page, outbox = pinned_offline(phone, contributor, kind="camera")
    outbox.click()
    expect(page.locator(".outbox-item")).to_have_count(1)
    phone.context.set_offline(False)
    phone.wait_until_sent()
    expect(page.locator(".outbox-item")).to_have_count(0)
    expect(page.locator("#sheet")).to_be_hidden()


def test_a_refused_pin_says_why_on_the_map_and_is_corrected(phone, db, contributor):
    """A pin the server refused shows its refusal where it stands on the map (not as waiting),
    and is corrected and sent from there."""
    refusal = {
        "type": "https://vigie.invalid/problems/validation-failed",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "properties.notes: no phone numbers here.",
        "errors": [{"field": "properties.notes", "message": "no phone numbers here."}],
    }
    page = phone.open()
    phone.sign_in(contributor)
    refused_once = []

    def refuse_the_pin(route):
        refused_once.append(route.request.method)
        route.fulfill(status=422, content_type="application/problem+json", json=refusal)

    # Once only (the map's reads carry a query string, which the pattern does not match): a
    # request held for a handler waits on this thread, which a waiting expect() may not free.
    page.route("**/api/v1/devices", refuse_the_pin, times=1)
    page.get_by_role("button", name="Pin a device").click()
    page.locator(".pin-form").get_by_label("Notes").fill("call 0600000000")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#outbox-button")).to_contain_text("1 change refused")
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    sheet = page.locator("#sheet")
    expect(sheet).to_contain_text("no phone numbers here")
    expect(sheet).not_to_contain_text("not sent yet")
    sheet.get_by_role("button", name="Correct this pin").click()
    expect(page.locator(".pin-form").get_by_label("Notes")).to_have_value("call 0600000000")
    page.locator(".pin-form").get_by_label("Notes").fill("above the bakery")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    [device] = devices_by(db, contributor).all()
    assert device.kind == "camera" and refused_once == ["POST"]


def open_offline(phone, username: str, kind: str = "sensor"):
    """The device of KIND opened on the phone signed in as USERNAME, then the network gone."""
    page = phone.open()
    phone.sign_in(username)
    phone.wait_for_service_worker()
    page.locator(f".leaflet-marker-icon[title^='{kind}']").click()
    phone.context.set_offline(True)
    return page


def edit_offline(phone, author):
    """A sensor AUTHOR pinned (awaiting review), opened on the phone, then its form opened
    offline: an edit made there has no ETag. Returns the pin's creation answer."""
    created = author.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="sensor"))
    page = open_offline(phone, author.user.username)
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    return created


def test_an_offline_edit_of_a_device_changed_the_same_day_is_applied_only_when_asked(
    phone, db, as_user
):
    """Times are days: a device changed the same day keeps its updated_at, so the app tells
    that it changed since the contributor saw it by its content."""
    author = as_user()
    created = edit_offline(phone, author)
    url = f"/api/v1/devices/{created.get_json()['id']}"
    page = phone.page
    page.locator(".pin-form").get_by_label("Notes").fill("Seen from the bridge")
    page.get_by_role("button", name="Save").click()
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    # Meanwhile, the same day, another phone changes it.
    etag = author.get(url).headers["ETag"]
    edit = {"properties": {"operator": "RATP"}}
    changed = author.patch(url, json=edit, headers={"If-Match": etag}).get_json()
    assert changed["properties"]["updated_at"] == created.get_json()["properties"]["updated_at"]
    phone.context.set_offline(False)
    expect(outbox).to_contain_text("1 change refused")
    assert db("SELECT notes FROM devices WHERE id = :id", id=url[-36:]).scalar_one() is None
    outbox.click()
    # The row names the device by its kind, and offers no "Try again" that could only fail.
    row = page.locator(".outbox-item.refused")
    expect(row).to_contain_text("Edit: sensor")
    expect(row).not_to_contain_text(url[-36:])
    expect(row.get_by_role("button", name="Try again")).to_have_count(0)
    page.get_by_role("button", name="Apply my changes to the new version").click()
    phone.wait_until_sent()
    edited = db("SELECT notes, operator FROM devices WHERE id = :id", id=url[-36:]).one()
    assert tuple(edited) == ("Seen from the bridge", "RATP")
    expected = ("status of 412", "ERR_INTERNET_DISCONNECTED")
    assert [e for e in phone.errors if not any(text in e for text in expected)] == []


def test_an_offline_edit_of_a_pin_approved_meanwhile_goes_as_wrong_details(
    phone, db, as_user, moderator
):
    """Approved while the phone was offline, the pin is no longer its author's to edit (a
    403): the refusal shows what they typed, which goes to the community as a vote on the
    details instead of being lost."""
    author = as_user()
    created = edit_offline(phone, author)
    device_id = created.get_json()["id"]
    page = phone.page
    form = page.locator(".pin-form")
    form.get_by_label("Notes").fill("Two lenses, one on the bridge")
    form.get_by_label("Height (m)").fill("6")
    page.get_by_role("button", name="Save").click()
    approval = moderator.post(f"/api/v1/devices/{device_id}/review", json={"decision": "approve"})
    assert approval.status_code == 200
    phone.context.set_offline(False)
    outbox = page.locator("#outbox-button")
    expect(outbox).to_contain_text("1 change refused")
    outbox.click()
    row = page.locator(".outbox-item.refused")
    expect(row.locator(".changes")).to_have_text(
        "What you changed: Height (m): 6; Notes: Two lenses, one on the bridge"
    )
    # Why, in the app's words: the API's (a confirmation with `wrong_details`) are for clients.
    expect(row).to_contain_text(
        "A moderator has approved this pin since: only moderators change it now."
    )
    expect(row).not_to_contain_text("wrong_details")
    expect(row.get_by_role("button", name="Try again")).to_have_count(0)
    row.get_by_role("button", name="Report these details as wrong").click()
    phone.wait_until_sent()
    vote = db(
        "SELECT c.verdict, c.comment FROM confirmations c WHERE c.device_id = :id", id=device_id
    ).one()
    assert tuple(vote) == ("wrong_details", "Height (m): 6; Notes: Two lenses, one on the bridge")
    assert db("SELECT notes FROM devices WHERE id = :id", id=device_id).scalar_one() is None
    expected = ("status of 403", "ERR_INTERNET_DISCONNECTED")
    assert [e for e in phone.errors if not any(text in e for text in expected)] == []


def test_offline_edits_and_withdrawals_show_on_the_map_until_they_are_sent(phone, db, as_user):
    """Changed offline, a device shows as it will be once the change is sent, marked as not
    sent yet, in place of the server's; a change discarded gives it back as the server has it."""
    author = as_user()
    device_id = edit_offline(phone, author).get_json()["id"]
    page = phone.page
    page.locator(".pin-form").get_by_label("Notes").fill("Seen from the bridge")
    page.get_by_role("button", name="Save").click()
    sensors = page.locator(".leaflet-marker-icon[title^='sensor']")
    edited = page.locator(".leaflet-marker-icon[title='sensor — changes not sent yet']")
    expect(edited.locator(".pin.pending-edit")).to_have_count(1)
    expect(sensors).to_have_count(1)
    edited.click()
    sheet = page.locator("#sheet")
    expect(sheet).to_contain_text("Seen from the bridge")
    expect(sheet.locator(".notice")).to_have_text("Changes not sent yet")
    page.once("dialog", lambda dialog: dialog.accept())
    sheet.get_by_role("button", name="Discard").click()
    expect(page.locator("#outbox-button")).to_be_hidden()
    as_on_server = page.locator(".leaflet-marker-icon[title='sensor — awaiting review']")
    expect(sensors).to_have_count(1)
    # Withdrawn offline: faded until the withdrawal is sent, then gone.
    as_on_server.click()
    page.once("dialog", lambda dialog: dialog.accept())
    sheet.get_by_role("button", name="Withdraw my pin").click()
    withdrawn = page.locator(".leaflet-marker-icon[title='sensor — withdrawal not sent yet']")
    expect(withdrawn.locator(".pin.pending-withdraw")).to_have_count(1)
    expect(sensors).to_have_count(1)
    phone.context.set_offline(False)
    phone.wait_until_sent()
    expect(sensors).to_have_count(0)
    deleted = db("SELECT deleted_at IS NOT NULL FROM devices WHERE id = :id", id=device_id)
    assert deleted.scalar_one() is True
    assert [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_an_edit_not_sent_yet_is_corrected_as_one_change_or_the_pin_withdrawn(phone, db, as_user):
    """A change made offline is corrected before it goes (one change, with the fields of
    both), and the pin it changes still withdrawn: only Discard was offered, and a second
    change meant typing the first again."""
    author = as_user()
    device_id = edit_offline(phone, author).get_json()["id"]
    page = phone.page
    page.locator(".pin-form").get_by_label("Operator", exact=True).fill("SNCF")
    page.get_by_role("button", name="Save").click()
    edited = page.locator(".leaflet-marker-icon[title='sensor — changes not sent yet']")
    edited.click()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("button", name="Withdraw my pin")).to_be_visible()
    sheet.get_by_role("button", name="Correct this change").click()
    form = page.locator(".pin-form")
    expect(form.get_by_label("Operator", exact=True)).to_have_value("SNCF")  # as it will be
    form.get_by_label("Notes").fill("Above the platform")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#outbox-button")).to_have_text("1 change waiting to be sent")
    phone.context.set_offline(False)
    phone.wait_until_sent()
    stored = db("SELECT operator, notes, version FROM devices WHERE id = :id", id=device_id).one()
    assert tuple(stored) == ("SNCF", "Above the platform", 2)  # one edit
    # Changed offline again, then withdrawn before the change went: both go, in order.
    phone.context.set_offline(True)
    page.locator(".leaflet-marker-icon[title='sensor — awaiting review']").click()
    sheet.get_by_role("button", name="Edit").click()
    page.locator(".pin-form").get_by_label("Notes").fill("Gone?")
    page.get_by_role("button", name="Save").click()
    edited.click()
    page.once("dialog", lambda dialog: dialog.accept())
    sheet.get_by_role("button", name="Withdraw my pin").click()
    expect(page.locator("#outbox-button")).to_have_text("2 changes waiting to be sent")
    phone.context.set_offline(False)
    phone.wait_until_sent(2)
    deleted = db("SELECT deleted_at IS NOT NULL FROM devices WHERE id = :id", id=device_id)
    assert deleted.scalar_one() is True
    assert [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_a_correction_of_an_edit_sent_meanwhile_goes_after_it(phone, db, as_user):
    """Its edit refused for a while (503s), the contributor corrects it; the outbox sends the
    edit meanwhile. The correction then goes over the version the edit made: with the edit's
    ETag, read before it, it was refused as changed meanwhile (412)."""
    author = as_user()
    device_id = author.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="sensor"))
    device_id = device_id.get_json()["id"]
    quiet = Phone(phone.browser, phone.server, service_workers="block")
    page = quiet.open()
    quiet.sign_in(author.user.username)
    server = {"down": True}
    down = {"type": "about:blank", "title": "Service Unavailable", "status": 503}
    quiet.context.route(
        f"**/api/v1/devices/{device_id}",
        lambda route: (
            route.fulfill(status=503, json=down)
            if route.request.method == "PATCH" and server["down"]
            else route.fallback()
        ),
    )
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    page.locator(".pin-form").get_by_label("Operator", exact=True).fill("SNCF")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#outbox-button")).to_have_text("1 change waiting to be sent")
    page.locator(".leaflet-marker-icon[title='sensor — changes not sent yet']").click()
    page.locator("#sheet").get_by_role("button", name="Correct this change").click()
    server["down"] = False
    with page.expect_response(lambda answer: answer.request.method == "PATCH" and answer.ok):
        page.evaluate("window.dispatchEvent(new Event('online'))")  # the outbox sends it
    page.locator(".pin-form").get_by_label("Notes").fill("Above the platform")
    with page.expect_response(lambda answer: answer.request.method == "PATCH") as corrected:
        page.get_by_role("button", name="Save").click()
    assert corrected.value.status == 200
    stored = db("SELECT operator, notes, version FROM devices WHERE id = :id", id=device_id).one()
    assert tuple(stored) == ("SNCF", "Above the platform", 3)
    quiet.close()


def offline_beside_a_camera(phone, as_user, moderator, camera_east: float):
    """A sensor its author pinned (awaiting review) and a camera CAMERA_EAST degrees east of it,
    kept on the author's phone, opened again offline at zoom 19: the page."""
    author = as_user()
    sensor = feature(2.3522, 48.8566, kind="sensor")
    assert author.post("/api/v1/devices", json=sensor).status_code == 201
    camera = feature(2.3522 + camera_east, 48.8566, kind="camera")
    assert moderator.post("/api/v1/devices?force=true", json=camera).status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    phone.wait_for_service_worker()
    phone.sign_in(author.user.username)
    page.wait_for_load_state("networkidle")  # the area kept on the phone
    phone.context.set_offline(True)
    page.reload()
    expect(page.locator("#status")).to_have_text("Offline: 2 devices kept on this phone")
    return page


def test_an_offline_edit_of_a_device_grouped_at_its_spot_marks_its_cluster(
    phone, as_user, moderator
):
    """Offline, a device changed on the phone that a cluster groups is no longer drawn apart on
    top of the cluster, hiding its count: the cluster says it holds a change not sent yet,
    and its list names the device with its state and opens on what waits."""
    page = offline_beside_a_camera(phone, as_user, moderator, camera_east=0)
    cluster = page.get_by_role("button", name=re.compile("^Cluster of 2 devices: "))
    cluster.click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name=re.compile("^sensor — ")).click()
    sheet.get_by_role("button", name="Edit").click()
    page.locator(".pin-form").get_by_label("Notes").fill("Seen from the bridge")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#outbox-button")).to_have_text("1 change waiting to be sent")
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    expect(cluster).to_have_attribute(
        "title", re.compile(r"^Cluster of 2 devices: .* \(1 with changes not sent yet\)$")
    )
    expect(cluster.locator(".cluster.pending-edit")).to_have_count(1)
    expect(page.locator("#status")).to_have_text("Offline: 2 devices kept on this phone")
    cluster.click()
    sheet.get_by_role("button", name=re.compile("^sensor — .* — changes not sent yet$")).click()
    expect(sheet).to_contain_text("Seen from the bridge")
    expect(sheet.locator(".notice")).to_have_text("Changes not sent yet")
    sheet.get_by_role("button", name="Close").click()
    phone.context.set_offline(False)
    phone.wait_until_sent()
    assert [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_offline_a_zoom_groups_a_changed_device_in_a_cluster_and_parts_it_again(
    phone, as_user, moderator
):
    """Edited from its own marker, then the map zoomed out: the device joins its neighbour's
    cluster (its own marker left on top of it); zoomed in again, it shows apart (it was drawn
    by neither)."""
    page = offline_beside_a_camera(phone, as_user, moderator, camera_east=0.00004)  # 3 m
    page.locator(".leaflet-marker-icon[title^='sensor']").focus()  # under the camera's target
    page.keyboard.press("Enter")
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    page.locator(".pin-form").get_by_label("Notes").fill("Seen from the bridge")
    page.get_by_role("button", name="Save").click()
    edited = page.locator(".leaflet-marker-icon[title='sensor — changes not sent yet']")
    expect(edited).to_have_count(1)
    markers = page.locator(".leaflet-marker-icon")
    expect(page.locator("#sheet")).to_be_hidden()
    page.locator("#map").focus()
    scale = page.locator(".leaflet-control-scale")

    def zoom(key: str) -> None:  # one step, once Leaflet has taken it (the scale changes)
        before = scale.inner_text()
        page.keyboard.press(key)
        expect(scale).not_to_have_text(before)

    zoom("-")
    zoom("-")
    expect(markers).to_have_count(1)
    expect(markers).to_have_attribute("title", re.compile(r"\(1 with changes not sent yet\)$"))
    zoom("+")
    zoom("+")
    expect(edited).to_have_count(1)
    expect(markers).to_have_count(2)
    phone.context.set_offline(False)


def test_a_pin_made_offline_at_a_spot_of_devices_joins_its_cluster(
    phone, db, moderator, contributor
):
    """A second device on a pole already pinned: made offline, its pin was drawn over the
    spot's cluster, hiding its count and the devices under it. It joins the cluster, which
    says so; its list names the pin with its state; it is still counted apart."""
    spot = feature(HERE["longitude"], HERE["latitude"])
    for kind in ("camera", "microphone"):
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    page = phone.open("#19/48.8566/2.3522")
    phone.sign_in(contributor)
    phone.wait_for_service_worker()
    page.wait_for_load_state("networkidle")  # the area kept on the phone
    phone.context.set_offline(True)
    phone.pin(kind="sensor")
    expect(page.locator("#outbox-button")).to_have_text("1 change waiting to be sent")
    cluster = page.get_by_role("button", name=re.compile("^Cluster of 3 devices: "))
    expect(cluster).to_have_attribute(
        "title", re.compile(r"^Cluster of 3 devices: .* \(1 with changes not sent yet\)$")
    )
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    expect(page.locator("#status")).to_have_text(
        "Offline: 2 devices kept on this phone and 1 pin of yours not sent yet"
    )
    cluster.click()
    sheet = page.locator("#sheet")
    expect(sheet.locator(".cluster-devices button")).to_have_count(3)
    sheet.get_by_role(
        "button", name=re.compile(r"^sensor — (.* — )?pending pin \(not sent yet\)$")
    ).click()
    expect(sheet.locator(".notice")).to_contain_text("not sent yet")
    sheet.get_by_role("button", name="Close").click()
    phone.context.set_offline(False)
    phone.wait_until_sent()
    assert [d.kind for d in devices_by(db, contributor)] == ["sensor"]
    # Sent: the server's cluster of the three, no longer marked.
    expect(page.locator(".leaflet-marker-icon")).to_have_attribute(
        "title", re.compile(r"^Cluster of 3 devices: [^(]*$")
    )
    expect(page.locator(".cluster.pending-edit")).to_have_count(0)
    assert [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_an_edit_sends_only_what_the_contributor_changed(phone, db, as_user):
    """A device with a direction but no angle (as imported from OpenStreetMap): the form shows
    no angle (the cone is drawn with a default one), and sends none unless the contributor
    sets it."""
    author = as_user()
    body = feature(2.3522, 48.8566, kind="camera", direction=[90], operator="Ville")
    created = author.post("/api/v1/devices", json=body).get_json()
    page = phone.open()
    phone.sign_in(author.user.username)
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    expect(page.locator(".pin-form").get_by_label("Field of view (°)")).to_have_value("")
    page.locator(".pin-form").get_by_label("Notes").fill("Above the door")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    row = db("SELECT angle, notes, operator FROM devices WHERE id = :id", id=created["id"]).one()
    assert tuple(row) == (None, "Above the door", "Ville")
    edit = db(
        "SELECT changes FROM device_revisions WHERE device_id = :id AND action = 'update'",
        id=created["id"],
    ).scalar_one()
    assert set(edit) == {"notes"}
    assert phone.errors == []


def editing_own_camera(phone, as_user, **properties):
    """A camera pinned by a new contributor, open in the edit form on their phone: (the page,
    the form, the stored Feature)."""
    author = as_user()
    body = feature(2.3522, 48.8566, kind="camera", **properties)
    created = author.post("/api/v1/devices", json=body).get_json()
    page = phone.open()
    phone.sign_in(author.user.username)
    page.locator(".leaflet-marker-icon[title^='camera']").click()
    page.locator("#sheet").get_by_role("button", name="Edit").click()
    return page, page.locator(".pin-form"), created


def test_the_operator_type_which_a_device_always_has_cannot_be_emptied(phone, db, as_user):
    """The server keeps an operator type on every device ("unknown" at the least): the form
    offers no "—" for it, which the server refused with the whole edit, while fields that may
    be empty keep theirs."""
    page, form, created = editing_own_camera(phone, as_user, operator_type="public")
    operator_type = form.get_by_label("Operator type")
    expect(operator_type).to_have_value("public")
    expect(operator_type.locator("option")).to_have_text(["public", "private", "unknown"])
    expect(form.get_by_label("Mount").locator("option").first).to_have_text("—")
    operator_type.select_option("private")
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    row = db("SELECT operator_type FROM devices WHERE id = :id", id=created["id"]).one()
    assert tuple(row) == ("private",)
    # A new pin's form starts at the value a device gets without one.
    page.get_by_role("button", name="Pin a device").click()
    expect(page.locator(".pin-form").get_by_label("Operator type")).to_have_value("unknown")
    assert phone.errors == []


def test_a_kind_that_does_not_film_has_no_camera_type_in_the_form(phone, db, as_user):
    """Only cameras, ALPRs and facial recognition have a camera type: changing a camera into a
    microphone hides the field and clears the type, which the server would refuse."""
    page, form, created = editing_own_camera(phone, as_user, camera_type="dome")
    expect(form.get_by_label("Camera type")).to_have_value("dome")
    form.get_by_text("microphone", exact=True).click()
    expect(form.get_by_label("Camera type")).to_be_hidden()
    form.get_by_text("licence-plate reader", exact=True).click()
    expect(form.get_by_label("Camera type")).to_be_visible()
    form.get_by_text("microphone", exact=True).click()
    page.get_by_role("button", name="Save").click()
    phone.wait_until_sent()
    row = db("SELECT kind, camera_type FROM devices WHERE id = :id", id=created["id"]).one()
    assert tuple(row) == ("microphone", None)
    assert phone.errors == []


def test_an_offline_edit_that_only_added_a_refused_photo_can_only_be_discarded(phone, db, as_user):
    """Without its photo nothing is left to send (an empty edit would be refused again)."""
    gif = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(gif, "GIF")
    edit_offline(phone, as_user())
    page = phone.page
    page.get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.gif", "mimeType": "image/gif", "buffer": gif.getvalue()}
    )
    page.get_by_role("button", name="Save").click()
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    phone.context.set_offline(False)
    expect(outbox).to_contain_text("1 change refused")
    outbox.click()
    expect(page.get_by_role("button", name="Discard")).to_be_visible()
    expect(page.get_by_role("button", name="Send it without the photo")).to_have_count(0)


def test_a_pin_awaiting_review_is_editable_by_its_author_on_any_phone(phone, db, as_user):
    """Made elsewhere (another phone, the API): what makes it the contributor's own is that
    the server shows it to them, not a list kept on the phone that made it. Its author may
    withdraw it."""
    author = as_user()
    response = author.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="sensor"))
    assert response.get_json()["properties"]["review_status"] == "pending"
    page = phone.open()
    phone.sign_in(author.user.username)
    # Marked as the community does not see it yet, and named so.
    mine = page.locator(".leaflet-marker-icon[title='sensor — awaiting review']")
    expect(mine.locator(".pin.awaiting-review")).to_have_count(1)
    mine.click()
    expect(page.locator("#sheet").get_by_role("button", name="Edit")).to_be_visible()
    # And withdrawn by its author.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#sheet").get_by_role("button", name="Withdraw my pin").click()
    phone.wait_until_sent()
    expect(page.locator(".leaflet-marker-icon[title^='sensor']")).to_have_count(0)
    deleted = db(
        "SELECT deleted_at IS NOT NULL FROM devices WHERE id = :id", id=response.get_json()["id"]
    )
    assert deleted.scalar_one() is True
    # Their contributions say it was withdrawn, not that it awaits review.
    page.get_by_role("button", name="Account", exact=True).click()
    contributions = page.locator(".contributions")
    expect(contributions).to_have_text("sensor — withdrawn")
    page.get_by_role("button", name="Close").click()
    # Without the network, the list says so in the page's language, not the browser's.
    phone.choose_language("fr")
    phone.context.set_offline(True)
    page.get_by_role("button", name="Compte").click()
    expect(contributions).to_have_text(re.compile("^Pas de réseau"))


def test_an_authors_rejected_or_merged_pin_says_what_became_of_it(phone, as_user, moderator):
    """Rejected: no vote on one's own pin, and what to do instead. Merged into the device
    pinned before: said so in the contributions, not "withdrawn"."""
    author = as_user()
    kept = pin(moderator, HERE["longitude"] + 0.0005, HERE["latitude"])
    rejected = pin(author, HERE["longitude"], HERE["latitude"], kind="sensor")
    merged = pin(author, HERE["longitude"] + 0.0005, HERE["latitude"], kind="camera")
    refusal = {"decision": "reject", "reason": "a shop's alarm, not surveillance"}
    review = moderator.post(f"/api/v1/devices/{rejected['id']}/review", json=refusal)
    assert review.status_code == 200
    merging = moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": merged["id"]})
    assert merging.status_code == 200
    page = phone.open()
    phone.sign_in(author.user.username)
    page.locator(".leaflet-marker-icon[title='sensor — rejected by a moderator']").click()
    sheet = page.locator("#sheet")
    expect(sheet).to_contain_text("pin it again with what was missing")
    expect(sheet.get_by_role("button", name="Still there")).to_have_count(0)
    expect(sheet.get_by_role("button", name="Edit")).to_have_count(0)
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Account", exact=True).click()
    expect(page.locator(".contributions")).to_contain_text(
        f"camera — merged into {kept['id'][:8]}, the same device pinned before"
    )


def test_each_pin_starts_where_the_phone_is_now(phone, db, contributor):
    """A position the browser kept for up to 30 s put a pin made a few steps further at the
    previous pin's place: each pin asks for a fresh one."""
    phone.open()
    phone.sign_in(contributor)
    phone.pin(kind="camera")
    phone.wait_until_sent()
    # 150 m east, a few seconds later.
    phone.context.set_geolocation({"latitude": 48.8566, "longitude": 2.3542, "accuracy": 8})
    phone.pin(kind="microphone")
    phone.wait_until_sent()
    placed = {row.kind: (row.lon, row.lat) for row in devices_by(db, contributor)}
    assert placed["camera"] == pytest.approx((2.3522, 48.8566), abs=1e-6)
    assert placed["microphone"] == pytest.approx((2.3542, 48.8566), abs=1e-6)


def test_a_moderator_may_edit_a_pin_awaiting_review_but_not_withdraw_it_as_their_own(
    phone, moderator, as_user
):
    author = as_user()
    created = author.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="sensor"))
    assert created.status_code == 201
    page = phone.open()
    phone.sign_in(moderator.user.username)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("button", name="Edit")).to_be_visible()
    expect(sheet.get_by_role("button", name="Withdraw my pin")).to_have_count(0)


def test_the_author_deletes_a_photo_of_their_pin_awaiting_review(phone, db, as_user):
    """A face caught by mistake on a pin already sent: its author deletes that photo from the
    pin's sheet, once asked, and the pin stays, awaiting review."""
    author = as_user()
    device = pin(author, 2.3522, 48.8566, kind="sensor")
    onto = f"/api/v1/devices/{device['id']}/photos"
    uploaded(author, images.plain_photo(), url=onto)
    uploaded(author, images.plain_photo(colour=(200, 40, 40)), url=onto)
    both = {str(photo) for photo in db("SELECT id FROM photos").scalars()}
    page = phone.open()
    phone.sign_in(author.user.username)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    sheet = page.locator("#sheet")
    expect(sheet.locator(".photos img")).to_have_count(2)
    delete = sheet.get_by_role("button", name="Delete photo 2")
    delete.click()  # asked first; dismissed (Playwright's default answer), nothing is deleted
    expect(sheet.locator(".photos img")).to_have_count(2)
    assert db("SELECT count(*) FROM photos").scalar_one() == 2
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda answer: answer.request.method == "DELETE") as deleted:
        delete.click()
    assert deleted.value.status == 204
    expect(sheet).to_contain_text("Photo deleted.")
    expect(sheet.locator(".photos img")).to_have_count(1)
    gone = deleted.value.url.rsplit("/", 1)[1]
    kept = {str(photo) for photo in db("SELECT id FROM photos").scalars()}
    assert gone in both and kept == both - {gone}
    assert db("SELECT review_status FROM devices").scalar_one() == "pending"
    assert phone.errors == []


def test_a_contributor_deletes_their_photo_of_a_pin_approved_since(phone, db, moderator, as_user):
    """Approved, the pin is no longer its author's to edit: the photo they sent with it (a
    face caught by mistake) is still theirs to delete, from their contributions."""
    author = as_user()
    device = pin(author, 2.3522, 48.8566, kind="sensor")
    uploaded(author, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    review = moderator.post(f"/api/v1/devices/{device['id']}/review", json={"decision": "approve"})
    assert review.status_code == 200
    page = phone.open()
    phone.sign_in(author.user.username)
    page.get_by_role("button", name="Account", exact=True).click()
    sheet = page.locator("#sheet")
    expect(sheet.get_by_role("heading", name="Your photos")).to_be_visible()
    expect(sheet.locator(".your-photos img")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda answer: answer.request.method == "DELETE") as deleted:
        sheet.get_by_role("button", name="Delete photo 1").click()
    assert deleted.value.status == 204
    expect(sheet).to_contain_text("Photo deleted.")
    expect(sheet.locator(".your-photos img")).to_have_count(0)
    assert db("SELECT count(*) FROM photos").scalar_one() == 0
    assert db("SELECT review_status FROM devices").scalar_one() == "approved"
    assert phone.errors == []


def photographed(client, device: dict) -> dict:
    """DEVICE, with a photo CLIENT added to it."""
    uploaded(client, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    return device


def your_photos(phone, user):
    """The page, signed in as USER, and the photos its Account sheet lists as theirs."""
    page = phone.open()
    phone.sign_in(user.user.username)
    page.get_by_role("button", name="Account", exact=True).click()
    return page, page.locator("#sheet .your-photos")


def test_a_contributor_sees_which_pin_each_of_their_photos_went_with(phone, moderator, as_user):
    """Before deleting a photo, its sender sees its pin: their own, or another's device they
    added it to, each a link to it on the map; a withdrawn pin's photo has none, nor one of
    another's device removed since (asked for, it would only be a 410)."""
    author = as_user()
    photographed(author, pin(author, 2.3522, 48.8566, kind="sensor"))
    photographed(author, pin(moderator, 2.3531, 48.8571, kind="alpr"))
    withdrawn = photographed(author, pin(author, 2.3540, 48.8560, kind="microphone"))
    assert author.delete(f"/api/v1/devices/{withdrawn['id']}").status_code == 204
    removed = photographed(author, pin(moderator, 2.3550, 48.8570, kind="camera"))
    assert moderator.delete(f"/api/v1/devices/{removed['id']}").status_code == 204
    page, photos = your_photos(phone, author)
    expect(photos.locator("img")).to_have_count(4)
    expect(photos.get_by_role("link", name="Pin of photo 1: sensor")).to_be_visible()
    expect(photos.get_by_role("link")).to_have_count(2)
    photos.get_by_role("link", name="Pin of photo 2: licence-plate reader").click()
    expect(page.locator("#sheet")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"#19/48\.85710\d*/2\.35310\d*$"))
    assert phone.errors == []


def test_a_contributor_sees_their_photo_of_a_withdrawn_pin_before_deleting_it(phone, db, as_user):
    """A withdrawn pin's photo is gone for everyone else; its sender still sees it among their
    photos (not a broken image) to decide whether to delete it."""
    author = as_user()
    device = photographed(author, pin(author, 2.3522, 48.8566, kind="sensor"))
    assert author.delete(f"/api/v1/devices/{device['id']}").status_code == 204
    _page, photos = your_photos(phone, author)
    thumbnail = photos.locator("img")
    expect(thumbnail).to_have_attribute("src", re.compile("^blob:"))
    expect(thumbnail).to_have_attribute("alt", re.compile("^Your photo 1, sent on "))
    assert thumbnail.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    assert phone.errors == []


def test_a_moderator_deletes_a_photo_of_a_pin_awaiting_review_and_approves_the_pin(
    phone, db, moderator, as_user
):
    """A pin worth publishing whose photo shows a person: the moderator deletes that photo
    from the review queue, rather than publish the face or reject the pin."""
    author = as_user()
    device = pin(author, 2.3522, 48.8566, kind="sensor")
    uploaded(author, images.plain_photo(), url=f"/api/v1/devices/{device['id']}/photos")
    page = phone.open()
    phone.sign_in(moderator.user.username)
    page.get_by_role("button", name="Review queue").click()
    item = page.locator(f".queue-item[data-device='{device['id']}']")
    expect(item.locator(".review-photos img")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Delete photo 1").click()
    expect(page.locator("#sheet")).to_contain_text("Decision recorded")
    expect(item.locator(".review-photos img")).to_have_count(0)
    assert db("SELECT count(*) FROM photos").scalar_one() == 0
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Approve").click()
    expect(item).to_have_count(0)
    assert db("SELECT review_status FROM devices").scalar_one() == "approved"


def test_a_moderator_undoes_a_wrong_merge_from_the_kept_devices_history(phone, db, moderator):
    kept = pin(moderator, 2.3522, 48.8566, kind="sensor")
    duplicate = pin(moderator, 2.3527, 48.8566, kind="sensor")
    onto = f"/api/v1/devices/{duplicate['id']}/photos"
    uploaded(moderator, images.plain_photo(), url=onto)
    merging = moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": duplicate["id"]})
    assert merging.status_code == 200
    page = phone.open()
    phone.sign_in(moderator.user.username)
    expect(page.locator(".leaflet-marker-icon[title^='sensor']")).to_have_count(1)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    expect(page.locator("#sheet .photos img")).to_have_count(1)  # the duplicate's, moved
    page.get_by_role("button", name="Show the history").click()
    # The merge's line names the duplicate, for moderators.
    expect(page.locator(".history li").last).to_contain_text(f"device {duplicate['id'][:8]}")
    undo = page.get_by_role("button", name=f"Undo the merge of {duplicate['id'][:8]}")
    undo.click()  # asked first; dismissed (Playwright's default answer), nothing is undone
    expect(page.locator(".history li")).to_have_count(2)
    merged = "SELECT merged_into FROM devices WHERE id = :id"
    assert str(db(merged, id=duplicate["id"]).scalar_one()) == kept["id"]
    page.once("dialog", lambda dialog: dialog.accept())
    undo.click()
    expect(page.locator("#sheet")).to_contain_text(
        f"The merge was undone: {duplicate['id'][:8]} is a device of its own again."
    )
    expect(page.locator(".history li").last).to_contain_text(f"unmerge — {moderator.user.username}")
    # The history shown again with the device as it now is: its button says so.
    expect(page.get_by_role("button", name="Hide the history")).to_have_attribute(
        "aria-expanded", "true"
    )
    expect(undo).to_have_count(0)  # the merge stays in the history, undone
    assert db(merged, id=duplicate["id"]).scalar_one() is None
    # The device is shown as it now is: the photo went back with the duplicate.
    expect(page.locator("#sheet .photos img")).to_have_count(0)
    expect(page.locator(".leaflet-marker-icon[title^='sensor']")).to_have_count(2)
    assert phone.errors == []


def test_an_undoing_decided_meanwhile_says_so_and_shows_the_history_as_it_stands(phone, moderator):
    kept = pin(moderator, 2.3522, 48.8566, kind="sensor")
    duplicate = pin(moderator, 2.3527, 48.8566, kind="sensor")
    moderator.post(f"/api/v1/devices/{kept['id']}/merge", json={"other": duplicate["id"]})
    page = phone.open()
    phone.sign_in(moderator.user.username)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    page.get_by_role("button", name="Show the history").click()
    undo = page.get_by_role("button", name=f"Undo the merge of {duplicate['id'][:8]}")
    expect(undo).to_be_visible()
    page.wait_for_load_state("networkidle")
    # Another moderator undoes it meanwhile (the page asks nothing now).
    body = {"merged_into": kept["id"]}
    undone = moderator.post(f"/api/v1/devices/{duplicate['id']}/unmerge", json=body)
    assert undone.status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    undo.click()
    expect(page.locator("#sheet .history-box .notice").first).to_contain_text("not merged")
    expect(page.locator(".history li").last).to_contain_text("unmerge")
    expect(undo).to_have_count(0)


def open_pending_pin_with_photo(phone, author):
    """A sensor AUTHOR pinned with a photo (awaiting review, so the photo is theirs and
    moderators' only), opened on the phone signed in as AUTHOR, the service worker in control.
    Returns the photo as the API lists it."""
    photo = uploaded(author, images.plain_photo())
    body = {**feature(2.3522, 48.8566, kind="sensor"), "photo_ids": [photo["id"]]}
    created = author.post("/api/v1/devices", json=body)
    assert created.status_code == 201, created.get_json()
    page = phone.open()
    phone.wait_for_service_worker()
    phone.sign_in(author.user.username)
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    [listed] = created.get_json()["properties"]["photos"]
    return listed


def test_a_photo_not_yet_public_is_not_left_on_a_shared_phone_after_sign_out(phone, as_user):
    photo = open_pending_pin_with_photo(phone, as_user())
    page = phone.page
    thumbnail = page.locator("#sheet .photos img")
    expect(thumbnail).to_have_attribute("src", re.compile("^blob:"))  # fetched with the token
    page.get_by_role("button", name="Account", exact=True).click()
    page.locator("#sheet").get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    # Whoever holds the phone next asks for it without the token, through the worker.
    thumbnail_path = urlsplit(photo["thumbnail"]).path
    status = page.evaluate("url => fetch(url).then((response) => response.status)", thumbnail_path)
    assert status == 404
    kept = page.evaluate(
        "async () => (await (await caches.open('vigie-photos')).keys()).map((r) => r.url)"
    )
    assert [url for url in kept if photo["id"] in url] == []


def kept_on_the_phone(page) -> dict:
    """The areas the phone keeps for offline use, and how many devices."""
    return page.evaluate(
        """() => new Promise((resolve) => { indexedDB.open("vigie").onsuccess = (event) => {
            const tx = event.target.result.transaction(["settings", "devices"]);
            const areas = tx.objectStore("settings").get("areas");
            const devices = tx.objectStore("devices").count();
            tx.oncomplete = () => resolve({ areas: areas.result ?? [], devices: devices.result });
        }; })"""
    )


def until_kept(page, seconds=20):
    """Until the phone keeps an area (its store is written after the listing's answer)."""
    for _ in range(seconds * 10):
        if kept_on_the_phone(page)["areas"]:
            return
        page.wait_for_timeout(100)
    raise AssertionError("no area was kept")


def test_signing_out_does_not_keep_the_spot_last_looked_at_again(phone, moderator, contributor):
    """Sign-out forgets the areas seen and their devices; the map drawn again right after must
    not keep the view shown, the street a contributor was surveying, nor hold it in its address
    (which the browser's history keeps). A view moved to afterwards is kept, as for anyone."""
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    until_kept(page)
    page.get_by_role("button", name="Account", exact=True).click()
    with page.expect_response(lambda answer: "cluster=true" in answer.url):
        page.locator("#sheet").get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert kept_on_the_phone(page) == {"areas": [], "devices": 0}
    page.locator("#sheet-close").click()
    expect(page).to_have_url(f"{phone.server}/")
    with page.expect_response(lambda answer: "cluster=true" in answer.url):
        page.locator("#map").focus()
        page.keyboard.press("ArrowRight")
    until_kept(page)
    expect(page).to_have_url(re.compile(r"/#18/48\.8566\d*/2\.352"))
    assert phone.errors == []


def signing_out_with_the_revocation_held(phone, contributor):
    """CONTRIBUTOR signed in, an area kept, then signing out with the revocation held: the
    page, the held requests (held[0], the DELETE) and the areas kept before."""
    page = phone.open()
    phone.sign_in(contributor)
    until_kept(page)
    kept = kept_on_the_phone(page)["areas"]
    held = []
    page.route(re.compile(r"/api/v1/auth/tokens/"), lambda route: held.append(route))
    page.get_by_role("button", name="Account", exact=True).click()
    with page.expect_request(lambda asked: asked.method == "DELETE"):
        page.locator("#sheet").get_by_role("button", name="Sign out", exact=True).click()
    return page, held, kept


def test_what_the_map_asks_while_the_token_is_revoked_goes_without_it(phone, contributor):
    """A listing asked while the sign-out's revocation is under way carries no token: sent with
    it, one that the revocation overtook was refused (a 401 in the console), and nothing of
    what it read is kept once signed out."""
    page, held, _ = signing_out_with_the_revocation_held(phone, contributor)
    with page.expect_request(lambda asked: "cluster=true" in asked.url) as listing:
        page.locator("#map").focus()
        page.keyboard.press("ArrowRight")
    assert len(held) == 1 and held[0].request.method == "DELETE"
    assert "authorization" not in listing.value.all_headers()
    assert "authorization" in held[0].request.all_headers()  # the revocation itself has it
    held[0].continue_()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert kept_on_the_phone(page) == {"areas": [], "devices": 0}
    assert phone.errors == []


def test_what_is_read_while_a_failed_revocation_was_under_way_is_not_kept(phone, contributor):
    """Read without the token while it was being revoked, an area lacks the account's pins
    awaiting review: the revocation failing (a server error), the contributor stays signed in,
    that area is not kept as theirs (nor would be a sync cursor moved past their pins), and the
    map reads it again with the token."""
    page, held, kept = signing_out_with_the_revocation_held(phone, contributor)
    with page.expect_response(lambda answer: "cluster=true" in answer.url) as withheld:
        page.locator("#map").focus()
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(500)  # the phone's store written, were the area kept
    assert kept_on_the_phone(page)["areas"] == kept
    broken = {"type": "about:blank", "title": "Internal Server Error", "status": 500}
    # Still signed in, the map reads the area again with the token, unmoved, and keeps it.
    with page.expect_request(
        lambda asked: "cluster=true" in asked.url and "authorization" in asked.all_headers()
    ):
        held[0].fulfill(
            status=500, json=broken, headers={"Content-Type": "application/problem+json"}
        )
    expect(page.locator("#sheet")).to_contain_text("Sign out everywhere")  # still signed in
    area = [float(v) for v in parse_qs(urlsplit(withheld.value.url).query)["bbox"][0].split(",")]
    for _ in range(40):
        if area in kept_on_the_phone(page)["areas"]:
            break
        page.wait_for_timeout(50)
    assert area in kept_on_the_phone(page)["areas"]
    assert [e for e in phone.errors if "500" not in e] == []


def test_a_sign_out_without_network_leaves_the_token_on_what_the_map_asks(phone, contributor):
    """The revocation failed for want of a network, the contributor stays signed in: what the
    map asks next goes with the token again (pins awaiting review are theirs to see)."""
    page = phone.open()
    phone.sign_in(contributor)
    phone.context.set_offline(True)
    page.get_by_role("button", name="Account", exact=True).click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Sign out", exact=True).click()
    expect(sheet).to_contain_text("Connect to the network to sign out")
    sheet.get_by_role("button", name="Close").click()
    with page.expect_request(lambda asked: "cluster=true" in asked.url) as listing:
        phone.context.set_offline(False)
        page.locator("#map").focus()
        page.keyboard.press("ArrowRight")
    assert listing.value.all_headers()["authorization"].startswith("Bearer ")


def test_signing_out_offline_does_not_keep_the_spot_once_back_online(phone, contributor):
    """Signed out of this phone only, without network: back online, the map is drawn again
    where it was, and that view is not kept either."""
    page = phone.open()
    phone.sign_in(contributor)
    until_kept(page)
    phone.context.set_offline(True)
    page.get_by_role("button", name="Account", exact=True).click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Sign out", exact=True).click()
    sheet.get_by_role("button", name="Sign out of this phone only").click()
    expect(sheet).to_contain_text("Signed out of this phone")
    with page.expect_response(lambda answer: "cluster=true" in answer.url):
        phone.context.set_offline(False)
    page.wait_for_load_state("networkidle")
    assert kept_on_the_phone(page) == {"areas": [], "devices": 0}


def test_a_public_photo_shows_offline_and_no_longer_once_deleted(phone, moderator):
    """Kept by the worker for offline, asked again online: a photo a moderator deleted (a
    face, a window) leaves the phone the next time it is shown."""
    photo = uploaded(moderator, images.plain_photo())
    body = {**feature(2.3522, 48.8566, kind="sensor"), "photo_ids": [photo["id"]]}
    [listed] = moderator.post("/api/v1/devices", json=body).get_json()["properties"]["photos"]
    page = phone.open()
    phone.wait_for_service_worker()
    page.locator(".leaflet-marker-icon[title^='sensor']").click()
    thumbnail = page.locator("#sheet .photos img")
    expect(thumbnail).to_have_js_property("complete", True)
    path = urlsplit(listed["thumbnail"]).path
    status = "url => fetch(url).then((response) => response.status, () => 'failed')"
    kept = "async () => (await (await caches.open('vigie-photos')).keys()).map((r) => r.url)"
    assert page.evaluate(status, path) == 200
    phone.context.set_offline(True)
    # Deleted while the phone is offline (the page sends nothing to the server meanwhile,
    # whose one connection the test shares): the phone shows it as last seen.
    assert moderator.delete(f"/api/v1/photos/{photo['id']}").status_code == 204
    assert page.evaluate(status, path) == 200
    phone.context.set_offline(False)
    assert page.evaluate(status, path) == 404
    assert [url for url in page.evaluate(kept) if photo["id"] in url] == []
    phone.context.set_offline(True)
    assert page.evaluate(status, path) == "failed"


def test_the_author_sees_a_photo_of_their_pin_awaiting_review_large(phone, as_user):
    """A link would open the large photo without the token (a 404): it is shown in place."""
    open_pending_pin_with_photo(phone, as_user())
    sheet = phone.page.locator("#sheet")
    sheet.get_by_role("link", name="Photo 1 of this sensor").click()
    expect(sheet.locator(".review-photos img")).to_have_attribute("src", re.compile("^blob:"))
    assert len(phone.context.pages) == 1  # no tab opened on the photo's URL
    assert phone.errors == []


def test_confirming_a_likely_duplicate_instead_brings_the_pins_photo(
    phone, db, moderator, contributor
):
    """The photo taken for the pin is evidence for the vote; from a new contributor onto a
    public pin, it waits for a moderator."""
    existing = moderator.post("/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"]))
    existing = existing.get_json()["id"]
    page = phone.open()
    phone.sign_in(contributor)
    phone.pin(photo=images.plain_photo())
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="It's this one: confirm it").click()
    phone.wait_until_sent()
    vote = db(
        "SELECT c.verdict, p.device_id::text AS device, p.review_status FROM confirmations c"
        " JOIN photos p ON p.id = c.photo_id WHERE c.device_id = :device",
        device=existing,
    ).one()
    assert tuple(vote) == ("still_there", existing, "pending")
    assert devices_by(db, contributor).all() == []
    assert [error for error in phone.errors if "status of 409" not in error] == []


def test_a_pin_confirmed_instead_stays_in_the_outbox_when_the_vote_is_refused(
    phone, db, moderator, contributor
):
    """The pin leaves the outbox only once the vote sent in its place is accepted: a vote
    refused (one already given on this device) leaves the pin, notes and all, to resolve."""
    existing = moderator.post("/api/v1/devices", json=feature(HERE["longitude"], HERE["latitude"]))
    existing = existing.get_json()["id"]
    page = phone.open()
    phone.sign_in(contributor)
    sheet = page.locator("#sheet")
    phone.pin()
    sheet.get_by_role("button", name="It's this one: confirm it").click()
    phone.wait_until_sent()
    assert confirmations_of(db, existing) == [("still_there", contributor)]
    page.get_by_role("button", name="Pin a device").click()
    page.locator(".pin-form").get_by_label("Notes").fill("Two lenses, above the bakery")
    page.get_by_role("button", name="Save").click()
    sheet.get_by_role("button", name="It's this one: confirm it").click()
    outbox = page.locator("#outbox-button")
    expect(page.locator("#announcer")).to_contain_text("already")
    expect(outbox).to_contain_text("1 change refused")
    outbox.click()
    row = page.locator(".outbox-item.refused")
    expect(row).to_contain_text("Pin a device: camera")
    expect(row.get_by_role("button", name="Already pinned?")).to_be_visible()
    assert confirmations_of(db, existing) == [("still_there", contributor)]
    assert devices_by(db, contributor).all() == []


def test_a_duplicate_refused_in_the_background_waits_until_the_form_being_filled_is_closed(
    phone, moderator, contributor
):
    assert moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566)).status_code == 201
    page = phone.open()
    phone.sign_in(contributor)
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    phone.pin()  # a likely duplicate, refused once the network returns
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    page.get_by_role("button", name="Pin a device").click()
    form = page.locator(".pin-form")
    form.get_by_label("Notes").fill("Half written")
    phone.context.set_offline(False)
    expect(outbox).to_contain_text("1 change refused")
    expect(form.get_by_label("Notes")).to_have_value("Half written")
    page.once("dialog", lambda dialog: dialog.accept())  # the notes given up, as asked
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#sheet").get_by_role("heading", name="Already pinned?")).to_be_visible()


def test_a_form_with_work_in_it_is_left_only_when_the_contributor_says_so(phone, contributor):
    """Another marker, the account, Escape, Cancel or the phone's Back button (which left the
    app) would wipe a pin being made: the app asks first, and keeps the form if told to. The
    floating button the form covers is out of reach of the keyboard meanwhile (it would start
    the form again, blank)."""
    page = phone.open()
    phone.sign_in(contributor)
    page.get_by_role("button", name="Pin a device").click()
    form = page.locator(".pin-form")
    form.get_by_label("Notes").fill("Two cameras on the corner")
    assert page.locator("#pin-button").evaluate("button => button.inert")
    asked = []

    def answer(dialog, accept: bool):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Account", exact=True).click()
    expect(form.get_by_label("Notes")).to_have_value("Two cameras on the corner")
    page.once("dialog", lambda dialog: answer(dialog, False))
    page.keyboard.press("Escape")
    expect(form.get_by_label("Notes")).to_have_value("Two cameras on the corner")
    assert asked == ["Leave this form? What you entered in it will be lost."] * 2
    # The phone's Back button too: asked, and the form kept if told to.
    page.once("dialog", lambda dialog: answer(dialog, False))
    page.go_back()
    expect(form.get_by_label("Notes")).to_have_value("Two cameras on the corner")
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.go_back()
    expect(form).to_have_count(0)
    assert asked == ["Leave this form? What you entered in it will be lost."] * 4
    page.get_by_role("button", name="Pin a device").click()
    form.get_by_label("Notes").fill("Two cameras on the corner")
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Account", exact=True).click()
    expect(page.locator("#sheet")).to_contain_text("Signed in as")
    expect(page.locator(".pin.draft")).to_have_count(0)
    # A form left untouched goes without a question.
    page.get_by_role("button", name="Close").click()
    assert not page.locator("#pin-button").evaluate("button => button.inert")
    page.get_by_role("button", name="Pin a device").click()
    expect(form).to_be_visible()
    page.keyboard.press("Escape")
    expect(form).to_have_count(0)
    assert len(asked) == 5


def test_a_sheet_closed_by_its_button_takes_its_history_entry_along(phone, contributor):
    """The phone's Back closes an open sheet (its history entry); a sheet closed otherwise used
    to leave that entry behind, so that the next Back did nothing at all. Closed by its button
    or Escape, it now goes back past its entry: the next Back leaves the app. The map stays
    where it was moved meanwhile, and a sheet opened at once after the close still has an
    entry of its own, which Back closes."""
    page = phone.page
    before = f"{phone.server}/api/v1/"
    page.goto(before)
    phone.open()
    sheet = page.locator("#sheet")
    page.get_by_role("button", name="Account", exact=True).click()
    expect(sheet).to_be_visible()
    page.locator("#map").focus()
    page.keyboard.press("ArrowLeft")  # the map moves while the sheet shows
    expect(page.locator(".leaflet-map-pane")).to_have_attribute(
        "style", re.compile(r"translate3d\(80px, -?[\d.]+px, 0px\)")
    )
    opened_at = re.compile(r"#18/48\.85660/2\.35220$")
    page.get_by_role("button", name="Close").click()
    expect(sheet).to_be_hidden()
    expect(page).not_to_have_url(opened_at)
    moved = page.url
    # Opened again and closed by Escape, then opened again at once: Back closes that one.
    page.get_by_role("button", name="Account", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Account", exact=True).click()
    expect(sheet).to_be_visible()
    page.go_back()
    expect(sheet).to_be_hidden()
    assert page.url == moved
    page.go_back()
    expect(page).to_have_url(before)


def test_back_from_a_device_chosen_in_a_clusters_list_opens_the_list_again(phone, moderator):
    """A device chosen in the list of a spot's devices stands over the list: Back opens the
    list (it went to the map, and the next Back left the app), and a close goes back past both
    entries, so that the next Back leaves the app."""
    spot = feature(2.3522, 48.8566)
    for kind in ("camera", "microphone"):
        spot["properties"]["kind"] = kind
        assert moderator.post("/api/v1/devices?force=true", json=spot).status_code == 201
    before = f"{phone.server}/api/v1/"
    page = phone.page
    page.goto(before)
    phone.open("#19/48.8566/2.3522")
    sheet = page.locator("#sheet")
    list_heading = sheet.get_by_role("heading", name="2 devices at this spot")
    page.get_by_role("button", name=re.compile("^Cluster of 2 devices: ")).click()
    sheet.get_by_role("button", name=re.compile("^microphone — ")).click()
    expect(sheet.get_by_role("heading", name="microphone")).to_be_visible()
    page.go_back()
    expect(list_heading).to_be_visible()
    sheet.get_by_role("button", name=re.compile("^camera — ")).click()
    expect(sheet.get_by_role("heading", name="camera")).to_be_visible()
    page.go_back()
    expect(list_heading).to_be_visible()
    page.go_back()  # the list's own entry: the map
    expect(sheet).to_be_hidden()
    assert page.evaluate("history.state") is None  # the map's entry
    # Chosen again and closed by its button: both entries go.
    page.get_by_role("button", name=re.compile("^Cluster of 2 devices: ")).click()
    sheet.get_by_role("button", name=re.compile("^camera — ")).click()
    expect(sheet.get_by_role("heading", name="camera")).to_be_visible()
    sheet.get_by_role("button", name="Close").click()
    expect(sheet).to_be_hidden()
    expect(page).not_to_have_url(before)
    page.go_back()
    expect(page).to_have_url(before)


def test_a_sheets_entry_with_no_sheet_to_open_is_passed_by(phone, as_user):
    """Back to a sheet's entry that has nothing to open again (another sheet was opened at the
    place a link led to): the entry under it is the map's, at the same address. Kept, it made
    a Back that did nothing, or only moved the map."""
    author = as_user()
    pin(author, HERE["longitude"] + 0.003, HERE["latitude"], kind="camera")
    before = f"{phone.server}/api/v1/"
    page = phone.page
    page.goto(before)
    phone.open()
    phone.sign_in(author.user.username)
    page.get_by_role("button", name="Account", exact=True).click()
    page.locator(".contributions").get_by_role("link", name="camera", exact=True).click()
    expect(page.locator("#sheet")).to_be_hidden()
    page.get_by_role("button", name="Account", exact=True).click()
    page.get_by_role("button", name="Close").click()
    page.go_back()  # to the place, then past Account's entry to the map's
    expect(page).to_have_url(re.compile(r"#18/48\.85660/2\.35220$"))
    expect(page.locator("#sheet")).to_be_hidden()
    page.go_back()
    expect(page).to_have_url(before)


def test_markers_the_sheet_covers_are_out_of_the_keyboards_reach(phone, moderator):
    """Tabbing through the map would otherwise reach markers hidden under the open sheet, the
    focus out of sight; those above it stay in reach, and all come back once it closes."""
    pin(moderator, HERE["longitude"], HERE["latitude"] + 0.0011, kind="camera")  # near the top
    pin(moderator, HERE["longitude"], HERE["latitude"] - 0.0011, kind="microphone")  # bottom
    page = phone.open()
    camera = page.locator(".leaflet-marker-icon[title^='camera']")
    microphone = page.locator(".leaflet-marker-icon[title^='microphone']")
    expect(microphone).to_have_attribute("tabindex", "0")
    page.get_by_role("button", name="Account", exact=True).click()  # the lower half covered
    expect(microphone).to_have_attribute("tabindex", "-1")
    expect(camera).to_have_attribute("tabindex", "0")
    # The map moved north under the sheet (the keyboard pans 80 px a key): the microphone out
    # of view, the camera drawn again under the sheet is out of reach too.
    page.locator("#map").focus()
    for step in range(1, 4):
        page.keyboard.press("ArrowUp")
        expect(page.locator(".leaflet-map-pane")).to_have_attribute(
            "style", re.compile(rf"translate3d\(-?[\d.]+px, {80 * step}px, 0px\)")
        )
    expect(microphone).to_have_count(0)
    expect(camera).to_have_attribute("tabindex", "-1")
    page.get_by_role("button", name="Close").click()
    expect(camera).to_have_attribute("tabindex", "0")


def revoke_tokens_of(db, username):
    db(
        "UPDATE api_tokens SET revoked_at = now() FROM users u"
        " WHERE u.id = api_tokens.user_id AND u.username = :username",
        username=username,
    )


def test_a_token_revoked_elsewhere_signs_the_phone_out_and_keeps_the_accounts_unsent_pin(
    phone, db, moderator, contributor
):
    assert moderator.post("/api/v1/devices", json=feature(2.3525, 48.8567, kind="microphone"))
    page = phone.open()
    phone.sign_in(contributor)
    phone.wait_for_service_worker()
    phone.context.set_offline(True)
    phone.pin(kind="sensor")
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    revoke_tokens_of(db, contributor)  # signed out from another phone
    phone.context.set_offline(False)
    announcer = page.locator("#announcer")
    expect(announcer).to_contain_text("Your session has ended")
    expect(outbox).to_be_hidden()  # the account's own, kept for it
    page.get_by_role("button", name="Account", exact=True).click()
    expect(page.locator("#sheet")).to_contain_text("sign in again")
    page.get_by_role("button", name="Close").click()
    assert devices_by(db, contributor).all() == []
    phone.sign_in(contributor)
    phone.wait_until_sent()
    assert [device.kind for device in devices_by(db, contributor)] == ["sensor"]

    # The map, opened with a token expired meanwhile, shows what anyone may see.
    revoke_tokens_of(db, contributor)
    page.reload()
    expect(announcer).to_contain_text("Your session has ended")
    expect(page.locator(".leaflet-marker-icon[title^='microphone']")).to_have_count(1)
    expect(page.locator("#status")).to_have_text("1 device in view")
    phone.sign_in(contributor)  # the ended session is no longer said, at once
    expect(announcer).not_to_contain_text("Your session has ended", timeout=1000)
    expected = ("status of 401", "ERR_INTERNET_DISCONNECTED")
    assert [e for e in phone.errors if not any(text in e for text in expected)] == []


def test_a_change_sent_just_before_the_session_ended_is_said_with_it(phone, db, contributor):
    # No service worker: its own pass through the outbox, once the network is back, would
    # send beside the page's, the second pin too before the token is revoked.
    quiet = Phone(phone.browser, phone.server, service_workers="block")
    page = quiet.open()
    quiet.sign_in(contributor)
    quiet.context.set_offline(True)
    quiet.pin(kind="sensor")
    quiet.pin(kind="camera")
    expect(page.locator("#outbox-button")).to_have_text("2 changes waiting to be sent")

    def revoked_once_answered(route):  # signed out from another phone meanwhile
        answer = route.fetch()
        revoke_tokens_of(db, contributor)
        route.fulfill(response=answer)

    quiet.context.route("**/api/v1/devices", revoked_once_answered, times=1)
    quiet.context.set_offline(False)
    # One pass through the outbox: neither sentence replaces the other.
    expect_said_as_a_refusal(page, "Your session has ended", "1 change sent")
    assert [device.kind for device in devices_by(db, contributor)] == ["sensor"]
    quiet.close()


def test_a_vote_made_offline_says_it_was_recorded_once_the_network_is_back(
    phone, db, moderator, as_user
):
    device = moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="sensor"))
    voter = as_user()
    page = open_offline(phone, voter.user.username)
    sheet = page.locator("#sheet")
    sheet.get_by_role("button", name="Still there").click()
    expect(sheet).to_contain_text("Your answer is kept on this phone")
    phone.context.set_offline(False)
    expect(sheet).to_contain_text("Thank you: your answer is recorded.")
    expect(sheet).not_to_contain_text("Your answer is kept on this phone")
    assert [verdict for verdict, _ in confirmations_of(db, device.get_json()["id"])] == [
        "still_there"
    ]


def test_a_vote_refused_once_the_network_returns_leaves_the_outbox_and_says_why(
    phone, db, moderator, as_user
):
    device = moderator.post("/api/v1/devices", json=feature(2.3522, 48.8566, kind="sensor"))
    url = f"/api/v1/devices/{device.get_json()['id']}/confirmations"
    voter = as_user()
    assert voter.post(url, json={"verdict": "still_there"}).status_code == 201  # another phone
    page = open_offline(phone, voter.user.username)
    page.locator("#sheet").get_by_role("button", name="Not found").click()
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    phone.context.set_offline(False)
    expect(page.locator("#announcer")).to_contain_text(
        "Your answer was not recorded: You already voted"
    )
    # In the colours of a refusal, not of a change sent.
    expect(page.locator("#announcer")).to_have_attribute("data-tone", "refusal")
    expect(outbox).to_be_hidden()
    assert [verdict for verdict, _ in confirmations_of(db, device.get_json()["id"])] == [
        "still_there"
    ]


def test_a_rate_limited_pin_says_why_it_waits_and_is_not_sent_again_too_early(
    phone, app, monkeypatch, as_user
):
    monkeypatch.setitem(app.config, "NEW_ACCOUNT_PINS_PER_HOUR", 1)
    author = as_user()
    assert author.post("/api/v1/devices", json=feature(2.36, 48.86)).status_code == 201
    page = phone.open()
    phone.sign_in(author.user.username)
    pins = []
    phone.context.on(
        "request",
        lambda r: r.method == "POST" and r.url.endswith("/api/v1/devices") and pins.append(r),
    )
    phone.pin()
    reason = "Not sent yet: New accounts may pin 1 devices an hour; try again later."
    expect(page.locator("#announcer")).to_have_text(reason)
    outbox = page.locator("#outbox-button")
    expect(outbox).to_have_text("1 change waiting to be sent")
    # The network is back (a retry): the server said to wait an hour, so nothing is sent.
    with page.expect_request(lambda r: "/api/v1/sync" in r.url):
        page.evaluate("window.dispatchEvent(new Event('online'))")
    assert len(pins) == 1
    outbox.click()
    expect(page.locator(".outbox-item")).to_contain_text(reason)
