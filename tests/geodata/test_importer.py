"""Importing district files: hierarchy, reprojection, MultiPolygons, repairs, updates in place."""

import json

import numpy
import pyogrio.raw
import pytest
import shapely
from shapely.geometry import shape

from geodata.importer import GeodataError, import_population
from tests.districts import district_feature, load, rectangle, square, write_geojson

pytestmark = pytest.mark.usefixtures("app")  # each test runs in a rolled-back transaction


def stored(db, code):
    return db(
        "SELECT name, level, parent_code, population, population_year, population_source, "
        "GeometryType(geom) AS kind, ST_SRID(geom) AS srid, ST_IsValid(geom) AS valid, "
        "area_km2, dataset FROM districts WHERE code = :code",
        code=code,
    ).one()


def test_import_stores_a_hierarchy_of_multipolygons_with_geodesic_areas(isolated, db, tmp_path):
    path = write_geojson(
        tmp_path / "q.geojson",
        [
            district_feature("Q1", square(2.30, 48.80, 0.01), pop=1200),
            district_feature("Q2", [square(2.40, 48.80, 0.01)], "MultiPolygon", pop=None),
        ],
    )
    report = load(
        isolated,
        path,
        parent="75056",
        population_field="pop",
        population_year=2023,
        population_source="INSEE",
    )
    assert (report.inserted, report.updated, report.repaired) == (2, 0, [])
    q1 = stored(db, "Q1")
    assert (q1.level, q1.parent_code, q1.kind, q1.srid) == (
        "quartier",
        "75056",
        "MULTIPOLYGON",
        4326,
    )
    assert (q1.population, q1.population_year, q1.population_source) == (1200, 2023, "INSEE")
    # 0.01° x 0.01° at 48.8°N: 1.1132 km x 0.7338 km on the spheroid, not 0.0001 "square degrees".
    assert q1.area_km2 == pytest.approx(0.8168, rel=0.003)
    assert stored(db, "Q2").population is None
    dataset = db("SELECT attribution FROM datasets WHERE name = 'test-districts'").scalar_one()
    assert dataset == "Test districts"


def test_reimport_updates_in_place_and_keeps_a_joined_population(isolated, db, tmp_path):
    first = write_geojson(tmp_path / "a.geojson", [district_feature("Q1", square(2.3, 48.8, 0.01))])
    load(isolated, first)
    db("UPDATE districts SET population = 500, population_year = 2023 WHERE code = 'Q1'")
    renamed = district_feature("Q1", square(2.3, 48.8, 0.02))
    renamed["properties"]["name"] = "Renamed"
    report = load(isolated, write_geojson(tmp_path / "b.geojson", [renamed]))
    assert (report.inserted, report.updated) == (0, 1)
    q1 = stored(db, "Q1")
    assert (q1.name, q1.population, q1.population_year) == ("Renamed", 500, 2023)
    assert q1.area_km2 == pytest.approx(4 * 0.8168, rel=0.01)
    assert db("SELECT count(*) FROM districts").scalar_one() == 1


def test_invalid_geometry_is_repaired_and_reported(isolated, db, tmp_path):
    bowtie = [[[2.3, 48.8], [2.31, 48.81], [2.31, 48.8], [2.3, 48.81], [2.3, 48.8]]]
    report = load(
        isolated, write_geojson(tmp_path / "bad.geojson", [district_feature("B", bowtie)])
    )
    assert [code for code, _reason in report.repaired] == ["B"]
    assert "Self-intersection" in report.repaired[0][1]
    row = stored(db, "B")
    assert row.valid and row.kind == "MULTIPOLYGON" and row.area_km2 > 0


def test_a_ring_written_across_the_antimeridian_is_cut_there(isolated, db, tmp_path):
    """A 1° box of Fiji written from 179.5 to -179.5 uncut, as many sources write it: read as
    written, a band round the world holding the South Atlantic. It is cut at ±180° into its
    two sides, as RFC 7946 asks, and said; one already cut is left as it is."""
    uncut = [[[179.5, -19], [-179.5, -19], [-179.5, -18], [179.5, -18], [179.5, -19]]]
    halves = [rectangle(179.5, -17, 180, -16), rectangle(-180, -17, -179.5, -16)]
    # Shapes round the whole world, whose edges along ±180° are a cut already: left whole.
    antarctica = [[[-180, -90], [-180, -80], [0, -70], [180, -80], [180, -90], [-180, -90]]]
    band = rectangle(-180, -10, 180, 10)
    features = [
        district_feature("AM2", uncut),
        district_feature("AM1", halves, "MultiPolygon"),
        district_feature("AQ", antarctica),
        district_feature("BAND", band),
    ]
    report = load(isolated, write_geojson(tmp_path / "fiji.geojson", features), level="island")
    assert report.cut_at_antimeridian == ["AM2"] and report.repaired == []
    assert report.skipped == []
    for code, inside in (("AQ", "POINT(0 -85)"), ("BAND", "POINT(0 0)")):
        whole = db(
            "SELECT ST_Covers(geom, ST_GeomFromText(:p, 4326)) AND ST_NumGeometries(geom) = 1"
            " FROM districts WHERE code = :code",
            p=inside,
            code=code,
        ).scalar_one()
        assert whole, code
    covers = "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
    for code, lat in (("AM2", -18.5), ("AM1", -16.5)):
        row = db(
            f"SELECT {covers.replace(':lon', '179.9')} AS east,"
            f" {covers.replace(':lon', '-179.9')} AS west, {covers.replace(':lon', '0')} AS far,"
            " ST_XMin(geom) AS west_edge, ST_XMax(geom) AS east_edge, area_km2"
            " FROM districts WHERE code = :code",
            code=code,
            lat=lat,
        ).one()
        assert (row.east, row.west, row.far) == (True, True, False), code
        assert (row.west_edge, row.east_edge) == (-180, 180)
        assert 11_500 < row.area_km2 < 12_000  # 1° by 1° there, either way


def test_a_shape_without_area_is_skipped_and_said(isolated, db, tmp_path):
    """A ring folded flat has nothing left once repaired, a point or a line never had: stored,
    they would be empty districts (no density, a geometry many readers fail on)."""
    flat = [[[2.3, 48.8], [2.31, 48.8], [2.32, 48.8], [2.3, 48.8]]]
    features = [
        district_feature("FLAT", flat),
        district_feature("LINE", [[2.3, 48.8], [2.31, 48.81]], "LineString"),
        district_feature("DOT", [2.3, 48.8], "Point"),
        district_feature("OK", square(2.30, 48.80, 0.01)),
    ]
    report = load(isolated, write_geojson(tmp_path / "mixed.geojson", features))
    assert report.inserted == 1
    assert report.skipped == [
        f"district {code}: its shape has no area (not a polygon)"
        for code in ("DOT", "FLAT", "LINE")
    ]
    assert db("SELECT code FROM districts").scalars().all() == ["OK"]
    with pytest.raises(GeodataError, match="no feature whose shape has an area"):
        load(isolated, write_geojson(tmp_path / "flat.geojson", [district_feature("F2", flat)]))


def test_a_code_no_request_can_name_is_skipped_and_said(isolated, db, tmp_path):
    """A list of codes splits on commas, a path on slashes: such a district could be imported
    but never asked for."""
    features = [
        district_feature(code, square(2.30 + i * 0.01, 48.80, 0.01))
        for i, code in enumerate(("A,B", "x/y", "C" * 33, "Île-1"))
    ]
    report = load(isolated, write_geojson(tmp_path / "codes.geojson", features))
    assert [line.split(": code ")[1].split("'")[1] for line in report.skipped] == [
        "A,B",
        "x/y",
        "C" * 33,
    ]
    assert db("SELECT code FROM districts").scalars().all() == ["Île-1"]


@pytest.mark.parametrize(
    ("file_name", "driver"), [("l93.gpkg", "GPKG"), ("l93.shp", "ESRI Shapefile")]
)
def test_projected_files_are_reprojected_to_wgs84(isolated, db, tmp_path, file_name, driver):
    # A 1 km square in Lambert-93 (EPSG:2154) near Paris, written by GDAL.
    polygon = shapely.Polygon(
        [(652000, 6862000), (653000, 6862000), (653000, 6863000), (652000, 6863000)]
    )
    path = str(tmp_path / file_name)
    pyogrio.raw.write(
        path,
        geometry=shapely.to_wkb(numpy.array([polygon])),
        field_data=[numpy.array(["L93"], dtype=object)],
        fields=["code"],
        geometry_type="Polygon",
        crs="EPSG:2154",
        driver=driver,
    )
    load(isolated, path, name_field="code")
    row = db("SELECT ST_AsGeoJSON(geom) AS g, area_km2 FROM districts WHERE code = 'L93'").one()
    lon, lat = shape(json.loads(row.g)).centroid.coords[0]
    assert 2.3 < lon < 2.4 and 48.8 < lat < 48.9
    # Lambert-93 is conformal, not equal-area: the true area differs slightly from 1 km².
    assert row.area_km2 == pytest.approx(1.0, rel=0.002)


def test_parent_field_gives_each_feature_its_parent(isolated, db, tmp_path):
    path = write_geojson(
        tmp_path / "c.geojson",
        [
            district_feature("06088", square(7.2, 43.7, 0.01), dep="06"),
            district_feature("13055", square(5.3, 43.3, 0.01), dep="13"),
        ],
    )
    load(isolated, path, level="commune", parent_field="dep")
    parents = db("SELECT code, parent_code FROM districts ORDER BY code").all()
    assert [tuple(p) for p in parents] == [("06088", "06"), ("13055", "13")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"code_field": "missing"}, "--code-field: the file has no field 'missing'"),
        ({"population_field": "name"}, "is not a number"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_stored(isolated, db, tmp_path, options, message):
    path = write_geojson(tmp_path / "d.geojson", [district_feature("Q1", square(2.3, 48.8, 0.01))])
    with pytest.raises(GeodataError, match=message):
        load(isolated, path, **options)
    assert db("SELECT count(*) FROM districts").scalar_one() == 0


def test_a_file_of_shapes_without_properties_says_it_has_no_fields(isolated, db, tmp_path):
    """Its list of fields read "its fields are ." before."""
    shape = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square(2, 48, 1)}}
    path = tmp_path / "bare.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [shape]}))
    with pytest.raises(GeodataError, match="the file has no field 'code'; it has no fields at all"):
        load(isolated, str(path))
    assert db("SELECT count(*) FROM districts").scalar_one() == 0


def test_a_table_without_geometry_is_refused(isolated, db, tmp_path):
    path = tmp_path / "populations.csv"
    path.write_text("code,name\n75101,Louvre\n")
    with pytest.raises(GeodataError, match="has no geometry"):
        load(isolated, str(path), level="commune")
    assert db("SELECT count(*) FROM districts").scalar_one() == 0


def test_a_population_csv_that_is_not_utf8_is_refused(isolated, db, tmp_path):
    path = tmp_path / "pop.csv"
    path.write_bytes("code,name,pop\n75101,Paris caf\xe9,15000\n".encode("latin-1"))
    with pytest.raises(GeodataError, match="not a UTF-8 CSV"):
        import_population(
            isolated, str(path), code_field="code", population_field="pop", year=None, source=None
        )


def test_a_file_that_is_not_geodata_is_refused(isolated, db, tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("this is not GeoJSON")
    with pytest.raises(GeodataError, match="Cannot read"):
        load(isolated, str(path))
    assert db("SELECT count(*) FROM districts").scalar_one() == 0


def test_population_csv_joins_by_code_and_sums_into_parents(isolated, db, tmp_path):
    path = write_geojson(
        tmp_path / "e.geojson",
        [
            district_feature("75101", square(2.30, 48.80, 0.01), parent="75056"),
            district_feature("75102", square(2.31, 48.80, 0.01), parent="75056"),
            district_feature("75056", square(2.30, 48.80, 0.02)),
        ],
    )
    load(isolated, path, parent_field="parent")
    csv_path = tmp_path / "pop.csv"
    csv_path.write_text("code_insee;pmun\n75101;15114\n75102;20890\n99999;1\n")
    report = import_population(
        isolated,
        str(csv_path),
        code_field="code_insee",
        population_field="pmun",
        year=2023,
        source="INSEE, populations légales 2023",
    )
    assert (report.matched, report.unmatched, report.summed_parents) == (2, 1, 1)
    rows = dict(db("SELECT code, population FROM districts").all())
    assert rows == {"75101": 15114, "75102": 20890, "75056": 36004}


def test_population_csv_leaves_other_districts_and_empty_cells_alone(isolated, db, tmp_path):
    """An empty cell keeps the population stored, and is still its district's own row (no sum
    of its children); a parent none of whose children is in the CSV keeps its own population,
    year and source."""
    path = write_geojson(
        tmp_path / "e.geojson",
        [
            district_feature("75101", square(2.30, 48.80, 0.01), parent="75056", pop=15000),
            district_feature("75102", square(2.31, 48.80, 0.01), parent="75056", pop=20000),
            district_feature("06088", square(7.20, 43.70, 0.01), parent="06", pop=350000),
            district_feature("06", square(7.00, 43.60, 0.50), pop=1100000),
            district_feature("75056", square(2.30, 48.80, 0.02)),
        ],
    )
    load(
        isolated,
        path,
        parent_field="parent",
        population_field="pop",
        population_year=2021,
        population_source="census 2021",
    )
    csv_path = tmp_path / "pop.csv"
    csv_path.write_text("code,pop\n75101,15114\n75102,\n06,\n75056,\n")
    report = import_population(
        isolated, str(csv_path), code_field="code", population_field="pop", year=2023, source="new"
    )
    assert (report.matched, report.without_population, report.summed_parents) == (1, 3, 0)
    rows = {
        row.code: (row.population, row.population_year, row.population_source)
        for row in db("SELECT code, population, population_year, population_source FROM districts")
    }
    assert rows == {
        "75101": (15114, 2023, "new"),
        "75102": (20000, 2021, "census 2021"),  # its empty cell erased nothing
        "06088": (350000, 2021, "census 2021"),
        "06": (1100000, 2021, "census 2021"),  # not a parent of the CSV's districts
        "75056": (None, None, None),  # a row of its own, empty: not the sum of its children
    }


def populating(isolated, tmp_path):
    """populate(rows, year, source): join a CSV of "code,pop" ROWS, as `geodata population`."""

    def populate(rows: str, year: int, source: str):
        csv_path = tmp_path / "pop.csv"
        csv_path.write_text(f"code,pop\n{rows}")
        return import_population(
            isolated, str(csv_path), code_field="code", population_field="pop", year=year,
            source=source,
        )  # fmt: skip

    return populate


def test_a_parent_is_the_sum_of_one_level_of_children_of_this_files_year_and_source(
    isolated, db, tmp_path
):
    """Paris with arrondissements and quartiers under it is the sum of its arrondissements, not
    of both levels; a later file giving one arrondissement another year and source leaves
    Paris as it was rather than label a mixed sum with that file's year and source."""
    arrondissements = write_geojson(
        tmp_path / "a.geojson",
        [
            district_feature("75101", square(2.30, 48.80, 0.01), parent="75056"),
            district_feature("75102", square(2.31, 48.80, 0.01), parent="75056"),
            district_feature("75056", square(2.30, 48.80, 0.02)),
        ],
    )
    load(isolated, arrondissements, parent_field="parent", level="commune")
    quartiers = write_geojson(
        tmp_path / "q.geojson",
        [district_feature("Q1", square(2.30, 48.80, 0.005), parent="75056", pop=1000)],
    )
    load(isolated, quartiers, parent_field="parent", population_field="pop", dataset="q")

    def paris():
        return db(
            "SELECT population, population_year, population_source FROM districts "
            "WHERE code = '75056'"
        ).one()

    populate = populating(isolated, tmp_path)
    assert populate("75101,15114\n75102,20890\n", 2023, "INSEE").summed_parents == 1
    assert paris() == (36004, 2023, "INSEE")
    assert populate("75101,20000\n", 2024, "Test").summed_parents == 0
    assert paris() == (36004, 2023, "INSEE")


def test_a_parent_keeps_a_count_of_its_own_and_a_sum_is_summed_again(isolated, db, tmp_path):
    """A file of quartiers covering part of an arrondissement does not replace its official
    count with their sum (said, with both figures); Paris, a sum of its arrondissements, is
    summed again from a later file of theirs."""
    path = write_geojson(
        tmp_path / "a.geojson",
        [
            district_feature("75101", square(2.30, 48.80, 0.01), parent="75056"),
            district_feature("75102", square(2.31, 48.80, 0.01), parent="75056"),
            district_feature("75056", square(2.30, 48.80, 0.02)),
            district_feature("Q1", square(2.30, 48.80, 0.002), parent="75101"),
            district_feature("Q2", square(2.302, 48.80, 0.002), parent="75101"),
        ],
    )
    load(isolated, path, parent_field="parent")

    def population(code):
        return db(
            "SELECT population, population_year, population_source, population_summed "
            "FROM districts WHERE code = :code",
            code=code,
        ).one()

    populate = populating(isolated, tmp_path)
    assert populate("75101,15114\n75102,20890\n", 2023, "INSEE").summed_parents == 1
    assert population("75056") == (36004, 2023, "INSEE", True)
    report = populate("Q1,1200\nQ2,3400\n", 2021, "IRIS")
    assert (report.summed_parents, report.kept_parents) == (0, [("75101", 15114, 4600)])
    assert population("75101") == (15114, 2023, "INSEE", False)
    assert populate("75101,16000\n75102,21000\n", 2024, "INSEE").summed_parents == 1
    assert population("75056") == (37000, 2024, "INSEE", True)


@pytest.mark.parametrize("cell", ["19847.6", "inf", "nan", "-inf", "1e400"])
def test_a_population_that_is_no_whole_number_is_refused(isolated, db, tmp_path, cell):
    csv_path = tmp_path / "pop.csv"
    csv_path.write_text(f"code,pop\n75101,{cell}\n")
    with pytest.raises(GeodataError, match=r"line 2 \(75101\): population"):
        import_population(
            isolated, str(csv_path), code_field="code", population_field="pop", year=None,
            source=None,
        )  # fmt: skip


def test_population_csv_without_the_named_column_is_refused(isolated, db, tmp_path):
    csv_path = tmp_path / "pop.csv"
    csv_path.write_text("code,population\n75101,1\n")
    with pytest.raises(GeodataError, match="--population-field: the CSV has no column 'pmun'"):
        import_population(
            isolated,
            str(csv_path),
            code_field="code",
            population_field="pmun",
            year=None,
            source=None,
        )


def test_heights_are_dropped_and_the_shape_kept(isolated, db, tmp_path):
    """A shapefile of PolygonZ is common: its districts are the flat shapes."""
    ring = [[lon, lat, 35.0] for lon, lat in square(2.30, 48.80, 0.01)[0]]
    report = load(isolated, write_geojson(tmp_path / "z.geojson", [district_feature("Z", [ring])]))
    assert report.inserted == 1
    assert db("SELECT ST_NDims(geom) FROM districts WHERE code = 'Z'").scalar_one() == 2


def test_shapes_off_the_world_or_unreadable_are_skipped_and_said(isolated, db, tmp_path):
    """Outside longitudes and latitudes (a projected file read as degrees), GeoJSON cannot
    carry them and their areas are absurd; a ring of three points PostGIS cannot even read."""
    features = [
        district_feature("FAR", square(1e7, 1e7, 1e6)),
        district_feature("POLE", rectangle(2.0, 89.5, 2.1, 95.0)),
        district_feature("TRI", [[[2.3, 48.8], [2.31, 48.8], [2.3, 48.8]]]),
        district_feature("OK", square(2.30, 48.80, 0.01)),
    ]
    report = load(isolated, write_geojson(tmp_path / "off.geojson", features))
    assert report.inserted == 1
    assert report.skipped == [
        "feature 2 (code TRI): a ring of its shape has under 4 points",
        *(
            f"district {code}: its shape lies outside longitudes -180..180 and latitudes "
            "-90..90 (a CRS the file does not say, or misread?)"
            for code in ("FAR", "POLE")
        ),
    ]
    assert db("SELECT code FROM districts").scalars().all() == ["OK"]
    with pytest.raises(GeodataError, match="no feature whose shape has an area on Earth"):
        load(isolated, write_geojson(tmp_path / "far.geojson", features[:1]))


def test_a_file_of_no_feature_says_so(isolated, db, tmp_path):
    with pytest.raises(GeodataError, match=r"empty\.geojson holds no feature"):
        load(isolated, write_geojson(tmp_path / "empty.geojson", []))


@pytest.mark.parametrize(
    ("population", "message"),
    [(-5, "population -5 is negative"), (1e20, r"population 1e\+20 is more than the world holds")],
)
def test_a_features_population_refused_names_the_feature(
    isolated, db, tmp_path, population, message
):
    feature = district_feature("P1", square(2.30, 48.80, 0.01), pop=population)
    with pytest.raises(GeodataError, match=rf"feature 0 \(code P1\): {message}"):
        load(isolated, write_geojson(tmp_path / "p.geojson", [feature]), population_field="pop")
    assert db("SELECT count(*) FROM districts").scalar_one() == 0


def populate(isolated, tmp_path, text: str):
    csv_path = tmp_path / "pop.csv"
    csv_path.write_text(text)
    return import_population(
        isolated, str(csv_path), code_field="code", population_field="pop", year=None, source=None
    )


def test_population_csvs_python_cannot_guess_are_read_as_commas(isolated, db, tmp_path):
    """A row shorter or longer than the header, which the delimiter guesser gives up on."""
    load(isolated, write_geojson(tmp_path / "q.geojson", [
        district_feature(code, square(2.30 + i / 100, 48.80, 0.01))
        for i, code in enumerate(("75101", "75102", "75103"))
    ]))  # fmt: skip
    report = populate(isolated, tmp_path, "code,pop\n75101,1000\n75102\n75103,3000,extra\n")
    assert (report.matched, report.without_population) == (2, 1)
    with pytest.raises(GeodataError, match="--population-field: the CSV has no column 'pop'"):
        populate(isolated, tmp_path, "code\n75101\n")
    with pytest.raises(GeodataError, match="the CSV has no column"):
        populate(isolated, tmp_path, "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,pop\n75101,99999999999999999999\n", r"line 2 \(75101\): .* more than the world"),
        ("code,pop\n75101,1000\n75101,9999\n", "line 3: code 75101 is on line 2 already"),
    ],
)
def test_a_population_csv_refused_names_the_line(isolated, db, tmp_path, text, message):
    with pytest.raises(GeodataError, match=message):
        populate(isolated, tmp_path, text)


def test_a_name_read_as_a_number_is_the_text_it_was(isolated, db, tmp_path):
    feature = district_feature("N1", square(2.30, 48.80, 0.01), name=12345.0)
    load(isolated, write_geojson(tmp_path / "n.geojson", [feature]))
    assert stored(db, "N1").name == "12345"
