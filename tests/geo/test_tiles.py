"""The tile keys computed in Python agree with those PostgreSQL stores for each device."""

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from service.db import session
from service.geo.keys import KEY_ZOOM, mercator_pixel, tile_key_range
from service.geo.tiles import KeyArea
from tests.api.test_tiles import tile_of

longitudes = st.floats(-179.999, 179.999)
latitudes = st.floats(-85.0, 85.0)


@settings(max_examples=60, deadline=None)
@given(lon=longitudes, lat=latitudes, z=st.integers(0, 22))
def test_a_device_key_lies_in_the_range_of_its_tile(app, lon, lat, z):
    with app.app_context():
        row = session.execute(
            text(
                "SELECT vigie_tile_key(g), vigie_mercator_x(g), vigie_mercator_y(g) "
                "FROM ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g"
            ),
            {"lon": lon, "lat": lat},
        ).one()
        session.remove()
    key, x, y = row
    assert abs(x - mercator_pixel(lon, lat)[0]) <= 1 and abs(y - mercator_pixel(lon, lat)[1]) <= 1
    tile_x, tile_y = x >> (KEY_ZOOM - z), y >> (KEY_ZOOM - z)
    tile = tile_key_range(z, tile_x, tile_y)
    low, high = tile.low, tile.high
    assert low <= key < high
    if abs(lat) < 85:
        assert abs(tile_x - tile_of(lon, lat, z)[0]) <= 1


@given(
    lon=st.floats(-170, 169),
    lat=st.floats(-80, 79),
    width=st.floats(0.0001, 10),
    height=st.floats(0.0001, 5),
)
def test_a_box_is_covered_by_at_most_64_tiles(lon, lat, width, height):
    area = KeyArea.of_bboxes([(lon, lat, lon + width, lat + height)])
    assert 1 <= len(area.ranges) <= 64
    [(x0, y0, x1, y1)] = area.pixel_boxes
    assert x0 <= x1 and y0 <= y1
