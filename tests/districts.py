"""Loading districts in tests: small synthetic files, or the real files of GEODATA_DIR."""

import json
import os

import pytest

from geodata import catalogue
from geodata.importer import import_districts, source_options


def rectangle(west: float, south: float, east: float, north: float) -> list:
    """A rectangle polygon's coordinates, exactly the numbers given (shared edges stay shared)."""
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def square(lon: float, lat: float, size: float) -> list:
    return rectangle(lon, lat, lon + size, lat + size)


def district_feature(code, coordinates, geometry_type="Polygon", **properties):
    return {
        "type": "Feature",
        "geometry": {"type": geometry_type, "coordinates": coordinates},
        "properties": {"code": code, "name": f"District {code}", **properties},
    }


def write_geojson(path, features) -> str:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


def load(connection, path, **options):
    """Import a file as the CLI would, in the test's transaction."""
    defaults = {
        "level": "quartier",
        "code_field": "code",
        "name_field": "name",
        "dataset": "test-districts",
        "attribution": "Test districts",
    }
    return import_districts(connection, path, **(defaults | options))


def real_source(app, name: str) -> catalogue.Source:
    """The catalogue dataset from GEODATA_DIR, else downloaded; skip (saying why) when neither."""
    local = catalogue.local_source(name, app.config["GEODATA_DIR"])
    if local is not None:
        return local
    source = catalogue.remote_source(name)
    try:
        path = catalogue.download(source.url)
    except OSError as exc:
        pytest.skip(
            f"real data test not run: {name} is not in GEODATA_DIR "
            f"({app.config['GEODATA_DIR']}) and downloading {source.url} failed: {exc}"
        )
    if not source.population_field:
        os.unlink(path)
        pytest.skip(f"real data test not run: the official {name} file carries no population")
    return catalogue.Source(**{**source.__dict__, "location": str(path)})


def load_real(connection, app, name: str, codes: tuple[str, ...] = ()):
    """Import a catalogue dataset (optionally only some codes) into the test's transaction."""
    source = real_source(app, name)
    options = source_options(source)
    if codes:
        listed = ", ".join(f"'{code}'" for code in codes)
        options["where"] = f"{source.code_field} IN ({listed})"
    return import_districts(connection, source.location, **options)
