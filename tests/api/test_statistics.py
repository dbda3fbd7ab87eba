"""Densities per district: the public contract, formats, filters, dates, border rule, cache."""

import codecs
import csv
import io
import json
import math
import random
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from werkzeug.http import parse_options_header

from service.api.statistics import cache as statistics_cache
from service.api.statistics import routes
from service.db import session
from service.geo import grid
from service.geo.statistics.density import DensityQuery
from service.geo.statistics.documents import select_density_json
from service.geo.statistics.selection import DistrictSelection, StatisticsFilter
from service.geo.statistics.timeline import select_timeline
from service.geo.view_cones import ViewModel
from tests import images
from tests.districts import (
    district_feature,
    load,
    rectangle,
    square,
    write_geojson,
)
from tests.helpers import GEOJSON, PROBLEM, pin, plan_nodes
from tests.images import uploaded


@pytest.fixture
def client(moderator):
    """These tests pin as a moderator, whose pins are published directly."""
    return moderator


STATS = "/api/v1/stats/districts?level=quartier&parent=P"
PUBLIC_FIELDS = {
    "code",
    "name",
    "level",
    "parent_code",
    "area_km2",
    "population",
    "population_year",
    "count",
    "per_km2",
    "per_10k_inhabitants",
    "inhabitants_per_device",
    "rank",
    "counts_by_kind",
    "counts_by_status",
    "counts_by_verification",
    "watched_area_km2",
    "watched_share",
}


@pytest.fixture
def quarters(isolated, tmp_path):
    """Q1 and Q2 share the border lon=2.31; Q2 is half as tall, leaving a gap in the extent."""
    features = [
        district_feature("Q1", rectangle(2.30, 48.80, 2.31, 48.81), pop=10_000),
        district_feature("Q2", rectangle(2.31, 48.80, 2.32, 48.805), pop=None),
    ]
    load(
        isolated,
        write_geojson(tmp_path / "q.geojson", features),
        parent="P",
        population_field="pop",
        population_year=2023,
        population_source="INSEE test",
    )


def stats(client, url=STATS):
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_code(body):
    return {d["code"]: d for d in body["districts"]}


def stored_counts(db):
    return db(
        "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM districts), "
        "(SELECT count(*) FROM statistics_cache)"
    ).one()


# Pinned in Q1, moved into Q2 in June 2024, an ALPR from September, removed in January 2025 and
# back in June.
MOVED_RETYPED_REMOVED_RESTORED = [
    ("2024-01-01", None),
    ("2024-06-01", {"geometry": {"type": "Point", "coordinates": [2.315, 48.801]}}),
    ("2024-09-01", {"properties": {"kind": "alpr"}}),
    ("2025-01-01", {"properties": {"status": "removed"}}),
    ("2025-06-01", {"properties": {"status": "active"}}),
]


def edit_history(client, db, device_id: str, dated_changes: list, bulk: bool = False) -> None:
    """Edit a pinned device through the API, then date its revisions: the first (its pin) and
    one per change, in DATED_CHANGES' order [(date, changes or None for the pin), ...].

    BULK: the pin leaves no revision, as for a row loaded in bulk (its date is then unused).
    """
    url = f"/api/v1/devices/{device_id}"
    if bulk:
        db("DELETE FROM device_revisions WHERE device_id = :id", id=device_id)
    for _day, changes in dated_changes[1:]:
        etag = client.get(url).headers["ETag"]
        # Forced: a history may move a device beside another of its kind.
        moved = client.patch(f"{url}?force=true", json=changes, headers={"If-Match": etag})
        assert moved.status_code == 200
    revisions = db(
        "SELECT id FROM device_revisions WHERE device_id = :id ORDER BY id", id=device_id
    ).scalars()
    for revision, (day, _changes) in zip(revisions, dated_changes[bulk:], strict=True):
        db("UPDATE device_revisions SET created_at = :d WHERE id = :id", d=day, id=revision)


def removed_in_bulk(client, db, lon: float, observed: str) -> dict:
    """A device in Q1 seen on the day OBSERVED, as a row loaded in bulk (no revision) marked
    removed on 2024-11-01 (its last change)."""
    device = pin(client, lon, 48.801, observed_at=f"{observed}T00:00:00Z")
    db("DELETE FROM device_revisions WHERE device_id = :id", id=device["id"])
    db(
        "UPDATE devices SET status = 'removed', updated_at = '2024-11-01T00:00:00Z' WHERE id = :id",
        id=device["id"],
    )
    return device


class TestDensities:
    def test_contract_counts_border_once_and_reports_devices_outside(self, client, quarters):
        for lon, lat in ((2.301, 48.801), (2.302, 48.802), (2.315, 48.802)):
            pin(client, lon, lat)
        pin(client, 2.31, 48.803)  # on the border shared by Q1 and Q2
        pin(client, 2.315, 48.808)  # in the bbox of the selection, in neither district
        pin(client, 2.5, 48.9)  # far away
        assert stats(client)["totals"]["outside_count"] is None  # only when asked
        body = stats(client, STATS + "&outside=true")
        districts = by_code(body)
        assert set(districts["Q1"]) == PUBLIC_FIELDS
        assert (districts["Q1"]["count"], districts["Q2"]["count"]) == (3, 1)
        q1 = districts["Q1"]
        assert q1["area_km2"] == pytest.approx(0.8168, rel=0.003)
        assert q1["per_km2"] == pytest.approx(3 / q1["area_km2"], rel=1e-3)
        assert q1["per_10k_inhabitants"] == pytest.approx(3.0)
        assert q1["inhabitants_per_device"] == pytest.approx(3333.33)
        assert q1["counts_by_kind"]["camera"] == 3 and q1["counts_by_kind"]["microphone"] == 0
        assert q1["counts_by_status"] == {"active": 3, "planned": 0, "removed": 0, "unknown": 0}
        assert q1["counts_by_verification"]["reported"] == 3
        assert q1["rank"] == 1 and districts["Q2"]["rank"] == 2  # Q1 is denser per km²
        q2 = districts["Q2"]
        assert q2["population"] is None and q2["per_10k_inhabitants"] is None
        assert q2["inhabitants_per_device"] is None
        totals = body["totals"]
        assert (totals["count"], totals["districts"], totals["outside_count"]) == (4, 2, 1)
        assert totals["districts_without_population"] == 1
        assert totals["area_km2"] == pytest.approx(q1["area_km2"] + q2["area_km2"], abs=1e-3)
        names = [a["name"] for a in body["attribution"]]
        assert names == ["test-districts", "population", "devices"]
        assert body["attribution"][1]["attribution"] == "INSEE test"

    def test_no_device_means_null_ratios_not_zero_division(self, client, quarters):
        q1 = by_code(stats(client))["Q1"]
        assert (q1["count"], q1["per_km2"], q1["per_10k_inhabitants"]) == (0, 0, 0)
        assert q1["inhabitants_per_device"] is None

    def test_filters_by_kind_status_operator_and_verification(self, client, db, quarters):
        pin(client, 2.301, 48.801, operator_type="public")
        pin(client, 2.302, 48.801, kind="microphone")
        pin(client, 2.303, 48.801, status="removed")
        pin(client, 2.304, 48.801, status="planned")
        pending = pin(client, 2.305, 48.801)
        db("UPDATE devices SET review_status = 'pending' WHERE id = :id", id=pending["id"])
        count = lambda query: by_code(stats(client, STATS + query))["Q1"]["count"]  # noqa: E731
        # Active and unknown devices: what is on the map now; a pending pin is not public yet.
        assert count("") == 2
        assert count("&kind=camera") == 1
        assert count("&status=removed,planned") == 2
        assert count("&operator_type=public") == 1
        assert count("&verification=reported") == 2
        assert count("&verification=confirmed") == 0
        assert by_code(stats(client))["Q1"]["counts_by_kind"]["microphone"] == 1

    def test_at_replays_the_map_from_observation_and_removal_dates(self, client, db, quarters):
        pin(client, 2.301, 48.801, observed_at="2024-01-15T10:00:00Z")
        pin(client, 2.302, 48.801, observed_at="2024-01-15T10:00:00Z", status="removed")
        pin(client, 2.303, 48.801, observed_at="2024-01-15T10:00:00Z", status="planned")
        gone = pin(client, 2.304, 48.801, observed_at="2024-01-15T10:00:00Z")
        client.delete(f"/api/v1/devices/{gone['id']}")
        count = lambda at: by_code(stats(client, f"{STATS}&at={at}"))["Q1"]["count"]  # noqa: E731
        assert count("2023-12-31") == 0
        assert count("2024-01-15") == 2  # the end of that day
        assert count("2024-06-30T00:00:00Z") == 2  # the removed one was still there then
        assert by_code(stats(client))["Q1"]["count"] == 1

    def test_at_takes_the_removal_date_from_the_edit_history(self, client, db, quarters):
        device = pin(client, 2.301, 48.801, observed_at="2024-01-15T10:00:00Z")
        url = f"/api/v1/devices/{device['id']}"
        etag = client.get(url).headers["ETag"]
        patch = {"properties": {"status": "removed"}}
        assert client.patch(url, json=patch, headers={"If-Match": etag}).status_code == 200
        db(
            "UPDATE device_revisions SET created_at = '2024-03-01T00:00:00Z' "
            "WHERE device_id = :id AND action = 'update'",
            id=device["id"],
        )
        db("UPDATE devices SET updated_at = '2025-06-01T00:00:00Z' WHERE id = :id", id=device["id"])
        count = lambda at: by_code(stats(client, f"{STATS}&at={at}"))["Q1"]["count"]  # noqa: E731
        assert count("2024-02-01") == 1
        assert count("2024-06-01") == 0  # removed in March, though last edited in 2025

    def test_at_uses_the_positions_kinds_and_statuses_devices_had_then(self, client, db, quarters):
        device = pin(client, 2.301, 48.801, observed_at="2023-12-01T10:00:00Z")
        edit_history(client, db, device["id"], MOVED_RETYPED_REMOVED_RESTORED)

        def where(at: str, query: str = "") -> tuple:
            body = by_code(stats(client, f"{STATS}&at={at}{query}"))
            return body["Q1"]["count"], body["Q2"]["count"]

        assert where("2023-11-30") == (0, 0)  # not observed yet
        assert where("2023-12-15") == (1, 0)  # observed before it was pinned: as first pinned
        assert where("2024-03-01") == (1, 0)
        assert where("2024-07-01") == (0, 1)  # moved in June
        assert where("2024-07-01", "&kind=alpr") == (0, 0)  # a camera until September
        assert where("2024-10-01", "&kind=alpr") == (0, 1)
        assert where("2025-03-01") == (0, 0)  # removed in January...
        assert where("2025-03-01", "&status=removed") == (0, 1)
        assert where("2025-07-01") == (0, 1)  # ...and back in June
        grid = "/api/v1/stats/grid?bbox=2.29,48.79,2.33,48.82&cell=100"
        then = client.get(f"{grid}&at=2024-03-01").get_json()["features"]
        now = client.get(grid).get_json()["features"]
        assert len(then) == len(now) == 1 and then[0]["geometry"] != now[0]["geometry"]
        assert client.get(f"{grid}&at=2025-03-01").get_json()["features"] == []

    def test_at_counts_a_device_that_moved_far_away_where_it_stood(self, client, db, quarters):
        """Devices are found where they stand now, and those that moved by their history: one
        now in Lyon still counts in Q1 before it moved."""
        device = pin(client, 2.301, 48.801, observed_at="2024-01-10T00:00:00Z")
        lyon = {"geometry": {"type": "Point", "coordinates": [4.835, 45.764]}}
        edit_history(client, db, device["id"], [("2024-01-10", None), ("2024-06-01", lyon)])
        counts = {at: by_code(stats(client, f"{STATS}&at={at}"))["Q1"]["count"] for at in (
            "2024-03-01", "2024-07-01")}  # fmt: skip
        assert counts == {"2024-03-01": 1, "2024-07-01": 0}

    def test_a_merged_duplicate_leaves_its_first_sighting_to_the_device_kept(
        self, client, db, quarters, monkeypatch
    ):
        """Merging an older pin into a newer duplicate keeps the camera on the map since the
        older one was seen, replayed or from the kept timelines; the merge's revision says so."""
        older = pin(client, 2.301, 48.801, observed_at="2024-01-15T10:00:00Z")
        newer = pin(client, 2.3011, 48.8011, observed_at="2025-03-01T10:00:00Z")
        count = lambda at: by_code(stats(client, f"{STATS}&at={at}"))["Q1"]["count"]  # noqa: E731
        assert (count("2024-06-01"), count("2025-06-01")) == (1, 2)  # timelines kept
        merge = {"other": older["id"]}
        response = client.post(f"/api/v1/devices/{newer['id']}/merge", json=merge)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["properties"]["observed_at"].startswith("2024-01-15")
        assert (count("2023-12-31"), count("2024-06-01"), count("2025-06-01")) == (0, 1, 1)
        monkeypatch.setattr(routes, "MAX_KEPT_PER_REQUEST", 0)
        db("DELETE FROM timeline_districts")
        assert (count("2023-12-31"), count("2024-06-01"), count("2025-06-01")) == (0, 1, 1)
        timeline = stats(client, "/api/v1/stats/timeline?interval=month&district=Q1")
        months = {p["start"][:7]: (p["added"], p["count"]) for p in timeline["periods"]}
        assert (months["2024-01"], months["2025-03"]) == ((1, 1), (0, 1))
        history = client.get(f"/api/v1/devices/{newer['id']}/history").get_json()
        merged = next(r for r in history["revisions"] if r["action"] == "merge")
        assert "observed_at" in merged["changes"]
        # A revert to before the merge keeps it: the duplicate was seen then all the same.
        created = history["revisions"][0]["id"]
        url = f"/api/v1/devices/{newer['id']}/revert"
        reverted = client.post(url, json={"revision": created}).get_json()
        assert reverted["properties"]["observed_at"].startswith("2024-01-15")
        assert count("2024-06-01") == 1

    def test_a_newer_duplicate_merged_leaves_the_first_sighting_as_it_was(self, client, quarters):
        older = pin(client, 2.301, 48.801, observed_at="2024-01-15T10:00:00Z")
        newer = pin(client, 2.3011, 48.8011, observed_at="2025-03-01T10:00:00Z")
        merge = {"other": newer["id"]}
        response = client.post(f"/api/v1/devices/{older['id']}/merge", json=merge)
        assert response.get_json()["properties"]["observed_at"].startswith("2024-01-15")
        count = lambda at: by_code(stats(client, f"{STATS}&at={at}"))["Q1"]["count"]  # noqa: E731
        assert (count("2023-12-31"), count("2024-06-01"), count("2025-06-01")) == (0, 1, 1)

    def test_a_device_observed_tomorrow_counts_from_its_pinning(self, client, quarters):
        """observed_at may run a day ahead of the server (a phone's clock, a local date past
        midnight): the device is on the map from its pinning, at today's date as now, and in
        the timeline's last day as in its last month."""
        tomorrow = datetime.now(UTC) + timedelta(hours=20)
        pin(client, 2.301, 48.801, observed_at=tomorrow.isoformat())
        today = datetime.now(UTC).date().isoformat()
        now = by_code(stats(client))["Q1"]["count"]
        assert now == by_code(stats(client, f"{STATS}&at={today}"))["Q1"]["count"] == 1
        timeline = "/api/v1/stats/timeline?district=Q1&interval="
        last = {unit: stats(client, timeline + unit)["periods"][-1] for unit in ("day", "month")}
        assert last["day"]["count"] == last["month"]["count"] == 1
        assert last["day"]["start"][:10] == today

    def test_at_never_shows_a_pin_as_it_was_drafted_before_review(
        self, client, as_user, db, quarters, monkeypatch
    ):
        """What a pin was while it awaited review (its first place, often where its author
        stood, a kind taken back) stays between its author and the moderators, as its history
        says (docs/security.md): at any date, replayed or from the kept timelines, it counts
        as it was published, from its pinning on."""
        author = as_user("contributor")
        device = pin(author, 2.315, 48.801, observed_at="2024-01-01T10:00:00Z")  # in Q2
        assert device["properties"]["review_status"] == "pending"
        url = f"/api/v1/devices/{device['id']}"
        corrected = {
            "geometry": {"type": "Point", "coordinates": [2.301, 48.801]},  # into Q1
            "properties": {"kind": "alpr"},
        }
        etag = author.get(url).headers["ETag"]
        assert author.patch(url, json=corrected, headers={"If-Match": etag}).status_code == 200
        assert client.post(f"{url}/review", json={"decision": "approve"}).status_code == 200
        revisions = db(
            "SELECT id FROM device_revisions WHERE device_id = :id ORDER BY id", id=device["id"]
        ).scalars()
        days = ("2024-01-01", "2024-03-01", "2024-06-01")  # pinned, corrected, published
        for revision, day in zip(revisions, days, strict=True):
            db("UPDATE device_revisions SET created_at = :d WHERE id = :id", d=day, id=revision)

        def where(at: str, query: str = "") -> tuple:
            body = by_code(stats(client, f"{STATS}&at={at}{query}"))
            return body["Q1"]["count"], body["Q2"]["count"]

        monkeypatch.setattr(routes, "MAX_KEPT_PER_REQUEST", 0)  # replayed, timelines not kept
        assert where("2024-02-01") == (1, 0)
        assert not db("SELECT count(*) FROM timeline_districts").scalar()
        monkeypatch.undo()
        for at in ("2024-02-01", "2024-04-01", "2024-07-01"):  # from the kept timelines
            assert where(at) == (1, 0), at
            assert where(at, "&kind=alpr") == (1, 0), at
        drafted_there = "/api/v1/stats/grid?bbox=2.312,48.799,2.318,48.803&cell=100"
        for at in ("2024-02-01", "2024-04-01"):
            assert client.get(f"{drafted_there}&at={at}").get_json()["features"] == [], at
        timeline = "/api/v1/stats/timeline?interval=month&district="
        assert all(p["count"] == 0 for p in stats(client, timeline + "Q2")["periods"])
        q1 = {p["start"][:7]: p for p in stats(client, timeline + "Q1&kind=alpr")["periods"]}
        assert (q1["2024-01"]["added"], q1["2024-01"]["count"]) == (1, 1)

    def test_csv_file_name_from_any_codes_is_a_valid_ascii_header(self, client, quarters):
        """The file name repeats the request's codes, which may hold anything: the header stays
        ASCII (a server refuses any other byte: a 500) with no quote or parameter smuggled in,
        and names the file exactly in its RFC 8187 form."""
        parents = 'P,🎥,Île,a"b;filename=evil.exe'
        response = client.get(
            "/api/v1/stats/districts", query_string={"level": "quartier", "parent": parents,
                                                     "f": "csv"}
        )  # fmt: skip
        assert response.status_code == 200
        header = response.headers["Content-Disposition"]
        assert header.isascii()
        # The parents in one order (any order asked gives the same figures, and name).
        assert 'filename="districts-quartier-P-a_b_filename_evil.exe-_le-_.csv";' in header
        _value, options = parse_options_header(header)  # filename* first, as browsers read it
        in_order = "-".join(sorted(parents.split(",")))
        assert options["filename"] == f"districts-quartier-{in_order}.csv"

    def test_several_levels_are_told_that_level_takes_one(self, client, quarters):
        response = client.get("/api/v1/stats/districts?level=quartier,commune")
        assert response.status_code == 404 and response.mimetype == PROBLEM
        body = response.get_json()
        assert "takes one level" in body["detail"] and body["errors"][0]["field"] == "level"

    def test_csv_file_name_tells_the_filters_and_the_day(self, client, quarters):
        """Two downloads of the same districts under other filters (curl -OJ) must not
        overwrite each other."""
        query = {"kind": "camera,alpr", "status": "removed", "at": "2025-01-01T10:00:00+02:00"}
        response = client.get(STATS + "&" + urlencode({"f": "csv", **query}))
        _value, options = parse_options_header(response.headers["Content-Disposition"])
        assert options["filename"] == (
            "districts-quartier-P-kind-alpr+camera-status-removed-at-2025-01-01.csv"
        )
        # The same figures asked otherwise (values repeated, in another order): the same name.
        again = {**query, "kind": "alpr,camera,alpr"}
        response = client.get(STATS + "&" + urlencode({"f": "csv", **again}))
        assert parse_options_header(response.headers["Content-Disposition"])[1] == options
        # However many values, a name a file system takes (cut, with a hash of the whole);
        # two lists, two names.
        every = {
            "kind": "camera,alpr,facial_recognition,microphone,gunshot_detector,sensor",
            "status": "active,unknown,planned,removed",
            "operator_type": "public,private,unknown",
            "verification": "reported,confirmed,disputed,removed",
        }
        names = []
        for kinds in (every["kind"], every["kind"].replace(",sensor", "")):
            asked = urlencode({"f": "csv", **every, "kind": kinds})
            header = client.get(f"{STATS}&{asked}").headers["Content-Disposition"]
            names.append(parse_options_header(header)[1]["filename"])
        assert all(len(name.encode()) <= 154 and name.endswith(".csv") for name in names)
        assert names[0] != names[1] and names[0].startswith("districts-quartier-P-kind-alpr+")
        plain = client.get(STATS + "&f=csv").headers["Content-Disposition"]
        assert parse_options_header(plain)[1]["filename"] == "districts-quartier-P.csv"
        # Options that add columns or order the rows otherwise are named too.
        options_asked = "&f=csv&watched=true&rank_by=count"
        other = client.get(STATS + options_asked).headers["Content-Disposition"]
        assert parse_options_header(other)[1]["filename"] == (
            "districts-quartier-P-watched-rank_by-count.csv"
        )
        parent_only = client.get("/api/v1/stats/districts?parent=P&f=csv")
        named = parse_options_header(parent_only.headers["Content-Disposition"])[1]["filename"]
        assert named == "districts-P.csv"

    def test_every_answer_is_saved_under_a_name_of_its_own(self, client, quarters):
        """JSON, GeoJSON, the grid and the timeline too (`curl -OJ` saved them all as
        `districts`, `grid`, `timeline`, one over the other), shown in place by a browser; an
        ASCII name is the same in both forms of the header."""
        asked = {
            f"{STATS}&f=json&kind=alpr,camera": "districts-quartier-P-kind-alpr+camera.json",
            f"{STATS}&f=geojson": "districts-quartier-P.geojson",
            "/api/v1/stats/grid?bbox=2.29,48.79,2.33,48.82&cell=100&at=2024-03-01": (
                "grid-100m-2.29_48.79_2.33_48.82-at-2024-03-01.geojson"
            ),
            "/api/v1/stats/timeline?district=Q1&interval=year": "timeline-Q1-year.json",
        }
        for url, name in asked.items():
            header = client.get(url).headers["Content-Disposition"]
            assert header == f"inline; filename=\"{name}\"; filename*=UTF-8''{name}", url

    def test_two_selections_are_never_saved_under_one_name(self, client, quarters):
        """Boxes a metre apart, long lists of codes, options that add figures; and one
        selection asked in another order keeps its name."""

        def name(url):
            header = client.get(url).headers["Content-Disposition"]
            return parse_options_header(header)[1]["filename"]

        grid = "/api/v1/stats/grid?cell=10&bbox=2.347502,48.85875,2.347502,"
        assert name(grid + "48.85875") != name(grid + "48.85884")
        assert "2.347502_48.85875" in name(grid + "48.85875")
        assert name("/api/v1/stats/compare?codes=Q2,Q1&f=csv") == "compare-Q1-Q2.csv"
        assert name("/api/v1/stats/compare?codes=Q1,Q2&f=csv") == "compare-Q1-Q2.csv"
        assert name(f"{STATS}&outside=true") == "districts-quartier-P-outside.json"
        assert name(f"{STATS}&f=geojson&tolerance=2.5") == (
            "districts-quartier-P-tolerance-2.5.geojson"
        )
        both = "/api/v1/stats/districts?level=quartier&parent="
        assert name(both + "P,Z") == name(both + "Z,P")

    def test_a_day_not_come_yet_is_refused(self, client, quarters):
        """Its figures would be today's, under a date they do not hold for. Tomorrow in UTC
        has begun somewhere."""
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
        assert client.get(f"{STATS}&at={tomorrow}").status_code == 200
        for later in (tomorrow + timedelta(days=1), "2099-01-01", "9999-12-31"):
            refused = client.get(f"{STATS}&at={later}")
            assert refused.status_code == 400 and refused.mimetype == PROBLEM
            body = refused.get_json()
            assert body["errors"][0]["field"] == "at" and "not known yet" in body["detail"]

    @pytest.mark.parametrize(
        "accept,expected",
        [
            ("text/csv; charset=utf-8", "text/csv"),
            ("text/csv; header=present", "text/csv"),  # the type CSV answers carry
            ("application/geo+json; charset=utf-8", GEOJSON),
            ("application/json;q=0.5, text/csv; charset=utf-8", "text/csv"),
        ],
    )
    def test_accept_is_read_without_parameters(self, client, quarters, accept, expected):
        response = client.get(STATS, headers={"Accept": accept})
        assert response.status_code == 200 and response.mimetype == expected

    def test_csv_has_the_json_field_names_and_the_attribution_in_headers(self, client, quarters):
        pin(client, 2.301, 48.801)
        response = client.get(STATS, headers={"Accept": "text/csv"})
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        assert "Test districts" in response.headers["X-Attribution"]
        assert "INSEE test" in response.headers["X-Attribution"]
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert [r["code"] for r in rows] == ["Q1", "Q2"]
        assert rows[0]["count"] == "1" and rows[0]["counts_by_kind.camera"] == "1"
        assert rows[1]["population"] == "" and rows[1]["inhabitants_per_device"] == ""
        json_names = {k for k in PUBLIC_FIELDS if not k.startswith("counts_by")}
        assert json_names <= set(rows[0])
        assert client.get(STATS + "&f=csv").data == response.data

    def test_a_csv_request_rewrites_the_lines_that_writes_marked_stale(
        self, client, isolated, quarters
    ):
        """A pin marks its district's kept CSV line stale; the next CSV answer, exact, rewrites
        it on the primary, and later answers read it."""
        isolated.execute(text("SELECT refresh_district_csv_lines()"))
        pin(client, 2.301, 48.801)

        def stale() -> list:
            return isolated.execute(text("SELECT code FROM district_csv_lines_stale")).all()

        def q1_line():
            line = text("SELECT count, after_rank FROM district_csv_lines WHERE code = 'Q1'")
            return isolated.execute(line).one()

        assert stale() == [("Q1",)] and q1_line().count == 0
        body = client.get(STATS + "&f=csv").get_data(as_text=True)
        assert body.splitlines()[1].split(",")[7] == "1"
        assert stale() == [] and q1_line().count == 1
        assert q1_line().after_rank.startswith("1,0,")  # one camera, no ALPR
        assert client.get(STATS + "&f=csv", headers={"Cache-Control": "no-cache"}).data == (
            body.encode()
        )

    def test_a_primary_that_refuses_the_refresh_still_gets_an_exact_csv(
        self, client, isolated, quarters
    ):
        """Lines the primary cannot rewrite now (read-only, say) are computed for the answer,
        and stay marked for a later refresh."""
        isolated.execute(text("SELECT refresh_district_csv_lines()"))
        isolated.execute(
            text(
                "CREATE OR REPLACE FUNCTION refresh_district_csv_lines() RETURNS integer "
                "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'cannot execute in a read-only "
                "transaction' USING ERRCODE = 'read_only_sql_transaction'; END $$"
            )
        )  # rolled back with the test
        pin(client, 2.301, 48.801)
        response = client.get(STATS + "&f=csv")
        assert response.status_code == 200
        assert response.get_data(as_text=True).splitlines()[1].split(",")[7] == "1"
        marks = isolated.execute(text("SELECT code FROM district_csv_lines_stale")).all()
        assert marks == [("Q1",)]

    def test_every_csv_cell_equals_the_json_field_of_its_name(self, client, quarters):
        for lon, lat, kind in ((2.301, 48.801, "camera"), (2.315, 48.802, "alpr")):
            pin(client, lon, lat, kind=kind)
        query = f"{STATS}&rank_by=count"
        districts = by_code(stats(client, query))
        rows = csv.DictReader(io.StringIO(client.get(query + "&f=csv").get_data(as_text=True)))
        for row in rows:
            district = districts[row["code"]]
            for name, cell in row.items():
                group, _, value = name.partition(".")
                expected = district[group][value] if value else district[name]
                if expected is None or isinstance(expected, str):
                    assert cell == (expected or ""), name
                else:
                    assert float(cell) == expected, name

    def test_csv_quotes_names_with_commas_and_quotes(self, client, isolated, tmp_path):
        odd = district_feature("Z1", square(2.3, 48.8, 0.01))
        odd["properties"]["name"] = 'Saint-"X", le haut'
        load(isolated, write_geojson(tmp_path / "z.geojson", [odd]), parent="Z")
        response = client.get("/api/v1/stats/districts?parent=Z&f=csv")
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert rows[0]["name"] == 'Saint-"X", le haut'

    def test_csv_begins_with_a_byte_order_mark_when_asked(self, client, isolated, tmp_path):
        accented = district_feature("Z1", square(2.3, 48.8, 0.01))
        accented["properties"]["name"] = "Saint-Étienne-du-Rouvray"
        load(isolated, write_geojson(tmp_path / "z.geojson", [accented]), parent="Z")
        url = "/api/v1/stats/districts?parent=Z&f=csv"
        plain, marked = client.get(url).data, client.get(url + "&bom=true")
        assert not plain.startswith(codecs.BOM_UTF8)  # by default, RFC 4180's plain UTF-8
        assert marked.status_code == 200 and marked.data == codecs.BOM_UTF8 + plain
        assert marked.headers["X-Cache"] == "hit"  # the same body, marked after the cache
        assert marked.headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
        rows = list(csv.DictReader(io.StringIO(marked.data.decode("utf-8-sig"))))
        assert rows[0]["code"] == "Z1" and rows[0]["name"] == "Saint-Étienne-du-Rouvray"
        # JSON never starts with one (RFC 8259): the mark is for CSV only, asked of JSON a 400;
        # `bom=false` says nothing a JSON answer ignores, and the format's own options apply.
        refused = client.get(url.replace("csv", "json") + "&bom=true")
        assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "bom"
        assert "CSV only" in refused.get_json()["detail"]
        assert client.get(url.replace("csv", "json") + "&bom=false").status_code == 200
        geojson = {"Accept": "application/geo+json"}
        assert client.get(url.replace("&f=csv", "&tolerance=5"), headers=geojson).status_code == 200
        timeline = "/api/v1/stats/timeline?district=Z1&bom=true"
        refused = client.get(timeline, headers=geojson)
        assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "bom"
        assert client.get(timeline + "&f=csv").status_code == 200

    def test_geojson_is_a_choropleth_ready_collection(self, client, quarters):
        pin(client, 2.301, 48.801)
        response = client.get(STATS + "&f=geojson&tolerance=0")
        assert response.status_code == 200 and response.mimetype == GEOJSON
        body = response.get_json()
        assert body["type"] == "FeatureCollection"
        feature = body["features"][0]
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert feature["properties"]["code"] == "Q1" and feature["properties"]["count"] == 1
        assert body["totals"]["count"] == 1 and body["attribution"]
        accept = client.get(STATS, headers={"Accept": GEOJSON})
        assert accept.get_json()["type"] == "FeatureCollection"

    def test_geojson_properties_are_the_json_figures_with_flat_counts(self, client, quarters):
        for lon, lat, kind in ((2.301, 48.801, "camera"), (2.302, 48.802, "alpr")):
            pin(client, lon, lat, kind=kind)
        pin(client, 2.315, 48.802, kind="microphone", status="planned")
        query = f"{STATS}&status=active,planned&watched=true"
        districts = by_code(stats(client, query))
        features = client.get(query + "&f=geojson").get_json()["features"]
        assert [f["properties"]["code"] for f in features] == ["Q1", "Q2"]
        prefixes = {
            "counts_by_kind": "kind_",
            "counts_by_status": "status_",
            "counts_by_verification": "verification_",
        }
        for feature in features:
            district = districts[feature["properties"]["code"]]
            flat = {
                prefix + value: n
                for group, prefix in prefixes.items()
                for value, n in district[group].items()
            }
            plain = {name: value for name, value in district.items() if name not in prefixes}
            assert feature["properties"] == plain | flat
            assert all(type(feature["properties"][name]) is int for name in flat)
        q1 = features[0]["properties"]
        assert (q1["kind_camera"], q1["kind_alpr"], q1["kind_microphone"]) == (1, 1, 0)
        assert features[1]["properties"]["status_planned"] == 1
        # Not asked for, the share under cameras is left out rather than always null.
        unwatched = client.get(f"{STATS}&f=geojson").get_json()["features"][0]["properties"]
        assert "watched_share" not in unwatched and "watched_area_km2" not in unwatched
        assert "watched_share" in q1

    def test_watched_area_of_a_sector_inside_a_district(self, client, quarters):
        pin(client, 2.305, 48.805, direction=[90], angle=90, camera_type="fixed")
        q1 = by_code(stats(client, STATS + "&watched=true"))["Q1"]
        expected = math.pi * 30**2 * 90 / 360 / 1e6  # a quarter of a 30 m disc
        assert q1["watched_area_km2"] == pytest.approx(expected, rel=0.03)
        assert q1["watched_share"] == pytest.approx(expected / q1["area_km2"], rel=0.03)
        assert by_code(stats(client))["Q1"]["watched_area_km2"] is None

    def test_watched_area_of_a_dome_at_the_antimeridian(self, client, isolated, tmp_path):
        """A dome's disc within reach of ±180° crossed itself once put back within -180..180,
        and the union of the cones failed (a 500): it is cut there into its two sides."""
        halves = [rectangle(179.5, -17, 180, -16), rectangle(-180, -17, -179.5, -16)]
        island = district_feature("AM", halves, "MultiPolygon")
        load(isolated, write_geojson(tmp_path / "am.geojson", [island]), level="island")
        pin(client, 179.99995, -16.5, camera_type="dome")  # 5 m from it, seeing 20 m round
        am = by_code(stats(client, "/api/v1/stats/districts?level=island&watched=true"))["AM"]
        assert am["watched_area_km2"] == pytest.approx(math.pi * 20**2 / 1e6, rel=0.03)

    def test_the_cones_are_united_once_whatever_the_planner_expects(self, app, db, quarters):
        """With a level and a parent, PostgreSQL expects one district and would nest the
        union of every district's cones in a loop over the districts: they are computed once."""
        query = DensityQuery(
            DistrictSelection(levels=["quartier"], parents=["P"]),
            StatisticsFilter(),
            view_model=ViewModel.from_config(app.config),
        )
        statement = select_density_json(query, [])
        sql = str(
            statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )
        plan = json.dumps(db("EXPLAIN (FORMAT JSON) " + sql.replace("%", "%%")).scalar())
        assert '"Subplan Name": "CTE cones"' in plan

    def test_replayed_devices_find_their_districts_by_a_hash(self, app, db, quarters):
        """At a date, each replayed device's memberships are read by its id and tested against
        a hash of the selected codes: neither probed once per selected district (Paris took 6 s)
        nor compared with an array of them (every commune: over 13 minutes)."""
        at = datetime(2025, 6, 1, tzinfo=UTC)
        query = DensityQuery(DistrictSelection(levels=["quartier"]), StatisticsFilter(at=at))
        statement = select_density_json(query, [])
        sql = str(
            statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )
        plan = db("EXPLAIN (FORMAT JSON) " + sql.replace("%", "%%")).scalar()
        memberships = [
            node
            for node in plan_nodes(plan[0]["Plan"])
            if node.get("Relation Name") == "device_districts"
            and "interior OR" in node.get("Filter", "") + node.get("Join Filter", "")
        ]
        assert memberships, json.dumps(plan)
        for node in memberships:
            conditions = " ".join(str(node.get(key, "")) for key in ("Index Cond", "Filter"))
            assert "hashed SubPlan" in conditions and "ANY" not in conditions, node

    @pytest.mark.parametrize("fmt", ["json", "csv", "geojson"])
    def test_a_district_without_area_ranks_last_instead_of_failing(self, client, db, quarters, fmt):
        # An import repairs a flat polygon into an empty one, of area 0.
        db("UPDATE districts SET area_km2 = 0 WHERE code = 'Q2'")
        pin(client, 2.301, 48.801)
        response = client.get(f"{STATS}&f={fmt}")
        assert response.status_code == 200
        body = client.get(STATS).get_json()
        q2 = by_code(body)["Q2"]
        assert q2["per_km2"] is None and q2["rank"] == 2

    def test_watched_at_a_date_uses_the_view_cameras_had_then(self, client, db, quarters):
        # 15 m west of the border with Q2, looking west into Q1, then turned east in June.
        device = pin(
            client, 2.3098, 48.8025, direction=[270], angle=90, camera_type="fixed",
            observed_at="2023-12-01T10:00:00Z",
        )  # fmt: skip
        turned = {"properties": {"direction": [90]}}
        edit_history(client, db, device["id"], [("2024-01-01", None), ("2024-06-01", turned)])

        def watched(at: str = "") -> tuple:
            body = by_code(stats(client, f"{STATS}&watched=true{at and '&at=' + at}"))
            return body["Q1"]["watched_area_km2"], body["Q2"]["watched_area_km2"]

        quarter_disc = math.pi * 30**2 / 4 / 1e6
        q1, q2 = watched("2024-03-01")
        assert q1 == pytest.approx(quarter_disc, rel=0.03) and q2 == 0
        q1_now, q2_now = watched()
        assert q2_now > quarter_disc / 2 and q1_now < quarter_disc / 2
        assert watched("2024-07-01") == (q1_now, q2_now)

    def test_watched_areas_that_take_too_long_are_refused(self, app, client, db, quarters):
        for i in range(20):
            pin(client, 2.301 + i * 0.0004, 48.805, direction=[i * 17], angle=90)
        before = stored_counts(db)
        app.config["STATS_WATCHED_TIMEOUT_MS"] = 1
        try:
            response = client.get(STATS + "&watched=true")
        finally:
            app.config["STATS_WATCHED_TIMEOUT_MS"] = 20000
        assert response.status_code == 400 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "watched"
        assert stored_counts(db) == before
        assert client.get(STATS + "&watched=true").status_code == 200


class TestCache:
    def test_an_answer_asked_under_another_host_is_not_served_to_this_one(self, client, quarters):
        """Answers link to the server (attribution URLs): a Host header of an attacker's
        choosing must not leave its links in the answer others get."""
        url = "/api/v1/stats/grid?bbox=2.29,48.79,2.33,48.82&cell=500"
        poisoned = client.get(url, headers={"Host": "evil.example"})
        assert b"evil.example" in poisoned.data
        honest = client.get(url)
        assert honest.headers["X-Cache"] == "miss" and b"evil.example" not in honest.data
        assert client.get(url).headers["X-Cache"] == "hit"

    def test_repeated_request_is_served_from_cache_until_data_changes(self, client, quarters):
        first = client.get(STATS)
        again = client.get(STATS)
        assert (first.headers["X-Cache"], again.headers["X-Cache"]) == ("miss", "hit")
        assert again.data == first.data
        pin(client, 2.301, 48.801)
        after = client.get(STATS)
        assert after.headers["X-Cache"] == "miss"
        assert by_code(after.get_json())["Q1"]["count"] == 1

    def test_writes_others_cannot_see_leave_the_cached_answer_as_it_was(
        self, client, as_user, moderator, quarters
    ):
        """A pin awaiting review, its author's edit and its withdrawal change no figure: the
        answer stays the cached one, with its Last-Modified, or a reader polling it would learn
        when a new contributor stood before a camera. Its approval changes the figures."""
        client.get(STATS)
        cached = client.get(STATS)
        assert cached.headers["X-Cache"] == "hit"
        author = as_user()
        hidden = pin(author, 2.301, 48.801)
        url = f"/api/v1/devices/{hidden['id']}"
        etag = author.get(url).headers["ETag"]
        notes = {"properties": {"notes": "seen from the bus stop"}}
        assert author.patch(url, json=notes, headers={"If-Match": etag}).status_code == 200
        withdrawn = f"/api/v1/devices/{pin(author, 2.302, 48.801)['id']}"
        etag = author.get(withdrawn).headers["ETag"]
        assert author.delete(withdrawn, headers={"If-Match": etag}).status_code in (200, 204)
        still = client.get(STATS)
        assert still.headers["X-Cache"] == "hit"
        assert still.headers["Last-Modified"] == cached.headers["Last-Modified"]
        approved = moderator.post(f"{url}/review", json={"decision": "approve"})
        assert approved.status_code == 200
        after = client.get(STATS)
        assert after.headers["X-Cache"] == "miss"
        assert by_code(after.get_json())["Q1"]["count"] == 1

    def test_the_first_request_after_any_change_is_exact(
        self, client, db, isolated, tmp_path, quarters
    ):
        pin(client, 2.301, 48.801)
        assert by_code(stats(client))["Q1"]["count"] == 1
        db("UPDATE devices SET geom = ST_SetSRID(ST_MakePoint(2.315, 48.801), 4326)")
        moved = client.get(STATS)
        assert moved.headers["X-Cache"] == "miss"
        assert (
            by_code(moved.get_json())["Q1"]["count"],
            by_code(moved.get_json())["Q2"]["count"],
        ) == (0, 1)
        db("UPDATE devices SET status = 'removed'")
        assert by_code(stats(client))["Q2"]["count"] == 0
        db("UPDATE devices SET status = 'active'")
        assert by_code(stats(client))["Q2"]["count"] == 1
        # Q2 re-imported smaller: the device is now in no district.
        features = [district_feature("Q2", rectangle(2.31, 48.802, 2.32, 48.805))]
        load(isolated, write_geojson(tmp_path / "q2.geojson", features), parent="P")
        body = stats(client, STATS + "&outside=true")
        assert by_code(body)["Q2"]["count"] == 0 and body["totals"]["outside_count"] == 1

    def test_a_body_computed_while_a_change_commits_is_not_kept(self, app, client, quarters):
        """The change is committed by another connection between the start of the request and
        the end of its computation: the answer is not cached under the version it started at."""
        engine = app.extensions["engine"]
        compute = routes.run_bounded

        def with_a_concurrent_change(statement, query):
            with engine.begin() as other:
                other.execute(text("UPDATE districts SET name = name WHERE false"))
            return compute(statement, query)

        try:
            routes.run_bounded = with_a_concurrent_change
            assert client.get(STATS).headers["X-Cache"] == "miss"
        finally:
            routes.run_bounded = compute
        assert client.get(STATS).headers["X-Cache"] == "miss"
        assert client.get(STATS).headers["X-Cache"] == "hit"

    def test_a_primary_that_refuses_to_keep_an_answer_still_serves_it(
        self, client, isolated, quarters
    ):
        """Keeping a computed answer is a write: a primary refusing it (read-only, say) costs
        the cache, not the answer."""
        isolated.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE "
                "EXCEPTION 'cannot execute INSERT in a read-only transaction' "
                "USING ERRCODE = 'read_only_sql_transaction'; END $$; "
                "CREATE TRIGGER refuse BEFORE INSERT ON statistics_cache "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )  # rolled back with the test
        pin(client, 2.301, 48.801)
        for _ in range(2):
            response = client.get(STATS)
            assert response.status_code == 200 and response.headers["X-Cache"] == "miss"
            assert by_code(response.get_json())["Q1"]["count"] == 1

    def test_the_cache_keeps_at_most_its_maximum_of_answers(
        self, app, client, db, quarters, monkeypatch
    ):
        """Every query string is an entry of its own: however many a client sends, the table
        is trimmed to STATS_CACHE_MAX_ENTRIES (with 3, at every store)."""
        monkeypatch.setitem(app.config, "STATS_CACHE_MAX_ENTRIES", 3)
        for cell in range(250, 260):
            url = f"/api/v1/stats/grid?bbox=2.29,48.79,2.33,48.82&cell={cell}"
            assert client.get(url).headers["X-Cache"] == "miss"
        assert db("SELECT count(*) FROM statistics_cache").scalar_one() == 3

    def test_without_the_cache_every_answer_is_computed_and_nothing_kept(
        self, app, client, db, quarters
    ):
        app.config["STATS_CACHE"] = False
        try:
            pin(client, 2.301, 48.801)
            answers = [client.get(STATS) for _ in range(2)]
            assert [a.headers["X-Cache"] for a in answers] == ["miss", "miss"]
            assert by_code(answers[1].get_json())["Q1"]["count"] == 1
            assert db("SELECT count(*) FROM statistics_cache").scalar_one() == 0
        finally:
            app.config["STATS_CACHE"] = True


class TestCompare:
    def test_figures_side_by_side_for_districts_of_any_level(self, client, quarters):
        pin(client, 2.301, 48.801)
        body = stats(client, "/api/v1/stats/compare?codes=Q2,Q1")
        assert [d["code"] for d in body["districts"]] == ["Q1", "Q2"]
        assert body["totals"]["count"] == 1 and body["totals"]["outside_count"] is None

    def test_outside_is_refused_with_its_reason(self, client, quarters):
        response = client.get("/api/v1/stats/compare?codes=Q1&outside=true")
        [error] = response.get_json()["errors"]
        assert response.status_code == 400 and error["field"] == "outside"
        assert "bounding box of far-apart districts means nothing" in error["message"]

    def test_a_code_given_twice_counts_once_against_the_limit(self, client, quarters):
        """200 codes at most: a list of 150 districts, each written twice, is 150 codes."""
        unknown = [f"X{n}" for n in range(148)]  # 404s name them: the limit passed first
        codes = ",".join(["Q1", "Q2", *unknown] * 2)
        response = client.get(f"/api/v1/stats/compare?codes={codes}")
        assert response.status_code == 404 and "X0" in response.get_json()["detail"]
        assert [d["code"] for d in stats(client, "/api/v1/stats/compare?codes=Q2,Q1,Q2")[
            "districts"]] == ["Q1", "Q2"]  # fmt: skip

    def test_unknown_code_is_404_naming_it(self, client, db, quarters):
        before = stored_counts(db)
        response = client.get("/api/v1/stats/compare?codes=Q1,NOPE")
        assert response.status_code == 404 and response.mimetype == PROBLEM
        assert "NOPE" in response.get_json()["detail"]
        assert response.get_json()["errors"][0]["field"] == "codes"
        assert stored_counts(db) == before


class TestBadInput:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("", "level"),
            ("level=quartier&kind=drone", "kind"),
            ("level=quartier&status=gone", "status"),
            ("level=quartier&at=yesterday", "at"),
            ("level=quartier&at=2024-13-45", "at"),
            # ISO 8601 forms that are neither a date nor RFC 3339 (Python would read them).
            ("level=quartier&at=20240615", "at"),
            ("level=quartier&at=2024-W24-6", "at"),
            ("level=quartier&at=2024-06-30T12:00", "at"),
            ("level=quartier&at=0001-01-01T00:00:00%2B05:00", "at"),
            ("level=quartier&f=xlsx", "f"),
            ("level=quartier&rank_by=beauty", "rank_by"),
            ("level=quartier&tolerance=-1", "tolerance"),
            ("level=quartier&tolerance=nan", "tolerance"),
            ("level=quartier&parent=" + "x" * 40, "parent"),
            ("level=quartier&limit=3", "limit"),
            ("level=" + "x" * 40, "level"),
            # An option of another format than the answer's, which it would not shape.
            ("level=quartier&f=json&bom=true", "bom"),
            ("level=quartier&bom=true", "bom"),  # JSON, as no Accept header asks CSV
            ("level=quartier&f=csv&tolerance=0", "tolerance"),
            ("level=quartier&f=json&tolerance=50", "tolerance"),
        ],
    )
    def test_bad_query_is_a_400_naming_the_field(self, client, db, quarters, query, field):
        before = stored_counts(db)
        response = client.get(f"/api/v1/stats/districts?{query}")
        assert response.status_code == 400, response.get_json()
        assert response.mimetype == PROBLEM
        assert field in [e["field"] for e in response.get_json()["errors"]]
        assert stored_counts(db) == before

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("districts?level=quartier&parent=", "Give at most 200 parent codes."),
            ("compare?codes=", "Give between 1 and 200 district codes."),
        ],
    )
    def test_too_many_codes_says_how_many_may_be_given(self, client, quarters, path, message):
        codes = ",".join(f"C{i}" for i in range(201))
        response = client.get(f"/api/v1/stats/{path}{codes}")
        assert response.status_code == 400
        assert message in response.get_json()["detail"]

    def test_selection_matching_nothing_is_a_404(self, client, db, quarters):
        before = stored_counts(db)
        response = client.get("/api/v1/stats/districts?level=quartier&parent=75056")
        assert response.status_code == 404 and response.mimetype == PROBLEM
        assert response.get_json()["errors"][0]["field"] == "parent"
        assert stored_counts(db) == before

    def test_hostile_values_are_bound_not_executed(self, client, db, quarters):
        before = stored_counts(db)
        response = client.get("/api/v1/stats/districts?level=quartier'--&parent=P")
        assert response.status_code == 404
        assert stored_counts(db) == before


class TestGrid:
    def test_counts_each_device_once_on_hexagons_of_the_cell_size(self, client, quarters):
        for i in range(5):
            pin(client, 2.301 + i * 0.001, 48.801)
        pin(client, 3.0, 48.8)  # outside the bbox
        response = client.get("/api/v1/stats/grid?bbox=2.29,48.79,2.33,48.82&cell=250")
        assert response.status_code == 200 and response.mimetype == GEOJSON
        body = response.get_json()
        assert body["srid"] == 32631 and body["cell_m"] == 250
        assert sum(f["properties"]["count"] for f in body["features"]) == 5 == body["devices"]
        hexagon = body["features"][0]["geometry"]["coordinates"][0]
        assert len(hexagon) == 7
        area_km2 = 3 * math.sqrt(3) / 2 * 0.25**2
        first = body["features"][0]["properties"]
        assert first["per_km2"] == pytest.approx(first["count"] / area_km2, abs=5e-5)
        # The count times the exact hexagons per km², rounded half up to 4 places.
        exact = first["count"] * grid.hexagons_per_km2(250)
        assert Decimal(str(first["per_km2"])) == exact.quantize(Decimal("0.0001"), ROUND_HALF_UP)

    def test_one_device_in_a_large_hexagon_has_a_density_that_shows(self, client):
        """A 100 km hexagon holds 26,000 km²: rounded to 4 places, its one device was 0 a km²,
        an empty-looking hexagon. Its density keeps three significant digits."""
        pin(client, 7.25, 43.7)
        body = client.get("/api/v1/stats/grid?bbox=7.2,43.6,7.3,43.8&cell=100000").get_json()
        [hexagon] = [f["properties"] for f in body["features"] if f["properties"]["count"]]
        exact = hexagon["count"] * grid.hexagons_per_km2(100_000)
        assert Decimal(str(hexagon["per_km2"])) == exact.quantize(Decimal("1e-7"), ROUND_HALF_UP)
        assert Decimal(str(hexagon["per_km2"])).as_tuple().digits == (3, 8, 5)

    def test_each_device_is_in_the_hexagon_that_holds_it(self, client):
        # A lattice of pins across many hexagons: each hexagon answered holds its pins.
        pins = [(2.301 + 0.0007 * i, 48.801 + 0.00045 * (i * 7 % 11)) for i in range(24)]
        for lon, lat in pins:
            pin(client, lon, lat)
        body = client.get("/api/v1/stats/grid?bbox=2.29,48.79,2.33,48.82&cell=100").get_json()
        for feature in body["features"]:
            hexagon = shape(feature["geometry"])
            inside = [p for p in pins if hexagon.contains(Point(p))]
            assert feature["properties"]["count"] == len(inside), feature["properties"]
        assert body["devices"] == len(pins)

    @pytest.mark.parametrize("cell", [250, 300])  # kept counts, and devices placed now
    def test_a_hexagon_on_the_bbox_edge_counts_all_its_devices(self, client, db, cell):
        # Two points 20 m west and east of the centre of a hexagon in Paris (an even column
        # of UTM zone 31's grid), the bbox ending between them.
        west, east = db(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint("
            "  1.5 * :cell * 2 * round(452000 / (3 * :cell)) + dx, "
            "  sqrt(3) * :cell * round(5411000 / (sqrt(3) * :cell))), 32631), 4326) AS p "
            "  FROM (VALUES (-20), (20)) AS offsets (dx)) AS points",
            cell=cell,
        ).all()
        inside, outside = pin(client, *west), pin(client, *east)
        box = f"{west[0] - 0.01},{west[1] - 0.01},{(west[0] + east[0]) / 2},{west[1] + 0.01}"
        body = client.get(f"/api/v1/stats/grid?bbox={box}&cell={cell}").get_json()
        (feature,) = body["features"]
        hexagon = shape(feature["geometry"])
        assert all(hexagon.contains(Point(d["geometry"]["coordinates"])) for d in (inside, outside))
        assert feature["properties"]["count"] == 2 == body["devices"]
        area_km2 = 3 * math.sqrt(3) / 2 * (cell / 1000) ** 2
        assert feature["properties"]["per_km2"] == pytest.approx(2 / area_km2, rel=1e-3)
        west_of_it = f"{west[0] - 0.02},{west[1] - 0.01},{west[0] - 0.01},{west[1] + 0.01}"
        far = client.get(f"/api/v1/stats/grid?bbox={west_of_it}&cell={cell}").get_json()
        assert far["devices"] == 0  # hexagons that miss the bbox are left out

    @pytest.mark.parametrize("cell", [250, 300])
    def test_a_bbox_without_area_gives_the_hexagon_holding_it(self, client, cell):
        pin(client, 2.35, 48.85)
        body = client.get(f"/api/v1/stats/grid?bbox=2.35,48.85,2.35,48.85&cell={cell}")
        assert body.get_json()["devices"] == 1
        line = client.get(f"/api/v1/stats/grid?bbox=2.35,48.84,2.35,48.86&cell={cell}")
        assert line.get_json()["devices"] == 1

    def test_devices_far_from_a_zone_refuse_nothing_and_count_in_their_own(self, client, db):
        pin(client, 95.32, 5.55)  # Banda Aceh, UTM zone 46
        body = client.get("/api/v1/stats/grid?bbox=95.2,5.4,95.4,5.7&cell=250").get_json()
        assert (body["srid"], body["devices"]) == (32646, 1)
        kept = db("SELECT DISTINCT side_m FROM device_hexagon_counts").scalars().all()
        assert kept == [int(side) for side in grid.KEPT_SIDES_M]  # the migration's sides

    def test_longitudes_written_the_wrong_way_are_said_so(self, client):
        response = client.get("/api/v1/stats/grid?bbox=2.5,48.8,2.2,48.9")
        [error] = response.get_json()["errors"]
        assert response.status_code == 400 and error["field"] == "bbox"
        assert "minLon 2.5 is greater than maxLon 2.2" in error["message"]
        assert "give the western longitude first" in error["message"]

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("cell=250", "bbox"),
            ("bbox=2,48,3&cell=250", "bbox"),
            ("bbox=-10,40,10,55&cell=10", "cell"),
            ("bbox=2.29,48.79,2.33,48.82&cell=1", "cell"),
            ("bbox=170,-10,-170,10&cell=1000", "bbox"),
            # Hexagons meeting it would cross the antimeridian.
            ("bbox=179.9,-16.9,179.995,-16.7&cell=250", "bbox"),
            # Devices 90 degrees from the zone of the bbox's centre: PROJ cannot project them.
            ("bbox=-85,-20,92,20&cell=100000", "bbox"),
            ("bbox=-179,-80,179,80&cell=100000", "bbox"),
            ("bbox=10,82,20,83&cell=1000", "bbox"),  # beyond UTM
        ],
    )
    def test_bad_grid_requests_are_400(self, client, db, query, field):
        before = stored_counts(db)
        response = client.get(f"/api/v1/stats/grid?{query}")
        assert response.status_code == 400 and response.mimetype == PROBLEM
        assert field in [e["field"] for e in response.get_json()["errors"]]
        assert stored_counts(db) == before


class TestTimeline:
    def test_devices_added_and_removed_per_month(self, client, db, quarters):
        pin(client, 2.301, 48.801, observed_at="2025-01-10T00:00:00Z")
        pin(client, 2.302, 48.801, observed_at="2025-03-10T00:00:00Z")
        removed = pin(client, 2.303, 48.801, observed_at="2025-01-20T00:00:00Z", status="removed")
        # Marked removed (by the revision that created it so) on 5 February.
        db(
            "UPDATE device_revisions SET created_at = '2025-02-05T00:00:00Z' WHERE device_id = :id",
            id=removed["id"],
        )
        body = stats(client, "/api/v1/stats/timeline?district=Q1&interval=month")
        assert body["district"] == "Q1" and body["interval"] == "month"
        periods = {p["start"][:7]: p for p in body["periods"]}
        assert (periods["2025-01"]["added"], periods["2025-01"]["count"]) == (2, 2)
        assert (periods["2025-02"]["removed"], periods["2025-02"]["count"]) == (1, 1)
        assert periods["2025-03"]["count"] == 2
        assert body["periods"][-1]["count"] == 2
        assert body["attribution"][0]["name"] == "test-districts"

    def test_as_csv_one_line_per_period_as_the_json_gives_them(self, client, quarters):
        pin(client, 2.301, 48.801, observed_at="2025-01-10T00:00:00Z")
        pin(client, 2.302, 48.801, observed_at="2025-03-10T00:00:00Z")
        url = "/api/v1/stats/timeline?district=Q1&interval=month"
        periods = stats(client, url)["periods"]
        for asked in ({"f": "csv"}, {"headers": {"Accept": "text/csv"}}):
            query = "&f=csv" if "f" in asked else ""
            response = client.get(url + query, headers=asked.get("headers", {}))
            assert response.status_code == 200 and response.mimetype == "text/csv"
            assert response.headers["Content-Disposition"].startswith(
                'attachment; filename="timeline-Q1-month.csv"'
            )
            rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
            assert [(r["district"], r["level"], r["interval"]) for r in rows] == [
                ("Q1", "quartier", "month")
            ] * len(periods)
            assert [
                (r["start"], int(r["added"]), int(r["removed"]), int(r["count"])) for r in rows
            ] == [(p["start"], p["added"], p["removed"], p["count"]) for p in periods]
            assert rows[0]["start"] == "2025-01-01" and rows[-1]["count"] == "2"
        # The JSON written as every other answer: no " : ", the same day as the CSV's.
        text = client.get(url, headers={"Cache-Control": "no-cache"}).get_data(as_text=True)
        assert " : " not in text and "\n" not in text and '"start":"2025-01-01"' in text

    def test_since_lines_up_the_timelines_of_several_districts(self, client, quarters):
        """Each from the same first period, a district without change too, its earlier
        changes counted in the first count."""
        pin(client, 2.301, 48.801, observed_at="2024-06-10T00:00:00Z")
        pin(client, 2.302, 48.801, observed_at="2025-03-10T00:00:00Z")
        url = "/api/v1/stats/timeline?interval=year&since=2025-02-01&district="
        q1, q2 = (stats(client, url + code)["periods"] for code in ("Q1", "Q2"))
        this_year = datetime.now(UTC).year
        years = [f"{year}-01-01" for year in range(2025, this_year + 1)]
        assert [p["start"][:10] for p in q1] == [p["start"][:10] for p in q2] == years
        assert (q1[0]["added"], q1[0]["count"]) == (1, 2)  # the 2024 device counted
        assert {p["count"] for p in q2} == {0}
        lines = client.get(url + "Q2&f=csv").get_data(as_text=True).splitlines()
        assert len(lines) == 1 + len(years)
        excel = client.get(url + "Q2&f=csv&bom=true").get_data(as_text=True)
        assert excel == "\ufeff" + "\r\n".join(lines) + "\r\n"
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)  # begun east of UTC, as at=
        assert client.get(f"{url}Q1".replace("2025-02-01", str(tomorrow))).status_code == 200
        later = str(tomorrow + timedelta(days=1))
        for day in ("1899-12-31", later, "yesterday"):
            refused = client.get(f"{url}Q1".replace("2025-02-01", day))
            assert (
                refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "since"
            )

    def test_a_removal_recorded_before_the_appearance_never_counts_below_zero(
        self, client, db, quarters
    ):
        """A bulk row (no history) marked removed at a last change that predates its
        observation: never on the map, as at= counts it, and no period before it appears."""
        pin(client, 2.301, 48.801, observed_at="2025-01-10T00:00:00Z")
        removed_in_bulk(client, db, 2.302, "2025-03-10")
        body = stats(client, "/api/v1/stats/timeline?district=Q1&interval=month")
        assert body["periods"][0]["start"][:7] == "2025-01"
        assert all(period["count"] >= 0 for period in body["periods"])
        for period in body["periods"][:4]:
            month_end = period["start"][:7] + "-28"
            at = stats(client, f"/api/v1/stats/compare?codes=Q1&at={month_end}")
            assert period["count"] == at["districts"][0]["count"], period

    def test_moves_kinds_and_statuses_are_replayed_from_the_history(self, client, db, quarters):
        """The device of test_at_uses_the_positions_kinds_and_statuses_devices_had_then: it
        leaves Q1 for Q2 when it moves, counts as an ALPR from its change of kind, and is off
        the map between its removal and its return."""
        device = pin(client, 2.301, 48.801, observed_at="2023-12-01T10:00:00Z")
        edit_history(client, db, device["id"], MOVED_RETYPED_REMOVED_RESTORED)

        def months(district: str, query: str = "") -> dict:
            url = f"/api/v1/stats/timeline?district={district}&interval=month{query}"
            periods = stats(client, url)["periods"]
            return {p["start"][:7]: (p["added"], p["removed"], p["count"]) for p in periods}

        q1, q2 = months("Q1"), months("Q2")
        assert q1["2023-12"] == (1, 0, 1) and q1["2024-06"] == (0, 1, 0)
        assert q1["2025-06"] == (0, 0, 0)  # it came back in Q2
        assert q2["2024-06"] == (1, 0, 1)
        assert (q2["2025-01"], q2["2025-06"]) == ((0, 1, 0), (1, 0, 1))
        alpr = months("Q2", "&kind=alpr")
        assert min(alpr) == "2024-09" and alpr["2024-09"] == (1, 0, 1)
        gone = months("Q2", "&status=removed")
        assert gone["2025-01"] == (1, 0, 1) and gone["2025-06"] == (0, 1, 0)

    def test_a_device_that_stood_on_the_border_counts_once_at_that_date(self, client, db, quarters):
        """Moved onto the border of Q1 and Q2, then into Q2: at a date between, a compare of
        both counts it once, in Q1 (the smaller code), as the kept timelines give it; and Q2
        alone counts it too."""
        device = pin(client, 2.305, 48.803, observed_at="2024-01-10T00:00:00Z")
        onto_the_border = {"geometry": {"type": "Point", "coordinates": [2.31, 48.803]}}
        into_q2 = {"geometry": {"type": "Point", "coordinates": [2.316, 48.803]}}
        history = [("2024-01-10", None), ("2024-06-01", onto_the_border), ("2025-01-01", into_q2)]
        edit_history(client, db, device["id"], history)

        def counts(at: str, codes: str = "Q1,Q2") -> tuple:
            body = by_code(stats(client, f"/api/v1/stats/compare?codes={codes}&at={at}"))
            return tuple(body[code]["count"] for code in codes.split(","))

        expected = {"2024-03-01": (1, 0), "2024-08-01": (1, 0), "2025-06-01": (0, 1)}
        assert {at: counts(at) for at in expected} == expected
        kept = db("SELECT code FROM timeline_districts ORDER BY code").scalars().all()
        assert kept == ["Q1", "Q2"]  # kept by the first request, and read from then on
        assert counts("2024-08-01", "Q2") == (1,)

    def test_a_row_loaded_in_bulk_stood_as_loaded_until_its_first_edit(self, client, db, quarters):
        """Its first revision is an edit: before it, the device stood where and as it was
        loaded (the revision's changes say how), not as the edit left it."""
        device = pin(client, 2.301, 48.801, observed_at="2024-01-10T00:00:00Z")
        moved_and_retyped = {
            "geometry": {"type": "Point", "coordinates": [2.315, 48.801]},
            "properties": {"kind": "alpr"},
        }
        history = [(None, None), ("2024-06-01", moved_and_retyped)]
        edit_history(client, db, device["id"], history, bulk=True)

        def counts(at: str, query: str = "") -> tuple:
            body = by_code(stats(client, f"{STATS}&at={at}{query}"))
            return body["Q1"]["count"], body["Q2"]["count"]

        assert counts("2024-03-31") == (1, 0) and counts("2024-03-31", "&kind=alpr") == (0, 0)
        assert counts("2024-06-30") == (0, 1) and counts("2024-06-30", "&kind=alpr") == (0, 1)
        timeline = "/api/v1/stats/timeline?interval=month&district="
        q1 = {p["start"][:7]: p["count"] for p in stats(client, timeline + "Q1")["periods"]}
        q2 = {p["start"][:7]: p["count"] for p in stats(client, timeline + "Q2")["periods"]}
        assert (q1["2024-01"], q1["2024-06"]) == (1, 0)
        assert min(q2) == "2024-06" and q2["2024-06"] == 1

    @pytest.mark.parametrize("kept", [False, True], ids=["replayed", "kept"])
    @pytest.mark.parametrize("write", ["edit", "vote", "photo", "review"])
    def test_a_row_loaded_in_bulk_keeps_when_it_was_removed_past_later_writes(
        self, client, db, quarters, as_user, write, kept
    ):
        """Loaded in bulk, seen in January 2024, marked removed in November: off the map from
        then. A later write (an edit of another field, its first revision; a vote or a photo,
        which record none; a pin withdrawn then published again, whose first revision is not
        public) changes nothing of that past, at a date or in the timeline, replayed or kept."""
        device = removed_in_bulk(client, db, 2.301, "2024-01-10")
        timeline = "/api/v1/stats/timeline?interval=month&district=Q1"
        if kept:
            stats(client, timeline)  # Q1's timeline is kept from here on

        def past() -> tuple:
            counts = tuple(
                by_code(stats(client, f"{STATS}&at={at}{query}"))["Q1"]["count"]
                for at in ("2024-06-01", "2025-01-01")
                for query in ("", "&status=removed")
            )
            months = {p["start"][:7]: p["count"] for p in stats(client, timeline)["periods"]}
            return counts, months["2024-06"], months["2024-11"]

        assert past() == ((1, 0, 0, 1), 1, 0)
        url = f"/api/v1/devices/{device['id']}"

        def etag() -> dict:
            return {"If-Match": client.get(url).headers["ETag"]}

        if write == "edit":
            edit = {"properties": {"notes": "still gone"}}
            assert client.patch(url, json=edit, headers=etag()).status_code == 200
        elif write == "vote":
            vote = {"verdict": "not_found"}
            assert as_user().post(f"{url}/confirmations", json=vote).status_code == 201
        elif write == "photo":
            uploaded(client, images.plain_photo(), url=f"{url}/photos")
        else:
            review = f"{url}/review"
            withdrawn = {"decision": "reject", "reason": "to check"}
            assert client.post(review, json=withdrawn, headers=etag()).status_code == 200
            published = {"decision": "approve"}
            assert client.post(review, json=published, headers=etag()).status_code == 200
        assert past() == ((1, 0, 0, 1), 1, 0)

    @pytest.mark.parametrize("seed", range(3))
    def test_every_period_ends_with_the_count_at_gives(self, client, db, quarters, seed):
        """Random devices, each pinned (or loaded in bulk), then moved, retyped, removed,
        restored or deleted at random dates (revisions sometimes dated before earlier-made
        ones): the count at the end of every month is the count of `at=` on the month's last
        day, in both districts and with filters, and adds up from the periods' additions and
        removals."""
        rng = random.Random(seed)
        month_starts = [f"{2024 + m // 12}-{m % 12 + 1:02d}-01" for m in range(14)]

        def random_history():
            device = pin(
                client, rng.choice((2.301, 2.305, 2.315)), 48.801,
                kind=rng.choice(("camera", "alpr")),
                status=rng.choice(("active", "active", "removed")),
                observed_at=f"{rng.choice(month_starts)[:8]}{rng.randint(1, 28):02d}T12:00:00Z",
            )  # fmt: skip
            edits = [
                rng.choice((
                    {"geometry": {"type": "Point", "coordinates": [rng.choice((2.302, 2.316)),
                                                                   48.802]}},
                    {"properties": {"kind": rng.choice(("camera", "alpr"))}},
                    {"properties": {"status": rng.choice(("active", "removed", "unknown"))}},
                ))
                for _ in range(rng.randint(0, 4))
            ]  # fmt: skip
            dates = sorted(rng.sample(month_starts, len(edits) + 1))
            if len(dates) > 2 and rng.random() < 0.5:
                dates[1], dates[2] = dates[2], dates[1]  # made later, dated earlier
            history = list(zip(dates, [None, *edits], strict=True))
            edit_history(client, db, device["id"], history, bulk=rng.random() < 0.3)
            if rng.random() < 0.15:
                assert client.delete(f"/api/v1/devices/{device['id']}").status_code == 204
            return device["id"]

        queries = {
            "": StatisticsFilter(),
            "&kind=alpr": StatisticsFilter(kinds=["alpr"]),
            "&status=removed": StatisticsFilter(statuses=["removed"]),
            "&status=active,removed": StatisticsFilter(statuses=["active", "removed"]),
        }
        earlier = [random_history() for _ in range(3)]
        for district in ("Q1", "Q2"):  # from here on, their timelines are kept
            stats(client, f"/api/v1/stats/timeline?district={district}")
        for _ in range(3):
            random_history()
        client.delete(f"/api/v1/devices/{earlier[0]}")  # its kept changes are undone
        # Read before any refresh: the kept numbers, corrected by the devices marked since.
        marked = {
            (district, query): json.loads(
                session.execute(select_timeline(district, "month", flt, [])).scalar_one()
            )["periods"]
            for district in ("Q1", "Q2")
            for query, flt in queries.items()
        }
        assert db("SELECT count(*) FROM timeline_device_marks").scalar_one() > 0
        for district in ("Q1", "Q2"):
            for query in queries:
                url = f"/api/v1/stats/timeline?district={district}&interval=month{query}"
                periods = stats(client, url)["periods"]  # after a refresh
                assert periods == marked[district, query]
                running = 0
                for period in periods:
                    running += period["added"] - period["removed"]
                    assert period["count"] == running >= 0
                for period in periods[:16]:
                    start = date.fromisoformat(period["start"][:10])
                    last_day = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
                    at = stats(client, f"/api/v1/stats/compare?codes={district}&at={last_day}"
                                       f"{query}")  # fmt: skip
                    assert period["count"] == at["districts"][0]["count"], (url, period)
                    # Both read the kept timelines: the devices joined with the polygons as
                    # they stood then say the same.
                    end_of_day = datetime.combine(last_day, time.max, tzinfo=UTC)
                    flt = replace(queries[query], at=end_of_day)
                    joined = DensityQuery(
                        selection=DistrictSelection(codes=[district]), filter=flt, from_scratch=True
                    )
                    joined = json.loads(
                        session.execute(select_density_json(joined, [])).scalar_one()
                    )
                    assert period["count"] == joined["districts"][0]["count"], (url, period)

    def test_a_timeline_starts_in_1900_at_the_earliest(self, client, db, quarters):
        """A device dated centuries ago (a typo loaded in bulk) would make a timeline by day of
        hundreds of thousands of periods: earlier changes count in the first period's count."""
        old = pin(client, 2.301, 48.801)
        db("UPDATE devices SET observed_at = '1724-05-01' WHERE id = :id", id=old["id"])
        pin(client, 2.302, 48.801, observed_at="2024-05-01T00:00:00Z")
        today = datetime.now(UTC).date()
        for interval, periods_since_1900 in (
            ("day", (today - date(1900, 1, 1)).days + 1),
            ("year", today.year - 1900 + 1),
        ):
            url = f"/api/v1/stats/timeline?district=Q1&interval={interval}"
            periods = stats(client, url)["periods"]
            assert len(periods) == periods_since_1900
            assert periods[0]["start"].startswith("1900-01-01")
            assert (periods[0]["added"], periods[0]["count"]) == (0, 1)
            assert periods[-1]["count"] == 2
        at_1950 = stats(client, "/api/v1/stats/compare?codes=Q1&at=1950-01-01")
        assert at_1950["districts"][0]["count"] == 1

    def test_cached_until_a_change_or_the_next_day(self, client, quarters, monkeypatch):
        url = "/api/v1/stats/timeline?district=Q1&interval=day"
        pin(client, 2.301, 48.801)
        first, again = client.get(url), client.get(url)
        assert (first.headers["X-Cache"], again.headers["X-Cache"]) == ("miss", "hit")
        assert again.data == first.data and first.headers["X-Statistics-Computed-At"]
        pin(client, 2.302, 48.801)
        after = client.get(url)
        assert after.headers["X-Cache"] == "miss"
        assert after.get_json()["periods"][-1]["count"] == 2
        assert client.get(url).headers["X-Cache"] == "hit"

        class Tomorrow(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + timedelta(days=1)

        # The periods run to today's: tomorrow, the body kept today is not served.
        monkeypatch.setattr(statistics_cache, "datetime", Tomorrow)
        assert client.get(url).headers["X-Cache"] == "miss"

    def test_unknown_district_is_404_and_bad_interval_400(self, client, quarters):
        missing = client.get("/api/v1/stats/timeline?district=NOPE")
        assert missing.status_code == 404 and missing.mimetype == PROBLEM
        bad = client.get("/api/v1/stats/timeline?district=Q1&interval=fortnight")
        assert bad.status_code == 400
        assert bad.get_json()["errors"][0]["field"] == "interval"


class TestRefresh:
    def test_no_cache_recomputes_and_the_refresh_command_updates_outdated_figures(
        self, app, client, db, quarters
    ):
        site = "https://maps.example"  # answers are kept per host: refreshed for theirs
        client.get(STATS, base_url=site)
        assert client.get(STATS, base_url=site).headers["X-Cache"] == "hit"
        fresh = client.get(STATS, base_url=site, headers={"Cache-Control": "no-cache"})
        assert fresh.headers["X-Cache"] == "miss"
        pin(client, 2.301, 48.801)
        pin(client, 2.302, 48.801)
        result = app.test_cli_runner().invoke(args=["geodata", "refresh-statistics"])
        # Q1, marked by the pins (the JSON asked above rewrote the lines its import marked)
        assert "1 stale kept lines rewritten" in result.output, result.output
        assert "1 of 1 cached statistics refreshed in" in result.output, result.output
        cached = client.get(STATS, base_url=site)
        assert cached.headers["X-Cache"] == "hit"
        # An entry kept under a key no request reads any more (an earlier version's, another
        # day's) is computed again once, then gone: the next run has nothing to do.
        db(
            "INSERT INTO statistics_cache (key, request, body, data_version) "
            "VALUES ('old-key', :request, '{}', 'before')",
            request=STATS,
        )
        first = app.test_cli_runner().invoke(args=["geodata", "refresh-statistics"])
        assert "1 of 1 cached statistics refreshed" in first.output, first.output
        again = app.test_cli_runner().invoke(args=["geodata", "refresh-statistics"])
        assert "0 of 0 cached statistics refreshed" in again.output, again.output
        assert by_code(cached.get_json())["Q1"]["count"] == 2

    def test_the_refresh_asks_a_format_chosen_by_accept_by_accept_again(
        self, app, client, db, quarters
    ):
        """A CSV asked by Accept is refreshed as a CSV, and a GeoJSON with tolerance= is not
        asked as JSON (a 400 for ever): both are hits for their readers afterwards."""
        asked = [
            ({"Accept": "text/csv"}, STATS, "text/csv"),
            ({"Accept": "application/geo+json"}, f"{STATS}&tolerance=50", "application/geo+json"),
        ]
        for headers, url, _media in asked:
            client.get(url, headers=headers)
        pin(client, 2.301, 48.801)
        result = app.test_cli_runner().invoke(args=["geodata", "refresh-statistics"])
        assert "2 of 2 cached statistics refreshed in" in result.output, result.output
        for headers, url, media in asked:
            response = client.get(url, headers=headers)
            assert (response.headers["X-Cache"], response.mimetype) == ("hit", media)
        # An entry kept before its media type was (0039) gets it once computed again.
        db("UPDATE statistics_cache SET media_type = NULL")
        client.get(STATS, headers={"Accept": "text/csv", "Cache-Control": "no-cache"})
        kept = db("SELECT media_type FROM statistics_cache WHERE request LIKE '%tolerance%'")
        assert kept.scalar_one() is None
        assert (
            db(
                "SELECT media_type FROM statistics_cache WHERE request NOT LIKE '%tolerance%'"
            ).scalar_one()
            == "text/csv"
        )

    def test_the_cli_replays_the_devices_written_since_in_the_kept_timelines(
        self, app, client, db, quarters
    ):
        stats(client, "/api/v1/stats/timeline?district=Q1")  # keeps Q1's timeline
        device = pin(client, 2.301, 48.801)
        result = app.test_cli_runner().invoke(args=["geodata", "refresh-statistics"])
        assert re.search(r"[1-9]\d* marks of devices written replayed", result.output), (
            result.output
        )
        assert db("SELECT count(*) FROM timeline_device_marks").scalar_one() == 0
        kept = db("SELECT code FROM timeline_device_changes WHERE device_id = :id", id=device["id"])
        assert kept.scalars().all() == ["Q1"]


def test_devices_outside_are_found_in_none_of_overlapping_districts(
    client, isolated, tmp_path, quarters
):
    """A selection of two levels (a city with its quarters) holds each device twice: the
    devices outside are those no selected district holds, not the box's less the sum."""
    south = district_feature("P", rectangle(2.30, 48.80, 2.32, 48.805), pop=None)
    load(isolated, write_geojson(tmp_path / "p.geojson", [south]), level="ville", parent="X")
    for lon, lat in ((2.301, 48.801), (2.305, 48.808), (2.315, 48.802)):
        pin(client, lon, lat)
    pin(client, 2.315, 48.808)  # in the box, above Q2 and P: in none
    body = stats(client, "/api/v1/stats/districts?parent=P,X&outside=true")
    assert {d["code"]: d["count"] for d in body["districts"]} == {"Q1": 2, "Q2": 1, "P": 2}
    assert body["totals"]["outside_count"] == 1


def test_a_device_just_beyond_the_box_is_not_outside_count(client, db, quarters):
    """17 cm south of the selection's box: beyond it, though the index's single-precision
    boxes overlap."""
    db(
        "INSERT INTO devices (id, geom, kind) VALUES "
        "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.305, 48.7999985), 4326), 'camera')"
    )
    assert stats(client, STATS + "&outside=true")["totals"]["outside_count"] == 0


# Coordinates on the districts' edges and corners as well as inside and outside them.
EDGE_LONS = st.sampled_from([2.295, 2.30, 2.305, 2.31, 2.315, 2.32, 2.325])
EDGE_LATS = st.sampled_from([48.795, 48.80, 48.8025, 48.805, 48.8075, 48.81, 48.815])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(points=st.lists(st.tuples(EDGE_LONS, EDGE_LATS), min_size=1, max_size=12))
def test_every_device_in_the_extent_is_counted_once_or_reported_outside(
    client, db, quarters, points
):
    db("DELETE FROM devices")
    for lon, lat in points:
        db(
            "INSERT INTO devices (id, geom, kind) "
            "VALUES (gen_random_uuid(), ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'camera')",
            lon=lon,
            lat=lat,
        )
    body = stats(client, STATS + "&outside=true")
    in_extent = sum(1 for lon, lat in points if 2.30 <= lon <= 2.32 and 48.80 <= lat <= 48.81)
    totals = body["totals"]
    assert totals["count"] + totals["outside_count"] == in_extent
    assert sum(d["count"] for d in body["districts"]) == totals["count"]
    on_shared_border = sum(1 for lon, lat in points if lon == 2.31 and 48.80 <= lat <= 48.805)
    assert by_code(body)["Q1"]["count"] >= on_shared_border
