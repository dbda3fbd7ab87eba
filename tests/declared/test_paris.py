"""The Paris police's 2019 list (707 geocoded sites of its annex 1) against the arrondissements.

The list and its annex are read from GEODATA_DIR (geodata/catalogue.toml names the folder's
other files); docs/declared.md explains the sites whose arrondissement differs from the one
their postal code gives.
"""

import csv
import json
from pathlib import Path

import pytest

from geodata.declared import DeclaredFields, import_declared
from tests.districts import load_real

from . import METRE_LAT, add_device

LIST_FILE = "paris-cameras-videoprotection-pp-2019.geojson"
ANNEX_FILE = "paris-cameras-videoprotection-pp-2019-annexe1.csv"
# Sites per arrondissement 1 to 20 by position (ST_Contains), as SOURCES counted them.
BY_POSITION = (30, 22, 20, 23, 29, 27, 43, 29, 36, 42, 33, 30, 48, 32, 33, 46, 35, 61, 44, 43)
CODES = tuple(f"751{n:02d}" for n in range(1, 21))


def shared_file(app, name: str) -> str:
    path = Path(app.config["GEODATA_DIR"]) / name
    assert path.is_file(), f"{name} is not in GEODATA_DIR ({app.config['GEODATA_DIR']})"
    return str(path)


@pytest.fixture
def paris(app, isolated):
    load_real(isolated, app, "paris-arrondissements")
    return import_declared(
        isolated,
        shared_file(app, LIST_FILE),
        name="paris-pp-2019",
        publisher="Préfecture de Police de Paris",
        published_on=None,
        source_url="https://github.com/ColinMaudry/geo-videoprotection-paris",
        licence="ODbL 1.0",
        fields=DeclaredFields(
            id_field="numero",
            kind="camera",
            address_field="implantation",
            commissioned_field="date_mise_en_service",
        ),
    )


def district_figures(client) -> dict:
    response = client.get("/api/v1/stats/districts?level=arrondissement&declared=true")
    assert response.status_code == 200, response.get_json()
    return {d["code"]: d for d in response.get_json()["districts"]}, response.get_json()["totals"]


def annex_arrondissements(app) -> dict:
    """Site number -> the arrondissement its postal code names (75116 is the 16th too)."""
    with open(shared_file(app, ANNEX_FILE), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(rows) == 1391
    return {row["Numéro"]: "751" + row["Code postal"][-2:] for row in rows}


def test_the_707_sites_and_their_arrondissements(app, client, db, paris):
    assert (paris.sites, len(paris.added)) == (707, 707)
    figures, totals = district_figures(client)
    assert tuple(figures[code]["declared_sites"] for code in CODES) == BY_POSITION
    assert totals["declared_sites"] == 706  # n°73432 lies 8 m outside Paris
    assert totals["unverified"] == 706 and totals["matched"] == 0
    # By position versus by the annex's postal code: the sites that differ lie near a border.
    annex = annex_arrondissements(app)
    placed = db(
        """
        SELECT DISTINCT ON (s.id) s.source_id, d.code,
               ST_Distance(s.geom::geography, ST_Boundary(p.geom)::geography) AS to_border_m
        FROM declared_sites s
        LEFT JOIN districts d ON d.level = 'arrondissement' AND ST_Intersects(d.geom, s.geom)
        JOIN districts p ON p.code = CAST(:codes AS jsonb) ->> s.source_id
        ORDER BY s.id, d.code
        """,
        codes=json.dumps(annex),
    ).all()
    assert len(placed) == 707  # every geocoded site is in the annex
    outside = [row for row in placed if row.code is None]
    differ = [row for row in placed if row.code is not None and row.code != annex[row.source_id]]
    assert [row.source_id for row in outside] == ["73432"]
    assert len(differ) == 57
    assert sum(row.to_border_m < 5 for row in differ) == 45
    assert sum(row.to_border_m < 25 for row in differ) == 54
    assert max(row.to_border_m for row in differ) < 70


def test_observed_devices_give_statuses_and_district_figures(client, db, paris):
    site = client.get("/api/v1/declared/sites?dataset=paris-pp-2019&limit=1000").get_json()
    by_number = {f["properties"]["source_id"]: f for f in site["features"]}
    lon, lat = by_number["1051"]["geometry"]["coordinates"]  # Rue Saint-Denis, rue de Rivoli
    found = add_device(db, lon, lat + 10 * METRE_LAT)
    add_device(db, lon, lat - 10 * METRE_LAT, kind="microphone")  # not what was declared
    # In the Bois de Boulogne, far from any declared site.
    far = add_device(db, 2.2530, 48.8620)
    assert client.get(f"/api/v1/declared/devices/{far}").get_json()["declared"] is False
    sites = client.get(f"/api/v1/declared/devices/{found}").get_json()["sites"]
    assert "1051" in [s["source_id"] for s in sites]
    assert all(s["distance_m"] <= 50 for s in sites)
    one = client.get(f"/api/v1/declared/sites/{by_number['1051']['id']}").get_json()
    assert (one["properties"]["status"], one["properties"]["devices"]) == ("verified", [found])
    figures, totals = district_figures(client)
    first, sixteenth = figures["75101"], figures["75116"]
    assert (first["count"], first["matched"], first["undeclared"]) == (2, len(sites), 1)
    assert first["unverified"] == 30 - len(sites)
    assert first["declared_coverage"] == round(len(sites) / 30, 4)
    assert (sixteenth["count"], sixteenth["matched"], sixteenth["undeclared"]) == (1, 0, 1)
    assert (totals["matched"], totals["undeclared"], totals["count"]) == (len(sites), 2, 3)
    undeclared = client.get("/api/v1/devices?declared=false").get_json()["features"]
    assert sorted(f["id"] for f in undeclared) == sorted(
        [far, *(f for f in db("SELECT id::text FROM devices WHERE kind = 'microphone'").scalars())]
    )
