"""`flask declared import` as an operator runs it: it commits, so the test cleans up."""

import numpy
import pyogrio.raw
import pytest
import shapely
from sqlalchemy import text

from tests.districts import district_feature, load, rectangle, write_geojson

from . import LAT, LON, site, write_sites

NAME = "cli-declared-test"


@pytest.fixture
def runner(app):
    yield app.test_cli_runner()
    with app.extensions["engine"].begin() as connection:
        connection.execute(text("DELETE FROM declared_datasets WHERE name = :n"), {"n": NAME})


def run(runner, path, *extra):
    args = ["declared", "import", path, "--name", NAME, "--publisher", "Préfecture"]
    return runner.invoke(args=[*args, "--id-field", "id", "--kind", "camera", *extra])


def stored_sites(app) -> int:
    with app.extensions["engine"].connect() as connection:
        return connection.execute(
            text(
                "SELECT count(*) FROM declared_sites s JOIN declared_datasets d "
                "ON d.id = s.dataset_id WHERE d.name = :n"
            ),
            {"n": NAME},
        ).scalar_one()


def test_an_import_says_what_it_stored_then_what_a_version_changed(app, runner, tmp_path):
    first = write_sites(tmp_path / "v1.geojson", [site("1"), site("2")])
    result = run(runner, first, "--published-on", "2019-02-01", "--licence", "ODbL 1.0")
    assert result.exit_code == 0, result.output
    assert f"{NAME} version 1: 2 sites; 2 added, 0 removed, 0 changed." in result.output
    second = write_sites(tmp_path / "v2.geojson", [site("2"), site("3")])
    result = run(runner, second)
    assert f"{NAME} version 2: 2 sites; 1 added, 1 removed, 0 changed." in result.output
    assert "nothing changed" in run(runner, second).output
    assert stored_sites(app) == 2


@pytest.fixture
def district_around_the_sites(app, tmp_path):
    """A district holding the test sites, committed as an operator's import is."""
    path = write_geojson(
        tmp_path / "d.geojson",
        [district_feature("DCLI", rectangle(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01))],
    )
    with app.extensions["engine"].begin() as connection:
        load(connection, path, level="cli-test", dataset="cli-test-districts")
    yield "DCLI"
    with app.extensions["engine"].begin() as connection:
        connection.execute(text("DELETE FROM districts WHERE code = 'DCLI'"))
        connection.execute(text("DELETE FROM datasets WHERE name = 'cli-test-districts'"))


def test_a_list_is_removed_once_asked_and_the_statistics_stop_counting_it(
    app, runner, tmp_path, district_around_the_sites
):
    """A list imported by mistake would otherwise weigh on every district's figures for good."""
    client = app.test_client()
    figures = f"/api/v1/stats/compare?codes={district_around_the_sites}&declared=true"
    assert run(runner, write_sites(tmp_path / "l.geojson", [site("1"), site("2")])).exit_code == 0
    assert client.get(figures).get_json()["districts"][0]["declared_sites"] == 2
    kept = runner.invoke(args=["declared", "remove", NAME], input="n\n")
    assert kept.exit_code != 0 and stored_sites(app) == 2
    removed = runner.invoke(args=["declared", "remove", NAME, "--yes"])
    assert removed.exit_code == 0, removed.output
    assert f"{NAME}: removed, with its 2 sites." in removed.output
    assert stored_sites(app) == 0
    assert client.get(figures).get_json()["districts"][0]["declared_sites"] == 0
    unknown = runner.invoke(args=["declared", "remove", NAME, "--yes"])
    assert unknown.exit_code != 0 and "No declared list is named" in unknown.output


def test_a_refused_file_is_reported_row_by_row_and_nothing_is_stored(app, runner, tmp_path):
    nowhere = site("2")
    nowhere["geometry"] = None
    path = write_sites(tmp_path / "bad.geojson", [site("1"), nowhere, site("1", 500, 0)])
    result = run(runner, path)
    assert result.exit_code == 1
    assert "feature 2: missing coordinates" in result.output
    assert "feature 3: source id '1' is already on row 1" in result.output
    assert "2 of 3 rows refused; nothing was imported" in result.output
    assert stored_sites(app) == 0
    assert (
        "--distance: 5000.0 is not in (0, 1000] metres"
        in run(runner, path, "--distance", "5000").output
    )


def test_a_file_whose_crs_has_no_epsg_code_is_refused_in_a_line(runner, tmp_path):
    """As `geodata import` says it: a custom Lambert projection, no authority to name it."""
    custom = (
        'PROJCS["custom",GEOGCS["GRS 1980",DATUM["unknown",SPHEROID["GRS80",6378137,'
        '298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
        'PROJECTION["Lambert_Conformal_Conic_2SP"],PARAMETER["standard_parallel_1",49],'
        'PARAMETER["standard_parallel_2",44],PARAMETER["latitude_of_origin",46.5],'
        'PARAMETER["central_meridian",3],PARAMETER["false_easting",700000],'
        'PARAMETER["false_northing",6600000],UNIT["metre",1]]'
    )
    path = str(tmp_path / "custom.shp")
    pyogrio.raw.write(
        path,
        geometry=shapely.to_wkb(numpy.array([shapely.Point(652000, 6862000)])),
        field_data=[numpy.array(["1"], dtype=object)],
        fields=["id"],
        geometry_type="Point",
        crs=custom,
        driver="ESRI Shapefile",
    )
    result = run(runner, path)
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert "Error: The file's CRS has no EPSG code" in result.output
