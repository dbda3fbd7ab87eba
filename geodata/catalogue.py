"""The catalogue of known district sources (catalogue.toml), and how to get one's file."""

import tempfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")
DOWNLOAD_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Source:
    """One dataset to import: a file plus how to read it and whom to credit."""

    name: str
    title: str
    level: str
    location: str  # a local path or a URL
    licence: str
    attribution: str
    code_field: str
    name_field: str
    url: str | None  # the official file's; a local copy's own, if the catalogue gives one
    parent: str | None = None
    parent_field: str | None = None
    where: str | None = None
    population_field: str | None = None
    population_year: int | None = None
    population_source: str | None = None
    population_licence: str | None = None
    population_url: str | None = None  # where the population figures were published


def load_catalogue() -> dict[str, dict]:
    with CATALOGUE_FILE.open("rb") as handle:
        return tomllib.load(handle)


def entry(name: str) -> dict:
    catalogue = load_catalogue()
    if name not in catalogue:
        known = ", ".join(sorted(catalogue))
        raise KeyError(f"{name!r} is not in the catalogue; known datasets: {known}")
    return catalogue[name]


def _source(name: str, fields: dict, location: str) -> Source:
    known = {k: v for k, v in fields.items() if k in Source.__dataclass_fields__}
    return Source(name=name, location=location, **known)


def remote_source(name: str) -> Source:
    """The dataset as published by its official source."""
    fields = {k: v for k, v in entry(name).items() if k != "local"}
    return _source(name, fields, fields["url"])


def local_source(name: str, geodata_dir: str) -> Source | None:
    """The copy kept in GEODATA_DIR, or None when the folder does not hold it."""
    fields = entry(name)
    local = fields.get("local")
    if not local or not (Path(geodata_dir) / local["file"]).is_file():
        return None
    merged = {k: v for k, v in fields.items() if k != "local"} | {
        k: v for k, v in local.items() if k != "file"
    }
    merged["where"] = merged.get("where") or None
    # Credited by its own attribution, not by the official file's address (another edition).
    merged["url"] = local.get("url")
    return _source(name, merged, str(Path(geodata_dir) / local["file"]))


def download(url: str) -> Path:
    """Fetch a URL into a temporary file (the caller deletes it); raises OSError when offline."""
    suffix = ".gpkg" if url.endswith(".gpkg") else ".geojson"
    with (
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as answer,
        tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as out,
    ):
        while chunk := answer.read(1 << 20):
            out.write(chunk)
    return Path(out.name)
