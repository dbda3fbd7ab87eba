"""The one rule placing a point in the hexagon grid (hexagon_cell, utm_srid: migration 0018)."""

import pytest

from service.geo.grid import reach, utm_srid, within_zone


def test_each_point_goes_to_the_hexagon_whose_polygon_holds_it(app, db):
    # PostGIS' own grid as the reference: of the hexagons whose polygon meets the point, the
    # lowest i, j (ST_HexagonGrid alone lists the hexagons whose bounding box meets it).
    mismatches = db(
        "WITH points AS ("
        "  SELECT (random() - 0.5) * 40000 AS x, (random() - 0.5) * 40000 AS y,"
        "         (ARRAY[10, 37.5, 250, 1000])[1 + n % 4]::float8 AS side"
        "  FROM generate_series(1, 4000) AS n)"
        "SELECT x, y, side, hexagon_cell(x, y, side) AS cell FROM points "
        "WHERE hexagon_cell(x, y, side) IS DISTINCT FROM ("
        "  SELECT ARRAY[i, j] FROM ST_HexagonGrid(side, ST_MakePoint(x, y)) AS g"
        "  WHERE ST_Intersects(g.geom, ST_MakePoint(x, y)) ORDER BY i, j LIMIT 1)"
    ).all()
    assert mismatches == []


def test_the_hexagon_of_its_bounding_box_is_not_always_the_one_holding_it(app, db):
    # 250 m hexagons: this point is in the bounding box of hexagon (-1, 2), inside (0, 2).
    cell = db("SELECT hexagon_cell(-132.45, 913.06, 250)").scalar_one()
    lowest_box = db(
        "SELECT ARRAY[i, j] FROM ST_HexagonGrid(250, ST_MakePoint(-132.45, 913.06)) "
        "ORDER BY i, j LIMIT 1"
    ).scalar_one()
    assert (cell, lowest_box) == ([0, 2], [-1, 2])


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(2.35, 48.85), (-180, 0), (180, -0.1), (-0.001, 51.5), (5.999, 43.3), (6, 43.3),
     (-157.8, 21.3), (151.2, -33.9), (55.45, -20.9)],
)  # fmt: skip
def test_the_utm_zone_of_a_point_in_sql_is_that_of_a_bbox_centred_on_it(app, db, lon, lat):
    in_sql = db("SELECT utm_srid(:lon, :lat)", lon=lon, lat=lat).scalar_one()
    assert in_sql == utm_srid((lon, lat, lon, lat))


def test_a_box_is_in_a_zone_when_its_reach_is():
    paris = (2.224, 48.815, 2.470, 48.902)
    assert within_zone(reach(paris, 250), 32631)
    assert not within_zone(reach((5.99, 45.0, 5.999, 45.01), 250), 32631)  # reaches zone 32
    assert not within_zone(reach((2.0, 0.0001, 2.1, 0.01), 250), 32631)  # and the south
    assert within_zone(reach((2.0, -0.1, 2.1, -0.01), 250), 32731)
    (west, south, east, north), box = reach(paris, 250), paris
    assert west < box[0] and south < box[1] and east > box[2] and north > box[3]
    assert (box[1] - south) * 111_320 == pytest.approx(1000)
