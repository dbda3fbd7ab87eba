"""District statistics, the CSV lines, the JSON objects and the hexagon grid, read from what is
kept at write time (memberships and counts: migration 0013; hexagon counts: 0018; CSV lines:
0020; JSON objects: 0026), equal a from-scratch computation after any sequence of writes."""

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service import vocabulary as vocab
from service.geo.grid import select_grid, utm_srid
from service.geo.statistics.csv import select_density_csv
from service.geo.statistics.density import RANK_METRICS, DensityQuery
from service.geo.statistics.documents import select_density_geojson, select_density_json
from service.geo.statistics.replay import refresh_timelines
from service.geo.statistics.selection import DistrictSelection, StatisticsFilter
from service.geo.statistics.timeline import TIMELINE_INTERVALS, select_timeline
from tests.districts import district_feature, load, rectangle, write_geojson

CREDITS = [{"name": "devices", "attribution": "test", "licence": "ODbL", "source_url": "/devices"}]
# On the districts' edges and corners as well as inside and outside them.
LONS = (2.295, 2.30, 2.305, 2.31, 2.315, 2.32, 2.325)
LATS = (48.795, 48.80, 48.8025, 48.805, 48.8075, 48.81, 48.815)
POINTS = st.tuples(st.sampled_from(LONS), st.sampled_from(LATS))
# Four quarters sharing borders, a town over all of them (another level), and the same
# quarters re-imported with other shapes.
QUARTERS = {
    "A1": rectangle(2.30, 48.80, 2.31, 48.805),
    "A2": rectangle(2.31, 48.80, 2.32, 48.805),
    "A3": rectangle(2.30, 48.805, 2.31, 48.81),
    "A4": rectangle(2.31, 48.805, 2.32, 48.81),
}
RESHAPED = {
    "A1": rectangle(2.30, 48.80, 2.315, 48.8075),
    "A2": rectangle(2.31, 48.795, 2.325, 48.805),
    "A4": rectangle(2.305, 48.805, 2.32, 48.815),
}
SELECTIONS = (
    DistrictSelection(levels=["quartier"], parents=["T"]),
    DistrictSelection(levels=["town"]),
    DistrictSelection(codes=["T", "A2", "A3"]),
    DistrictSelection(codes=["A4", "A1"]),
)
FILTERS = (
    StatisticsFilter(),
    StatisticsFilter(kinds=["camera", "alpr"]),
    StatisticsFilter(statuses=["removed", "planned"]),
    StatisticsFilter(operator_types=["private"], verifications=["confirmed", "disputed"]),
    StatisticsFilter(statuses=list(vocab.STATUSES), kinds=["microphone"]),
    # The map at a date: devices placed by their memberships, or by position for moved ones.
    StatisticsFilter(at=datetime.now(UTC) + timedelta(days=1)),
    StatisticsFilter(at=datetime.now(UTC) + timedelta(days=1), statuses=["removed"]),
)
# Boxes of the hexagon grid: smaller than the devices' spread (hexagons on their edges hold
# devices outside), and one around all of them.
GRID_BOXES = ((2.30, 48.80, 2.31, 48.805), (2.29, 48.79, 2.33, 48.82))
GRID_CELL_M = 250.0

DEVICE = st.fixed_dictionaries(
    {
        "point": POINTS,
        "kind": st.sampled_from(vocab.KIND_NAMES),
        "status": st.sampled_from(vocab.STATUSES),
        "operator_type": st.sampled_from(vocab.OPERATOR_TYPES),
        "verification": st.sampled_from(vocab.VERIFICATION_LEVELS),
        "review_status": st.sampled_from(("approved", "approved", "pending", "rejected")),
    }
)
TARGET = st.integers(0, 1000)
DAYS = st.dates(date(2023, 1, 1), date(2025, 12, 31))  # which device, modulo how many there are
OPERATIONS = st.one_of(
    st.tuples(st.just("create"), DEVICE),
    st.tuples(st.just("create_many"), st.lists(DEVICE, min_size=2, max_size=6)),
    st.tuples(st.just("move"), TARGET, POINTS),
    st.tuples(st.just("move_all"), POINTS),
    st.tuples(st.just("status"), TARGET, st.sampled_from(vocab.STATUSES)),
    st.tuples(st.just("kind"), TARGET, st.sampled_from(vocab.KIND_NAMES)),
    st.tuples(st.just("verification"), TARGET, st.sampled_from(vocab.VERIFICATION_LEVELS)),
    st.tuples(st.just("review"), TARGET, st.sampled_from(vocab.REVIEW_STATUSES)),
    st.tuples(st.just("touch"), TARGET),
    st.tuples(st.just("backdate"), TARGET, DAYS, DAYS),
    st.tuples(st.just("delete"), TARGET),
    st.tuples(st.just("erase"), TARGET),
    st.tuples(st.just("merge"), TARGET, TARGET),
    st.tuples(st.just("unmerge"), TARGET),
    st.tuples(st.just("reimport"), st.sets(st.sampled_from(sorted(RESHAPED)), min_size=1)),
    st.tuples(st.just("drop_district"), st.sampled_from(sorted(QUARTERS))),
)

# Rewrites the kept CSV lines that writes marked stale; says how many (migration 0021).
REFRESH = "refresh_district_csv_lines()"
INSERT = (
    "INSERT INTO devices (id, geom, kind, status, operator_type, verification, review_status) "
    "VALUES (gen_random_uuid(), ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :kind, :status, "
    ":operator_type, :verification, :review_status)"
)


@pytest.fixture
def districts(app, isolated, tmp_path):
    def import_quarters(shapes: dict, name="q.geojson"):
        features = [district_feature(code, shape) for code, shape in shapes.items()]
        load(isolated, write_geojson(tmp_path / name, features), parent="T")

    town = [district_feature("T", rectangle(2.30, 48.80, 2.32, 48.81))]
    load(isolated, write_geojson(tmp_path / "t.geojson", town), level="town", dataset="towns")
    import_quarters(QUARTERS)
    return import_quarters


def device_ids(db) -> list:
    return [row.id for row in db("SELECT id FROM devices ORDER BY id")]


def apply(db, districts, operation) -> None:
    """One write, as the API's write paths make it (single rows) or in bulk."""
    name, *args = operation
    ids = device_ids(db)
    pick = (lambda i: ids[i % len(ids)]) if ids else None
    if name == "create":
        (device,) = args
        lon, lat = device.pop("point")
        db(INSERT, lon=lon, lat=lat, **device)
    elif name == "create_many":  # one statement: the triggers see several rows at once
        rows = [{**d, "lon": d["point"][0], "lat": d["point"][1]} for d in args[0]]
        db(
            "INSERT INTO devices (id, geom, kind, status, operator_type, verification, "
            "review_status) SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint(lon, lat), 4326), "
            "kind, status, operator_type, verification, review_status "
            "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(lon float8, lat float8, "
            "kind text, status text, operator_type text, verification text, review_status text)",
            rows=orjson.dumps(rows).decode(),
        )
    elif name == "reimport":
        districts({code: RESHAPED[code] for code in args[0]}, name="reshaped.geojson")
    elif name == "drop_district":
        db("DELETE FROM districts WHERE code = :code", code=args[0])
    elif pick is None:
        return
    elif name == "move":
        db(
            "UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) WHERE id = :id",
            id=pick(args[0]),
            lon=args[1][0],
            lat=args[1][1],
        )
    elif name == "move_all":
        db(
            "UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)",
            lon=args[0][0],
            lat=args[0][1],
        )
    elif name in ("status", "kind", "verification", "review"):
        column = {"review": "review_status"}.get(name, name)
        db(f"UPDATE devices SET {column} = :value WHERE id = :id", id=pick(args[0]), value=args[1])
    elif name == "backdate":  # observed, and last changed (a removal's date for bulk rows)
        db(
            "UPDATE devices SET observed_at = :observed, updated_at = :changed WHERE id = :id",
            id=pick(args[0]),
            observed=args[1],
            changed=args[2],
        )
    elif name == "touch":
        db("UPDATE devices SET notes = 'seen again' WHERE id = :id", id=pick(args[0]))
    elif name == "delete":  # a tombstone, as DELETE /api/v1/devices/{id} leaves
        db("UPDATE devices SET deleted_at = now() WHERE id = :id", id=pick(args[0]))
    elif name == "erase":
        db("DELETE FROM devices WHERE id = :id", id=pick(args[0]))
    elif name == "unmerge":  # a wrong merge undone: the duplicate is a device again
        merged = db("SELECT id FROM devices WHERE merged_into IS NOT NULL ORDER BY id").all()
        if merged:
            db(
                "UPDATE devices SET deleted_at = NULL, merged_into = NULL WHERE id = :id",
                id=merged[args[0] % len(merged)].id,
            )
    elif name == "merge":  # as moderators merge a duplicate into another device
        other, target = pick(args[0]), pick(args[1])
        if other != target:
            db(
                "UPDATE devices SET deleted_at = now(), merged_into = :target WHERE id = :other",
                other=other,
                target=target,
            )


def assert_bookkeeping_from_scratch(db) -> None:
    kept = db("SELECT district_code, device_id, interior FROM device_districts ORDER BY 1, 2").all()
    recomputed = db(
        "SELECT z.code, v.id, ST_Contains(z.geom, v.geom) FROM districts z "
        "JOIN devices v ON ST_Intersects(z.geom, v.geom) ORDER BY 1, 2"
    ).all()
    assert kept == recomputed
    keys = "district_code, kind, status, operator_type, verification"
    counts = db(f"SELECT {keys}, n FROM district_device_counts WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5")
    recounted = db(
        "SELECT z.code, v.kind, v.status, v.operator_type, v.verification, count(*) "
        "FROM districts z JOIN devices v ON ST_Contains(z.geom, v.geom) "
        "WHERE v.review_status = 'approved' AND v.deleted_at IS NULL "
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
    )
    assert counts.all() == recounted.all()
    hexagon_keys = "srid, i, j, kind, status, operator_type, verification"
    hexagons = db(
        f"SELECT {hexagon_keys}, n FROM device_hexagon_counts WHERE side_m = :side "
        "ORDER BY 1, 2, 3, 4, 5, 6, 7",
        side=GRID_CELL_M,
    )
    # From scratch: the hexagon of PostGIS' own grid whose polygon holds the device (the lowest
    # i, j on an edge), in UTM zone 31, which holds every point of these tests.
    rehexed = db(
        "SELECT z.srid, h.i, h.j, v.kind, v.status, v.operator_type, v.verification, count(*) "
        "FROM devices v "
        "CROSS JOIN LATERAL (SELECT ST_Transform(v.geom, 32631) AS point, 32631 AS srid) z "
        "CROSS JOIN LATERAL (SELECT i, j FROM ST_HexagonGrid(:side, z.point) g "
        "  WHERE ST_Intersects(g.geom, z.point) ORDER BY i, j LIMIT 1) h "
        "WHERE v.review_status = 'approved' AND v.deleted_at IS NULL "
        "GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7",
        side=GRID_CELL_M,
    )
    assert hexagons.all() == rehexed.all()
    assert_kept_lines_from_scratch(db)


def assert_kept_lines_from_scratch(db) -> None:
    """Once the lines that writes marked stale are refreshed (migration 0021), a CSV line is kept
    for every district (migration 0020), with its devices counted now, and no mark is left."""
    db(f"SELECT {REFRESH}")
    assert db("SELECT count(*) FROM district_csv_lines_stale").scalar_one() == 0
    columns = "code, level, parent_code, area_km2, population"
    kept = db(f"SELECT {columns}, count FROM district_csv_lines ORDER BY code")
    recounted = db(
        f"SELECT {', '.join('z.' + c for c in columns.split(', '))}, count(v.id) "
        "FROM districts z LEFT JOIN devices v ON ST_Contains(z.geom, v.geom) "
        "AND v.review_status = 'approved' AND v.deleted_at IS NULL "
        "AND v.status IN ('active', 'unknown') GROUP BY z.code ORDER BY z.code"
    )
    assert kept.all() == recounted.all()


def figures(db, selection, flt, from_scratch: bool) -> dict:
    query = DensityQuery(
        selection=selection, filter=flt, from_scratch=from_scratch, report_outside=True
    )
    return orjson.loads(db.connection.execute(select_density_json(query, CREDITS)).scalar_one())


def assert_statistics_from_scratch(db, checks=((s, f) for s in SELECTIONS for f in FILTERS)):
    for selection, flt in checks:
        kept = figures(db, selection, flt, from_scratch=False)
        assert kept == figures(db, selection, flt, from_scratch=True), (selection, flt)


def grid(db, flt, bbox, from_scratch: bool) -> tuple:
    statement = select_grid(flt, bbox, GRID_CELL_M, utm_srid(bbox), from_scratch=from_scratch)
    return tuple(db.connection.execute(statement).one())


def assert_grids_from_scratch(db, filters=FILTERS) -> None:
    for flt in filters:
        for bbox in GRID_BOXES:
            assert grid(db, flt, bbox, False) == grid(db, flt, bbox, True), (bbox, flt)


def csv_of(connection, selection, rank_by: str, from_scratch: bool) -> str:
    query = DensityQuery(
        selection=selection, filter=StatisticsFilter(), rank_by=rank_by, from_scratch=from_scratch
    )
    return connection.execute(select_density_csv(query)).scalar_one()


def csv_text(db, selection, rank_by: str, from_scratch: bool) -> str:
    return csv_of(db.connection, selection, rank_by, from_scratch)


def documents(connection, selection, rank_by: str, from_scratch: bool) -> tuple[str, str]:
    """The JSON and GeoJSON texts of the map now, as served."""
    query = DensityQuery(
        selection=selection, filter=StatisticsFilter(), rank_by=rank_by, from_scratch=from_scratch
    )
    return (
        connection.execute(select_density_json(query, CREDITS)).scalar_one(),
        connection.execute(select_density_geojson(query, CREDITS, 10.0)).scalar_one(),
    )


def assert_documents_from_scratch(db, checks) -> None:
    """The JSON and GeoJSON of the map now (from the objects kept at write time, and for the
    districts a border device counts in, computed) equal, byte for byte, those computed from
    scratch."""
    for selection, rank_by in checks:
        kept = documents(db.connection, selection, rank_by, from_scratch=False)
        assert kept == documents(db.connection, selection, rank_by, from_scratch=True)


def lines_by_code(body: str) -> dict:
    """The lines of a CSV body by district code (the first cell)."""
    return {line.split(",", 1)[0].strip('"'): line for line in body.split("\r\n")[1:] if line}


def assert_csv_from_scratch(db, checks) -> None:
    """The CSV of the map now (from the lines kept at write time, and for the districts a
    border device counts in, computed) equals the CSV computed from scratch."""
    for selection, rank_by in checks:
        kept = csv_text(db, selection, rank_by, from_scratch=False)
        assert kept == csv_text(db, selection, rank_by, from_scratch=True), (selection, rank_by)


@pytest.fixture
def db(app, isolated):
    def run(sql: str, **params):
        return isolated.execute(text(sql), params)

    run.connection = isolated
    return run


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(OPERATIONS, min_size=1, max_size=25),
    checks=st.lists(st.tuples(st.sampled_from(SELECTIONS), st.sampled_from(FILTERS)), max_size=3),
    csv_checks=st.lists(
        st.tuples(st.sampled_from(SELECTIONS), st.sampled_from(RANK_METRICS)), max_size=2
    ),
)
def test_figures_equal_a_from_scratch_computation_after_any_writes(
    db, districts, operations, checks, csv_checks
):
    example = db.connection.begin_nested()  # each example starts from the fixture's districts
    try:
        for operation in operations:
            apply(db, districts, operation)
        assert_csv_from_scratch(db, csv_checks)  # the lines written to are marked stale
        assert_documents_from_scratch(db, csv_checks)
        assert_bookkeeping_from_scratch(db)  # which refreshes them
        assert_statistics_from_scratch(db, checks)
        assert_grids_from_scratch(db, [FILTERS[0], *(flt for _s, flt in checks)])
        assert_csv_from_scratch(db, csv_checks)
        assert_documents_from_scratch(db, csv_checks)
    finally:
        example.rollback()


# Each interval (the kept days and months, as they are and grouped by week and year) with
# a filter of each field.
TIMELINE_CHECKS = (
    *zip(
        TIMELINE_INTERVALS,
        (
            StatisticsFilter(),
            StatisticsFilter(kinds=["camera", "alpr"]),
            StatisticsFilter(statuses=["removed", "planned"]),
            StatisticsFilter(operator_types=["private"], verifications=["confirmed", "disputed"]),
        ),
        strict=True,
    ),
    ("month", StatisticsFilter()),
)


def timelines(db) -> dict:
    """Every district's timelines of TIMELINE_CHECKS, as the reader computes them."""
    codes = db("SELECT code FROM districts ORDER BY code").scalars().all()
    return {
        (code, interval, repr(flt)): db.connection.execute(
            select_timeline(code, interval, flt, CREDITS)
        ).scalar_one()
        for code in codes
        for interval, flt in TIMELINE_CHECKS
    }


def assert_timelines_from_scratch(db) -> None:
    """The timelines read from what is kept equal those replayed from every device."""
    kept = timelines(db)
    replayed = db.connection.begin_nested()
    db("DELETE FROM timeline_districts")
    from_scratch = timelines(db)
    replayed.rollback()
    assert kept == from_scratch


# The map at dates, from the kept timelines once every selected district's is kept: in the
# middle of a day, at its very end, and tomorrow.
KEPT_AT_FILTERS = (
    StatisticsFilter(at=datetime(2024, 6, 15, 12, tzinfo=UTC)),
    StatisticsFilter(at=datetime(2025, 2, 28, 23, 59, 59, 999999, tzinfo=UTC), kinds=["camera"]),
    StatisticsFilter(at=datetime.now(UTC) + timedelta(days=1), statuses=["removed", "active"]),
)


def assert_map_at_dates_from_scratch(db) -> None:
    """`at=` read from the kept timelines (with the devices marked since replayed) equals the
    devices joined with the polygons as they stood then, border rule included."""
    assert_statistics_from_scratch(db, [(s, f) for s in SELECTIONS for f in KEPT_AT_FILTERS])


def keep_every_timeline(db) -> None:
    for code in db("SELECT code FROM districts").scalars().all():
        refresh_timelines(db.connection, [code])


@settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking one takes many minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(st.tuples(OPERATIONS, st.booleans()), min_size=1, max_size=20))
def test_kept_timelines_equal_a_full_replay_after_any_writes(db, districts, operations):
    """Timelines kept for every district, then random writes, some followed by a refresh:
    the timelines and the map at dates read with the marks left, then after a refresh, equal
    a full replay."""
    example = db.connection.begin_nested()
    try:
        db(INSERT, lon=2.305, lat=48.8025, kind="camera", status="active",
           operator_type="public", verification="reported", review_status="approved")  # fmt: skip
        keep_every_timeline(db)
        for operation, refresh in operations:
            apply(db, districts, operation)
            if refresh:
                refresh_timelines(db.connection)
        assert_timelines_from_scratch(db)  # the marked devices replayed by the reader
        assert_map_at_dates_from_scratch(db)
        keep_every_timeline(db)  # also those forgotten when their polygon changed
        assert db("SELECT count(*) FROM timeline_device_marks").scalar_one() == 0
        kept = db("SELECT count(*) FROM timeline_districts").scalar_one()
        assert kept == db("SELECT count(*) FROM districts").scalar_one()
        assert_timelines_from_scratch(db)
        assert_map_at_dates_from_scratch(db)
    finally:
        example.rollback()


def test_a_refresh_of_too_many_marks_forgets_the_kept_timelines(db, districts, monkeypatch):
    """A bulk load marks every device it wrote: each kept timeline is then replayed whole by
    its next request rather than device by device (the request that forgets them keeps its
    own district again)."""
    monkeypatch.setattr("service.geo.statistics.replay.MAX_REPLAYED_MARKS", 2)
    db(INSERT, lon=2.305, lat=48.8025, kind="camera", status="active", operator_type="public",
       verification="reported", review_status="approved")  # fmt: skip
    keep_every_timeline(db)
    assert db("SELECT count(*) FROM timeline_districts").scalar_one() == 5
    apply(db, districts, ("create_many", [{"point": (2.305, 48.8025), "kind": "camera",
          "status": "active", "operator_type": "public", "verification": "reported",
          "review_status": "approved"}] * 3))  # fmt: skip
    assert refresh_timelines(db.connection, ["A1"]) == 3
    assert db("SELECT code FROM timeline_districts").scalars().all() == ["A1"]
    assert db("SELECT DISTINCT code FROM timeline_device_changes").scalars().all() == ["A1"]
    keep_every_timeline(db)
    assert_timelines_from_scratch(db)


def test_a_device_inside_one_district_and_on_the_border_of_another_counts_in_both(db, districts):
    """Districts of one level may overlap (a re-import): a device their interiors both hold
    counts in both, and one on the border of the smaller code's and inside the other's counts
    in the other too; at a date from the kept timelines as replayed."""
    districts({"A1": RESHAPED["A1"]}, name="reshaped.geojson")  # overlaps A2 from 2.31 to 2.315
    for lon in (2.3125, 2.315):  # inside both; on A1's new edge, inside A2
        db(INSERT, lon=lon, lat=48.8025, kind="camera", status="active", operator_type="public",
           verification="reported", review_status="approved")  # fmt: skip
    keep_every_timeline(db)
    assert_map_at_dates_from_scratch(db)
    now = StatisticsFilter(at=datetime.now(UTC) + timedelta(days=1))
    counts = {d["code"]: d["count"] for d in figures(db, SELECTIONS[0], now, False)["districts"]}
    assert (counts["A1"], counts["A2"]) == (2, 2)


def test_changes_dated_at_infinity_are_kept_as_a_full_replay_counts_them(db, districts):
    """Dates no loader writes but SQL may: -infinity counts before 1900, +infinity never, not
    even at the last date the API takes."""
    for lon in (2.305, 2.306, 2.307):
        db(INSERT, lon=lon, lat=48.8025, kind="camera", status="active", operator_type="public",
           verification="reported", review_status="approved")  # fmt: skip
    db("UPDATE devices SET observed_at = '-infinity' WHERE ST_X(geom) = 2.305")
    db("UPDATE devices SET observed_at = 'infinity' WHERE ST_X(geom) = 2.306")
    db("UPDATE devices SET status = 'removed', updated_at = 'infinity' WHERE ST_X(geom) = 2.307")
    keep_every_timeline(db)
    assert_timelines_from_scratch(db)
    assert_map_at_dates_from_scratch(db)
    last = StatisticsFilter(at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert_statistics_from_scratch(db, [(selection, last) for selection in SELECTIONS])


def revise(db, device_id, changes: dict, snapshot: dict, at: str, action="update") -> None:
    """A revision as the API writes one (the state after it, the fields it changed)."""
    db(
        "INSERT INTO device_revisions (device_id, action, changes, snapshot, created_at) "
        "VALUES (:d, :a, CAST(:c AS jsonb), CAST(:s AS jsonb), :t)",
        d=device_id,
        a=action,
        c=orjson.dumps(changes).decode(),
        s=orjson.dumps(snapshot).decode(),
        t=at,
    )


def test_a_device_moved_into_two_overlapping_districts_counts_in_both_at_a_date(db, districts):
    """Moved (its revisions say) from A1 alone to where A1 (re-imported) and A2 overlap: at a
    date after the move it counts in both, before it in A1 only, as the replay counts it."""
    districts({"A1": RESHAPED["A1"]}, name="reshaped.geojson")
    db(INSERT, lon=2.3125, lat=48.8025, kind="camera", status="active", operator_type="public",
       verification="reported", review_status="approved")  # fmt: skip
    device = device_ids(db)[0]
    db("UPDATE devices SET observed_at = '2024-01-01' WHERE id = :id", id=device)
    state = {"kind": "camera", "status": "active", "operator_type": "public", "deleted_at": None}
    revise(db, device, {}, {**state, "geometry": [2.301, 48.801]}, "2024-01-01", "create")
    moved = {"geometry": [[2.301, 48.801], [2.3125, 48.8025]]}
    revise(db, device, moved, {**state, "geometry": [2.3125, 48.8025]}, "2024-03-01")
    keep_every_timeline(db)
    dates = [StatisticsFilter(at=datetime(2024, month, 1, tzinfo=UTC)) for month in (2, 4)]
    assert_statistics_from_scratch(db, [(s, flt) for s in SELECTIONS for flt in dates])
    counts = {
        d["code"]: d["count"] for d in figures(db, SELECTIONS[0], dates[1], False)["districts"]
    }
    assert (counts["A1"], counts["A2"]) == (1, 1)


def test_a_timeline_kept_while_an_import_reshapes_its_district_follows_the_new_shape(
    committed, tmp_path
):
    """Keeping a district's timeline waits for an import that reshapes it (or gives up after
    REFRESH_LOCK_TIMEOUT), so that it never keeps the old shape once the import forgot it."""
    features = [district_feature(code, shape) for code, shape in QUARTERS.items()]
    with committed.begin() as connection:
        load(connection, write_geojson(tmp_path / "q.geojson", features), parent="T")
        for lon in (2.305, 2.312, 2.313):
            connection.execute(text(INSERT), dict(lon=lon, lat=48.8025, kind="camera",
                               status="active", operator_type="public", verification="reported",
                               review_status="approved"))  # fmt: skip
    importer = committed.connect()
    importer.begin()
    wider = district_feature("A1", RESHAPED["A1"])
    load(importer, write_geojson(tmp_path / "a1.geojson", [wider]), parent="T")
    with committed.connect() as request:
        with pytest.raises(OperationalError, match="lock timeout"):
            refresh_timelines(request, ["A1"])  # the import holds A1
        request.rollback()
        finished = threading.Timer(0.2, importer.commit)
        finished.start()
        # Waits for the import (its lock released before the timeout): no lock timeout here.
        refresh_timelines(request, ["A1"])
        request.commit()
        finished.join()
    importer.close()
    with committed.connect() as connection:
        kept = connection.execute(select_timeline("A1", "month", StatisticsFilter(), CREDITS))
        assert connection.execute(text("SELECT code FROM timeline_districts")).scalars().all() == [
            "A1"
        ]
        assert orjson.loads(kept.scalar_one())["periods"][-1]["count"] == 3


def test_a_bulk_load_is_counted_like_single_writes(db, districts):
    """More rows than the triggers' bulk threshold: districts drive the join instead."""
    db(
        "INSERT INTO devices (id, geom, kind, status) "
        "SELECT gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.295 + (i % 31) * 0.001, "
        "48.795 + (i / 31 % 21) * 0.001), 4326), "
        "(ARRAY['camera', 'alpr', 'sensor'])[1 + i % 3], "
        "(ARRAY['active', 'unknown', 'removed', 'planned'])[1 + i % 4] "
        "FROM generate_series(1, 6000) AS i"
    )
    assert_bookkeeping_from_scratch(db)
    db("UPDATE devices SET geom = ST_Translate(geom, 0.005, 0.0025)")
    assert_bookkeeping_from_scratch(db)
    db("DELETE FROM devices WHERE status = 'unknown'")
    assert_bookkeeping_from_scratch(db)
    assert_statistics_from_scratch(db, [(SELECTIONS[0], FILTERS[0]), (SELECTIONS[2], FILTERS[2])])
    assert_grids_from_scratch(db, FILTERS[:3])


def test_an_update_of_what_no_statistic_counts_only_moves_the_data_version(db, districts):
    """Notes, directions, confirmations: the bookkeeping (migration 0021) rewrites no count,
    cell, hexagon or membership and marks no CSV line; the data version still moves (the
    watched areas read directions)."""
    db(INSERT, lon=2.305, lat=48.8025, kind="camera", status="active", operator_type="public",
       verification="reported", review_status="approved")  # fmt: skip
    db(f"SELECT {REFRESH}")
    kept = ("district_device_counts", "device_tile_cells", "device_hexagon_counts",
            "device_districts", "district_csv_lines_stale")  # fmt: skip

    def row_versions() -> dict:
        return {table: db(f"SELECT ctid::text FROM {table} ORDER BY 1").all() for table in kept}

    before, version = row_versions(), db("SELECT statistics_data_version()").scalar_one()
    db("UPDATE devices SET notes = 'seen again', direction = '{90}'")
    assert row_versions() == before
    assert db("SELECT statistics_data_version()").scalar_one() != version
    db("UPDATE devices SET status = 'unknown'")
    assert row_versions() != before


def test_emptying_the_devices_or_the_districts_empties_the_bookkeeping(db, districts):
    db(INSERT, lon=2.305, lat=48.8025, kind="camera", status="active", operator_type="public",
       verification="reported", review_status="approved")  # fmt: skip
    assert db("SELECT count(*) FROM district_device_counts").scalar_one() == 2
    assert db("SELECT count(*) FROM device_hexagon_counts").scalar_one() == 1
    assert_kept_lines_from_scratch(db)
    assert db("SELECT sum(count) FROM district_csv_lines").scalar_one() == 2
    keep_every_timeline(db)
    db("DELETE FROM districts WHERE code = 'A1'")  # its kept timeline goes with it
    kept = (
        "SELECT DISTINCT code FROM timeline_device_changes UNION SELECT code FROM timeline_changes"
    )
    assert sorted(db(kept).scalars()) == ["T"]
    db("TRUNCATE devices CASCADE")
    assert db(kept).all() == []
    assert db("SELECT count(*) FROM device_hexagon_counts").scalar_one() == 0
    assert db("SELECT count(*) FROM device_districts").scalar_one() == 0
    assert db("SELECT count(*) FROM district_device_counts").scalar_one() == 0
    assert_kept_lines_from_scratch(db)
    db("TRUNCATE districts CASCADE")
    assert db("SELECT count(*) FROM district_csv_lines").scalar_one() == 0


def test_the_csv_of_the_map_now_reads_the_kept_lines_but_computes_border_counts(db, districts):
    """A district's kept line counts the devices its interior holds; one that a device on its
    border counts in (here A1, the smaller code of the two quarters sharing that border) is
    computed for the request."""
    db("UPDATE districts SET population = 5000 WHERE code = 'A1'")  # lines follow the districts
    db("UPDATE districts SET population = 100 WHERE code IN ('A2', 'A4')")
    for lon, lat in ((2.305, 48.8025), (2.315, 48.8075), (2.31, 48.8025)):
        db(INSERT, lon=lon, lat=lat, kind="camera", status="active", operator_type="public",
           verification="reported", review_status="approved")  # fmt: skip
    db(f"SELECT {REFRESH}")
    lines = lines_by_code(csv_text(db, SELECTIONS[0], "count", from_scratch=False))
    kept = {row.code: row for row in db("SELECT * FROM district_csv_lines")}
    for code, rank in (("A3", 3), ("A4", 2)):
        assert lines[code] == f"{kept[code].before_rank},{rank},{kept[code].after_rank}"
    assert kept["A1"].count == 1 and lines["A1"].split(",")[7] == "2"
    assert_kept_lines_from_scratch(db)
    for selection in SELECTIONS:
        for rank_by in RANK_METRICS:
            kept_text = csv_text(db, selection, rank_by, from_scratch=False)
            assert kept_text == csv_text(db, selection, rank_by, from_scratch=True)
    assert_documents_from_scratch(db, [(s, r) for s in SELECTIONS for r in RANK_METRICS])


def test_the_json_of_the_map_now_reads_the_kept_objects_but_computes_border_counts(db, districts):
    """A district's kept object (migration 0026) is served with its rank spliced in, the
    counts by vocabulary value nested in JSON and flat in GeoJSON; one that a device on its
    border counts in (A1) is computed for the request, and the totals add both up."""
    for lon, lat, kind in ((2.305, 48.8075, "camera"), (2.31, 48.8025, "microphone")):
        db(INSERT, lon=lon, lat=lat, kind=kind, status="active", operator_type="public",
           verification="reported", review_status="approved")  # fmt: skip
    db(f"SELECT {REFRESH}")
    kept = {
        row.code: row
        for row in db("SELECT * FROM district_csv_lines JOIN district_json_objects USING (code)")
    }
    assert kept["A3"].value_counts[:6] == [1, 0, 0, 0, 0, 0]
    assert kept["A1"].count == 0  # its microphone lies on its border with A2
    body, geojson = documents(db.connection, SELECTIONS[0], "count", from_scratch=False)
    figures = {d["code"]: d for d in orjson.loads(body)["districts"]}
    assert (figures["A3"]["rank"], figures["A1"]["rank"], figures["A4"]["rank"]) == (1, 1, 3)
    assert body.count(kept["A3"].json_head + ',"rank":1,' + kept["A3"].json_tail) == 1
    assert figures["A3"]["counts_by_kind"]["camera"] == 1
    assert figures["A1"]["counts_by_kind"]["microphone"] == 1
    assert (
        orjson.loads(body)["totals"]["counts_by_kind"] | {"camera": 1, "microphone": 1}
        == (orjson.loads(body)["totals"]["counts_by_kind"])
    )
    assert orjson.loads(body)["totals"]["count"] == 2
    properties = {f["id"]: f["properties"] for f in orjson.loads(geojson)["features"]}
    assert properties["A3"]["kind_camera"] == 1 and "watched_share" not in properties["A3"]
    assert_documents_from_scratch(db, [(s, r) for s in SELECTIONS for r in RANK_METRICS])
    # What is served is what is kept: a kept object changed by hand is served changed.
    db("""UPDATE district_json_objects SET json_tail = left(json_tail, -1) || ',"read": 1}'
       WHERE code = 'A4'""")  # fmt: skip
    body, _geojson = documents(db.connection, SELECTIONS[0], "count", from_scratch=False)
    assert {d["code"]: d.get("read") for d in orjson.loads(body)["districts"]}["A4"] == 1


def test_a_refresh_keeps_the_marks_of_writers_it_cannot_see_yet(committed, tmp_path):
    """A write marks its districts' lines stale in its own transaction; a refresh drops only the
    marks committed before it began, so a writer still open then keeps its mark, and the CSV
    computes that line until the next refresh: exact all along."""
    features = [district_feature(code, shape) for code, shape in QUARTERS.items()]
    with committed.begin() as connection:
        load(connection, write_geojson(tmp_path / "q.geojson", features), parent="T")
        connection.execute(text(f"SELECT {REFRESH}"))
    values = dict(lat=48.8025, status="active", operator_type="public", verification="reported",
                  review_status="approved")  # fmt: skip
    first = committed.connect()
    first.begin()
    first.execute(text(INSERT), dict(values, lon=2.305, kind="camera"))  # in A1, not committed
    with committed.begin() as connection:
        connection.execute(text(INSERT), dict(values, lon=2.306, kind="alpr"))  # in A1
    with committed.begin() as connection:
        assert connection.execute(text(f"SELECT {REFRESH}")).scalar_one() == 1
    first.commit()
    first.close()

    def a1_count(connection) -> int:
        line = connection.execute(text("SELECT count FROM district_csv_lines WHERE code = 'A1'"))
        return line.scalar_one()

    with committed.connect() as connection:
        assert a1_count(connection) == 1  # the refresh saw the alpr only
        stale = connection.execute(text("SELECT code FROM district_csv_lines_stale")).scalars()
        assert stale.all() == ["A1"]  # the camera's mark
        served = lines_by_code(csv_of(connection, SELECTIONS[0], "count", from_scratch=False))
        assert served["A1"].split(",")[7] == "2"
        assert connection.execute(text(f"SELECT {REFRESH}")).scalar_one() == 1
        connection.commit()
        assert a1_count(connection) == 2


def test_writers_moving_devices_both_ways_between_two_districts_never_wait(committed, tmp_path):
    """Writers lock no CSV line (they mark them stale), so one crossing another neither waits
    nor deadlocks (locked as each statement wrote the counts, two moves in opposite directions
    could)."""
    features = [district_feature(code, shape) for code, shape in QUARTERS.items()]
    with committed.begin() as connection:
        load(connection, write_geojson(tmp_path / "q.geojson", features), parent="T")
        values = dict(lat=48.8025, status="active", operator_type="public",
                      verification="reported", review_status="approved")  # fmt: skip
        connection.execute(text(INSERT), dict(values, lon=2.305, kind="microphone"))  # in A1
        connection.execute(text(INSERT), dict(values, lon=2.315, kind="sensor"))  # in A2
    move = (
        "UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(:lon, 48.8025), 4326) WHERE kind = :kind"
    )
    first = committed.connect()
    first.begin()
    first.execute(text(move), {"lon": 2.315, "kind": "microphone"})  # A1 -> A2, not committed

    def second_writer():
        with committed.begin() as connection:
            connection.execute(text(move), {"lon": 2.305, "kind": "sensor"})  # A2 -> A1

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(timeout=10)
    finished_first = not thread.is_alive()
    first.commit()
    first.close()
    thread.join()
    assert finished_first  # it did not wait for the first writer
    with committed.connect() as connection:
        connection.execute(text(f"SELECT {REFRESH}"))
        connection.commit()
        counts = dict(connection.execute(text("SELECT code, count FROM district_csv_lines")).all())
    assert counts["A1"] == counts["A2"] == 1


def test_one_statement_writers_lock_shared_rows_in_one_order(committed):
    """A move that empties a tile cell and an insert beside the device's new place share a cell
    and a hexagon: each locks its counts, then its cells, then its hexagons, whatever it empties,
    so the one that waits for the other never holds what the other needs (reading the cells
    only up to the emptied one locked the rest after the hexagons: a deadlock)."""
    far, near = (2.8, 49.3), (2.305, 48.3)  # far's cell sorts before near's, its hexagon after
    insert = INSERT.replace("gen_random_uuid()", ":id")
    values = dict(kind="camera", status="active", operator_type="public",
                  verification="reported", review_status="approved")  # fmt: skip
    moved = uuid.uuid4()
    with committed.begin() as connection:
        for device, (lon, lat) in ((moved, far), (uuid.uuid4(), near), (uuid.uuid4(), near)):
            connection.execute(text(insert), dict(values, id=device, lon=lon, lat=lat))
    holder = committed.connect()  # holds the shared hexagon so that both writers meet there
    holder.execute(text("SELECT 1 FROM device_hexagon_counts WHERE n = 2 FOR UPDATE"))
    outcomes = {}

    def write(name, sql, params):
        try:
            with committed.begin() as connection:
                connection.execute(text(sql), params)
            outcomes[name] = "committed"
        except Exception as exc:  # the outcome is what the test reads
            outcomes[name] = type(exc).__name__

    def waiting() -> int:
        with committed.connect() as watcher:
            return watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()

    move = "UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) WHERE id = :id"
    writers = [
        threading.Thread(
            target=write, args=("move", move, dict(id=moved, lon=near[0], lat=near[1]))
        ),
        threading.Thread(
            target=write,
            args=("insert", insert, dict(values, id=uuid.uuid4(), lon=near[0], lat=near[1])),
        ),
    ]
    for started, writer in enumerate(writers, start=1):
        writer.start()
        deadline = time.monotonic() + 10
        while waiting() < started and time.monotonic() < deadline:
            time.sleep(0.02)
    holder.rollback()
    holder.close()
    for writer in writers:
        writer.join()
    assert outcomes == {"move": "committed", "insert": "committed"}


def test_kept_lines_quote_names_as_the_computed_csv_does(db, districts):
    """The migration's copy of the cell rules (quotes doubled, a formula's first character
    guarded) writes what service/geo/statistics/csv.py writes."""
    db("""UPDATE districts SET name = '=HYPERLINK("x") "Louvre"' WHERE code = 'A3'""")
    db("UPDATE districts SET name = '-1, ''quoted''' WHERE code = 'A4'")
    for rank_by in RANK_METRICS:
        kept = csv_text(db, SELECTIONS[0], rank_by, from_scratch=False)
        assert '"\'=HYPERLINK(""x"") ""Louvre"""' in kept
        assert kept == csv_text(db, SELECTIONS[0], rank_by, from_scratch=True)


def test_kept_objects_escape_names_as_the_computed_json_does(db, districts):
    """The migration's copy of the JSON members (to_json's escapes, nulls) writes what
    service/geo/statistics/density.py writes."""
    name = 'Quai "d\\Orsay"\n\t\u00e9\u2028\x01'
    db("UPDATE districts SET name = :name WHERE code = 'A3'", name=name)
    db("UPDATE districts SET population = NULL, population_year = NULL WHERE code = 'A4'")
    db(f"SELECT {REFRESH}")
    for rank_by in RANK_METRICS:
        body, _geojson = documents(db.connection, SELECTIONS[0], rank_by, from_scratch=False)
        names = {d["code"]: d["name"] for d in orjson.loads(body)["districts"]}
        assert names["A3"] == name
    assert_documents_from_scratch(db, [(SELECTIONS[0], r) for r in RANK_METRICS])


def test_districts_of_another_level_do_not_take_border_devices_from_each_other(
    db, districts, isolated, tmp_path
):
    """A device on the border of two quarters counts in the quarter of smaller code, and also in
    a region of smaller code around them both (another level: it does not compete), whatever
    way the figures are computed (counts, memberships replayed for `at=`, from scratch)."""
    region = [district_feature("0R", rectangle(2.29, 48.79, 2.33, 48.82))]
    load(isolated, write_geojson(tmp_path / "r.geojson", region), level="region", dataset="r")
    db(INSERT, lon=2.31, lat=48.8025, kind="camera", status="active", operator_type="public",
       verification="reported", review_status="approved")  # fmt: skip
    selection = DistrictSelection(codes=["0R", "A1", "A2"])
    at = StatisticsFilter(at=datetime.now(UTC) + timedelta(days=1))
    for flt in (StatisticsFilter(), at):
        for from_scratch in (False, True):
            counted = figures(db, selection, flt, from_scratch)
            by_code = {d["code"]: d["count"] for d in counted["districts"]}
            assert by_code == {"0R": 1, "A1": 1, "A2": 0}, (flt, from_scratch)
    db(f"SELECT {REFRESH}")
    assert_csv_from_scratch(db, [(selection, r) for r in RANK_METRICS])
    assert_documents_from_scratch(db, [(selection, r) for r in RANK_METRICS])
