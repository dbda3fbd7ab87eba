"""`flask export geopackage`: exactly the public devices (not pending, rejected or deleted ones)
with their public properties and positions, and the districts, as layers of one GeoPackage."""

import json
import subprocess
from datetime import UTC, datetime

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from sqlalchemy import text

from service.exports.cli import export_layers
from service.exports.geopackage import write_geopackage
from service.geo.devices.features import PUBLIC_PROPERTIES
from service.geo.exports import select_district_statistics_rows
from tests.districts import district_feature, load, square, write_geojson
from tests.helpers import as_text, pin, plan_nodes

TIMESTAMPS = {"observed_at", "last_confirmed_at", "created_at", "updated_at"}


def export(app, path):
    return app.test_cli_runner().invoke(args=["export", "geopackage", str(path)])


@pytest.fixture
def public_data(app, committed, moderator, as_user, tmp_path):
    """One public device of each shape of properties, and pins that must stay out."""
    contributor = as_user()
    published = [
        pin(moderator, 2.3456789, 48.8567891, camera_type="dome", direction=[90, 270],
            angle=110, height=5.5, operator="Préfecture", operator_type="public",
            observed_at="2024-05-01T10:00:00Z", tags={"check_date": "2024-05-01"}),
        pin(moderator, -1.5, 47.2, kind="alpr", direction=[0]),
        pin(moderator, 151.2, -33.9, kind="microphone"),
    ]  # fmt: skip
    pin(contributor, 2.31, 48.81)  # pending
    rejected = pin(contributor, 2.32, 48.82)
    answer = moderator.post(
        f"/api/v1/devices/{rejected['id']}/review", json={"decision": "reject", "reason": "no"}
    )
    assert answer.status_code == 200, answer.get_json()
    deleted = pin(moderator, 2.33, 48.83)
    assert moderator.delete(f"/api/v1/devices/{deleted['id']}").status_code == 204
    districts = [
        district_feature("75101", square(2.33, 48.85, 0.02), population=16000),
        district_feature("75102", square(2.35, 48.86, 0.01)),
    ]
    with committed.begin() as connection:
        load(connection, write_geojson(tmp_path / "districts.geojson", districts),
             population_field="population", licence="Licence Ouverte")  # fmt: skip
    return sorted(published, key=lambda feature: feature["id"])


def read_layer(path, layer) -> tuple[list[str], list[dict], list]:
    meta, _, geometries, fields = pyogrio.raw.read(path, layer=layer, datetime_as_string=True)
    assert meta["crs"] == "EPSG:4326"
    records = [
        {name: plain(value) for name, value in zip(meta["fields"], values, strict=True)}
        for values in zip(*fields, strict=True)
    ]
    return list(meta["fields"]), records, [shapely.from_wkb(wkb) for wkb in geometries]


def plain(value):
    """A value read back, with NULL as None (pyogrio reads a NULL number as NaN)."""
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def as_feature_property(name, value):
    """A GeoPackage field's value as the Feature's property of that name shows it."""
    if value is None:
        return None
    if name == "direction":
        return [int(d) for d in value.split(";")]
    if name == "tags":
        return json.loads(value)
    if name in TIMESTAMPS:
        return datetime.fromisoformat(value)
    return value


def test_the_public_devices_with_their_properties_and_positions(app, public_data, tmp_path):
    path = tmp_path / "vigie.gpkg"
    result = export(app, path)
    assert result.exit_code == 0, result.output
    assert "3 devices and 2 districts written" in result.output
    fields, records, points = read_layer(path, "devices")
    assert fields == ["id", *PUBLIC_PROPERTIES]
    assert [record["id"] for record in records] == [feature["id"] for feature in public_data]
    for record, point, feature in zip(records, points, public_data, strict=True):
        for name in PUBLIC_PROPERTIES:
            expected = feature["properties"][name]
            if name in TIMESTAMPS and expected is not None:
                instant = datetime.fromisoformat(expected)  # GeoPackage keeps milliseconds
                expected = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
                assert as_feature_property(name, record[name]).tzinfo == UTC
            assert as_feature_property(name, record[name]) == expected, name
        assert point.geom_type == "Point"
        assert [point.x, point.y] == feature["geometry"]["coordinates"]
    info = pyogrio.read_info(path, layer="devices")
    assert info["layer_metadata"] == {"attribution": "Vigie contributors", "licence": "ODbL 1.0"}


def test_devices_from_openstreetmap_are_credited_to_its_contributors(
    app, committed, public_data, tmp_path
):
    """The ODbL asks it wherever they are published: the API's downloads said so, the file
    this command writes did not."""
    with committed.begin() as connection:
        connection.execute(
            text("UPDATE devices SET osm_id = 42 WHERE id = :id"), {"id": public_data[0]["id"]}
        )
    path = tmp_path / "vigie.gpkg"
    assert export(app, path).exit_code == 0
    assert pyogrio.read_info(path, layer="devices")["layer_metadata"] == {
        "attribution": "Vigie contributors; © OpenStreetMap contributors",
        "licence": "ODbL 1.0",
    }


def test_the_districts_with_their_geometry(app, committed, public_data, tmp_path):
    path = tmp_path / "vigie.gpkg"
    assert export(app, path).exit_code == 0
    _, records, shapes = read_layer(path, "districts")
    assert [record["code"] for record in records] == ["75101", "75102"]
    assert [record["population"] for record in records] == [16000, None]
    assert {record["licence"] for record in records} == {"Licence Ouverte"}
    with committed.connect() as connection:
        stored = connection.execute(
            text("SELECT ST_AsBinary(geom), area_km2 FROM districts ORDER BY code")
        ).all()
    for shape, record, (wkb, area) in zip(shapes, records, stored, strict=True):
        assert shape.geom_type == "MultiPolygon"
        assert shape.equals_exact(shapely.from_wkb(bytes(wkb)), 0)
        assert record["area_km2"] == area


def test_debian_gdal_reads_both_layers(app, public_data, tmp_path):
    path = tmp_path / "vigie.gpkg"
    assert export(app, path).exit_code == 0
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Layer name: devices" in info and "Layer name: districts" in info
    assert info.count("Feature Count: 3") == 1 and "Feature Count: 2" in info
    assert "EPSG" in info or "WGS 84" in info


def test_batches_write_the_same_layers(app, committed, public_data, tmp_path):
    whole, batched = tmp_path / "whole.gpkg", tmp_path / "batched.gpkg"
    assert export(app, whole).exit_code == 0
    with app.app_context(), committed.connect() as connection:
        counts = write_geopackage(connection, batched, export_layers(), batch_rows=1)
    assert counts == {"devices": 3, "districts": 2}
    for layer in ("devices", "districts"):
        assert read_layer(batched, layer)[:2] == read_layer(whole, layer)[:2]


def test_an_empty_database_gives_empty_layers(app, committed, tmp_path):
    path = tmp_path / "empty.gpkg"
    result = export(app, path)
    assert result.exit_code == 0, result.output
    assert {name: kind for name, kind in pyogrio.list_layers(path)} == {
        "devices": "Point",
        "districts": "MultiPolygon",
    }
    assert all(
        pyogrio.read_info(path, layer=name)["features"] == 0 for name in ("devices", "districts")
    )


def test_an_export_replaces_the_previous_file_whole(app, public_data, tmp_path):
    path = tmp_path / "vigie.gpkg"
    path.write_bytes(b"yesterday's export")
    assert export(app, path).exit_code == 0
    assert pyogrio.read_info(path, layer="devices")["features"] == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".geojson") == ["vigie.gpkg"]


def test_a_folder_that_does_not_exist_is_a_clear_error(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["export", "geopackage", str(tmp_path / "missing" / "vigie.gpkg")]
    )
    assert result.exit_code == 2 and "does not exist" in result.output


def test_the_districts_figures_are_computed_once_a_district(app, db):
    """Read from a subquery, the figures' statement went into each of the 27 columns taken
    from them (27 subplans, 12 s for France's communes): computed once, into a row they are
    read from. The plan says how many times it runs, whatever the machine's speed."""
    statement = select_district_statistics_rows(())
    [top] = db("EXPLAIN (FORMAT JSON) " + as_text(statement)).scalar()
    figures = [
        node
        for node in plan_nodes(top["Plan"])
        if node.get("Subplan Name", "").startswith("SubPlan")
        and node.get("Parent Relationship") == "SubPlan"
        and node["Node Type"] == "Subquery Scan"
    ]
    assert len(figures) == 1, [node.get("Subplan Name") for node in figures]
