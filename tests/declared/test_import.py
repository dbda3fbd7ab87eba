"""Importing declared lists: formats, provenance, versions, and every refused input."""

import csv
import hashlib
from pathlib import Path

import numpy
import pyogrio.raw
import pytest
import shapely

from geodata.declared import DeclaredFileError

from . import LAT, LON, load_sites, site, write_sites


def stored(db):
    """Everything the import may write, to check a refused file left it untouched."""
    return [
        db(f"SELECT count(*) FROM {table}").scalar_one()
        for table in ("declared_datasets", "declared_versions", "declared_sites")
    ]


@pytest.fixture
def refuse(isolated, db):
    """Import PATH expecting a refusal; returns the error after checking nothing was stored."""

    def run(path, **options) -> DeclaredFileError:
        before = stored(db)
        with pytest.raises(DeclaredFileError) as caught:
            load_sites(isolated, path, **options)
        assert stored(db) == before
        return caught.value

    return run


def test_a_geojson_list_is_stored_with_its_provenance_and_fields(isolated, db, tmp_path):
    path = write_sites(
        tmp_path / "list.geojson",
        [
            site("A1", kinds="camera", n=3, addr="Rue de Rivoli", since="08/07/16", plan="PVPP"),
            site("A2", LON + 0.01, kinds="LAPI; caméra", n=None, addr=None, since="inconnue"),
            # A spreadsheet's serial number of a day (its column's format lost); a number
            # that is no day of 1950 to 2099 is none.
            site("A3", LON + 0.02, kinds="camera", since="40917"),
            site("A4", LON + 0.03, kinds="camera", since="7"),
            site("A5", LON + 0.04, kinds="camera", since="69003"),  # a day to come: a postcode
        ],
    )
    report = load_sites(
        isolated,
        path,
        kind_field="kinds",
        count_field="n",
        address_field="addr",
        commissioned_field="since",
    )
    assert (report.version, report.sites, sorted(report.added)) == (
        1,
        5,
        ["A1", "A2", "A3", "A4", "A5"],
    )
    dataset = db("SELECT * FROM declared_datasets WHERE name = 'test-list'").one()
    assert dataset.publisher == "Test prefecture"
    assert dataset.licence == "Licence Ouverte"
    assert dataset.source_url == "https://example.org/list"
    assert dataset.match_distance_m == 50
    with open(path, "rb") as handle:
        assert dataset.sha256 == hashlib.sha256(handle.read()).hexdigest()
    rows = {
        r.source_id: r
        for r in db(
            "SELECT *, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM declared_sites ORDER BY line"
        )
    }
    first, second = rows["A1"], rows["A2"]
    assert (first.kinds, first.declared_count, first.address) == (["camera"], 3, "Rue de Rivoli")
    assert (first.commissioned, str(first.commissioned_on)) == ("08/07/16", "2016-07-08")
    assert first.attributes == {"plan": "PVPP"}
    assert (first.lon, first.lat, first.line) == (LON, LAT, 1)
    assert second.kinds == ["alpr", "camera"]
    assert second.declared_count == 1
    assert (second.commissioned, second.commissioned_on) == ("inconnue", None)
    assert (rows["A3"].commissioned, str(rows["A3"].commissioned_on)) == ("40917", "2012-01-09")
    assert (rows["A4"].commissioned, rows["A4"].commissioned_on) == ("7", None)
    assert rows["A5"].commissioned_on is None


def write_csv(path, rows, delimiter=";") -> str:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerows(rows)
    return str(path)


def test_a_csv_gives_coordinates_in_columns_or_as_wkt(isolated, db, tmp_path):
    columns = write_csv(
        tmp_path / "columns.csv",
        [["numero", "longitude", "latitude"], ["1", "2,3522", "48,8566"], ["2", "2.36", "48.86"]],
    )
    assert load_sites(isolated, columns, id_field="numero", name="columns").sites == 2
    wkt = write_csv(
        tmp_path / "wkt.csv",
        [["id", "where"], ["W1", "POINT (2.35 48.85)"], ["W2", "POINT(2.36 48.86)"]],
        delimiter=",",
    )
    assert load_sites(isolated, wkt, wkt_field="where", name="wkt").sites == 2
    points = db("SELECT ST_X(geom), ST_Y(geom) FROM declared_sites ORDER BY source_id").all()
    assert [tuple(p) for p in points] == [
        (2.3522, 48.8566),
        (2.36, 48.86),
        (2.35, 48.85),
        (2.36, 48.86),
    ]


@pytest.mark.parametrize(("suffix", "driver"), [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_geopackages_and_shapefiles_are_read_and_reprojected(
    isolated, db, tmp_path, suffix, driver
):
    # Lambert-93 (EPSG:2154) coordinates of a point in Paris: stored as WGS84.
    point = shapely.to_wkb(shapely.Point(652_469.0, 6_862_035.0))
    path = str(tmp_path / f"list{suffix}")
    pyogrio.raw.write(
        path,
        geometry=numpy.array([point], dtype=object),
        field_data=[numpy.array(["S1"], dtype=object)],
        fields=["ident"],
        geometry_type="Point",
        crs="EPSG:2154",
        driver=driver,
    )
    assert load_sites(isolated, path, id_field="ident").sites == 1
    lon, lat = db("SELECT ST_X(geom), ST_Y(geom) FROM declared_sites").one()
    assert lon == pytest.approx(2.3522, abs=0.001)
    assert lat == pytest.approx(48.8566, abs=0.001)


def test_missing_coordinates_are_refused_row_by_row(refuse, tmp_path):
    nowhere = site("B2")
    nowhere["geometry"] = None
    error = refuse(write_sites(tmp_path / "l.geojson", [site("B1"), nowhere, site("B3")]))
    assert error.problems == [(2, "feature 2: missing coordinates")]
    assert "1 of 3 rows refused; nothing was imported" in str(error)


def test_a_csv_row_without_coordinates_is_reported_with_its_line(refuse, tmp_path):
    path = write_csv(
        tmp_path / "l.csv", [["id", "lon", "lat"], ["C1", "2.35", "48.85"], ["C2", "", "48.85"]]
    )
    assert refuse(path).problems == [(3, "line 3: missing coordinates")]


def test_coordinates_outside_the_world_are_refused(refuse, tmp_path):
    path = write_sites(tmp_path / "l.geojson", [site("D1", 48.85, 200.0), site("D2", 181, 0)])
    lines = [line for line, _ in refuse(path).problems]
    assert lines == [1, 2]
    assert "outside the world" in refuse(path).problems[0][1]


def test_an_unknown_kind_is_refused(refuse, tmp_path):
    path = write_sites(
        tmp_path / "l.geojson", [site("E1", kinds="camera"), site("E2", kinds="drone")]
    )
    (problem,) = refuse(path, kind_field="kinds").problems
    assert problem[0] == 2
    assert "unknown kind 'drone'" in problem[1]


def test_an_unknown_default_kind_is_refused(refuse, tmp_path):
    error = refuse(write_sites(tmp_path / "l.geojson", [site("E1")]), kind="drone")
    assert "--kind: unknown kind 'drone'" in str(error)


def test_duplicated_source_ids_are_refused(refuse, tmp_path):
    path = write_sites(tmp_path / "l.geojson", [site("F1"), site("F2"), site("F1")])
    assert refuse(path).problems == [(3, "feature 3: source id 'F1' is already on row 1")]


def test_a_row_with_several_faults_is_reported_with_all_of_them(refuse, tmp_path):
    path = write_sites(
        tmp_path / "l.geojson", [site("F1", n=1), site("F1", lon=200.0, n=0, what="drone")]
    )
    ((line, reason),) = refuse(path, count_field="n", kind_field="what").problems
    assert line == 2
    for fault in ("already on row 1", "outside the world", "drone", "whole number"):
        assert fault in reason


def test_a_new_list_without_its_publisher_is_refused(refuse, tmp_path):
    path = write_sites(tmp_path / "list.geojson", [site("1")])
    error = refuse(path, publisher=None)
    assert str(error) == "test-list is a new list: --publisher must say who published it."


def test_an_empty_publisher_is_refused_rather_than_blank_a_lists_credit(
    isolated, refuse, db, tmp_path
):
    path = write_sites(tmp_path / "list.geojson", [site("1")])
    load_sites(isolated, path)
    error = refuse(path, publisher=" ")
    assert str(error) == "--publisher is empty: say who published the list."
    assert db("SELECT publisher FROM declared_datasets").scalar_one() == "Test prefecture"


def test_an_empty_file_is_refused(refuse, tmp_path):
    empty = tmp_path / "l.geojson"
    empty.write_text("")
    assert "is empty" in str(refuse(str(empty)))
    assert "holds no site" in str(refuse(write_sites(tmp_path / "none.geojson", [])))
    header_only = write_csv(tmp_path / "l.csv", [["id", "lon", "lat"]])
    assert "holds no site" in str(refuse(header_only))


def test_a_file_of_the_wrong_format_is_refused(refuse, tmp_path):
    png = tmp_path / "l.geojson"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert "Cannot read l.geojson" in str(refuse(str(png)))
    sheet = tmp_path / "l.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    assert "unsupported format .xlsx" in str(refuse(str(sheet)))


def test_a_bad_count_or_a_missing_field_is_refused(refuse, tmp_path):
    path = write_sites(tmp_path / "l.geojson", [site("G1", n="two"), site("G2", n=0)])
    problems = refuse(path, count_field="n").problems
    assert [line for line, _ in problems] == [1, 2]
    assert "--count-field: the file has no field 'nb'" in str(refuse(path, count_field="nb"))


def test_list_properties_stay_lists_and_a_list_of_kinds_is_read(isolated, db, tmp_path):
    """Exports derived from OpenStreetMap hold lists: kept as lists in the site's attributes
    (of one item too), and a list of kinds read as its kinds, not refused as a whole file."""
    features = [site("L1", kinds=["CCTV", "LAPI"], ids=[12, 13], one=[7])]
    load_sites(isolated, write_sites(tmp_path / "lists.geojson", features), kind_field="kinds")
    stored = db("SELECT kinds, attributes FROM declared_sites").one()
    assert list(stored.kinds) == ["camera", "alpr"]
    assert (stored.attributes["ids"], stored.attributes["one"]) == ([12, 13], [7])


def test_the_same_file_read_otherwise_is_a_new_version_and_keeps_its_credit(isolated, db, tmp_path):
    """An import made with the wrong --kind, or without --address-field, is mended by the
    same file imported again with the right options; options not given again (the publisher,
    the licence, the source) keep what was stored, and an import that changes nothing stores
    nothing."""
    path = write_sites(tmp_path / "list.geojson", [site("K1", addr="Rue de Rivoli")])
    source = "https://data.example/list"
    load_sites(isolated, path, licence="Licence Ouverte 2.0", source_url=source)
    options = {"publisher": None, "licence": None, "source_url": None}
    options |= {"kind": "microphone", "address_field": "addr"}
    mended = load_sites(isolated, path, **options)
    assert (mended.version, mended.changed, mended.unchanged) == (2, ["K1"], False)
    stored = db("SELECT kinds, address FROM declared_sites").one()
    assert (list(stored.kinds), stored.address) == (["microphone"], "Rue de Rivoli")
    credit = db("SELECT publisher, licence, source_url FROM declared_datasets").one()
    assert tuple(credit) == ("Test prefecture", "Licence Ouverte 2.0", source)
    again = load_sites(isolated, path, **options)
    assert again.unchanged and again.version == 2
    relicensed = load_sites(isolated, path, **options | {"licence": "ODbL 1.0"})
    assert (relicensed.version, relicensed.changed) == (3, [])
    assert db("SELECT licence FROM declared_datasets").scalar_one() == "ODbL 1.0"
    # The same sites in other bytes (written otherwise): a version, recording its file.
    reordered = write_sites(tmp_path / "list.geojson", [site("K1", addr="Rue de Rivoli")], indent=2)
    again = load_sites(isolated, reordered, **options | {"licence": "ODbL 1.0"})
    assert (again.version, again.changed, again.unchanged) == (4, [], False)
    stored_sha = db("SELECT sha256 FROM declared_datasets").scalar_one()
    assert stored_sha == hashlib.sha256(Path(reordered).read_bytes()).hexdigest()


def test_a_new_version_records_what_was_added_removed_and_changed(isolated, db, tmp_path):
    first = write_sites(
        tmp_path / "v1.geojson", [site("H1"), site("H2", addr="a"), site("H3", LON + 0.01)]
    )
    load_sites(isolated, first, address_field="addr")
    second = write_sites(
        tmp_path / "v2.geojson",
        # A column only the new site fills changes no other site.
        [site("H3", LON + 0.02), site("H2", addr="a"), site("H4", LON - 0.01, extra="x")],
    )
    report = load_sites(isolated, second, address_field="addr")
    assert (report.version, report.added, report.removed, report.changed) == (
        2,
        ["H4"],
        ["H1"],
        ["H3"],
    )
    versions = db(
        "SELECT version, sites, added, removed, changed, sha256 FROM declared_versions "
        "ORDER BY version"
    ).all()
    assert [tuple(v[:5]) for v in versions] == [
        (1, 3, ["H1", "H2", "H3"], [], []),
        (2, 3, ["H4"], ["H1"], ["H3"]),
    ]
    assert versions[0].sha256 != versions[1].sha256
    assert sorted(db("SELECT source_id FROM declared_sites").scalars()) == ["H2", "H3", "H4"]
    again = load_sites(isolated, second, address_field="addr")
    assert again.unchanged and again.version == 2
    assert db("SELECT count(*) FROM declared_versions").scalar_one() == 2
