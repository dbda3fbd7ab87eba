"""Declared lists of sites versus the devices observed (docs/declared.md)."""

import json

from geodata.declared import DeclaredFields, import_declared

# Near the Hôtel de Ville, Paris: 0.0001° of latitude is about 11 m.
LON, LAT = 2.3522, 48.8566
METRE_LAT = 1 / 111_200


def site(source_id, lon=LON, lat=LAT, **properties):
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"id": source_id, **properties},
    }


def write_sites(path, features, indent=None) -> str:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, indent=indent))
    return str(path)


def load_sites(
    connection,
    path,
    *,
    name="test-list",
    distance_m=None,
    publisher="Test prefecture",
    licence="Licence Ouverte",
    source_url="https://example.org/list",
    **fields,
):
    """Import a list as the CLI would, in the test's transaction."""
    options = {"id_field": "id", "kind": "camera"} | fields
    return import_declared(
        connection,
        path,
        name=name,
        publisher=publisher,
        source_url=source_url,
        licence=licence,
        distance_m=distance_m,
        fields=DeclaredFields(**options),
    )


def add_device(db, lon=LON, lat=LAT, kind="camera", **columns) -> str:
    """A device written as the API's write path would, returning its id."""
    names = ", ".join(["geom", "kind", *columns])
    values = ", ".join(
        ["ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)", ":kind", *(f":{c}" for c in columns)]
    )
    return str(
        db(
            f"INSERT INTO devices (id, {names}) VALUES (gen_random_uuid(), {values}) RETURNING id",
            lon=lon,
            lat=lat,
            kind=kind,
            **columns,
        ).scalar_one()
    )


def statuses(client, name="test-list") -> dict:
    """Source id -> (status, matched device ids) as the API serves them."""
    response = client.get(f"/api/v1/declared/sites?dataset={name}&limit=10000")
    assert response.status_code == 200, response.get_json()
    return {
        f["properties"]["source_id"]: (f["properties"]["status"], f["properties"]["devices"])
        for f in response.get_json()["features"]
    }
