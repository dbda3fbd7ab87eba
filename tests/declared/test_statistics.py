"""Declared figures in the district statistics: JSON, CSV and GeoJSON say the same."""

import csv
import io

import pytest

from tests.districts import district_feature, load, rectangle, write_geojson

from . import LAT, LON, METRE_LAT, add_device, load_sites, site, write_sites

URL = "/api/v1/stats/districts?level=quartier&declared=true"
FIGURES = ("declared_sites", "declared_devices", "matched", "unverified", "undeclared")


@pytest.fixture
def two_districts(isolated, db, tmp_path):
    """West (W) holds two sites (one declaring 3 cameras) and East (E) one; devices around."""
    load(
        isolated,
        write_geojson(
            tmp_path / "d.geojson",
            [
                district_feature("W", rectangle(LON - 0.01, LAT - 0.01, LON, LAT + 0.01)),
                district_feature("E", rectangle(LON, LAT - 0.01, LON + 0.01, LAT + 0.01)),
            ],
        ),
    )
    west, east = LON - 0.005, LON + 0.005
    load_sites(
        isolated,
        write_sites(
            tmp_path / "l.geojson",
            [site("W1", west, LAT, n=3), site("W2", west, LAT + 0.005), site("E1", east, LAT)],
        ),
        count_field="n",
    )
    for metres in (10, 20):
        add_device(db, west, LAT + metres * METRE_LAT)
    add_device(db, west, LAT - 0.008)  # undeclared
    add_device(db, east, LAT + 5 * METRE_LAT)


def test_the_figures_per_district_and_in_total(client, two_districts):
    body = client.get(URL).get_json()
    east, west = body["districts"]  # in code order
    assert {name: west[name] for name in FIGURES} == {
        "declared_sites": 2,
        "declared_devices": 4,
        "matched": 2,
        "unverified": 1,
        "undeclared": 1,
    }
    assert west["declared_coverage"] == 0.5
    assert {name: east[name] for name in FIGURES} == dict(
        zip(FIGURES, (1, 1, 1, 0, 0), strict=True)
    )
    assert east["declared_coverage"] == 1
    assert {name: body["totals"][name] for name in FIGURES} == dict(
        zip(FIGURES, (3, 5, 3, 1, 1), strict=True)
    )
    assert body["totals"]["declared_coverage"] == 0.6
    plain = client.get("/api/v1/stats/districts?level=quartier").get_json()
    assert "declared_sites" not in plain["districts"][0]


def test_csv_and_geojson_carry_the_same_figures(client, two_districts):
    as_json = {d["code"]: d for d in client.get(URL).get_json()["districts"]}
    rows = list(csv.DictReader(io.StringIO(client.get(URL + "&f=csv").get_data(as_text=True))))
    features = client.get(URL + "&f=geojson").get_json()["features"]
    for row in rows:
        for name in (*FIGURES, "declared_coverage"):
            assert float(row[name]) == as_json[row["code"]][name], name
    for feature in features:
        properties = feature["properties"]
        assert {n: properties[n] for n in FIGURES} == {
            n: as_json[properties["code"]][n] for n in FIGURES
        }


def test_declared_figures_are_about_the_map_now(client, two_districts):
    response = client.get(URL + "&at=2020-01-01")
    assert response.status_code == 400
    assert response.get_json()["errors"][0] | {"message": None} == {
        "field": "at",
        "location": "query",
        "message": None,
    }


def test_overlapping_districts_of_one_level_each_count_what_their_interior_holds(
    client, isolated, db, tmp_path
):
    """The border rule of devices: a site and its camera inside two overlapping districts
    count in both (as the camera does in `count`); a site on the border of one and inside the
    other counts in the other alone."""
    overlapping = [
        district_feature("A", rectangle(LON - 0.01, LAT - 0.01, LON + 0.002, LAT + 0.01)),
        district_feature("B", rectangle(LON, LAT - 0.01, LON + 0.01, LAT + 0.01)),
    ]
    load(isolated, write_geojson(tmp_path / "d.geojson", overlapping))
    in_both, on_b_border = LON + 0.001, LON
    load_sites(
        isolated,
        write_sites(
            tmp_path / "l.geojson", [site("S1", in_both, LAT), site("S2", on_b_border, LAT)]
        ),
    )
    add_device(db, in_both, LAT + 5 * METRE_LAT)
    districts = {d["code"]: d for d in client.get(URL).get_json()["districts"]}
    figures = ("count", "declared_sites", "matched", "unverified", "undeclared")
    assert {name: districts["A"][name] for name in figures} == dict(
        zip(figures, (1, 2, 1, 1, 0), strict=True)
    )
    assert {name: districts["B"][name] for name in figures} == dict(
        zip(figures, (1, 1, 1, 0, 0), strict=True)
    )
