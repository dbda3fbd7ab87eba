"""The contributor app credits the data as the server does: OpenStreetMap's contributors
(ODbL) next to Vigie's once devices imported from OpenStreetMap are on the map."""

from playwright.sync_api import expect

from tests.test_webapp import phone

__all__ = ["phone"]


def test_the_map_credits_openstreetmap_for_imported_devices(phone, db):
    db(
        "INSERT INTO devices (id, geom, kind, osm_id, osm_version) VALUES "
        "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326), 'camera', 7, 1)"
    )
    page = phone.open()
    credit = page.locator(".leaflet-control-attribution")
    expect(credit).to_contain_text("© OpenStreetMap contributors (ODbL 1.0)")
    expect(credit).to_contain_text("Vigie contributors (ODbL 1.0)")
    link = credit.get_by_role("link", name="© OpenStreetMap contributors (ODbL 1.0)")
    expect(link).to_have_attribute("href", "https://opendatacommons.org/licenses/odbl/1-0/")
    # (The basemap of the test configuration may be out of reach; scripts must not fail.)
    assert [e for e in phone.errors if not e.startswith("Failed to load resource")] == []
