"""covering_ranges: the tile_key ranges a page of devices in a box is read from."""

import bisect
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from service.geo.keys import COVER_DETAIL, KEY_ZOOM, covering_ranges, mercator_pixel, spread_bits


def key_of(lon: float, lat: float) -> int:
    x, y = mercator_pixel(lon, lat)
    return spread_bits(x) | (spread_bits(y) << 1)


def range_of(ranges, key):
    """The range holding KEY, or None."""
    i = bisect.bisect_right([r.low for r in ranges], key) - 1
    return ranges[i] if i >= 0 and key < ranges[i].high else None


boxes = st.tuples(
    st.floats(-179.9, 179.0),
    st.floats(-84.0, 84.0),
    st.floats(1e-6, 1.0),
    st.floats(1e-6, 1.0),
).map(lambda b: (b[0], b[1], min(b[0] + b[2], 180.0), min(b[1] + b[3], 85.0)))
# Boxes whose edges lie on the edges of large tiles (the equator, the prime meridian...).
aligned = st.sampled_from([-45.0, -0.25, 0.0, 0.125, 0.25, 22.5, 45.0])
sizes = st.sampled_from([0.125, 0.25, 0.34375, 1.0])
aligned_boxes = st.tuples(aligned, aligned, sizes, sizes).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])
)
fractions = st.tuples(st.floats(-0.2, 1.2), st.floats(-0.2, 1.2))


@settings(max_examples=200)
@given(box=boxes | aligned_boxes, points=st.lists(fractions, min_size=1, max_size=40))
def test_every_device_of_the_box_is_in_a_range_and_inside_ranges_hold_only_such(box, points):
    ranges = covering_ranges([box])
    assert all(r.low < r.high for r in ranges)
    assert all(a.high <= b.low for a, b in pairwise(ranges)), "sorted"
    west, south, east, north = box
    for fx, fy in points:
        lon, lat = west + fx * (east - west), south + fy * (north - south)
        found = range_of(ranges, key_of(lon, lat))
        if west <= lon <= east and south <= lat <= north:
            assert found is not None, (lon, lat)
        if found is not None and found.inside:
            assert west < lon < east and south < lat < north, (lon, lat)


@given(box=boxes | aligned_boxes)
def test_a_box_is_a_few_dozen_ranges(box):
    ranges = covering_ranges([box])
    # Edge tiles at most 1/COVER_DETAIL of the box wide: about 4 * COVER_DETAIL of them, fewer
    # once contiguous ones merge. A box whose edges lie on a large tile's edges also has a
    # sliver of tiles beside them (the cover reaches a few float4 steps beyond the box): up to
    # 106 ranges then, for (45.0, 0.0, 45.34375, 0.34375). Random boxes can be such boxes
    # too (hypothesis drew (0.0, 0.0, 0.25, 0.34375): 97 ranges), hence one bound for all.
    assert 1 <= len(ranges) <= 16 * COVER_DETAIL


def test_no_box_is_the_whole_key_space_and_touching_boxes_overlap_nowhere():
    assert [(r.low, r.high, r.inside) for r in covering_ranges([])] == [(0, 4**KEY_ZOOM, True)]
    # The two halves of a box across the antimeridian; two boxes sharing an edge.
    for pair in (
        [(179.0, -1.0, 180.0, 1.0), (-180.0, -1.0, -179.0, 1.0)],
        [(2.0, 48.0, 2.5, 48.5), (2.5, 48.0, 3.0, 48.5)],
    ):
        ranges = covering_ranges(pair)
        assert all(a.high <= b.low for a, b in pairwise(ranges))
        for west, south, east, north in pair:
            for lon in (west, (west + east) / 2, east):
                assert range_of(ranges, key_of(lon, (south + north) / 2)) is not None
