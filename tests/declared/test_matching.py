"""Matching declared sites with observed devices, and keeping it current on every write."""

import pytest

from tests.helpers import pin

from . import LAT, LON, METRE_LAT, add_device, load_sites, site, statuses, write_sites


def near(metres: float) -> float:
    """The latitude METRES north of the site."""
    return LAT + metres * METRE_LAT


def test_statuses_follow_how_many_of_the_declared_devices_were_found(
    client, db, isolated, tmp_path
):
    first = add_device(db, lat=near(20))
    load_sites(
        isolated,
        write_sites(
            tmp_path / "l.geojson",
            [site("three", n=3), site("one", LON + 0.01, n=1), site("none", LON - 0.01)],
        ),
        count_field="n",
    )
    assert statuses(client)["three"] == ("partially_verified", [first])
    second = add_device(db, lat=near(-30))
    add_device(db, lat=near(80))  # too far
    add_device(db, lat=near(10), kind="microphone")  # not a camera
    add_device(db, lat=near(5), review_status="pending")  # not public
    add_device(db, lat=near(5), status="removed")  # not there any more
    found = statuses(client)
    assert found["three"] == ("partially_verified", sorted([first, second]))
    assert found["none"] == ("unverified", [])
    third = add_device(db, lat=near(40), kind="alpr")  # a plate reader is a camera too
    one = add_device(db, LON + 0.01, near(1))
    found = statuses(client)
    assert found["three"] == ("verified", sorted([first, second, third]))
    assert found["one"] == ("verified", [one])


def test_a_write_updates_the_matches_of_that_device_only(client, db, isolated, tmp_path):
    load_sites(
        isolated,
        write_sites(tmp_path / "l.geojson", [site("here"), site("there", LON + 0.01)]),
    )
    device = add_device(db, lat=near(10))
    assert statuses(client) == {"here": ("verified", [device]), "there": ("unverified", [])}
    db(
        "UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) WHERE id = :id",
        lon=LON + 0.01,
        lat=LAT,
        id=device,
    )
    assert statuses(client) == {"here": ("unverified", []), "there": ("verified", [device])}
    db("UPDATE devices SET kind = 'sensor' WHERE id = :id", id=device)
    assert statuses(client)["there"] == ("unverified", [])
    db("UPDATE devices SET kind = 'camera', review_status = 'rejected' WHERE id = :id", id=device)
    assert statuses(client)["there"] == ("unverified", [])
    db("UPDATE devices SET review_status = 'approved' WHERE id = :id", id=device)
    assert statuses(client)["there"] == ("verified", [device])
    db("UPDATE devices SET deleted_at = now() WHERE id = :id", id=device)
    assert statuses(client)["there"] == ("unverified", [])
    db("UPDATE devices SET deleted_at = NULL WHERE id = :id", id=device)
    db("DELETE FROM devices WHERE id = :id", id=device)
    assert statuses(client)["there"] == ("unverified", [])


def test_writes_through_the_api_keep_the_matches(client, as_user, moderator, isolated, tmp_path):
    load_sites(isolated, write_sites(tmp_path / "l.geojson", [site("S")]))
    trusted = as_user("moderator")
    device = pin(trusted, LON, near(15))["id"]
    assert statuses(client)["S"] == ("verified", [device])
    current = trusted.get(f"/api/v1/devices/{device}")
    moved = trusted.patch(
        f"/api/v1/devices/{device}",
        json={"geometry": {"type": "Point", "coordinates": [LON, near(500)]}},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.get_json()
    assert statuses(client)["S"] == ("unverified", [])


def test_the_distance_is_per_dataset_and_a_device_may_match_several_sites(
    client, db, isolated, tmp_path
):
    device = add_device(db, lat=near(120))
    sites = write_sites(tmp_path / "l.geojson", [site("S"), site("T", lat=near(200))])
    load_sites(isolated, sites, name="near")
    load_sites(isolated, sites, name="wide", distance_m=150)
    assert statuses(client, "near") == {"S": ("unverified", []), "T": ("unverified", [])}
    assert statuses(client, "wide") == {"S": ("verified", [device]), "T": ("verified", [device])}
    declaration = client.get(f"/api/v1/declared/devices/{device}").get_json()
    assert declaration["declared"] is True
    assert [(s["dataset"], s["source_id"]) for s in declaration["sites"]] == [
        ("wide", "S"),
        ("wide", "T"),
    ]
    assert declaration["sites"][0]["distance_m"] == pytest.approx(120, abs=1)
    # A new version with another distance matches every site again.
    load_sites(isolated, sites, name="near", distance_m=150)
    assert statuses(client, "near")["S"] == ("verified", [device])


def test_a_new_version_matches_moved_sites_again(client, db, isolated, tmp_path):
    device = add_device(db, LON + 0.01, LAT)
    load_sites(isolated, write_sites(tmp_path / "v1.geojson", [site("S")]))
    assert statuses(client)["S"] == ("unverified", [])
    load_sites(isolated, write_sites(tmp_path / "v2.geojson", [site("S", LON + 0.01)]))
    assert statuses(client)["S"] == ("verified", [device])


def test_devices_can_be_listed_declared_or_undeclared(client, db, isolated, tmp_path):
    load_sites(isolated, write_sites(tmp_path / "l.geojson", [site("S")]))
    declared = add_device(db, lat=near(10))
    undeclared = add_device(db, lat=near(300))

    def listed(value):
        response = client.get(f"/api/v1/devices?declared={value}")
        assert response.status_code == 200
        return [f["id"] for f in response.get_json()["features"]]

    assert listed("false") == [undeclared]
    assert listed("true") == [declared]
    assert client.get(f"/api/v1/declared/devices/{undeclared}").get_json() == {
        "device": undeclared,
        "declared": False,
        "sites": [],
    }
    assert client.get("/api/v1/devices?declared=maybe").status_code == 400
