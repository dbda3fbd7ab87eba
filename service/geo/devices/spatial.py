"""Pages of devices in spatial order (tile_key, then id): the REST listing and the OGC API."""

import uuid
from dataclasses import replace

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Integer,
    Select,
    Text,
    cast,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID, aggregate_order_by

from ...models import Device
from ..keys import KEY_SPACE, covering_ranges
from ..osm import select_has_openstreetmap_devices
from ..paging import FeaturePage, keyset
from ..sql import array_literal, sql_string
from ..statements import STATEMENTS, BoundStatement, parameter
from .features import FEATURE_START, stored_feature_text
from .filter import DeviceFilter

# The ranges travel as array literals (text): one string for the driver to send, where a
# list of 46 numbers cost more to adapt than the rest of the request's parameters.
RANGE_LOWS = cast(parameter("range_lows", Text), ARRAY(BigInteger))
RANGE_HIGHS = cast(parameter("range_highs", Text), ARRAY(BigInteger))
RANGE_INSIDE = cast(parameter("range_inside", Text), ARRAY(Boolean))
PAGE_LIMIT = parameter("page_limit", Integer)
PAGE_POSITION = tuple_(
    parameter("page_tile_key", BigInteger), parameter("page_id", UUID(as_uuid=True))
)


def check_device_position(position: tuple[int, uuid.UUID]) -> None:
    """A position of devices is (tile_key, id), with a tile_key of the key space."""
    if not 0 <= position[0] < KEY_SPACE:
        raise ValueError(f"no tile_key is {position[0]}")


def select_device_page_in_space(
    flt: DeviceFilter,
    limit: int,
    *,
    after: tuple[int, uuid.UUID] | None = None,
    before: tuple[int, uuid.UUID] | None = None,
) -> BoundStatement:
    """One page of devices as Feature texts in spatial order (tile_key, then id).

    The filter's boxes become ranges of tile_key (covering_ranges), read one after the other
    through devices_tile_key_idx in key order: PostgreSQL stops as soon as the page is full,
    so a page costs about the same in a box of a hundred devices or of a hundred thousand, and
    page 100 of a walk what page 1 does. Only ranges across a box's edge test the devices
    against the box; as PostgreSQL cannot tell which, it expects most devices of a range to
    be kept and reads the range in order rather than gather and sort all of it.

    AFTER and BEFORE are (tile_key, id) positions. Its values lack `photo_base`. Kept once
    per shape of filter (unless it has `conditions`), and prepared: whatever the ranges, its
    plan reads them one after the other. Its row becomes a FeaturePage through spatial_page.
    """
    position = after or before
    ranges = covering_ranges(flt.bboxes)
    if after is not None:
        ranges = [r for r in ranges if r.high > after[0]]
    elif before is not None:
        ranges = [r for r in reversed(ranges) if r.low <= before[0]]
    values = flt.values() | {
        "range_lows": array_literal(r.low for r in ranges),
        "range_highs": array_literal(r.high for r in ranges),
        "range_inside": array_literal("t" if r.inside else "f" for r in ranges),
        "page_limit": limit,
    }
    if position is not None:
        values |= {"page_tile_key": position[0], "page_id": position[1]}

    def build() -> Select:
        box_test = flt.box_test(kept=True) if flt.bboxes else None
        clauses = replace(flt, bboxes=[]).clauses(kept=True)
        return _device_page_in_space(clauses, box_test, after, before)

    shape = flt.shape(values)
    key = None if shape is None else ("device_page_in_space", shape, before is not None)
    return BoundStatement(STATEMENTS.get(key, build), values, prepared=key is not None)


def _device_page_in_space(clauses, box_test, after, before) -> Select:
    ranges = (
        func.unnest(RANGE_LOWS, RANGE_HIGHS, RANGE_INSIDE)
        .table_valued("low", "high", "inside", with_ordinality="range")
        .render_derived(name="ranges")
    )
    beyond, order = keyset(
        (Device.tile_key, Device.id),
        PAGE_POSITION if after is not None else None,
        PAGE_POSITION if before is not None else None,
    )
    in_range = [Device.tile_key >= ranges.c.low, Device.tile_key < ranges.c.high, beyond]
    if box_test is not None:
        in_range.append(or_(ranges.c.inside, box_test))
    # Within a range, the devices in key order up to a full page. The Feature's head is read
    # from the row the scan visits anyway; photos are added once the page is chosen.
    scan = (
        select(Device.tile_key, Device.id, Device.feature_head, Device.has_photos)
        .where(*clauses, *in_range)
        .order_by(*order)
        .limit(PAGE_LIMIT + 1)
        .lateral("in_range")
    )
    # The page is the ranges' rows one range after the other. PostgreSQL reads the ranges in
    # their numbered order (WITH ORDINALITY is known to be sorted), and the nested loop that a
    # lateral join must be yields each range's rows as its scan does, in key order: ordering
    # by range alone costs no sort, where ordering by (range, tile_key, id) too would copy
    # every Feature into one. This is how the executor works, not what SQL promises: a test
    # checks the plan, and the walks of tests/api/test_ogc.py the order.
    page = (
        select(scan)
        .select_from(ranges)
        .join(scan, true())
        .order_by(ranges.c.range)
        .limit(PAGE_LIMIT + 1)
        .subquery("page")
    )
    # A plain aggregate reads the page in the order the page subquery yields it: no sorting
    # of a thousand Features again (backward pages are put back in key order), no numbering.
    # The row fetched to tell that more lie beyond is dropped by spatial_page.
    feature = stored_feature_text(page.c)
    separator = sql_string(",")
    if before is not None:
        separator = aggregate_order_by(separator, page.c.tile_key, page.c.id)
    tile_keys = func.array_agg(page.c.tile_key)
    fetched = func.count()
    return select(
        func.coalesce(func.string_agg(feature, separator), sql_string("")).label("features"),
        fetched.label("fetched"),
        tile_keys[1].label("near_tile_key"),
        tile_keys[func.least(fetched, PAGE_LIMIT)].label("far_tile_key"),
        # The page's credits in the same round trip: every page asks them, and a statement
        # of its own cost a second wait on the server for each page.
        select_has_openstreetmap_devices().scalar_subquery().label("from_openstreetmap"),
    )


def spatial_page(row, limit: int, *, backward: bool) -> FeaturePage:
    """The page a select_device_page_in_space row holds, without its extra row.

    The edges' ids are read from the Features themselves: each begins with FEATURE_START and
    its id, and that opening cannot occur inside another Feature: property values are
    strings (whose quotes JSON escapes), numbers, flat arrays, and `tags`, a jsonb object
    whose text has a space after every colon.
    """
    features = row.features
    has_more = row.fetched > limit
    if has_more:  # drop the extra row: the last in paging order
        if backward:
            features = features[features.index("," + FEATURE_START) + 1 :]
        else:
            features = features[: features.rindex("," + FEATURE_START)]
    if not features:
        return FeaturePage("", 0, None, None, False, row.from_openstreetmap)
    id_at = len(FEATURE_START)
    last_at = features.rindex(FEATURE_START) + id_at
    first_id, last_id = features[id_at : id_at + 36], features[last_at : last_at + 36]
    low, high = row.near_tile_key, row.far_tile_key
    if backward:
        low, high = high, low
    return FeaturePage(
        features,
        min(row.fetched, limit),
        f"{low}:{first_id}",
        f"{high}:{last_id}",
        has_more,
        row.from_openstreetmap,
    )
