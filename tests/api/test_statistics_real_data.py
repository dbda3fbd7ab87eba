"""The figures on real boundaries and populations (Nice, Paris, Lyon; INSEE 2023).

Devices are placed in exactly the numbers that the ratios quoted in public debate imply; the API
must give those ratios back. Paris arrondissement areas must match the official ones.
"""

import pytest

from tests.districts import load_real

# Inhabitants per camera quoted in the public debate.
PUBLISHED_RATIOS = {"06088": 450, "75056": 2050, "69123": 1850}
CITY_POPULATIONS = {"06088": 357_737, "75056": 2_103_778, "69123": 519_127}
CITY_ARRONDISSEMENTS = {"75056": "paris-arrondissements", "69123": "lyon-arrondissements"}

# Official areas (opendata.paris.fr `surface`, m² / 1e6) of the 20 arrondissements.
PARIS_OFFICIAL_AREAS_KM2 = {
    "75101": 1.8246,
    "75102": 0.9912,
    "75103": 1.1709,
    "75104": 1.6006,
    "75105": 2.5394,
    "75106": 2.1531,
    "75107": 4.0901,
    "75108": 3.88,
    "75109": 2.1783,
    "75110": 2.8917,
    "75111": 3.6654,
    "75112": 16.3148,
    "75113": 7.1493,
    "75114": 5.6149,
    "75115": 8.495,
    "75116": 16.3725,
    "75117": 5.6688,
    "75118": 5.9961,
    "75119": 6.7927,
    "75120": 5.9834,
}


@pytest.fixture
def cities(app, isolated):
    load_real(isolated, app, "france-communes", codes=tuple(PUBLISHED_RATIOS))
    for name in CITY_ARRONDISSEMENTS.values():
        load_real(isolated, app, name)


def place_devices(db, code: str, count: int, parts_of: str | None = None) -> None:
    """`count` cameras at random (seeded) points inside the district, and inside its
    arrondissements when it has some, so that both levels agree."""
    db(
        """
        INSERT INTO devices (id, geom, kind)
        SELECT gen_random_uuid(), (ST_Dump(ST_GeneratePoints(area, :count, 42))).geom, 'camera'
        FROM (
            SELECT CASE WHEN CAST(:parent AS text) IS NULL THEN c.geom
                   ELSE ST_Intersection(c.geom, (SELECT ST_Union(geom) FROM districts
                                                 WHERE parent_code = CAST(:parent AS text)))
                   END AS area
            FROM districts c WHERE c.code = :code
        ) AS target
        """,
        count=count,
        code=code,
        parent=parts_of,
    )


def test_the_api_gives_back_the_published_ratios(client, db, cities):
    counts = {
        code: round(CITY_POPULATIONS[code] / ratio) for code, ratio in PUBLISHED_RATIOS.items()
    }
    for code, count in counts.items():
        place_devices(db, code, count, parts_of=code if code in CITY_ARRONDISSEMENTS else None)
    response = client.get("/api/v1/stats/compare?codes=06088,75056,69123&kind=camera")
    assert response.status_code == 200
    cities_figures = {d["code"]: d for d in response.get_json()["districts"]}
    for code, ratio in PUBLISHED_RATIOS.items():
        figures = cities_figures[code]
        assert figures["population"] == CITY_POPULATIONS[code]
        assert figures["count"] == counts[code]
        assert figures["inhabitants_per_device"] == pytest.approx(
            CITY_POPULATIONS[code] / counts[code], abs=0.01
        )
        # Whole devices only: the published ratio is met to within half a device.
        assert abs(figures["inhabitants_per_device"] - ratio) / ratio < 0.5 / counts[code] + 1e-9
        assert figures["per_10k_inhabitants"] == pytest.approx(1e4 / ratio, rel=0.005)
    for code in CITY_ARRONDISSEMENTS:
        body = client.get(f"/api/v1/stats/districts?level=arrondissement&parent={code}").get_json()
        assert body["totals"]["count"] == counts[code]
        assert body["totals"]["population"] == CITY_POPULATIONS[code]
        assert body["totals"]["inhabitants_per_device"] == pytest.approx(
            CITY_POPULATIONS[code] / counts[code], abs=0.01
        )
        assert any(
            a["attribution"] == "INSEE, populations légales 2023" for a in body["attribution"]
        )


def test_paris_arrondissement_areas_match_the_official_ones(client, cities):
    body = client.get("/api/v1/stats/districts?level=arrondissement&parent=75056").get_json()
    areas = {d["code"]: d["area_km2"] for d in body["districts"]}
    assert set(areas) == set(PARIS_OFFICIAL_AREAS_KM2)
    for code, official in PARIS_OFFICIAL_AREAS_KM2.items():
        assert areas[code] == pytest.approx(official, rel=0.005), code
    assert body["totals"]["area_km2"] == pytest.approx(105.4, rel=0.005)
